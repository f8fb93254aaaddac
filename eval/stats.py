"""Uncertainty of scores: the standard error of a mean, and paired-bootstrap intervals.

A score is the mean of per-row scores, so its standard error is the sample standard deviation
over ``sqrt(n)`` (lm-evaluation-harness's ``<metric>_stderr``). Two arms scored on the same rows
are compared by the per-row differences, resampling rows with replacement (paired bootstrap).
The task average (the mean over tasks of each task's mean) is resampled within each task, so
every task keeps its own number of rows and its weight in the average.
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


def z_value(level: float = 0.95) -> float:
    """The two-sided normal quantile of ``level`` (1.96 for 0.95)."""
    from statistics import NormalDist

    _check_level(level)
    return NormalDist().inv_cdf(1 - (1 - level) / 2)


def mean_interval(scores: Sequence[float], level: float = 0.95) -> tuple[float, float]:
    """Interval of the mean of per-row ``scores`` against a fixed number (chance): Wilson's score
    interval where every score is 0 or 1 (a binomial proportion; it stays in [0, 1] and keeps a width
    at 0/n and n/n), else the normal interval ``mean ± z * stderr``."""
    x = np.asarray(scores, dtype=float)
    if x.size == 0:
        raise ValueError("mean_interval needs at least one score")
    z, n, p = z_value(level), x.size, float(x.mean())
    if np.isin(x, (0.0, 1.0)).all():
        centre = (p + z * z / (2 * n)) / (1 + z * z / n)
        half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
        return max(0.0, centre - half), min(1.0, centre + half)
    half = z * mean_stderr(x)
    return p - half, p + half


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

    @property
    def verdict(self) -> str:
        """``higher`` or ``lower`` when the interval excludes zero, else ``no difference``."""
        if self.low > 0:
            return "higher"
        if self.high < 0:
            return "lower"
        return "no difference"

    def to_dict(self) -> dict:
        return {"diff": self.mean, "low": self.low, "high": self.high, "n": self.n, "level": self.level,
                "excludes_zero": self.excludes_zero, "verdict": self.verdict}


def paired_bootstrap(a: Sequence[float], b: Sequence[float], *, num_resamples: int = 10_000, level: float = 0.95,
                     seed: int = 0) -> PairedDifference:
    """Percentile interval of ``mean(b - a)`` over rows resampled with replacement.

    ``a`` and ``b`` are per-row scores of two arms on the same rows, in the same order.
    """
    a, b = _paired(a, b)
    _check_level(level)
    rng = np.random.default_rng(seed)
    means = _resampled_means(b - a, num_resamples, rng)
    low, high = _percentiles(means, level)
    return PairedDifference(mean=float((b - a).mean()), low=low, high=high, n=int(a.size), level=level)


def task_average_bootstrap(pairs: Sequence[tuple[Sequence[float], Sequence[float]]], *, num_resamples: int = 10_000,
                           level: float = 0.95, seed: int = 0) -> PairedDifference:
    """Percentile interval of the task average of ``b - a``: the mean over tasks of each task's mean
    per-row difference.

    ``pairs`` holds one ``(a, b)`` per task (per-row scores of two arms on that task's rows). Each
    resample draws every task's rows with replacement from that task alone (a stratified paired
    bootstrap), so a task with many rows does not outweigh one with few. ``n`` is the total number
    of rows.
    """
    if not pairs:
        raise ValueError("task_average_bootstrap needs at least one task")
    _check_level(level)
    rng = np.random.default_rng(seed)
    total = np.zeros(num_resamples)
    task_means, n = [], 0
    for k, (a, b) in enumerate(pairs):
        a, b = _paired(a, b, where=f"task {k}")
        total += _resampled_means(b - a, num_resamples, rng)
        task_means.append(float((b - a).mean()))
        n += a.size
    low, high = _percentiles(total / len(pairs), level)
    return PairedDifference(mean=float(np.mean(task_means)), low=low, high=high, n=n, level=level)


def task_average_stderr(stderrs: Sequence[float]) -> float:
    """Standard error of a mean over tasks of independent per-task means: ``sqrt(sum se²) / T``."""
    se = np.asarray(stderrs, dtype=float)
    if se.size == 0:
        raise ValueError("task_average_stderr needs at least one task")
    return float(math.sqrt(float((se ** 2).sum())) / se.size)


def _paired(a, b, where: str = "") -> tuple[np.ndarray, np.ndarray]:
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    at = f" ({where})" if where else ""
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"paired scores need two 1-d sequences of one length{at} (got {a.shape} and {b.shape})")
    if a.size == 0:
        raise ValueError(f"paired scores are empty{at}: there is no row to compare on")
    return a, b


def _check_level(level: float) -> None:
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1) (got {level!r})")


def _resampled_means(d: np.ndarray, num_resamples: int, rng: np.random.Generator) -> np.ndarray:
    """Means of ``num_resamples`` resamples of ``d`` (rows drawn with replacement)."""
    if not isinstance(num_resamples, int) or num_resamples < 1:
        raise ValueError(f"num_resamples must be a positive integer (got {num_resamples!r})")
    # Resample in chunks so 10k resamples of a few thousand rows stay in a few MB.
    means = np.empty(num_resamples)
    chunk = max(1, 2_000_000 // d.size)
    for start in range(0, num_resamples, chunk):
        stop = min(num_resamples, start + chunk)
        idx = rng.integers(0, d.size, size=(stop - start, d.size))
        means[start:stop] = d[idx].mean(axis=1)
    return means


def _percentiles(means: np.ndarray, level: float) -> tuple[float, float]:
    alpha = (1 - level) / 2
    low, high = np.quantile(means, [alpha, 1 - alpha])
    return float(low), float(high)
