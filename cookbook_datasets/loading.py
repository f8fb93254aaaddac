"""``load_dataset``: ``datasets.load_dataset`` plus the builders this package owns and users' files.

This is the one place a data reference is resolved; every command and function that takes data
(train, select, eval, mixture components, augmentation seeds) comes through here. A reference is:

- a builder this package owns (``cookbook``, ``mixture``, ``self_guide``, ``augmentation``):
  ``datasets`` >= 4 has no loading scripts and no registry for third-party builders, so these run
  through their builder classes directly;
- a local file (``.jsonl``, ``.json``, ``.parquet``, ``.csv``, ``.arrow``, ``.txt``): read with the
  matching packaged module (``datasets.load_dataset`` takes no bare file path);
- a local directory: a Hub-layout directory or plain data files (``datasets.load_dataset(dir)``),
  or a ``save_to_disk`` directory (``datasets.load_from_disk``);
- anything else (a packaged module such as ``json`` with ``data_files``, a Hub id) goes to
  ``datasets.load_dataset`` unchanged.

A path that exists on disk is always a path, never a Hub id. A reference that resolves to nothing
raises :class:`DataNotFoundError` with one line naming what was tried.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Optional, Union

import datasets

logger = logging.getLogger(__name__)

# File suffix -> the `datasets` packaged module that reads it.
FILE_BUILDERS = {".jsonl": "json", ".json": "json", ".parquet": "parquet", ".csv": "csv", ".arrow": "arrow",
                 ".txt": "text"}
PACKAGED_MODULES = ("json", "parquet", "csv", "arrow", "text", "imagefolder", "audiofolder", "webdataset", "sql",
                    "pandas", "xml")


class DataNotFoundError(FileNotFoundError):
    """A data reference that is no builder, no local file or directory, and no reachable Hub dataset."""


def _owned_builders() -> dict:
    from .builders import Augmentation, Cookbook, Mixture, SelfGuide

    return {"cookbook": Cookbook, "mixture": Mixture, "self_guide": SelfGuide, "augmentation": Augmentation}


OWNED_BUILDERS = ("cookbook", "mixture", "self_guide", "augmentation")


def load_builder(path: str, name: Optional[str] = None, **kwargs) -> datasets.DatasetBuilder:
    """The builder instance for a name this package owns (config params as kwargs)."""
    return _owned_builders()[path](config_name=name, **kwargs)


def hub_offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "0").lower() in ("1", "true", "yes", "on") or \
        os.environ.get("HF_DATASETS_OFFLINE", "0").lower() in ("1", "true", "yes", "on")


def _looks_like_path(ref: str) -> bool:
    """A reference meant as a local path (so a missing one is a missing file, not a Hub id)."""
    return (ref.startswith((".", "/", "~")) or os.sep in ref.rstrip(os.sep) and ref.count("/") != 1
            or Path(ref).suffix.lower() in FILE_BUILDERS or ref.endswith(os.sep))


def _not_found(ref: str, tried_hub: bool, error: Optional[Exception] = None) -> DataNotFoundError:
    where = Path(ref).expanduser().absolute()
    tried = [f"no file or directory {where}", f"not a builder of this package ({', '.join(OWNED_BUILDERS)})"]
    if tried_hub:
        if hub_offline():
            tried.append("not in the local Hugging Face cache, and the Hub is offline (HF_HUB_OFFLINE=1)")
        else:
            reason = f": {str(error).splitlines()[0]}" if error else ""
            tried.append(f"not found on the Hugging Face Hub{reason}")
    return DataNotFoundError(f"cannot load data {ref!r}: " + "; ".join(tried))


def _load_local(path: Path, name, split, streaming, num_proc, cache_dir, download_mode, **kwargs):
    common = dict(split=split, streaming=streaming, num_proc=num_proc, cache_dir=cache_dir,
                  download_mode=download_mode)
    if path.is_file():
        builder = FILE_BUILDERS.get(path.suffix.lower())
        if builder is None:
            raise ValueError(f"{path}: cannot read a {path.suffix or 'suffix-less'} file as data; "
                             f"files must end in one of {', '.join(FILE_BUILDERS)}")
        if name is not None:
            raise ValueError(f"{path} is a single file: it has no config {name!r} (drop the config name)")
        kwargs.pop("data_files", None)
        return datasets.load_dataset(builder, data_files=str(path), **common, **kwargs)
    if (path / "state.json").is_file() and (path / "dataset_info.json").is_file():  # save_to_disk
        loaded = datasets.load_from_disk(str(path))
        if split is not None and isinstance(loaded, datasets.DatasetDict):
            loaded = loaded[split]
        return loaded.to_iterable_dataset() if streaming and isinstance(loaded, datasets.Dataset) else loaded
    if not kwargs.get("data_files") and not any(p.suffix.lower() in FILE_BUILDERS or p.is_dir()
                                                for p in path.iterdir() if not p.name.startswith(".")):
        raise DataNotFoundError(f"cannot load data {str(path)!r}: the directory holds no data files "
                                f"(looked for {', '.join(FILE_BUILDERS)} files or a Hub-layout README.md)")
    return datasets.load_dataset(str(path), name, **common, **kwargs)


def load_dataset(
    path: Union[str, os.PathLike],
    name: Optional[str] = None,
    *,
    split: Optional[str] = None,
    streaming: bool = False,
    num_proc: Optional[int] = None,
    cache_dir: Optional[str] = None,
    download_mode: Optional[Union[str, datasets.DownloadMode]] = None,
    **kwargs,
):
    """Load a dataset like ``datasets.load_dataset``, from any reference users hold.

    ``load_dataset("cookbook", "<template>", num_examples=..., seed=..., <template params>)``
    runs the Cookbook builder, ``load_dataset("mixture", weights={"nli": 2, "shared_words": 1}, num_examples=...)``
    a weighted mixture of templates and datasets, ``load_dataset("self_guide", task=..., model=..., num_examples=...)``
    the SELF-GUIDE one, ``load_dataset("augmentation", seed_data=..., strategy=..., budget=..., teacher=...)``
    budgeted augmentation by a teacher. ``load_dataset("rows.jsonl", split="train")`` reads a local
    file, ``load_dataset("out/dir", "config")`` a local directory; any other ``path`` (Hub id,
    packaged module with ``data_files``) is passed to ``datasets.load_dataset`` with the same arguments.
    """
    ref = os.fspath(path)
    if ref in OWNED_BUILDERS:
        builder = load_builder(ref, name, cache_dir=cache_dir, **kwargs)
        if streaming:
            return builder.as_streaming_dataset(split=split)
        builder.download_and_prepare(download_mode=download_mode, num_proc=num_proc)
        return builder.as_dataset(split=split)
    local = Path(ref).expanduser()
    if local.exists():
        return _load_local(local, name, split, streaming, num_proc, cache_dir, download_mode, **kwargs)
    if ref in PACKAGED_MODULES:
        return datasets.load_dataset(ref, name, split=split, streaming=streaming, num_proc=num_proc,
                                     cache_dir=cache_dir, download_mode=download_mode, **kwargs)
    if _looks_like_path(ref):
        raise _not_found(ref, tried_hub=False)
    try:
        return datasets.load_dataset(ref, name, split=split, streaming=streaming, num_proc=num_proc,
                                     cache_dir=cache_dir, download_mode=download_mode, **kwargs)
    except (datasets.exceptions.DatasetNotFoundError, ConnectionError, FileNotFoundError) as e:
        raise _not_found(ref, tried_hub=True, error=e) from None
