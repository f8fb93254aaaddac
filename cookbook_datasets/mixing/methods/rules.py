"""No training: weights from how well each template's rule solves each task.

A component's helpfulness on a task is how far its rule's accuracy on the task's fit rows beats
chance, times the share of rows the rule applies to (without labels, accuracies come from a label
model over the rules' votes; see signals.py). Each task gets an equal share of the mixture, split
over its helpful components in proportion to helpfulness (``sharpness`` > 1 favours the best), so
no task is left without its most helpful template. A task that no rule helps gets its share
spread evenly, and the report says so.
"""

from __future__ import annotations

import logging

from ..signals import MixSignals
from .base import MixingMethod, normalise

logger = logging.getLogger(__name__)


class Rules(MixingMethod):
    name = "rules"

    def __init__(self, sharpness: float = 1.0):
        if not sharpness > 0:
            raise ValueError(f"rules: sharpness must be > 0 (got {sharpness!r})")
        self.sharpness = sharpness

    def fit(self, signals: MixSignals) -> dict:
        help_ = signals.helpfulness()
        comps = list(signals.components)
        weights = {c: 0.0 for c in comps}
        uncovered, shares = [], {}
        for task in signals.tasks:
            scores = {c: help_[c][task] ** self.sharpness for c in comps}
            if sum(scores.values()) <= 0:
                uncovered.append(task)
                logger.warning("rules: no template's rule beats chance on %s; its share of the mixture is spread "
                               "evenly over all components", task)
                scores = {c: 1.0 for c in comps}
            share = normalise(scores)
            shares[task] = share
            for c in comps:
                weights[c] += share[c] / len(signals.tasks)
        self._explanation = {"helpfulness": help_, "task_shares": shares, "tasks_without_a_helpful_rule": uncovered}
        return weights
