"""Source-balanced greedy K-center (beyond the paper): every kind of row in the pool gets picks.

On a pool of narrow tasks of very different lengths, plain farthest-first goes to the long,
far-apart rows (in this project's NIV2 run, 79 of 120 picks came from 4 long-input tasks and none
from 4 short-input ones). Here the picks are first shared out among the pool's sources (a column
of the pool: the row schema's ``source``, i.e. the task, template or file, or one the user names),
then made farthest-first:

- **Allocation.** After this call the subset (selected + k rows) should hold each source in
  proportion to its share of the pool (``allocation="proportional"``) or equally (``"equal"``).
  The k new picks go one at a time to the source furthest below its target (ties: the source
  first in sorted order), never more than a source has unselected rows; a source already above
  its target (from round 0's random rows or earlier rounds) gets none this round. From an empty
  selection, proportional is Hamilton's largest-remainder rounding; a source smaller than its
  equal share gives the rest to the others.
- **Picks.** Greedy K-center under those quotas (:func:`.kcenter.kcenter_greedy` with groups):
  each step takes, among the sources whose quota is not filled, the row farthest from its nearest
  selected row.

Distances are to *all* selected rows, of every source, not only the same source's: the quota
already guarantees each source its share, and within that share a row lying next to a row picked
for another source (two templates or tasks can make near-identical rows) adds little coverage. It
also keeps the exact greedy as the special case: with one source the picks are ``kcenter``'s.
Rows whose source is missing (None) count as one source of their own.
"""

from __future__ import annotations

import dataclasses
from typing import Optional, Sequence

import numpy as np

from ..registry import unknown_name_error
from .base import PoolFeatures, check_request
from .kcenter import KCenterGreedy, kcenter_greedy

ALLOCATIONS = ("proportional", "equal")


def allocate(pool_counts, selected_counts, k: int, allocation: str = "proportional") -> np.ndarray:
    """New picks per source (summing to ``k``), from each source's rows in the pool and already selected."""
    if allocation not in ALLOCATIONS:
        raise unknown_name_error("allocation", allocation, ALLOCATIONS, show=str)
    pool_counts = np.asarray(pool_counts, dtype=np.int64)
    selected_counts = np.asarray(selected_counts, dtype=np.int64)
    free = pool_counts - selected_counts
    if k > free.sum():
        raise ValueError(f"k={k} is larger than the {int(free.sum())} unselected rows of the pool")
    total = selected_counts.sum() + k
    if allocation == "proportional":
        target = total * pool_counts / pool_counts.sum()
    else:
        target = np.full(len(pool_counts), total / len(pool_counts))
    new = np.zeros(len(pool_counts), dtype=np.int64)
    for _ in range(k):
        deficit = target - selected_counts - new
        deficit[new >= free] = -np.inf
        new[int(np.argmax(deficit))] += 1  # argmax: ties to the first source
    return new


def source_groups(sources) -> tuple[np.ndarray, np.ndarray]:
    """(sorted source names, each row's index into them)."""
    values = np.asarray(["" if s is None else str(s) for s in sources], dtype=object)
    names, groups = np.unique(values.astype(str), return_inverse=True)
    return names, groups.astype(np.int64)


class KCenterBalanced(KCenterGreedy):
    """Greedy K-center with picks shared out among the pool's sources (see module doc)."""

    name = "kcenter_balanced"
    needs = "embeddings"

    def __init__(self, source_column: str = "source", allocation: str = "proportional", space: str = "raw",
                 whiten_components: Optional[int] = None, block_size: int = 512):
        super().__init__(space=space, whiten_components=whiten_components, block_size=block_size)
        if not isinstance(source_column, str) or not source_column:
            raise ValueError(f"source_column must be a column name (got {source_column!r})")
        if allocation not in ALLOCATIONS:
            raise unknown_name_error("allocation", allocation, ALLOCATIONS, show=str)
        self.source_column = source_column
        self.allocation = allocation

    def check_pool(self, dataset) -> None:
        super().check_pool(dataset)
        if self.source_column not in dataset.column_names:
            raise ValueError(
                f"kcenter_balanced balances the pool's sources but the pool has no column {self.source_column!r} "
                f"(it has {dataset.column_names}); add one that says which task, template or file each row "
                f"comes from (e.g. dataset.add_column({self.source_column!r}, names)), or name another "
                f"column with source_column=... (cookbook select --source-column)")

    def with_pool_columns(self, features: Optional[PoolFeatures], dataset) -> PoolFeatures:
        self.check_pool(dataset)
        sources = np.asarray(dataset.select_columns([self.source_column]).to_dict()[self.source_column], dtype=object)
        return dataclasses.replace(features or PoolFeatures(), sources=sources)

    def describe(self, features: Optional[PoolFeatures] = None, pool_size: Optional[int] = None) -> dict:
        info = super().describe(features, pool_size)
        info.update(balanced_by=self.source_column, allocation=self.allocation)
        return info

    def select(self, k: int, *, pool_size: int, selected: Sequence[int] = (),
               features: Optional[PoolFeatures] = None) -> np.ndarray:
        chosen = check_request(k, pool_size, selected)
        if features is None or features.sources is None:
            raise ValueError(f"strategy {self.name!r} needs the pool's sources (PoolFeatures.sources: the "
                             f"{self.source_column!r} column, see with_pool_columns)")
        _, groups = source_groups(self._require(features, "sources", pool_size))
        quotas = allocate(np.bincount(groups), np.bincount(groups[chosen], minlength=groups.max() + 1), k,
                          self.allocation)
        return kcenter_greedy(self._space(features, pool_size), k, chosen, block_size=self.block_size,
                              groups=groups, quotas=quotas)
