"""``load_dataset``: ``datasets.load_dataset`` plus the builders this package owns.

``datasets`` >= 4 has no loading scripts and no registry for third-party builders, so the names
owned here are run through their builder classes directly; every other path goes to
``datasets.load_dataset`` unchanged.
"""

from __future__ import annotations

import logging
from typing import Optional, Union

import datasets

logger = logging.getLogger(__name__)


def _owned_builders() -> dict:
    from .builders import Augmentation, Cookbook, Mixture, SelfGuide

    return {"cookbook": Cookbook, "mixture": Mixture, "self_guide": SelfGuide, "augmentation": Augmentation}


def load_builder(path: str, name: Optional[str] = None, **kwargs) -> datasets.DatasetBuilder:
    """The builder instance for a name this package owns (config params as kwargs)."""
    return _owned_builders()[path](config_name=name, **kwargs)


def load_dataset(
    path: str,
    name: Optional[str] = None,
    *,
    split: Optional[str] = None,
    streaming: bool = False,
    num_proc: Optional[int] = None,
    cache_dir: Optional[str] = None,
    download_mode: Optional[Union[str, datasets.DownloadMode]] = None,
    **kwargs,
):
    """Load a dataset like ``datasets.load_dataset``.

    ``load_dataset("cookbook", "<template>", num_examples=..., seed=..., <template params>)``
    runs the Cookbook builder, ``load_dataset("mixture", weights={"nli": 2, "shared_words": 1}, num_examples=...)``
    a weighted mixture of templates and datasets, ``load_dataset("self_guide", task=..., model=..., num_examples=...)``
    the SELF-GUIDE one, ``load_dataset("augmentation", seed_data=..., strategy=..., budget=..., teacher=...)``
    budgeted augmentation by a teacher; any other ``path`` (Hub id, local directory, packaged module) is
    passed to ``datasets.load_dataset`` with the same arguments.
    """
    if path not in _owned_builders():
        return datasets.load_dataset(path, name, split=split, streaming=streaming, num_proc=num_proc,
                                     cache_dir=cache_dir, download_mode=download_mode, **kwargs)
    builder = load_builder(path, name, cache_dir=cache_dir, **kwargs)
    if streaming:
        return builder.as_streaming_dataset(split=split)
    builder.download_and_prepare(download_mode=download_mode, num_proc=num_proc)
    return builder.as_dataset(split=split)
