"""Atomic file writes, the project's one way to write a file: a temporary sibling with a name no
other writer uses, flushed to disk, renamed into place (``os.replace``), so a killed job never leaves
half a file for its resume to read, and two jobs writing the same file never write into each other's
temporary file.

- ``atomic_write_bytes(path, data)``, ``atomic_write_text(path, text)``, ``atomic_json(path, data)``:
  write what is in memory.
- ``with atomic_path(path) as tmp: writer(tmp)``: for writers that take a path (``np.savez``,
  matplotlib's ``savefig``, safetensors); ``tmp`` keeps ``path``'s suffix, which such writers read.
- ``with atomic_dir(path) as tmp: ...``: a whole directory, filled in ``tmp`` and renamed into place.

A temporary name starts with ``.`` and contains ``.tmp``; on an error it is removed.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
from pathlib import Path
from typing import Iterator

__all__ = ["atomic_dir", "atomic_json", "atomic_path", "atomic_write_bytes", "atomic_write_text", "read_json"]


def _sibling(path: Path, kind: str, suffix: str = "") -> Path:
    """A fresh name next to ``path`` (same directory, so the rename stays on one file system)."""
    return path.with_name(f".{path.name}.{os.getpid()}-{secrets.token_hex(4)}.{kind}{suffix}")


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (parent directories are made). Returns ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        tmp = _sibling(path, "tmp")
        try:  # O_EXCL: a name another writer took is never shared; 0o666 less the umask, as open() does
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
            break
        except FileExistsError:
            continue
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def atomic_write_text(path: str | os.PathLike, text: str, encoding: str = "utf-8") -> Path:
    """Write ``text`` to ``path`` atomically. Returns ``path``."""
    return atomic_write_bytes(path, text.encode(encoding))


def atomic_json(path: str | os.PathLike, data, indent: int = 2, *, sort_keys: bool = True, default=str) -> Path:
    """Write ``data`` as JSON to ``path`` atomically (keys sorted unless ``sort_keys=False``; what JSON
    cannot hold is written as ``default(value)``, ``str`` unless given). Returns ``path``."""
    return atomic_write_text(path, json.dumps(data, indent=indent, sort_keys=sort_keys, default=default))


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """A temporary path for a writer that takes a path: ``with atomic_path(p) as tmp: np.savez(tmp, ...)``.

    ``tmp`` does not exist yet and ends in ``path``'s suffix. When the block ends without error, what
    was written at ``tmp`` is flushed to disk and renamed to ``path``; if nothing was written, ``path``
    is left as it was. On an error ``tmp`` is removed and ``path`` is untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _sibling(path, "tmp", path.suffix)
    try:
        yield tmp
        if tmp.exists():
            _fsync(tmp)
            os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike, *, overwrite: bool = False) -> Iterator[Path]:
    """A new empty directory to fill, renamed to ``path`` when the block ends without error.

    An existing ``path`` is a FileExistsError unless ``overwrite``: then it is moved aside, the new one
    renamed into place, and only then the old one removed (put back if the rename fails). On an error
    the new directory is removed and ``path`` is untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        tmp = _sibling(path, "tmp")
        try:
            tmp.mkdir()  # 0o777 less the umask, like any directory
            break
        except FileExistsError:
            continue
    try:
        yield tmp
        if not (path.exists() or path.is_symlink()):
            os.replace(tmp, path)
        elif not overwrite:
            raise FileExistsError(f"{path} already exists")
        else:
            old = _sibling(path, "old")
            os.replace(path, old)
            try:
                os.replace(tmp, path)
            except BaseException:
                os.replace(old, path)
                raise
            shutil.rmtree(old) if old.is_dir() and not old.is_symlink() else old.unlink()
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def read_json(path: str | os.PathLike, what: str = "file"):
    """A JSON file the project wrote (mix.json, schedule.json), with errors that name the file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{what} {path} does not exist")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise ValueError(f"{path}: not valid JSON ({e})") from None
