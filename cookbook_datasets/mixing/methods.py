"""The mixing methods by name (one file each); a new method is a new file registered here."""

from __future__ import annotations

import difflib

from .auto import Auto
from .base import MixingMethod
from .best_single import BestSingle
from .online import Online
from .proxy import Proxy
from .rules import Rules
from .uniform import Uniform

METHODS: dict[str, type[MixingMethod]] = {cls.name: cls for cls in (Rules, Proxy, Online, Uniform, BestSingle, Auto)}


def get_method(name: str, **params) -> MixingMethod:
    if name not in METHODS:
        close = difflib.get_close_matches(name, METHODS, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ValueError(f"unknown mixing method {name!r}{hint}; methods: {', '.join(METHODS)}")
    try:
        return METHODS[name](**params)
    except TypeError as e:
        raise ValueError(f"bad parameters for mixing method {name!r}: {e}") from None
