"""Atomic file writes: a temporary sibling, flushed to disk, renamed into place, so a killed job
never leaves half a file for its resume to read."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path


def atomic_text(path: str | os.PathLike, text: str) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}-{threading.get_ident()}")
    with open(tmp, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    return path


def atomic_json(path: str | os.PathLike, data, indent: int = 2) -> Path:
    return atomic_text(path, json.dumps(data, indent=indent, sort_keys=True, default=str))


def read_json(path: str | os.PathLike, what: str = "file"):
    """A JSON file the project wrote (mix.json, schedule.json), with errors that name the file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{what} {path} does not exist")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise ValueError(f"{path}: not valid JSON ({e})") from None
