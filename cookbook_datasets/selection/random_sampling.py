"""Uniform random selection: the baseline every other strategy has to beat."""

from __future__ import annotations

from typing import Optional, Sequence

import numpy as np

from .base import PoolFeatures, SelectionStrategy, check_request


class RandomSampling(SelectionStrategy):
    """``k`` unselected rows drawn uniformly without replacement.

    The draw depends only on ``seed`` and the rows already selected (hashed together, not
    ``seed + round``), so a resumed run draws the same rows and two seeds do not overlap.
    """

    name = "random"
    needs = None

    def __init__(self, seed: int = 0):
        self.seed = int(seed)

    def select(self, k: int, *, pool_size: int, selected: Sequence[int] = (),
               features: Optional[PoolFeatures] = None) -> np.ndarray:
        chosen = check_request(k, pool_size, selected)
        rng = np.random.default_rng(np.random.SeedSequence([self.seed, pool_size, *sorted(chosen.tolist())]))
        left = np.setdiff1d(np.arange(pool_size), chosen)
        return np.sort(rng.choice(left, size=k, replace=False)).astype(np.int64)
