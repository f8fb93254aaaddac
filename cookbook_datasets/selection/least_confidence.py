"""Uncertainty baseline of the DiverseEvol reference code: the rows whose responses the model
predicts with the lowest mean probability of its top token, averaged over the response tokens."""

from __future__ import annotations

from .uncertainty import UncertaintySampling


class LeastConfidence(UncertaintySampling):
    name = "least_confidence"
    score = "max_prob"
    low_is_uncertain = True
