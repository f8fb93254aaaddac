"""Uncertainty baseline of the DiverseEvol reference code: the rows whose responses the model
predicts with the highest mean predictive entropy, averaged over the response tokens."""

from __future__ import annotations

from .uncertainty import UncertaintySampling


class EntropySampling(UncertaintySampling):
    name = "entropy"
    score = "entropy"
    low_is_uncertain = False
