"""How diverse a subset is, in an embedding space (reported per selection round).

- Covering radius: the largest distance from any pool row to its nearest subset row, the very
  quantity greedy K-center minimises (smaller = the subset covers the pool better).
- Vendi score (Friedman & Dieng, 2023): the exponential of the entropy of the eigenvalues of the
  subset's cosine-similarity matrix divided by its size, the "effective number" of distinct rows
  (1 for identical rows, the subset size for orthogonal ones).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from .kcenter import sq_distances, sq_norms


def covering_radius(embeddings, subset: Sequence[int], chunk_size: int = 65_536) -> float:
    x = torch.as_tensor(np.asarray(embeddings), dtype=torch.float32)
    centers = x[torch.as_tensor(np.asarray(subset, dtype=np.int64))]
    if len(centers) == 0:
        raise ValueError("the subset is empty")
    norms = sq_norms(x)
    worst = 0.0
    for start in range(0, len(x), chunk_size):
        part = slice(start, start + chunk_size)
        nearest = torch.full((len(x[part]),), float("inf"))
        for c in range(0, len(centers), 1024):
            nearest = torch.minimum(nearest, sq_distances(x[part], norms[part], centers[c:c + 1024]).min(0).values)
        worst = max(worst, float(nearest.max()))
    return float(np.sqrt(worst))


def vendi_score(embeddings) -> float:
    x = np.asarray(embeddings, dtype=np.float64)
    if len(x) == 0:
        raise ValueError("the subset is empty")
    x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    eigenvalues = np.linalg.eigvalsh(x @ x.T / len(x))
    eigenvalues = eigenvalues[eigenvalues > 1e-12]
    return float(np.exp(-(eigenvalues * np.log(eigenvalues)).sum()))
