"""The keyword arguments of a builder's ``__init__``, sorted out: ``datasets.DatasetBuilder``'s own,
the builder config's fields, and the rest, which are the parameters of what the builder runs (a
template's, a pipeline's) given as plain keyword arguments."""

from __future__ import annotations

import inspect
from typing import Collection

import datasets

__all__ = ["BUILDER_ARGS", "pop_params"]

BUILDER_ARGS = frozenset(inspect.signature(datasets.DatasetBuilder.__init__).parameters) - {"self", "config_kwargs"}


def pop_params(kwargs: dict, config_fields: Collection[str], into: str) -> dict:
    """The parameters in ``kwargs``: the dict given as ``kwargs[into]``, updated with every keyword
    argument that is neither a config field nor a ``DatasetBuilder`` argument. All of them are taken
    out of ``kwargs``."""
    params = dict(kwargs.pop(into, None) or {})
    params.update({k: kwargs.pop(k) for k in list(kwargs) if k not in config_fields and k not in BUILDER_ARGS})
    return params
