"""What every selection strategy is: constructed with its parameters, called with the data.

Like a scikit-learn estimator without fitted state: ``strategy.select(k, selected=..., ...)``
returns ``k`` new pool indices and keeps nothing between calls, so the same inputs always give
the same subset. ``needs`` says which model-derived features the caller must compute first
(``"embeddings"``: mean last-layer hidden states; ``"token_stats"``: the model's token
probabilities on each response).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar, Optional, Sequence

import numpy as np


@dataclass
class PoolFeatures:
    """What a model says about every pool row (row order = pool order)."""

    embeddings: Optional[np.ndarray] = None  # (n, hidden) float32: masked mean of the last hidden states
    max_prob: Optional[np.ndarray] = None  # (n,) mean over response tokens of the top token probability
    margin: Optional[np.ndarray] = None  # (n,) mean over response tokens of top-1 minus top-2 probability
    entropy: Optional[np.ndarray] = None  # (n,) mean over response tokens of the predictive entropy (nats)
    sources: Optional[np.ndarray] = None  # (n,) the pool's own source column (what kcenter_balanced balances)


def check_request(k: int, pool_size: int, selected: Sequence[int]) -> np.ndarray:
    """Validate a selection request; return ``selected`` as an int64 array."""
    if pool_size <= 0:
        raise ValueError("the pool is empty: nothing to select from")
    chosen = np.asarray(list(selected), dtype=np.int64)
    if chosen.size and (chosen.min() < 0 or chosen.max() >= pool_size):
        raise ValueError(f"selected indices must be in [0, {pool_size}) (the pool's rows)")
    if chosen.size != np.unique(chosen).size:
        raise ValueError("selected indices contain duplicates")
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 0:
        raise ValueError(f"k must be a non-negative integer (got {k!r})")
    left = pool_size - chosen.size
    if k > left:
        raise ValueError(f"k={k} is larger than the {left} unselected rows of the pool ({pool_size} rows, "
                         f"{chosen.size} already selected)")
    return chosen


class SelectionStrategy(ABC):
    """Picks ``k`` more rows of a pool, given the rows already selected."""

    name: ClassVar[str]
    needs: ClassVar[Optional[str]] = None  # "embeddings", "token_stats" or None

    @abstractmethod
    def select(self, k: int, *, pool_size: int, selected: Sequence[int] = (),
               features: Optional[PoolFeatures] = None) -> np.ndarray:
        """``k`` new pool indices (int64), in the order they were chosen; none of ``selected``."""

    def check_pool(self, dataset) -> None:
        """Raise a clear error if this pool cannot support the strategy; runs before any model is
        loaded (e.g. whitening with fewer rows than components, a missing source column)."""

    def with_pool_columns(self, features: Optional[PoolFeatures], dataset) -> Optional[PoolFeatures]:
        """``features`` plus what the strategy reads from the pool's own columns (none by default)."""
        return features

    def describe(self, features: Optional[PoolFeatures] = None, pool_size: Optional[int] = None) -> dict:
        """What a round report records about how the strategy measured the pool (e.g. the distance)."""
        return {}

    def params(self) -> dict:
        """The constructor parameters (recorded in reports and cards)."""
        return {k: v for k, v in vars(self).items() if not k.startswith("_")}

    def _require(self, features: Optional[PoolFeatures], attribute: str, pool_size: int) -> np.ndarray:
        value = getattr(features, attribute, None) if features is not None else None
        if value is None:
            raise ValueError(f"strategy {self.name!r} needs the pool's {attribute} (PoolFeatures.{attribute})")
        if len(value) != pool_size:
            raise ValueError(f"{attribute} has {len(value)} rows but the pool has {pool_size}")
        return value
