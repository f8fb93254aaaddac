"""``load_task(spec)``: a Task from a file, a directory's files, a dataset or a template name.

Dispatch, in order: a Task is returned as is; ``.jsonl`` is multiple choice; ``.json`` is NIV2
when it has ``Definition``, else the project's task JSON; a directory expands to its ``.json``
and ``.jsonl`` files (``load_tasks``); a name of lower-case letters, digits and ``_`` that is no
file is a Cookbook template. ``input_field=`` (or any ColumnMapping field) loads a dataset
(anything ``cookbook_datasets.load_dataset`` reads, local files included) with that mapping.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Optional, Sequence, Union

from . import checks
from .from_dataset import ColumnMapping, task_from_dataset
from .multiple_choice import load_multiple_choice
from .niv2 import load_niv2
from .task import Task, TaskFormatError
from .task_json import load_task_json
from .template import template_task

TASK_SUFFIXES = (".json", ".jsonl")
MAPPING_FIELDS = ("input_field", "output_field", "choices_field", "label_field", "id_field")

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
    raise TaskFormatError(f"{path}: task files are .json (NIV2 or task JSON) or .jsonl (multiple choice)")


def load_task(spec: TaskLike, *, kind: Optional[str] = None, name: Optional[str] = None,
              num_examples: int = 100, seed: int = 0, split: Optional[str] = None, config: Optional[str] = None,
              instruction: str = "", demonstrations: int = 0, labels: Optional[list] = None,
              **params) -> Task:
    """One Task from ``spec``. ``num_examples``/``seed``/``params`` make a template's test rows;
    a ColumnMapping field in ``params`` (e.g. ``input_field="sentence"``) reads ``spec`` as a
    dataset (``config``, ``split``) with ``instruction``, ``demonstrations`` (the first labelled
    rows), ``labels``."""
    if isinstance(spec, Task):
        return spec
    mapping = {k: params.pop(k) for k in MAPPING_FIELDS if k in params}
    if mapping:
        from cookbook_datasets.loading import load_dataset

        ds = load_dataset(str(spec), config, split=split)
        if split is None:  # a user's file has one split ('train'); a benchmark's rows are its test split
            if "test" in ds or len(ds) == 1:
                split = "test" if "test" in ds else next(iter(ds))
                ds = ds[split]
            else:
                raise TaskFormatError(f"{spec} has splits {', '.join(ds)} and none is 'test': name the split "
                                      f"holding the task's rows (split=, --dataset-split)")
        return task_from_dataset(ds, name or re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(str(spec)).stem),
                                 ColumnMapping(**mapping), instruction=instruction, demonstrations=demonstrations,
                                 labels=labels, kind=kind, source=f"{spec}" + (f" ({config})" if config else "")
                                 + f", split {split}")
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
    (template parameters a template lacks are ignored; a column mapping reads datasets)."""
    if limit is not None:
        options.setdefault("num_examples", limit)
    tasks = []
    for spec in specs:
        as_dataset = any(k in options for k in MAPPING_FIELDS)  # a directory is then one dataset
        if not isinstance(spec, Task) and Path(spec).is_dir() and not as_dataset:
            files = sorted(p for p in Path(spec).iterdir() if p.suffix in TASK_SUFFIXES)
            if not files:
                raise TaskFormatError(f"{spec}: no .json (NIV2 or task JSON) or .jsonl (multiple choice) task files")
            tasks += [load_task_file(f, kind=options.get("kind")) for f in files]
        else:
            tasks.append(load_task(spec, seed=seed, **options))
    return [t.sample(limit, seed) for t in tasks]
