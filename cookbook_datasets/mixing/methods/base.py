"""What every mixing method is: signals in, component weights out, with the training it asks for.

A method is built with its parameters and says, in ``training``, what it needs before ``fit``:

- ``"none"``: the signals alone (rule accuracy, coverage, chance, ...);
- ``"proxy"``: short fine-tunes on the mixtures ``runs`` lists, scored on the fit rows into
  ``signals.runs`` (cached by recipe);
- ``"online"``: one training run that learns the weights as it trains (``train`` asks the learner
  for it);
- ``"methods"``: other methods, learned and judged on held-out fit rows (``train`` asks the
  learner to learn each).

``mix learn`` and ``auto`` call every method the same way, through :meth:`Learner.learn`:
``signals = method.train(signals, learner)``, then ``method.fit(signals)``, then the weights
normalised with each task's protecting component at its floor. ``train`` is the one place a
method gets what it needs (the rows it learns on, the model's answers, proxy fine-tunes, an online
run): from the :class:`Learner` it is handed; ``fit`` reads the signals ``train`` returned and
what ``train`` learned on the same instance.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar, Mapping, Optional, Protocol

import numpy as np

from ..signals import MixSignals

TRAINING = ("none", "proxy", "online", "methods")
FINE_TUNES = ("proxy", "online")  # the kinds of training that fine-tune the model


class MixingMethod(ABC):
    """Learns mixture weights over components from signals (and the training ``training`` names)."""

    name: ClassVar[str]
    training: ClassVar[str] = "none"  # one of TRAINING
    config_defaults: ClassVar[tuple] = ()  # parameters whose default is the MixLearnConfig field of that name

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.training not in TRAINING:
            raise TypeError(f"{cls.__name__}.training is {cls.training!r}; it must be one of {', '.join(TRAINING)}")

    @classmethod
    def fine_tunes(cls) -> bool:
        """Whether the method fine-tunes the model (so it needs the model)."""
        return cls.training in FINE_TUNES

    def runs(self, components: list, seed: int = 0) -> list:
        """``training == "proxy"``: the mixtures (component -> weight) to fine-tune and score before ``fit``."""
        return []

    def train(self, signals: MixSignals, learner: "Learner") -> MixSignals:
        """The training the method asks for; returns the signals ``fit`` reads. By default the
        proxy fine-tunes of ``runs`` (``training == "proxy"``), or nothing."""
        if self.training == "proxy":
            return learner.proxy_runs(self.runs(list(signals.components), seed=learner.seed), signals)
        return signals

    @abstractmethod
    def fit(self, signals: MixSignals) -> dict:
        """Component -> weight (non-negative, summing to 1)."""

    def explain(self) -> dict:
        """What the last ``fit`` based its choice on (for the report); empty by default."""
        return dict(getattr(self, "_explanation", {}))

    def params(self) -> dict:
        return {k: v for k, v in vars(self).items() if not k.startswith("_")}


@dataclass
class Learned:
    """A method learned on a learner's rows: its weights as ``fit`` gave them and as the mixture
    takes them, and the signals ``fit`` read (proxy runs included)."""

    method: MixingMethod
    raw: dict  # what ``fit`` returned
    weights: dict  # normalised, each protecting component at least its floor (protect.py)
    signals: MixSignals

    @property
    def before_floors(self) -> dict:
        return normalise(self.raw)


class Learner(Protocol):
    """What a method's ``train`` is handed (mixing/learner.py implements it): the fit rows it learns
    on, and the training it may ask for, with the run's recipe and caches."""

    rows: Mapping  # task -> the fit rows the method learns on (a Task: its fit part, with its layout)
    num_shots: int  # demonstrations in the model's prompts
    seed: int
    use_model: bool  # whether the model may answer and be fine-tuned
    use_labels: bool  # whether the fit rows' gold answers may be read
    floors: Mapping  # component -> the minimum share every method's weights keep (protect.py)

    def method(self, name: str, **params) -> MixingMethod:
        """Method ``name`` built with ``params`` (and the run's settings for its ``config_defaults``)."""

    def learn(self, method: MixingMethod, signals: MixSignals) -> Learned:
        """``method`` trained as it asks, fitted, normalised and floored."""

    def part(self, indices: Mapping, name: Optional[str] = None) -> "Learner":
        """The same learner on some of its rows (task -> row indices into ``rows``); ``name``: the
        subdirectory its online runs go to."""

    def base_answers(self) -> dict:
        """task -> the untuned model's answer on each of ``rows``."""

    def proxy_answers(self, weights: Mapping, components: Mapping) -> dict:
        """task -> the answers on ``rows`` of a proxy fine-tune on ``weights`` (cached by recipe)."""

    def proxy_runs(self, mixtures: list, signals: MixSignals) -> MixSignals:
        """``signals`` with a proxy fine-tune of each mixture, scored on ``rows``, as its ``runs``."""

    def online_run(self, components: Mapping, task_rows: Mapping, mixer, update_every: int) -> dict:
        """The one training run of an online ``mixer`` over ``components`` (online_run.py); its record."""


def normalise(weights: dict) -> dict:
    total = sum(weights.values())
    if total <= 0:
        raise ValueError(f"weights sum to {total}; at least one must be positive")
    return {k: float(v) / total for k, v in weights.items()}


def one_hot(components: list) -> list:
    return [{c: 1.0} for c in components]


def dirichlet_mixtures(components: list, n: int, seed: int, alpha: float = 1.0) -> list:
    """``n`` random mixtures over the components (seeded)."""
    rng = np.random.default_rng(seed)
    return [dict(zip(components, map(float, w))) for w in rng.dirichlet([alpha] * len(components), size=n)]
