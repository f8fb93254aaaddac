"""Greedy K-center (farthest-point) selection, DiverseEvol's strategy.

Each step adds the unselected row whose Euclidean distance to its nearest selected row is
largest. The reference code builds the full n x n distance matrix (11 GB at 52k rows) and takes a
minimum over every selected column at each step; here a running nearest-distance vector is
updated once per new center: O(n*k) time, O(n) extra memory.

Updating that vector one center at a time reads all n embeddings per step (memory-bound: 10k
steps over 1M x 576 floats is 23 TB of reads). So distances are computed for a *block* of
candidates at once, as a matrix product (compute-bound): the rows with the largest nearest-distance
now are the likely next centers. The greedy loop then runs exactly as before, taking each step's
argmax over the whole vector; while that argmax is in the block its distances are already there,
and when it is not, a new block is computed. The picks are the greedy's picks, whatever the block
size.
"""

from __future__ import annotations

from typing import Optional, Sequence

import numpy as np
import torch

from .base import PoolFeatures, SelectionStrategy, check_request
from .spaces import check_space, describe_space, to_space, whiten_components_for


def sq_distances(points: torch.Tensor, point_norms: torch.Tensor, centers: torch.Tensor) -> torch.Tensor:
    """Squared distances (len(centers), len(points)) by ||c||^2 + ||x||^2 - 2 c.x, clamped at 0."""
    out = torch.mm(centers, points.T).mul_(-2)
    out.add_(point_norms[None, :]).add_((centers * centers).sum(1, keepdim=True))
    return out.clamp_(min=0)


def sq_norms(x: torch.Tensor, chunk: int = 65_536) -> torch.Tensor:
    """Squared row norms, a chunk at a time (x * x at once would copy the whole pool)."""
    return torch.cat([(part * part).sum(1) for part in x.split(chunk)])


def lower_to_nearest(nearest: torch.Tensor, x: torch.Tensor, norms: torch.Tensor, centers: torch.Tensor,
                     chunk_size: int, block_size: int) -> None:
    """Lower ``nearest`` (one entry per row of ``x``, in place) to each row's squared distance to its
    nearest center, ``chunk_size`` rows by ``block_size`` centers at a time (one device for all)."""
    n = len(x)
    for start in range(0, n, chunk_size):
        part = slice(start, min(n, start + chunk_size))
        for c in range(0, len(centers), block_size):
            d = sq_distances(x[part], norms[part], centers[c:c + block_size])
            torch.minimum(nearest[part], d.min(0).values, out=nearest[part])


def farthest_from_mean(x: torch.Tensor, norms: torch.Tensor, eligible: Optional[np.ndarray] = None) -> int:
    """The row farthest from the mean, by ||x||^2 - 2 x.m (no n x d temporary); among the
    ``eligible`` rows only, when given (the mean is still the whole pool's)."""
    mean = x.mean(0)
    score = norms - 2 * (x @ mean)
    if eligible is not None:
        score = score.masked_fill(~torch.from_numpy(eligible), float("-inf"))
    return int(torch.argmax(score))


def _check_quotas(groups, quotas, k: int, n: int, chosen: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    groups = np.asarray(groups)
    quotas = np.asarray(quotas)
    if groups.shape != (n,) or not np.issubdtype(groups.dtype, np.integer):
        raise ValueError(f"groups must be one integer group id per pool row ({n} rows), got shape {groups.shape}")
    if quotas.ndim != 1 or (groups.size and (groups.min() < 0 or groups.max() >= len(quotas))):
        raise ValueError(f"groups must be ids in [0, {len(quotas)}) (one quota per group)")
    if (quotas < 0).any() or int(quotas.sum()) != k:
        raise ValueError(f"quotas must be non-negative and sum to k={k} (got {quotas.tolist()})")
    free = np.bincount(groups, minlength=len(quotas)) - np.bincount(groups[chosen], minlength=len(quotas))
    over = np.flatnonzero(quotas > free)
    if over.size:
        g = int(over[0])
        raise ValueError(f"group {g} has a quota of {int(quotas[g])} new rows but only {int(free[g])} unselected rows")
    return groups.astype(np.int64), quotas.astype(np.int64).copy()


def kcenter_greedy(embeddings, k: int, selected: Sequence[int] = (), *, block_size: int = 512,
                   chunk_size: int = 262_144, block_bytes: int = 512 * 2**20,
                   groups=None, quotas=None) -> np.ndarray:
    """Pick ``k`` rows by greedy K-center; returns their indices in pick order.

    With nothing selected, the first pick is the row farthest from the mean. Ties go to the lowest
    index. At most ``block_size`` candidates are scored per matrix product (a block is 1.5 times
    the run of picks the last one served, so few columns go unused), and no more than fit in
    ``block_bytes``; ``chunk_size`` rows bound the temporary memory of computing the first nearest
    distances.

    With ``groups`` (a group id per row) and ``quotas`` (new picks per group, summing to ``k``),
    each step takes the farthest row among the groups whose quota is not yet filled: distances are
    still to *every* selected row, a group only stops being eligible once it has its picks.
    """
    x = torch.as_tensor(np.asarray(embeddings), dtype=torch.float32)
    if x.ndim != 2:
        raise ValueError(f"embeddings must be a 2-D array (rows x dims), got shape {tuple(x.shape)}")
    n = x.shape[0]
    chosen = check_request(k, n, selected)
    if block_size < 1 or chunk_size < 1:
        raise ValueError("block_size and chunk_size must be >= 1")
    block_size = max(1, min(block_size, block_bytes // (4 * n)))  # a block is (block_size, n) float32
    picks: list[int] = []
    if (groups is None) != (quotas is None):
        raise ValueError("groups and quotas go together")
    if groups is not None:
        groups, left = _check_quotas(groups, quotas, k, n, chosen)
    if k == 0:
        return np.zeros(0, dtype=np.int64)
    norms = sq_norms(x)
    nearest = torch.full((n,), float("inf"))
    if chosen.size == 0:
        first = farthest_from_mean(x, norms, None if groups is None else left[groups] > 0)
        chosen = np.array([first], dtype=np.int64)
        picks.append(first)
        if groups is not None:
            left[groups[first]] -= 1
    lower_to_nearest(nearest, x, norms, x[torch.from_numpy(chosen)], chunk_size, block_size)  # the selected rows
    # the per-pick vector work runs in numpy on the same memory: torch's threaded kernels cost
    # milliseconds of thread wake-ups per call at these sizes, numpy microseconds
    near = nearest.numpy()
    near[chosen] = -1.0  # selected rows never come back
    if groups is not None:
        near[left[groups] <= 0] = -1.0  # nor rows of a group that has its picks
    block_ids: dict[int, int] = {}
    block: Optional[np.ndarray] = None
    size, served = min(32, block_size), 0
    while len(picks) < k:
        best = int(np.argmax(near))
        row = block_ids.get(best)
        if row is None:  # refill: the current top candidates, scored against every row at once
            if block is not None:
                size = min(block_size, max(8, served + served // 2))
            served = 0
            m = min(size, k - len(picks))
            top = np.argpartition(near, -m)[-m:] if m < n else np.arange(n)
            top = np.concatenate([[best], top[top != best]])[:m]  # ties: keep the argmax
            block = sq_distances(x, norms, x[torch.from_numpy(top)]).numpy()
            block_ids = {int(i): r for r, i in enumerate(top)}
            row = block_ids[best]
        picks.append(best)
        served += 1
        np.minimum(near, block[row], out=near)
        near[best] = -1.0
        if groups is not None:
            g = groups[best]
            left[g] -= 1
            if left[g] == 0:
                near[groups == g] = -1.0
    return np.asarray(picks[:k], dtype=np.int64)


def naive_kcenter(embeddings, k: int, selected: Sequence[int] = ()) -> np.ndarray:
    """The reference code's way: the full n x n distance matrix, then at each step the minimum over
    every selected column. O(n^2) memory; kept as the baseline the fast one is checked against."""
    x = torch.as_tensor(np.asarray(embeddings), dtype=torch.float32)
    n = x.shape[0]
    chosen = list(check_request(k, n, selected))
    if k == 0:
        return np.zeros(0, dtype=np.int64)
    norms = sq_norms(x)
    dist = sq_distances(x, norms, x)  # (n, n)
    picks = []
    if not chosen:
        first = farthest_from_mean(x, norms)
        chosen, picks = [first], [first]
    while len(picks) < k:
        labeled = torch.zeros(n, dtype=torch.bool)
        labeled[chosen] = True
        nearest = dist[:, labeled].min(1).values
        nearest[labeled] = -1.0
        best = int(torch.argmax(nearest))
        chosen.append(best)
        picks.append(best)
    return np.asarray(picks, dtype=np.int64)


class KCenterGreedy(SelectionStrategy):
    """Greedy K-center in the model's embedding space (DiverseEvol), in one of :data:`SPACES`:
    ``raw`` (the paper's), ``cosine`` or ``whiten`` (keeping ``whiten_components``; default: as
    many as the pool supports). See :mod:`.spaces`."""

    name = "kcenter"
    needs = "embeddings"

    def __init__(self, space: str = "raw", whiten_components: Optional[int] = None, block_size: int = 512):
        check_space(space, whiten_components)
        if isinstance(block_size, bool) or not isinstance(block_size, int) or block_size < 1:
            raise ValueError(f"block_size must be >= 1 (got {block_size})")
        self.space = space
        self.whiten_components = whiten_components
        self.block_size = block_size

    def check_pool(self, dataset) -> None:
        whiten_components_for(self.space, self.whiten_components, len(dataset))

    def describe(self, features: Optional[PoolFeatures] = None, pool_size: Optional[int] = None) -> dict:
        emb = getattr(features, "embeddings", None)
        rows = len(emb) if emb is not None else pool_size
        return describe_space(self.space, self.whiten_components, rows, emb.shape[1] if emb is not None else None)

    def _space(self, features: Optional[PoolFeatures], pool_size: int) -> np.ndarray:
        return to_space(self._require(features, "embeddings", pool_size), self.space, self.whiten_components)

    def select(self, k: int, *, pool_size: int, selected: Sequence[int] = (),
               features: Optional[PoolFeatures] = None) -> np.ndarray:
        return kcenter_greedy(self._space(features, pool_size), k, selected, block_size=self.block_size)
