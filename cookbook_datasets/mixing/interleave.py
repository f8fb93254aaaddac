"""Which component each row of a mixture comes from, with ``datasets.interleave_datasets`` semantics.

``interleave_datasets(parts, probabilities=p, seed=s, stopping_strategy=...)`` draws the source
of every row from ``np.random.default_rng(s).choice(len(parts), size=1000, p=p)`` blocks; the k-th
row drawn from a part is its row ``k`` (``k % len(part)`` once it wraps). It stops right after the
first part runs out (``first_exhausted``) or after the last one does (``all_exhausted``, the others
wrap around). The same draws are made here, so a mixture of finite parts equals
``interleave_datasets`` over them row for row; templates are unbounded parts that never run out.

Any row's source is known from the draws before it alone, so shards of a mixture are generated
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


def draw_blocks(probabilities: Sequence[float], seed: int) -> Iterator[np.ndarray]:
    """Endless blocks of source indices, exactly as ``interleave_datasets`` draws them."""
    rng = np.random.default_rng(seed)
    p = np.asarray(probabilities, dtype=np.float64)
    while True:
        yield rng.choice(len(p), size=BLOCK, p=p)


def draws(probabilities: Sequence[float], seed: int, n: int) -> np.ndarray:
    """The first ``n`` source indices."""
    blocks, have = [], 0
    for block in draw_blocks(probabilities, seed):
        if have >= n:
            break
        blocks.append(block)
        have += len(block)
    return np.concatenate(blocks)[:n] if blocks else np.zeros(0, dtype=np.int64)


def mixture_length(probabilities: Sequence[float], lengths: Sequence[Optional[int]], seed: int,
                   stopping_strategy: str, cap: Optional[int]) -> Optional[int]:
    """Rows in the mixture: where the stopping strategy ends it over the finite parts
    (``lengths[i] is None``: unbounded), at most ``cap``; ``None`` when nothing ends it."""
    validate_stopping_strategy(stopping_strategy)
    finite = [i for i, (p, n) in enumerate(zip(probabilities, lengths)) if n is not None and p > 0]
    if any(lengths[i] < 1 for i in finite):
        raise ValueError("every finite part of a mixture needs at least one row")
    if not finite:
        return cap
    counts = np.zeros(len(probabilities), dtype=np.int64)
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
        counts += np.bincount(block, minlength=len(probabilities))
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
