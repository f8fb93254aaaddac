"""Things found by name (templates, strategies, backends, metrics, ...), and the one error an unknown
name raises: it names the kind of thing, the name given, the closest valid name and all the valid ones.

``Registry`` holds name -> object for code that looks things up by name::

    BACKENDS = Registry("generation backend", listed="available")
    BACKENDS.add("openai", OpenAIEngine)

    @BACKENDS.register            # registers under the class's ``name`` attribute
    class VLLMEngine: name = "vllm"

    BACKENDS.get("opena")         # UnknownNameError: unknown generation backend 'opena'
                                  # (did you mean 'openai'?); available: openai, vllm

``unknown_name_error(kind, name, valid)`` builds the same error where a name is checked against a plain
list (a config field, a metric directory).
"""

from __future__ import annotations

import difflib
from typing import Callable, Generic, Iterable, Iterator, Optional, TypeVar

__all__ = ["Registry", "UnknownNameError", "close_match", "did_you_mean", "unknown_name_error"]

T = TypeVar("T")


class UnknownNameError(ValueError, KeyError):
    """A name that is not among the valid ones. A ``ValueError`` (a bad argument value) and, like
    ``dict[name]``, a ``KeyError`` (as numpy's ``AxisError`` is both a ``ValueError`` and an
    ``IndexError``), so code that caught either keeps working."""

    __str__ = ValueError.__str__  # KeyError's would print the message in quotes


def close_match(name, valid: Iterable[str]) -> Optional[str]:
    """The valid name closest to ``name`` (``difflib``'s default cutoff), or None."""
    close = difflib.get_close_matches(str(name), [str(v) for v in valid], n=1)
    return close[0] if close else None


def did_you_mean(name, valid: Iterable[str], sentence: bool = False) -> str:
    """The hint for a message of one's own: `` (did you mean 'x'?)`` (``sentence``: `` Did you mean 'x'?``),
    or "" when no valid name is close."""
    close = close_match(name, valid)
    if not close:
        return ""
    return f" Did you mean {close!r}?" if sentence else f" (did you mean {close!r}?)"


def unknown_name_error(kind: str, name, valid: Iterable[str], *, plural: Optional[str] = None,
                       listed: Optional[str] = None, sentence: bool = False,
                       show: Callable[[list], str] = ", ".join,
                       error: type[Exception] = UnknownNameError) -> Exception:
    """The error for ``name``, which is no valid ``kind`` (return it and ``raise`` it at the call site).

    ``unknown {kind} {name!r} (did you mean {close!r}?); {listed}: {valid names}``, where ``listed``
    defaults to ``valid {plural}`` and ``plural`` to ``{kind}s``. ``sentence=True`` writes it as
    sentences (``Unknown template 'x'. Did you mean 'y'? Valid templates: a, b.``). ``show`` renders
    the list of valid names (``str`` gives ``['a', 'b']``); ``error`` is the class raised (a subclass of
    :class:`UnknownNameError` where a module has its own, e.g. ``UnknownTemplateError``).
    """
    valid = list(valid)
    hint = did_you_mean(name, valid, sentence)
    listed = listed or f"valid {plural or kind + 's'}"
    if sentence:
        return error(f"Unknown {kind} {name!r}.{hint} {listed[:1].upper() + listed[1:]}: {show(valid)}.")
    return error(f"unknown {kind} {name!r}{hint}; {listed}: {show(valid)}")


class Registry(Generic[T]):
    """Name -> object, in registration order, whose lookups of unknown names raise
    :func:`unknown_name_error`. Reads like a read-only dict (``in``, iteration, ``len``, ``[name]``,
    ``keys()``, ``values()``, ``items()``); ``get(name)`` is ``[name]`` (it raises, it never returns
    a default). The keyword arguments are those of :func:`unknown_name_error`."""

    def __init__(self, kind: str, items: Optional[Iterable[tuple[str, T]]] = None, **message):
        self.kind = kind
        self._message = message
        self._items: dict[str, T] = {}
        for name, obj in items or ():
            self.add(name, obj)

    def add(self, name: str, obj: T) -> T:
        """Register ``obj`` as ``name``; a name registered twice is a TypeError (a programming error)."""
        if name in self._items:
            raise TypeError(f"{self.kind} {name!r} is registered twice")
        self._items[name] = obj
        return obj

    def register(self, obj: T) -> T:
        """Decorator: register ``obj`` under its ``name`` attribute."""
        return self.add(obj.name, obj)

    def get(self, name: str) -> T:
        try:
            return self._items[name]
        except (KeyError, TypeError):  # TypeError: an unhashable name
            raise self.error(name) from None

    __getitem__ = get

    def build(self, name: str, **params):
        """``get(name)(**params)``; parameters the class does not take name the class and the error."""
        cls = self.get(name)
        try:
            return cls(**params)
        except TypeError as e:
            raise ValueError(f"bad parameters for {self.kind} {name!r}: {e}") from None

    def error(self, name) -> Exception:
        """The error :meth:`get` raises for ``name``."""
        return unknown_name_error(self.kind, name, self._items, **self._message)

    def __contains__(self, name) -> bool:
        try:
            return name in self._items
        except TypeError:
            return False

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def keys(self):
        return self._items.keys()

    def values(self):
        return self._items.values()

    def items(self):
        return self._items.items()

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {list(self._items)})"
