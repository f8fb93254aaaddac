"""The on-disk response cache: one JSON line per teacher answer, appended and fsync'ed.

Keyed by a hash of (model, messages, sampling parameters, sample index), so the same request asked
again (a re-run, a resumed run, a bigger budget over the same seed set) is answered from disk for
free. Append-only JSONL with an ``fsync`` per record: an answer is durable before the caller sees
it, and a torn last line (the process killed mid-write) is skipped on load.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
from pathlib import Path
from typing import Optional

logger = logging.getLogger(__name__)


def cache_key(model: str, messages: list, params: dict, sample_index: int) -> str:
    """The key of one request: sha256 over its canonical JSON."""
    blob = json.dumps({"model": model, "messages": messages, "params": params, "sample": sample_index},
                      sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()


class ResponseCache:
    """``key -> {"text", "finish_reason", "prompt_tokens", "completion_tokens", "kind"}``; ``path=None``
    keeps it in memory only."""

    def __init__(self, path: Optional[str | os.PathLike] = None):
        self.path = Path(path) if path else None
        self._lock = threading.Lock()
        self._records: dict = {}
        self.torn_lines = 0
        self._torn_tail = False
        if self.path is not None and self.path.exists():
            with open(self.path, "rb") as f:
                f.seek(0, os.SEEK_END)
                if f.tell():
                    f.seek(-1, os.SEEK_END)
                    self._torn_tail = f.read(1) != b"\n"  # the next record must start on a line of its own
            with open(self.path, encoding="utf-8") as f:
                for line in f:
                    try:
                        record = json.loads(line)
                        self._records[record["key"]] = record
                    except (json.JSONDecodeError, KeyError, TypeError):
                        self.torn_lines += 1  # a write cut short by a kill: that answer was never returned
            if self.torn_lines:
                logger.warning("%s: skipped %d torn line(s)", self.path, self.torn_lines)

    def __contains__(self, key: str) -> bool:
        return key in self._records

    def __len__(self) -> int:
        return len(self._records)

    def get(self, key: str) -> Optional[dict]:
        return self._records.get(key)

    def put(self, key: str, record: dict) -> None:
        record = {**record, "key": key}
        with self._lock:
            if self.path is not None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                line = ("\n" if self._torn_tail else "") + json.dumps(record, ensure_ascii=False) + "\n"
                self._torn_tail = False
                # one write of the whole line on an O_APPEND descriptor, then fsync: durable before returning
                fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
                try:
                    os.write(fd, line.encode("utf-8"))
                    os.fsync(fd)
                finally:
                    os.close(fd)
            self._records[key] = record
