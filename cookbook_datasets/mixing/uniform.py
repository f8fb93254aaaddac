"""Baseline: every component the same weight."""

from __future__ import annotations

from .base import MixingMethod, MixSignals


class Uniform(MixingMethod):
    name = "uniform"

    def fit(self, signals: MixSignals) -> dict:
        self._explanation = {"why": "equal weights (baseline)"}
        return {c: 1.0 / len(signals.components) for c in signals.components}
