"""Subset selection: embeddings, K-center and uncertainty baselines (one file per strategy).

``get_strategy("kcenter", space="cosine")`` builds a strategy by name; ``STRATEGIES`` lists them.
A new strategy is one small file with a :class:`SelectionStrategy` subclass, registered below.
"""

from __future__ import annotations

from ..registry import Registry
from .base import PoolFeatures, SelectionStrategy, check_request
from .diversity import covering_radius, vendi_score
from .embeddings import cached_pool_features, pool_features, require_rows
from .entropy import EntropySampling
from .kcenter import KCenterGreedy, kcenter_greedy, naive_kcenter
from .kcenter_balanced import ALLOCATIONS, KCenterBalanced, allocate
from .least_confidence import LeastConfidence
from .margin import MarginSampling
from .random_sampling import RandomSampling
from .spaces import SPACES, to_space

STRATEGIES: Registry[type[SelectionStrategy]] = Registry(
    "selection strategy", [(cls.name, cls) for cls in (KCenterGreedy, KCenterBalanced, RandomSampling, LeastConfidence,
                                                       MarginSampling, EntropySampling)],
    plural="strategies", show=lambda names: str(sorted(names)))


def get_strategy(name: str, **params) -> SelectionStrategy:
    """The strategy called ``name``, built with ``params``."""
    return STRATEGIES.build(name, **params)


__all__ = [
    "ALLOCATIONS", "SPACES", "STRATEGIES", "EntropySampling", "KCenterBalanced", "KCenterGreedy", "LeastConfidence",
    "MarginSampling", "PoolFeatures", "RandomSampling", "SelectionStrategy", "allocate", "cached_pool_features",
    "check_request", "covering_radius", "get_strategy", "kcenter_greedy", "naive_kcenter", "pool_features",
    "require_rows", "to_space", "vendi_score",
]
