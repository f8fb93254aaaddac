"""Mixing laws: a task's score as a function of the mixture weights, fitted to proxy runs.

- ``linear`` (as RegMix): score = b + sum_j beta_j w_j, ridge-regularised.
- ``log_linear`` (the exponential law of Data Mixing Laws, fitted in log space):
  log(score + delta) = b + sum_j beta_j w_j, so a component's effect compounds.
Each is fitted per task; :func:`fit_law` picks the one with the lower leave-one-out error.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

LAWS = ("linear", "log_linear")
_DELTA = 0.05  # keeps log() finite at a score of 0


@dataclass
class FittedLaw:
    kind: str
    coef: np.ndarray  # (k,)
    intercept: float
    loo_error: float  # root mean squared leave-one-out error, in score units

    def predict(self, weights: np.ndarray) -> np.ndarray:
        z = self.intercept + np.asarray(weights, dtype=np.float64) @ self.coef
        return np.exp(z) - _DELTA if self.kind == "log_linear" else z

    def to_dict(self) -> dict:
        return {"kind": self.kind, "coef": self.coef.tolist(), "intercept": self.intercept, "loo_error": self.loo_error}


def _ridge(X: np.ndarray, y: np.ndarray, alpha: float) -> tuple[np.ndarray, float]:
    mx, my = X.mean(axis=0), y.mean()
    Xc, yc = X - mx, y - my
    coef = np.linalg.solve(Xc.T @ Xc + alpha * np.eye(X.shape[1]), Xc.T @ yc)
    return coef, float(my - mx @ coef)


def _fit(kind: str, X: np.ndarray, y: np.ndarray, alpha: float) -> tuple[np.ndarray, float]:
    target = np.log(y + _DELTA) if kind == "log_linear" else y
    return _ridge(X, target, alpha)


def fit_law(X, y, kind: str = "auto", alpha: float = 1e-2) -> FittedLaw:
    """Fit ``kind`` (or the better of both by leave-one-out error) to runs ``X`` (n, k) -> scores ``y`` (n,)."""
    X, y = np.asarray(X, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if kind != "auto" and kind not in LAWS:
        raise ValueError(f"unknown mixing law {kind!r}; laws are {list(LAWS)} or 'auto'")
    if len(y) < 3:
        raise ValueError(f"a mixing law needs at least 3 proxy runs (got {len(y)})")
    fitted = []
    for k in (LAWS if kind == "auto" else (kind,)):
        errors = []
        for i in range(len(y)):
            keep = np.arange(len(y)) != i
            coef, b = _fit(k, X[keep], y[keep], alpha)
            errors.append(FittedLaw(k, coef, b, 0.0).predict(X[i:i + 1])[0] - y[i])
        coef, b = _fit(k, X, y, alpha)
        fitted.append(FittedLaw(k, coef, b, float(np.sqrt(np.mean(np.square(errors))))))
    return min(fitted, key=lambda f: f.loo_error)
