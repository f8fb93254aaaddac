"""Baseline: all weight on the one component whose proxy fine-tune scores best on the fit rows."""

from __future__ import annotations

import numpy as np

from ..signals import MixSignals
from .base import MixingMethod, one_hot


class BestSingle(MixingMethod):
    name = "best-single"
    training = "proxy"

    def runs(self, components: list, seed: int = 0) -> list:
        return one_hot(components)

    def fit(self, signals: MixSignals) -> dict:
        singles = {next(iter(r["weights"])): r["scores"] for r in signals.runs
                   if len([w for w in r["weights"].values() if w > 0]) == 1}
        missing = sorted(set(signals.components) - set(singles))
        if missing:
            raise ValueError(f"best-single needs a proxy run of every component; missing {missing}")
        means = {c: float(np.mean([s[t] for t in signals.tasks])) for c, s in singles.items()}
        best = max(sorted(means), key=means.get)
        self._explanation = {"mean_fit_score": means, "chosen": best}
        return {c: float(c == best) for c in signals.components}
