"""What every mixing method is: signals in, template weights out.

A method is built with its parameters and called with :class:`MixSignals` (what is known about
each component on each task's fit split); ``fit`` returns component -> weight and keeps nothing
between calls. ``runs`` says which proxy fine-tunes it needs first (as weight dicts); the caller
trains and scores them (cached by recipe) and puts the scores in ``signals.runs``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, field
from typing import ClassVar

import numpy as np


@dataclass
class MixSignals:
    """Per component and task, measured on the tasks' fit rows only."""

    tasks: list  # task names
    components: dict  # component name -> {"template": T, ...params}
    rule_accuracy: dict = field(default_factory=dict)  # component -> task -> accuracy of the rule (None: n/a)
    coverage: dict = field(default_factory=dict)  # component -> task -> share of fit rows the rule maps
    chance: dict = field(default_factory=dict)  # task -> accuracy of the most frequent answer / 1 / #choices
    estimated: dict = field(default_factory=dict)  # task -> True when rule accuracies come from a label model
    base_scores: dict = field(default_factory=dict)  # task -> the untuned model's score
    runs: list = field(default_factory=list)  # [{"weights": {...}, "scores": {task: score}}]
    fields: dict = field(default_factory=dict)  # task -> the fields found in its inputs and the roles they fill
    label_codes: dict = field(default_factory=dict)  # task -> label roles -> {label: roles the definition gives it}
    protection: dict = field(default_factory=dict)  # task -> its protecting components and how (protect.py)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "MixSignals":
        return cls(**d)

    def replace(self, **changes) -> "MixSignals":
        """A copy with ``changes`` (lists and dicts shallow-copied, so the copy's runs are its own)."""
        import copy

        return MixSignals(**{**{k: copy.copy(v) for k, v in vars(self).items()}, **changes})

    def helpfulness(self) -> dict:
        """component -> task -> how far the rule beats chance on the rows it maps, times its coverage."""
        out = {}
        for comp in self.components:
            out[comp] = {}
            for task in self.tasks:
                acc = self.rule_accuracy.get(comp, {}).get(task)
                cov = self.coverage.get(comp, {}).get(task, 0.0)
                out[comp][task] = 0.0 if acc is None else max(0.0, acc - self.chance.get(task, 0.0)) * cov
        return out


def normalise(weights: dict) -> dict:
    total = sum(weights.values())
    if total <= 0:
        raise ValueError(f"weights sum to {total}; at least one must be positive")
    return {k: float(v) / total for k, v in weights.items()}


class MixingMethod(ABC):
    """Learns mixture weights over components from signals."""

    name: ClassVar[str]
    uses_training: ClassVar[bool] = False  # True: needs proxy fine-tunes (``runs``)

    def runs(self, components: list, seed: int = 0) -> list:
        """The mixtures (component -> weight) to fine-tune and score before ``fit``."""
        return []

    @abstractmethod
    def fit(self, signals: MixSignals) -> dict:
        """Component -> weight (non-negative, summing to 1)."""

    def explain(self) -> dict:
        """What the last ``fit`` based its choice on (for the report); empty by default."""
        return dict(getattr(self, "_explanation", {}))

    def params(self) -> dict:
        return {k: v for k, v in vars(self).items() if not k.startswith("_")}


def one_hot(components: list) -> list:
    return [{c: 1.0} for c in components]


def dirichlet_mixtures(components: list, n: int, seed: int, alpha: float = 1.0) -> list:
    """``n`` random mixtures over the components (seeded)."""
    rng = np.random.default_rng(seed)
    return [dict(zip(components, map(float, w))) for w in rng.dirichlet([alpha] * len(components), size=n)]
