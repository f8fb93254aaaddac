"""Proxy fine-tunes and a mixing law: weights that maximise the predicted mean gain over the tasks.

Short LoRA fine-tunes (the same step budget each) on every component alone and on a few random
mixtures are scored on each task's fit rows. A mixing law (laws.py) is fitted per task to those
runs; the weights chosen maximise the mean predicted gain over the untuned model, minus
``penalty`` times each task's predicted loss below it, over random candidate mixtures (as RegMix
searches its fitted regressor).
"""

from __future__ import annotations

import numpy as np

from ..signals import MixSignals
from .base import MixingMethod, dirichlet_mixtures, one_hot
from .laws import fit_law


class Proxy(MixingMethod):
    name = "proxy"
    training = "proxy"

    def __init__(self, num_random: int = 4, law: str = "auto", penalty: float = 2.0, candidates: int = 20000,
                 seed: int = 0):
        if num_random < 0 or candidates < 1 or penalty < 0:
            raise ValueError("proxy: num_random >= 0, candidates >= 1 and penalty >= 0 are required")
        self.num_random, self.law, self.penalty, self.candidates, self.seed = num_random, law, penalty, candidates, seed
        self._run_seed = 0

    def runs(self, components: list, seed: int = 0) -> list:
        """The proxy runs' mixtures: each component alone, then ``num_random`` random mixtures. The
        run's ``seed`` (``MixLearnConfig.seed``) offsets the method's own, so two seeds of one
        experiment draw different mixtures (and ``fit`` searches different candidates)."""
        self._run_seed = int(seed)
        return one_hot(components) + dirichlet_mixtures(components, self.num_random,
                                                        seed=self.seed + self._run_seed + 1)

    def fit(self, signals: MixSignals) -> dict:
        comps = list(signals.components)
        if not signals.runs:
            raise ValueError("proxy needs proxy runs (signals.runs is empty)")
        X = np.array([[r["weights"].get(c, 0.0) / sum(r["weights"].values()) for c in comps] for r in signals.runs])
        laws = {t: fit_law(X, [r["scores"][t] for r in signals.runs], kind=self.law) for t in signals.tasks}
        rng = np.random.default_rng(self.seed + self._run_seed)
        candidates = np.vstack([np.eye(len(comps)), np.full((1, len(comps)), 1 / len(comps)), X,
                                rng.dirichlet(np.ones(len(comps)), size=self.candidates),
                                rng.dirichlet(np.full(len(comps), 0.3), size=self.candidates)])
        base = np.array([signals.base_scores[t] for t in signals.tasks])
        predicted = np.stack([laws[t].predict(candidates) for t in signals.tasks], axis=1)  # (n, tasks)
        gain = predicted - base
        objective = gain.mean(axis=1) - self.penalty * np.clip(-gain, 0, None).sum(axis=1)
        best = int(np.argmax(objective))
        weights = {c: float(w) for c, w in zip(comps, candidates[best])}
        self._explanation = {
            "laws": {t: laws[t].to_dict() for t in signals.tasks},
            "predicted_gain": dict(zip(signals.tasks, map(float, gain[best]))),
            "objective": float(objective[best]), "runs": len(signals.runs),
        }
        return weights
