"""Baseline: every component the same weight."""

from __future__ import annotations

from ..signals import MixSignals
from .base import MixingMethod


class Uniform(MixingMethod):
    name = "uniform"

    def fit(self, signals: MixSignals) -> dict:
        self._explanation = {"why": "equal weights (baseline)"}
        return {c: 1.0 / len(signals.components) for c in signals.components}
