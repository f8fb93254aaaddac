"""Vectorised sampling: counter-based per-item randomness and Arrow string columns.

Templates that implement ``generate_batch`` build a whole batch of samples with NumPy and format
it with Arrow compute kernels, which is what makes generation fast. Per-item randomness still
derives from hashing (seed, config, split, index): item ``i``'s draws are
``splitmix64(key_i, counter)``, and each draw method reserves a fixed block of counters, so an
item's data never depends on which other items share its batch, shard or process.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence, Union

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_REJECTION_ROUNDS = 8


def splitmix64(x: np.ndarray) -> np.ndarray:
    """The splitmix64 finaliser, element-wise on uint64 (wrapping arithmetic)."""
    with np.errstate(over="ignore"):
        z = x + _GOLDEN
        z = (z ^ (z >> np.uint64(30))) * _M1
        z = (z ^ (z >> np.uint64(27))) * _M2
        return z ^ (z >> np.uint64(31))


def item_keys(key: bytes, indices: np.ndarray) -> np.ndarray:
    """One 64-bit key per item from the stream key (seed, config, split) and the item index."""
    base = np.uint64(int.from_bytes(key[:8], "little"))
    salt = np.uint64(int.from_bytes(key[8:16], "little"))
    return splitmix64(base ^ splitmix64(np.asarray(indices, dtype=np.uint64) ^ salt))


class BatchRandom:
    """Random draws for a batch of items; row ``i`` depends only on item ``i``'s key."""

    def __init__(self, keys: np.ndarray):
        self.keys = keys
        self.n = len(keys)
        self._counter = 0

    def bits(self, *shape: int) -> np.ndarray:
        size = int(np.prod(shape)) if shape else 1
        counters = np.arange(self._counter, self._counter + size, dtype=np.uint64)
        self._counter += size
        with np.errstate(over="ignore"):
            out = splitmix64(self.keys[:, None] ^ splitmix64(counters)[None, :])
        return out.reshape((self.n, *shape)) if shape else out[:, 0]

    def random(self, *shape: int) -> np.ndarray:
        """Floats in [0, 1)."""
        return (self.bits(*shape) >> np.uint64(11)).astype(np.float64) * (1.0 / 2**53)

    def integers(self, low, high, *shape: int) -> np.ndarray:
        """Integers in [low, high); ``low``/``high`` may be per-row arrays."""
        low = np.asarray(low, dtype=np.int64)
        span = np.asarray(high, dtype=np.int64) - low
        u = self.random(*shape)
        if span.ndim == 1 and shape:
            span = span.reshape((-1,) + (1,) * len(shape))
            low = low.reshape((-1,) + (1,) * len(shape)) if low.ndim == 1 else low
        return low + (u * span).astype(np.int64)

    def permutation(self, k: int) -> np.ndarray:
        """A random permutation of range(k) per row."""
        return np.argsort(self.random(k), axis=1, kind="stable")

    def shuffle(self, values: np.ndarray) -> np.ndarray:
        """Each row's values in a random order."""
        return np.take_along_axis(values, self.permutation(values.shape[1]), axis=1)

    def distinct(self, vocab_size: int, k: int, exclude: Optional[np.ndarray] = None) -> np.ndarray:
        """``k`` distinct ids per row in [0, vocab_size), none of them in the row's ``exclude``."""
        m = 0 if exclude is None else exclude.shape[1]
        if k + m > vocab_size:
            raise ValueError(f"{k + m} distinct tokens are needed but the vocabulary has {vocab_size}")
        base = self._counter
        self._counter += _REJECTION_ROUNDS * k + 1  # a fixed block: batch-independent counters
        out = np.empty((self.n, k), dtype=np.int64)
        todo = np.arange(self.n)
        for r in range(_REJECTION_ROUNDS):
            if not len(todo) or k == 0:
                break
            sub = BatchRandom(self.keys[todo])
            sub._counter = base + r * k
            ids = sub.integers(0, vocab_size, k)
            ok = _rows_distinct(ids)
            if exclude is not None:
                ok &= ~in_rows(ids, exclude[todo], vocab_size).any(axis=1)
            out[todo[ok]] = ids[ok]
            todo = todo[~ok]
        for row in todo:  # rare: crowded rows are drawn exactly from a per-item generator
            gen = np.random.default_rng([int(self.keys[row]), base])
            allowed = np.setdiff1d(np.arange(vocab_size), exclude[row]) if exclude is not None else vocab_size
            out[row] = gen.choice(allowed, size=k, replace=False)
        return out


def in_rows(values: np.ndarray, pool: np.ndarray, vocab_size: int) -> np.ndarray:
    """``values[i, j] in pool[i]`` for every row, by one sorted search (rows offset apart)."""
    n = len(values)
    offset = (np.arange(n, dtype=np.int64) * vocab_size)[:, None]
    flat = np.sort((pool + offset).ravel())
    if not len(flat):
        return np.zeros(values.shape, dtype=bool)
    wanted = values + offset
    found = np.minimum(np.searchsorted(flat, wanted), len(flat) - 1)
    return flat[found] == wanted


def _rows_distinct(ids: np.ndarray) -> np.ndarray:
    if ids.shape[1] < 2:
        return np.ones(len(ids), dtype=bool)
    s = np.sort(ids, axis=1)
    return ~(s[:, 1:] == s[:, :-1]).any(axis=1)


# -- columns ------------------------------------------------------------------------------------
@dataclass
class Tokens:
    """A list of tokens per row: ``ids`` (n, L) into the vocabulary, ``lengths`` for ragged rows."""

    ids: np.ndarray
    lengths: Optional[np.ndarray] = None


@dataclass
class Labels:
    """One string per row, chosen from ``values`` (strings, or an Arrow string array such as the
    formatter's vocabulary for one word per row)."""

    values: Sequence[str]
    index: np.ndarray


@dataclass
class Ints:
    values: np.ndarray


@dataclass
class TokensList:
    """A fixed number of token lists per row (e.g. answer options)."""

    items: list


Column = Union[Tokens, Labels, Ints, TokensList]


class Formatter:
    """Turns columns into Arrow strings (joined text and JSON) with one vocabulary."""

    def __init__(self, words: Sequence[str]):
        self.words = pa.array(words, pa.string())

    def token_lists(self, col: Tokens) -> pa.ListArray:
        n, width = col.ids.shape
        if col.lengths is None:
            flat = col.ids.reshape(-1)
            offsets = np.arange(0, n * width + 1, width, dtype=np.int32)
        else:
            mask = np.arange(width)[None, :] < col.lengths[:, None]
            flat = col.ids[mask]
            offsets = np.concatenate([[0], np.cumsum(col.lengths)]).astype(np.int32)
        return pa.ListArray.from_arrays(pa.array(offsets), self.words.take(pa.array(flat)))

    def text(self, col: Column) -> pa.Array:
        """Human-readable strings: tokens joined by spaces, labels, numbers."""
        if isinstance(col, Tokens):
            return pc.binary_join(self.token_lists(col), " ")
        if isinstance(col, Labels):
            return pa.array(col.values, pa.string()).take(pa.array(col.index))
        if isinstance(col, Ints):
            return pc.cast(pa.array(col.values), pa.string())
        raise TypeError(f"no plain text form for {type(col).__name__}")

    def json(self, col: Column) -> pa.Array:
        """JSON strings (tokens and labels are plain ASCII words: nothing needs escaping)."""
        if isinstance(col, Tokens):
            inner = pc.binary_join(self.token_lists(col), '", "')
            lengths = col.lengths if col.lengths is not None else np.full(len(col.ids), col.ids.shape[1])
            return pc.if_else(pa.array(lengths == 0), "[]", concat('["', inner, '"]'))
        if isinstance(col, Labels):
            return concat('"', self.text(col), '"')
        if isinstance(col, Ints):
            return self.text(col)
        if isinstance(col, TokensList):
            parts = [self.json(item) for item in col.items]
            return concat("[", *_interleave(parts, ", "), "]")
        raise TypeError(f"unknown column type {type(col).__name__}")

    def json_object(self, fields: dict) -> pa.Array:
        pieces = ["{"]
        for i, (name, col) in enumerate(fields.items()):
            pieces += [("" if i == 0 else ", ") + f'"{name}": ', col if isinstance(col, pa.Array) else self.json(col)]
        return concat(*pieces, "}")


def _interleave(parts: list, sep: str) -> list:
    out = []
    for i, p in enumerate(parts):
        if i:
            out.append(sep)
        out.append(p)
    return out


def concat(*pieces) -> pa.Array:
    """Element-wise concatenation of string arrays and literal strings."""
    return pc.binary_join_element_wise(*pieces, "")
