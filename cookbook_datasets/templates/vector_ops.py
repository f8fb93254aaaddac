"""Row-wise NumPy operations shared by the vectorised templates (one row = one item)."""

from __future__ import annotations

import numpy as np

from .base import LETTERS
from .columns import Tokens


def gather(pool, idx):
    """``pool[row..., idx]`` along the last axis, for leading axes shared by ``pool`` and ``idx``
    (flat indexing: several times faster than take_along_axis on small rows)."""
    lead = pool.shape[:-1]
    offsets = np.arange(int(np.prod(lead))).reshape(lead + (1,) * (idx.ndim - len(lead))) * pool.shape[-1]
    return np.ascontiguousarray(pool).ravel()[idx + offsets]


def take(values, index):
    """``values[row, index[row, ...]]``: each row's entries at that row's indices."""
    rows = np.arange(len(values)).reshape((-1,) + (1,) * (index.ndim - 1))
    return values[rows, index]


def subsets(u, pool, counts):
    """Uniform random ``counts``-subsets of range(pool) from uniforms ``u`` (..., width), by Floyd's
    algorithm: no rejection, one uniform per slot; slots past a row's count are -1."""
    picks, top = [], pool - counts
    for i in range(u.shape[-1]):
        # Floyd's step i: t uniform in [0, top + i], or top + i itself when t is already picked
        t = (u[..., i] * (top + i + 1)).astype(np.int64)
        taken = np.zeros(t.shape, dtype=bool)
        for p in picks:
            taken |= p == t
        picks.append(np.where(taken, top + i, t))
    out = np.stack(picks, axis=-1)
    out[np.arange(u.shape[-1]) >= counts[..., None]] = -1
    return out


def compact(ids, keep):
    """The kept tokens of each row, in their order, as a ragged Tokens column."""
    n, width = ids.shape
    # Kept tokens go to their rank among the kept; the others to a spare last column.
    target = np.where(keep, np.cumsum(keep, axis=1) - 1, width)
    out = np.zeros((n, width + 1), dtype=ids.dtype)
    np.put_along_axis(out, target, ids, axis=1)
    return Tokens(out[:, :width], keep.sum(axis=1))


def lettered_pieces(columns, labels=LETTERS):
    """Prompt pieces of ``lettered``: "A. <option>" lines (or other ``labels``), one per column."""
    pieces = []
    for i, col in enumerate(columns):
        pieces += [("\n" if i else "") + f"{labels[i]}. ", col]
    return pieces


def first_occurrences(ids, lengths=None):
    """Mask of the positions holding the first occurrence of their token in the row (within the
    row's ``lengths`` when given: padding after a row's tokens never hides a first occurrence)."""
    order = np.argsort(ids, axis=1, kind="stable")  # equal ids stay in position order
    sorted_ids = np.take_along_axis(ids, order, axis=1)
    starts = np.ones(ids.shape, dtype=bool)
    starts[:, 1:] = sorted_ids[:, 1:] != sorted_ids[:, :-1]
    firsts = np.empty(ids.shape, dtype=bool)
    np.put_along_axis(firsts, order, starts, axis=1)
    if lengths is not None:
        firsts &= np.arange(ids.shape[1])[None, :] < lengths[:, None]
    return firsts
