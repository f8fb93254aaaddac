"""Multiple-choice JSONL: one ``{"question", "choices", "label"}`` object a line (``id`` optional)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Optional

from . import checks
from .task import Instance, Task, TaskFormatError, with_unique_ids


def load_multiple_choice(path: str | os.PathLike, name: Optional[str] = None, instruction: str = "") -> Task:
    """A multiple-choice Task from a JSONL file; ``label`` is the gold choice's index."""
    path = Path(path)
    instances = []
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        where = f"{path}: line {lineno}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as e:
            raise TaskFormatError(f"{where} is not valid JSON ({e.msg})") from None
        checks.require(record, ("question", "choices", "label"), where)
        choices, gold = checks.choices_and_gold(record["choices"], record["label"], where)
        instances.append(Instance.make(checks.text(record["question"], where, "question"), choices=choices,
                                       gold=gold, id=checks.optional_id(record, where)))
    if not instances:
        raise TaskFormatError(f"{path}: no examples (expected one JSON object a line)")
    return Task(name=name or path.stem, instances=with_unique_ids(instances), instruction=instruction, kind="multiple_choice",
                source=str(path))
