"""Uncertainty baseline of the DiverseEvol reference code: the rows whose responses the model
predicts with the smallest mean gap between its two most likely tokens, averaged over the response tokens."""

from __future__ import annotations

from .uncertainty import UncertaintySampling


class MarginSampling(UncertaintySampling):
    name = "margin"
    score = "margin"
    low_is_uncertain = True
