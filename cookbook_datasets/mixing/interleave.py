"""Which component each row of a mixture comes from, with ``datasets.interleave_datasets`` semantics.

``interleave_datasets(parts, probabilities=p, seed=s, stopping_strategy=...)`` draws the source
of every row from ``np.random.default_rng(s).choice(len(parts), size=1000, p=p)`` blocks; the k-th
row drawn from a part is its row ``k`` (``k % len(part)`` once it wraps). It stops right after the
first part runs out (``first_exhausted``) or after the last one does (``all_exhausted``, the others
wrap around). The same draws are made here, so a mixture of finite parts equals
``interleave_datasets`` over them row for row; templates are unbounded parts that never run out.

A row cap (the mixture's ``num_examples``) is the count you get under ``all_exhausted``: its
parts oversample (wrap around) until every finite part has run out *and* the cap is reached
(without a cap it ends where ``interleave_datasets`` ends). Under ``first_exhausted`` a finite part
that runs out first ends the mixture short of the cap; the builder then logs the count and why, and
its card records it (builders/mixture.py, :func:`exhausted_parts`).

A row's source is ``searchsorted(cdf(p), u)`` of its own uniform ``u`` (the uniforms
``Generator.choice`` consumes), so weights that change with the row index (a schedule, see
schedule.py) draw from the same uniforms: the rows are a function of (seed, schedule), and a
one-piece schedule is the plain weights. Any row's source is known from the draws before it alone, so shards of a mixture are generated
independently (``num_proc``) and a stream can go on forever.
"""

from __future__ import annotations

from typing import Iterator, Optional, Sequence

import numpy as np

BLOCK = 1000  # draws per rng call; must match datasets' interleaving for identical rows
STOPPING_STRATEGIES = ("first_exhausted", "all_exhausted")


def validate_stopping_strategy(strategy: str) -> None:
    if strategy not in STOPPING_STRATEGIES:
        raise ValueError(f"stopping_strategy must be one of {list(STOPPING_STRATEGIES)} (got {strategy!r})")


def _segments(probabilities) -> list[tuple[int, np.ndarray]]:
    """``(start_row, cdf)`` pieces from a probability vector or ``[(start_row, probabilities), ...]``."""
    if len(probabilities) and isinstance(probabilities[0], tuple):
        pieces = list(probabilities)
    else:
        pieces = [(0, probabilities)]
    out = []
    for start, p in pieces:
        # The cumulative sums exactly as ``Generator.choice`` makes them, so the sources are its own.
        cdf = np.asarray(p, dtype=np.float64).cumsum()
        cdf /= cdf[-1]
        out.append((int(start), cdf))
    return out


def draw_sources(uniforms: np.ndarray, start: int, probabilities) -> np.ndarray:
    """The sources of rows ``start .. start + len(uniforms)``, each from its own uniform under the
    weights in force at its row (``probabilities``: a vector or a schedule, as in ``draw_blocks``)."""
    segments = _segments(probabilities)
    sources = np.empty(len(uniforms), dtype=np.int64)
    rows = start + np.arange(len(uniforms))
    starts = [s for s, _ in segments]
    which = np.searchsorted(starts, rows, side="right") - 1
    for seg in np.unique(which):
        where = which == seg
        sources[where] = segments[seg][1].searchsorted(uniforms[where], side="right")
    return sources


def uniform_blocks(seed: int) -> Iterator[np.ndarray]:
    """The uniforms ``Generator.choice(k, size=BLOCK, p=p)`` consumes, block by block."""
    rng = np.random.default_rng(seed)
    while True:
        yield rng.random(BLOCK)


def draw_blocks(probabilities, seed: int) -> Iterator[np.ndarray]:
    """Endless blocks of source indices, exactly as ``interleave_datasets`` draws them.

    ``probabilities``: one vector, or a piecewise-constant schedule ``[(start_row, vector), ...]``
    (the first starting at row 0). A row's source depends only on its own uniform and the weights in
    force at its row, so a one-piece schedule is the plain weights, draw for draw."""
    position = 0
    for u in uniform_blocks(seed):
        yield draw_sources(u, position, probabilities)
        position += len(u)


def draws(probabilities, seed: int, n: int) -> np.ndarray:
    """The first ``n`` source indices."""
    blocks, have = [], 0
    for block in draw_blocks(probabilities, seed):
        if have >= n:
            break
        blocks.append(block)
        have += len(block)
    return np.concatenate(blocks)[:n] if blocks else np.zeros(0, dtype=np.int64)


def mixture_length(probabilities, lengths: Sequence[Optional[int]], seed: int,
                   stopping_strategy: str, cap: Optional[int]) -> Optional[int]:
    """Rows in the mixture: ``cap`` under ``all_exhausted`` (the finite parts wrap around until it);
    under ``first_exhausted``, where the first finite part (``lengths[i] is None``: unbounded) runs
    out, at most ``cap``. Without a cap: where the stopping strategy ends it over the finite parts,
    ``None`` when nothing ends it. ``probabilities``: a vector or a schedule, as in :func:`draw_blocks`."""
    validate_stopping_strategy(stopping_strategy)
    ever = np.max([cdf_probabilities(cdf) for _, cdf in _segments(probabilities)], axis=0)
    finite = [i for i, (p, n) in enumerate(zip(ever, lengths)) if n is not None and p > 0]
    if any(lengths[i] < 1 for i in finite):
        raise ValueError("every finite part of a mixture needs at least one row")
    if not finite:
        return cap
    if stopping_strategy == "all_exhausted" and cap is not None:
        return cap  # oversampled until every part ran out and the count asked is reached
    counts = np.zeros(len(lengths), dtype=np.int64)
    exhausted_at = {}  # part -> position of its length-th draw (the row after which it is exhausted)
    position = 0
    for block in draw_blocks(probabilities, seed):
        for i in finite:
            if i in exhausted_at:
                continue
            occurrences = np.flatnonzero(block == i)
            need = lengths[i] - counts[i]
            if len(occurrences) >= need:
                exhausted_at[i] = position + int(occurrences[need - 1])
        counts += np.bincount(block, minlength=len(lengths))
        position += len(block)
        if stopping_strategy == "first_exhausted":
            done = bool(exhausted_at)
        else:
            done = len(exhausted_at) == len(finite)
        if done:
            positions = exhausted_at.values()
            stop = (min(positions) if stopping_strategy == "first_exhausted" else max(positions)) + 1
            return stop if cap is None else min(cap, stop)
        if cap is not None and position >= cap:
            return cap


def exhausted_parts(probabilities, lengths: Sequence[Optional[int]], seed: int, n: int) -> list[int]:
    """The finite parts whose every row was drawn within the first ``n`` rows (why a
    ``first_exhausted`` mixture ended at ``n``)."""
    counts = np.bincount(draws(probabilities, seed, n), minlength=len(lengths))
    return [i for i, length in enumerate(lengths) if length is not None and counts[i] >= length]


def cdf_probabilities(cdf: np.ndarray) -> np.ndarray:
    return np.diff(cdf, prepend=0.0)


def row_indices(sources: np.ndarray, offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For a run of draws ``sources``, each row's index in its own part, given how many rows each
    part gave before the run (``offsets``); returns the indices and the updated offsets."""
    indices = np.empty(len(sources), dtype=np.int64)
    offsets = offsets.copy()
    for part in np.unique(sources):
        positions = np.flatnonzero(sources == part)
        indices[positions] = offsets[part] + np.arange(len(positions))
        offsets[part] += len(positions)
    return indices, offsets
