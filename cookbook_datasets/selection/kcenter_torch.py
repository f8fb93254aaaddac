"""Greedy K-center on a torch tensor's own device (a GPU): the picks of ``kcenter_greedy``.

``kcenter_greedy`` copies the pool to the CPU, where its per-pick vector work is fastest in numpy.
On a GPU the pool stays in device memory and every step runs there: the same algorithm (a running
nearest-distance vector; candidate blocks scored against every row by one matrix product; the
argmax over the whole vector at every step, ties to the lowest index) with the same distance
formula, so the picks are the same. Only each step's argmax index crosses to the host.

Distances are float32 matrix products: leave TF32 off (PyTorch's default) to get the CPU's picks;
TF32 is several times faster on the matrix products and may break near-ties differently.
"""

from __future__ import annotations

from typing import Optional, Sequence

import numpy as np
import torch

from .base import check_request
from .kcenter import farthest_from_mean, lower_to_nearest, sq_distances, sq_norms


def kcenter_greedy_torch(embeddings, k: int, selected: Sequence[int] = (), *, block_size: int = 512,
                         chunk_size: int = 262_144, block_bytes: int = 4 * 2**30) -> np.ndarray:
    """Pick ``k`` rows by greedy K-center on ``embeddings``' device; returns their indices in pick order.

    ``embeddings``: a (rows, dims) tensor on any device (arrays are taken as CPU tensors), computed
    in float32. Same rules as ``kcenter_greedy``: with nothing selected the first pick is the row
    farthest from the mean; at most ``block_size`` candidates are scored per matrix product, and no
    more than fit in ``block_bytes`` (a block is (candidates, rows) float32); ``chunk_size`` rows
    bound the temporary memory of the first nearest distances. ``block_size=1`` is the plain
    one-center-per-step update.
    """
    x = embeddings if isinstance(embeddings, torch.Tensor) else torch.as_tensor(np.asarray(embeddings))
    if x.ndim != 2:
        raise ValueError(f"embeddings must be a 2-D tensor (rows x dims), got shape {tuple(x.shape)}")
    if x.dtype != torch.float32:
        x = x.float()
    n = x.shape[0]
    chosen = check_request(k, n, selected)
    if block_size < 1 or chunk_size < 1:
        raise ValueError("block_size and chunk_size must be >= 1")
    if k == 0:
        return np.zeros(0, dtype=np.int64)
    block_size = max(1, min(block_size, block_bytes // (4 * n)))
    device = x.device
    picks: list[int] = []
    norms = sq_norms(x)
    if chosen.size == 0:
        first = farthest_from_mean(x, norms)
        chosen = np.array([first], dtype=np.int64)
        picks.append(first)
    chosen_t = torch.from_numpy(chosen).to(device)
    near = torch.full((n,), float("inf"), device=device)
    lower_to_nearest(near, x, norms, x[chosen_t], chunk_size, block_size)  # nearest distance to the selected rows
    near[chosen_t] = -1.0  # selected rows never come back
    block_ids: dict[int, int] = {}
    block: Optional[torch.Tensor] = None
    size, served = min(32, block_size), 0
    while len(picks) < k:
        best = int(torch.argmax(near))  # the first maximal index, as np.argmax
        row = block_ids.get(best)
        if row is None:  # refill: the current top candidates, scored against every row at once
            if block is not None:
                size = min(block_size, max(8, served + served // 2))
            served = 0
            m = min(size, k - len(picks))
            top = torch.topk(near, m).indices if m < n else torch.arange(n, device=device)
            top = torch.cat([torch.tensor([best], device=device), top[top != best]])[:m]  # ties: keep the argmax
            block = None  # free the old block before the new one is allocated
            block = sq_distances(x, norms, x[top])
            block_ids = {i: r for r, i in enumerate(top.tolist())}
            row = block_ids[best]
        picks.append(best)
        served += 1
        torch.minimum(near, block[row], out=near)
        near[best] = -1.0
    return np.asarray(picks[:k], dtype=np.int64)
