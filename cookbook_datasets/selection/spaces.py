"""The spaces K-center measures distances in: raw, cosine, or the reference code's whitening.

- ``raw``: the embeddings as the model gives them (DiverseEvol's default): Euclidean distance on
  un-normalised mean hidden states, so long rows with large activations sit far from the rest.
- ``cosine``: each row L2-normalised; Euclidean distance there is sqrt(2 - 2 cos), a monotone
  function of cosine distance, so farthest-first by either picks the same rows.
- ``whiten``: the DiverseEvol reference code's option (BERT-whitening): centre the pool, take the
  SVD of the covariance of the centred embeddings, project on the top ``whiten_components``
  singular directions scaled by 1/sqrt(singular value) (each kept direction gets unit variance),
  then L2-normalise. Fitted on the whole pool, as the reference does.

The covariance has rank at most ``rows - 1``, so whitening keeps fewer components than the pool
has rows; a direction with (numerically) zero variance cannot be scaled to unit variance and is an
error too, rather than a division by zero that would put every row at infinity.
"""

from __future__ import annotations

from typing import Optional

import numpy as np

SPACES = ("raw", "cosine", "whiten")
DISTANCES = {
    "raw": "Euclidean on the raw mean last hidden states",
    "cosine": "Euclidean on L2-normalised embeddings (monotone in cosine distance)",
    "whiten": "Euclidean on whitened (top {components} components of the pool's covariance, unit variance), "
              "L2-normalised embeddings",
}


def check_space(space: str, whiten_components: Optional[int]) -> None:
    """Validate a space and its parameter (no data needed)."""
    if space not in SPACES:
        raise ValueError(f"unknown space {space!r}; valid spaces: {list(SPACES)}")
    if whiten_components is not None:
        if space != "whiten":
            raise ValueError(f"whiten_components only applies to space='whiten' (space is {space!r})")
        if isinstance(whiten_components, bool) or not isinstance(whiten_components, (int, np.integer)) \
                or whiten_components < 1:
            raise ValueError(f"whiten_components must be a positive integer (got {whiten_components!r})")


def whiten_components_for(space: str, whiten_components: Optional[int], rows: int, dims: Optional[int] = None) -> int:
    """How many components whitening keeps for a pool of ``rows`` (x ``dims``), or an error that says
    why the pool cannot support the request. ``None`` keeps as many as the covariance's rank allows."""
    if space != "whiten":
        return 0
    most = rows - 1 if dims is None else min(rows - 1, dims)
    if whiten_components is None:
        if most < 1:
            raise ValueError(f"whitening needs at least 2 pool rows (the pool has {rows})")
        return most
    if whiten_components > rows - 1:
        raise ValueError(f"whiten_components={whiten_components} needs a pool of more than {whiten_components} rows "
                         f"(the centred embeddings' covariance has rank at most rows - 1 = {rows - 1}); "
                         f"use at most {max(rows - 1, 0)} components or space='cosine'")
    if dims is not None and whiten_components > dims:
        raise ValueError(f"whiten_components={whiten_components} is more than the embeddings' {dims} dimensions")
    return whiten_components


def describe_space(space: str, whiten_components: Optional[int], rows: int, dims: Optional[int] = None) -> dict:
    """What a round report records about the space: its name, the distance, the components kept."""
    components = whiten_components_for(space, whiten_components, rows, dims)
    info = {"space": space, "distance": DISTANCES[space].format(components=components)}
    if space == "whiten":
        info["whiten_components"] = components
    return info


def to_space(embeddings, space: str = "raw", whiten_components: Optional[int] = None) -> np.ndarray:
    """The pool's embeddings in ``space`` (float32, rows in pool order)."""
    check_space(space, whiten_components)
    x = np.asarray(embeddings, dtype=np.float32)
    if x.ndim != 2:
        raise ValueError(f"embeddings must be a 2-D array (rows x dims), got shape {x.shape}")
    if space == "raw":
        return x
    if space == "whiten":
        components = whiten_components_for(space, whiten_components, *x.shape)
        centred = x.astype(np.float64) - x.mean(0, keepdims=True)
        cov = centred.T @ centred / (len(x) - 1)  # torch.cov / np.cov, as the reference
        u, s, _ = np.linalg.svd(cov)
        kept = s[:components]
        if kept[-1] <= s[0] * 1e-10:
            rank = int((s > s[0] * 1e-10).sum())
            raise ValueError(f"whiten_components={components} asks for more directions than the pool's embeddings "
                             f"vary in (numerical rank {rank}: duplicate or collinear rows); use at most {rank}")
        x = (centred @ (u[:, :components] / np.sqrt(kept))).astype(np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return (x / np.maximum(norms, 1e-12)).astype(np.float32)
