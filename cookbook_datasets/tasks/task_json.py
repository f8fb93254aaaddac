"""The project's own task JSON: ``{"instruction", "examples", "labels"?, "instances"?, "kind"?, "name"?}``.

``examples`` are demonstrations ``{"input", "output"}``; ``instances`` are ``{"id"?, "input",
"output"?}`` (an unlabelled instance has no output) or multiple-choice ``{"id"?, "question",
"choices", "label"?}``.

Unlabelled instances are kept (inputs for SELF-GUIDE, rows to label), never scored: whatever
scores or splits a task for scoring (``cookbook eval``'s results and ``.md``, ``split_fit_eval``)
says how many it left out and why. (NIV2 and multiple-choice files need every instance's
``output`` / ``label``; a missing one is a TaskFormatError naming the file, the record and the field.)
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Optional

from . import checks
from .task import KINDS, Instance, Task, TaskFormatError, with_unique_ids

FIELDS = ("instruction", "examples", "labels", "instances", "kind", "name")


def task_from_dict(data: dict, where: str, name: str, kind: Optional[str] = None, source: str = "") -> Task:
    """A Task named ``name`` from the task-JSON object ``data`` (``where`` prefixes the errors)."""
    if not isinstance(data, dict):
        raise TaskFormatError(f"{where}: expected a JSON object with {', '.join(map(repr, FIELDS[:4]))}")
    checks.require(data, ("instruction", "examples"), f"{where}: the task")
    unknown = sorted(set(data) - set(FIELDS))
    if unknown:
        raise TaskFormatError(f"{where}: unknown field {unknown[0]!r} (a task JSON holds {', '.join(FIELDS)})")
    instruction = checks.text(data["instruction"], where, "instruction")
    if not instruction.strip():
        raise TaskFormatError(f"{where}: the field 'instruction' is empty")
    if not isinstance(data["examples"], list):
        raise TaskFormatError(f"{where}: the field 'examples' must be a list of {{'input', 'output'}} objects")
    demos = []
    for i, record in enumerate(data["examples"]):
        at = f"{where}: examples[{i}]"
        checks.require(record, ("input", "output"), at)
        demos.append(Instance.make(checks.text(record["input"], at, "input"),
                                   checks.outputs(record["output"], at, "output")))
    instances = []
    records = data.get("instances", [])
    if not isinstance(records, list):
        raise TaskFormatError(f"{where}: the field 'instances' must be a list")
    for i, record in enumerate(records):
        at = f"{where}: instances[{i}]"
        if isinstance(record, dict) and "choices" in record:
            checks.require(record, ("question", "choices"), at)
            choices, gold = checks.choices_and_gold(record["choices"], record.get("label"), at)
            instances.append(Instance.make(checks.text(record["question"], at, "question"), choices=choices,
                                           gold=gold, id=checks.optional_id(record, at)))
        else:
            checks.require(record, ("input",), at)
            outs = checks.outputs(record["output"], at, "output") if record.get("output") is not None else ()
            instances.append(Instance.make(checks.text(record["input"], at, "input"), outs,
                                           id=checks.optional_id(record, at)))
    labels = data.get("labels")
    if labels is not None and (not isinstance(labels, list) or any(isinstance(x, (dict, list)) for x in labels)):
        raise TaskFormatError(f"{where}: the field 'labels' must be a list of strings (got {labels!r})")
    kind = data.get("kind", kind)
    kind = None if kind == "auto" else kind  # "auto": decided by infer_kind
    if kind is not None and kind not in KINDS:
        raise TaskFormatError(f"{where}: the field 'kind' must be one of {list(KINDS) + ['auto']} (got {kind!r})")
    return Task(name=name, instruction=instruction, demonstrations=demos,
                instances=with_unique_ids(instances), labels=labels, kind=kind, source=source)


def load_task_json(path: str | os.PathLike, name: Optional[str] = None, kind: Optional[str] = None) -> Task:
    path = Path(path)
    data = checks.read_json(path)
    given = data.get("name") if isinstance(data, dict) else None
    name = name or (str(given) if given else re.sub(r"[^A-Za-z0-9_.-]+", "_", path.stem))
    return task_from_dict(data, str(path), name, kind=kind, source=str(path))
