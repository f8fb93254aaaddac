"""The mixing methods by name, one file each, all behind one interface (base.py).

A new method is a new file here: a :class:`~.base.MixingMethod` subclass with its ``name``, the
``training`` it asks for and its ``fit``, registered below.
"""

from __future__ import annotations

from ...registry import Registry
from .auto import Auto
from .base import Learned, Learner, MixingMethod
from .best_single import BestSingle
from .online import Online
from .proxy import Proxy
from .rules import Rules
from .uniform import Uniform

METHODS: Registry[type[MixingMethod]] = Registry(
    "mixing method", [(cls.name, cls) for cls in (Rules, Proxy, Online, Uniform, BestSingle, Auto)], listed="methods")


def get_method(name: str, **params) -> MixingMethod:
    """Method ``name`` built with ``params`` (an unknown name lists the methods, with a close match)."""
    return METHODS.build(name, **params)


__all__ = ["METHODS", "Learned", "Learner", "MixingMethod", "get_method"]
