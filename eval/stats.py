"""Uncertainty of scores: the standard error of a mean, and paired-bootstrap intervals.

A score is the mean of per-row scores, so its standard error is the sample standard deviation
over ``sqrt(n)`` (lm-evaluation-harness's ``<metric>_stderr``). Two arms scored on the same rows
are compared by the per-row differences, resampling rows with replacement (paired bootstrap).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np


def mean_stderr(scores: Sequence[float]) -> float:
    """Standard error of the mean of ``scores`` (sample std with ddof=1 over sqrt(n)); 0 for n < 2."""
    x = np.asarray(scores, dtype=float)
    if x.size < 2:
        return 0.0
    return float(x.std(ddof=1) / math.sqrt(x.size))


@dataclass
class PairedDifference:
    """``b - a`` on paired rows: the mean difference and its bootstrap interval."""

    mean: float
    low: float
    high: float
    n: int
    level: float = 0.95

    @property
    def excludes_zero(self) -> bool:
        return self.low > 0 or self.high < 0

    def to_dict(self) -> dict:
        return {"diff": self.mean, "low": self.low, "high": self.high, "n": self.n, "level": self.level,
                "excludes_zero": self.excludes_zero}


def paired_bootstrap(a: Sequence[float], b: Sequence[float], *, num_resamples: int = 10_000, level: float = 0.95,
                     seed: int = 0) -> PairedDifference:
    """Percentile interval of ``mean(b - a)`` over rows resampled with replacement.

    ``a`` and ``b`` are per-row scores of two arms on the same rows, in the same order.
    """
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"paired scores need two 1-d sequences of one length (got {a.shape} and {b.shape})")
    if a.size == 0:
        raise ValueError("paired scores are empty: there is no row to compare on")
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1) (got {level!r})")
    d = b - a
    rng = np.random.default_rng(seed)
    # Resample in chunks so 10k resamples of a few thousand rows stay in a few MB.
    means = np.empty(num_resamples)
    chunk = max(1, 2_000_000 // d.size)
    for start in range(0, num_resamples, chunk):
        stop = min(num_resamples, start + chunk)
        idx = rng.integers(0, d.size, size=(stop - start, d.size))
        means[start:stop] = d[idx].mean(axis=1)
    alpha = (1 - level) / 2
    low, high = np.quantile(means, [alpha, 1 - alpha])
    return PairedDifference(mean=float(d.mean()), low=float(low), high=float(high), n=int(d.size), level=level)
