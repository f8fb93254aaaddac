"""Any ``datasets`` dataset as a Task, through a column mapping (``input_field``, ``output_field``, ...).

:class:`DatasetTask` is the one description of how a user's data file or dataset is read as a task
(its columns, and what the rows do not say: instruction, label set, demonstrations, config, split).
Every job config that takes tasks has it as its ``dataset_task`` field, and the command line turns
its fields into the same options everywhere (``--input-field``, ``--output-field``, ...);
``tasks/load.py`` resolves a data reference with it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, Optional

from .task import Instance, Task, TaskFormatError, with_unique_ids


@dataclass
class ColumnMapping:
    """Which columns of a dataset hold an instance's parts."""

    input_field: str = field(default="input", metadata={
        "help": "The column with each row's input (the question, for multiple choice).", "metavar": "COLUMN"})
    output_field: Optional[str] = field(default="output", metadata={
        "help": "The column with the acceptable output(s): a string or a list of strings; none or an absent "
                "column: unlabelled rows.", "metavar": "COLUMN"})
    choices_field: Optional[str] = field(default=None, metadata={
        "help": "The column with the options of a multiple-choice row.", "metavar": "COLUMN"})
    label_field: Optional[str] = field(default=None, metadata={
        "help": "The column with the gold choice index (with choices_field), or a class label: an int into the "
                "column's ClassLabel names, or the label text.", "metavar": "COLUMN"})
    id_field: Optional[str] = field(default=None, metadata={
        "help": "The column with a stable row id (default: a hash of the row's content).", "metavar": "COLUMN"})

    def __post_init__(self):
        for name in ("input_field", "output_field", "choices_field", "label_field", "id_field"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, str) or not value):
                raise ValueError(f"{name} must be a column name (got {value!r})")


@dataclass
class DatasetTask(ColumnMapping):
    """How a data file (``.csv``, ``.parquet``, ``.jsonl`` rows, ...), a dataset directory or a Hub id
    is read as a task: its columns and what its rows do not say. ``DatasetTask(input_field="review",
    output_field="sentiment", instruction="Is the review positive or negative?")``."""

    instruction: str = field(default="", metadata={
        "help": "The task's instruction (rows do not hold one; SELF-GUIDE needs it).", "metavar": "TEXT"})
    label_set: Optional[list] = field(default=None, metadata={
        "help": "The labels of a classification task (default: the outputs' distinct values, or the label "
                "column's ClassLabel names).", "metavar": "LABEL"})
    demonstrations: Optional[int] = field(default=None, metadata={
        "help": "The first this-many labelled rows become the task's demonstrations instead of instances "
                "(default: the command's own: none for eval, num_shots for mix, num_demonstrations for "
                "self-guide)."})
    dataset_config: Optional[str] = field(default=None, metadata={
        "help": "The dataset's config (a Hub-layout directory or Hub dataset with several).", "metavar": "NAME"})
    dataset_split: Optional[str] = field(default=None, metadata={
        "help": "The split holding the task's rows (default: a data file's only split, else 'test').",
        "metavar": "SPLIT"})

    def __post_init__(self):
        super().__post_init__()
        if not isinstance(self.instruction, str):
            raise ValueError(f"instruction must be a string (got {self.instruction!r})")
        if self.demonstrations is not None and (isinstance(self.demonstrations, bool)
                                                or not isinstance(self.demonstrations, int) or self.demonstrations < 0):
            raise ValueError(f"demonstrations must be an integer >= 0 or None (got {self.demonstrations!r})")
        if self.label_set is not None:
            if isinstance(self.label_set, str) or len(self.label_set) < 2:
                raise ValueError(f"label_set must list at least 2 labels (got {self.label_set!r})")
            self.label_set = [str(label) for label in self.label_set]

    @classmethod
    def from_value(cls, value) -> Optional["DatasetTask"]:
        """A DatasetTask from itself, a mapping of its fields (a YAML file's, ``--dataset-task KEY=VALUE``'s)
        or None; an unknown key is named with the valid ones."""
        if value is None or isinstance(value, cls):
            return value
        if not isinstance(value, dict):
            raise ValueError(f"dataset_task must be a mapping of column options (got {value!r})")
        from cookbook_datasets.registry import unknown_name_error

        allowed = [f.name for f in fields(cls)]
        unknown = sorted(set(value) - set(allowed))
        if unknown:
            raise unknown_name_error("dataset_task key", unknown[0], allowed)
        return cls(**value)

    def mapping(self) -> ColumnMapping:
        """The columns alone."""
        return ColumnMapping(**{f.name: getattr(self, f.name) for f in fields(ColumnMapping)})


def _column(dataset, name: Optional[str], what: str, where: str, required: bool) -> Optional[str]:
    if name is None:
        return None
    if name not in dataset.column_names:
        if not required:
            return None
        raise TaskFormatError(f"{where}: no column {name!r} for the {what} (columns: {', '.join(dataset.column_names)}); "
                              f"name it with --{what.replace(' ', '-')}-field")
    return name


def task_from_dataset(dataset, name: str, mapping: Optional[ColumnMapping] = None, instruction: str = "",
                      demonstrations: int = 0, labels: Optional[list] = None, kind: Optional[str] = None,
                      source: str = "", **fields: Any) -> Task:
    """A Task from a ``datasets.Dataset``: one instance per row; the first ``demonstrations``
    labelled rows become demonstrations instead. ``fields`` are ColumnMapping fields."""
    mapping = mapping or ColumnMapping(**fields)
    where = source or f"dataset {name!r}"
    inp = _column(dataset, mapping.input_field, "input", where, True)
    out = _column(dataset, mapping.output_field, "output", where, mapping.output_field != "output")
    ch = _column(dataset, mapping.choices_field, "choices", where, True)
    lab = _column(dataset, mapping.label_field, "label", where, True)
    idf = _column(dataset, mapping.id_field, "id", where, True)
    names = None
    feature = dataset.features.get(lab) if lab else None
    if feature is not None and hasattr(feature, "names"):  # a ClassLabel column: its names are the label set
        names = list(feature.names)
        labels = labels or names
    instances = []
    for i, row in enumerate(dataset):
        at = f"{where}: row {i}"
        text = row[inp]
        if not isinstance(text, str):
            raise TaskFormatError(f"{at}: the column {inp!r} must hold strings (got {type(text).__name__})")
        row_id = None if idf is None or row[idf] is None else str(row[idf])
        if ch:
            choices, gold = row[ch], row[lab] if lab else None
            if not isinstance(choices, list) or len(choices) < 2:
                raise TaskFormatError(f"{at}: the column {ch!r} must hold lists of at least 2 options")
            if gold is not None and (isinstance(gold, bool) or not isinstance(gold, int) or not 0 <= gold < len(choices)):
                raise TaskFormatError(f"{at}: the column {lab!r} must hold an index into {ch!r} (got {gold!r})")
            instances.append(Instance.make(text, choices=choices, gold=gold, id=row_id))
            continue
        value = row[lab] if lab else (row[out] if out else None)
        if lab and names is not None and isinstance(value, int) and not isinstance(value, bool):
            value = names[value] if 0 <= value < len(names) else None  # -1: an unlabelled ClassLabel row
        if value is None:
            outputs = ()
        elif isinstance(value, list) and all(isinstance(v, (str, int, float)) for v in value):
            outputs = tuple(str(v) for v in value)
        elif isinstance(value, (str, int, float)) and not isinstance(value, bool):
            outputs = (str(value),)
        else:
            raise TaskFormatError(f"{at}: the column {lab or out!r} must hold a string or a list of strings "
                                  f"(got {value!r})")
        instances.append(Instance.make(text, outputs, id=row_id))
    instances = with_unique_ids(instances)
    demos = []
    if demonstrations:
        picked = [k for k, inst in enumerate(instances) if inst.labelled][:demonstrations]
        demos = [instances[k] for k in picked]
        instances = [inst for k, inst in enumerate(instances) if k not in set(picked)]
    return Task(name=name, instances=instances, instruction=instruction, demonstrations=demos, labels=labels,
                kind=kind, source=source or f"dataset {name!r}")
