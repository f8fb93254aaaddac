"""``load_task(spec)``: a Task from a file, a directory's files, a dataset or a template name.

Dispatch, in order: a Task is returned as is; ``.jsonl`` is multiple choice; ``.json`` is NIV2
when it has ``Definition``, else the project's task JSON; a directory expands to its ``.json``
and ``.jsonl`` files (``load_tasks``); a name of lower-case letters, digits and ``_`` that is no
file is a Cookbook template. A data file (``.csv``, ``.parquet``, ``.arrow``), or anything with a
``dataset_task`` (:class:`DatasetTask`: the columns, instruction, split, ...), is read as a dataset
(anything ``cookbook_datasets.load_dataset`` reads, local files included) by :func:`task_from_data`,
the one place a data reference and its column mapping become a Task.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Optional, Sequence, Union

from . import checks
from .from_dataset import DatasetTask, task_from_dataset
from .multiple_choice import load_multiple_choice
from .niv2 import load_niv2
from .task import Task, TaskFormatError
from .task_json import load_task_json
from .template import template_task

TASK_SUFFIXES = (".json", ".jsonl")
# Data files: always read as a dataset, with the default columns (input, output) unless a DatasetTask names them.
DATA_SUFFIXES = (".csv", ".parquet", ".arrow")

TaskLike = Union[str, os.PathLike, Task]


def load_task_file(path: Path, kind: Optional[str] = None, name: Optional[str] = None) -> Task:
    if not path.is_file():
        raise TaskFormatError(f"{path}: no such task file")
    if path.suffix == ".jsonl":
        return load_multiple_choice(path, name=name)
    if path.suffix == ".json":
        data = checks.read_json(path)
        if isinstance(data, dict) and "Definition" in data:
            return load_niv2(path, name=name, kind=kind)
        if isinstance(data, dict) and "instruction" in data:
            return load_task_json(path, name=name, kind=kind)
        has = sorted(data) if isinstance(data, dict) else type(data).__name__
        raise TaskFormatError(f"{path}: not a task file: an NIV2 task has 'Definition', 'Positive Examples', "
                              f"'Instances'; a task JSON has 'instruction', 'examples' (this one has {has})")
    raise TaskFormatError(f"{path}: task files are .json (NIV2 or task JSON) or .jsonl (multiple choice); data "
                          f"files ({', '.join(DATA_SUFFIXES)}) are read through their columns (--input-field, "
                          "--output-field, ...)")


def task_from_data(spec: Union[str, os.PathLike], dataset_task: Optional[DatasetTask] = None, *,
                   name: Optional[str] = None, kind: Optional[str] = None, demonstrations: int = 0) -> Task:
    """The rows of a data reference (a file, a dataset directory, a Hub id) as a Task, read with
    ``dataset_task`` (default: the columns ``input`` and ``output``). ``demonstrations``: how many
    of the first labelled rows become demonstrations where ``dataset_task.demonstrations`` is None."""
    from cookbook_datasets.loading import load_dataset

    dataset_task = DatasetTask.from_value(dataset_task) or DatasetTask()
    config, split = dataset_task.dataset_config, dataset_task.dataset_split
    try:
        ds = load_dataset(str(spec), config, split=split)
    except ValueError as e:
        if "corresponds to no data" not in str(e):  # datasets' words for a split without rows
            raise
        raise TaskFormatError(f"{spec} holds no rows" + (f" in its split {split!r}" if split else "")) from None
    if split is None:  # a user's file has one split ('train'); a benchmark's rows are its test split
        if "test" in ds or len(ds) == 1:
            split = "test" if "test" in ds else next(iter(ds))
            ds = ds[split]
        else:
            raise TaskFormatError(f"{spec} has splits {', '.join(ds)} and none is 'test': name the split "
                                  f"holding the task's rows (dataset_split, --dataset-split)")
    shown = dataset_task.demonstrations if dataset_task.demonstrations is not None else demonstrations
    return task_from_dataset(ds, name or re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(str(spec)).stem),
                             dataset_task.mapping(), instruction=dataset_task.instruction, demonstrations=shown,
                             labels=dataset_task.label_set, kind=kind,
                             source=f"{spec}" + (f" ({config})" if config else "") + f", split {split}"
                             + (" (its only split; name another with --dataset-split)"
                                if dataset_task.dataset_split is None and split != "test" else ""))


def load_task(spec: TaskLike, *, kind: Optional[str] = None, name: Optional[str] = None,
              num_examples: int = 100, seed: int = 0, dataset_task: Optional[DatasetTask] = None,
              demonstrations: int = 0, **params) -> Task:
    """One Task from ``spec``. ``num_examples``/``seed``/``params`` make a template's test rows.
    With ``dataset_task``, or for a data file (``.csv``, ``.parquet``, ``.arrow``), ``spec`` is read
    as a dataset by :func:`task_from_data` (``demonstrations``: its default number of demonstrations)."""
    if isinstance(spec, Task):
        return spec
    if dataset_task is not None or Path(str(spec)).suffix.lower() in DATA_SUFFIXES:
        return task_from_data(spec, dataset_task, name=name, kind=kind, demonstrations=demonstrations)
    path = Path(spec)
    if path.is_dir():
        raise TaskFormatError(f"{path} is a directory: load_tasks expands it to its task files")
    if path.exists() or path.suffix in TASK_SUFFIXES:
        if not path.exists():
            raise FileNotFoundError(f"task {str(spec)!r} is neither a file, a directory nor a template name")
        return load_task_file(path, kind=kind, name=name)
    if re.fullmatch(r"[a-z0-9_]+", str(spec)):
        from cookbook_datasets.templates import get_template_class

        allowed = get_template_class(str(spec)).describe_params()  # unknown names list the templates
        return template_task(str(spec), num_examples=num_examples, seed=seed,
                             **{k: v for k, v in params.items() if k in allowed})
    raise FileNotFoundError(f"task {str(spec)!r} is neither a file, a directory nor a template name")


def load_tasks(specs: Sequence[TaskLike], limit: Optional[int] = None, seed: int = 0, **options) -> list[Task]:
    """Tasks from specs, in order; a directory gives its .json/.jsonl files in name order.
    ``limit``: each task cut to a seeded subset of that many instances (``Task.sample``; a
    template task makes that many rows). ``seed`` and ``options`` go to :func:`load_task`
    (template parameters a template lacks are ignored; a ``dataset_task`` reads datasets)."""
    if limit is not None:
        options.setdefault("num_examples", limit)
    tasks = []
    for spec in specs:
        as_dataset = options.get("dataset_task") is not None  # a directory is then one dataset
        if not isinstance(spec, Task) and Path(spec).is_dir() and not as_dataset:
            files = sorted(p for p in Path(spec).iterdir() if p.suffix in TASK_SUFFIXES)
            if not files:
                raise TaskFormatError(f"{spec}: no .json (NIV2 or task JSON) or .jsonl (multiple choice) task files "
                                      "(a dataset directory is read as one task through its columns: --input-field)")
            tasks += [load_task_file(f, kind=options.get("kind")) for f in files]
        else:
            tasks.append(load_task(spec, seed=seed, **options))
    return [t.sample(limit, seed) for t in tasks]
