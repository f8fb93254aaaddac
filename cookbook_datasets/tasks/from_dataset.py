"""Any ``datasets`` dataset as a Task, through a column mapping (``input_field``, ``output_field``, ...)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from .task import Instance, Task, TaskFormatError, with_unique_ids


@dataclass
class ColumnMapping:
    """Which columns of a dataset hold an instance's parts."""

    input_field: str = field(default="input", metadata={"help": "The input text (the question, for choices)."})
    output_field: Optional[str] = field(default="output", metadata={
        "help": "Acceptable output(s): a string or a list of strings; None or an absent column: unlabelled."})
    choices_field: Optional[str] = field(default=None, metadata={"help": "The options of multiple-choice rows."})
    label_field: Optional[str] = field(default=None, metadata={
        "help": "The gold choice index (with choices_field), or a class label: an int into the column's "
                "ClassLabel names, or the label text."})
    id_field: Optional[str] = field(default=None, metadata={"help": "A stable row id (default: a content hash)."})

    def __post_init__(self):
        for name in ("input_field", "output_field", "choices_field", "label_field", "id_field"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, str) or not value):
                raise ValueError(f"{name} must be a column name (got {value!r})")


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
