"""Shared by the uncertainty baselines: rank unselected rows by one per-row score."""

from __future__ import annotations

from typing import Optional, Sequence

import numpy as np

from .base import PoolFeatures, SelectionStrategy, check_request


class UncertaintySampling(SelectionStrategy):
    """Takes the ``k`` unselected rows the model is least sure about, by ``score``.

    ``score`` names a :class:`PoolFeatures` field; ``low_is_uncertain`` says whether low or high
    values mean uncertain. Rows without a score (no response token) come last. Ties go to the lower index (a stable sort).
    """

    needs = "token_stats"
    score: str
    low_is_uncertain: bool

    def select(self, k: int, *, pool_size: int, selected: Sequence[int] = (),
               features: Optional[PoolFeatures] = None) -> np.ndarray:
        chosen = check_request(k, pool_size, selected)
        values = np.asarray(self._require(features, self.score, pool_size), dtype=np.float64)
        key = values if self.low_is_uncertain else -values
        key = np.where(np.isnan(key), np.inf, key)
        key[chosen] = np.inf  # never pick a selected row again
        return np.argsort(key, kind="stable")[:k].astype(np.int64)
