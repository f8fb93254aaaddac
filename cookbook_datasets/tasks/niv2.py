"""Super-NaturalInstructions (NIV2) task files: ``Definition``, ``Positive Examples``, ``Instances``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

from . import checks
from .task import Instance, Task, TaskFormatError, with_unique_ids


def load_niv2(path: str | os.PathLike, name: Optional[str] = None, kind: Optional[str] = None) -> Task:
    """A Task from an NIV2 JSON file: the definition is the instruction, the positive examples the
    demonstrations, the instances keep their ``id`` (a content hash where one has none)."""
    path = Path(path)
    data = checks.read_json(path)
    if not isinstance(data, dict):
        raise TaskFormatError(f"{path}: expected a JSON object with 'Definition', 'Positive Examples', 'Instances'")
    checks.require(data, ("Definition", "Positive Examples", "Instances"), f"{path}: the task")
    definition = data["Definition"]
    if isinstance(definition, list):
        definition = definition[0] if definition else ""
    definition = checks.text(definition, f"{path}", "Definition")
    records = {}
    for key in ("Positive Examples", "Instances"):
        if not isinstance(data[key], list):
            raise TaskFormatError(f"{path}: the field {key!r} must be a list (got {type(data[key]).__name__})")
        items = []
        for i, record in enumerate(data[key]):
            where = f"{path}: {key}[{i}]"
            checks.require(record, ("input", "output"), where)
            items.append(Instance.make(checks.text(record["input"], where, "input"),
                                       checks.outputs(record["output"], where, "output"),
                                       id=checks.optional_id(record, where) if key == "Instances" else None))
        records[key] = with_unique_ids(items)
    return Task(name=name or path.stem, instruction=definition, demonstrations=records["Positive Examples"],
                instances=records["Instances"], kind=kind, source=str(path))
