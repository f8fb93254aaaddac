"""``--method online``: mixture weights learned during the one training run (Aioli, DoReMi).

The run trains on a :class:`LiveMixture` of the components; every ``update_every`` steps the
callback measures each target task's loss on a few fit rows (task_loss.py: the gold answer's
completion loss in the task's generate framing, one batched forward pass), updates the weights and
sets them on the stream. The rows drawn are a function of (seed, schedule); the schedule is saved,
so the run's data is replayed with ``load_dataset("mixture", ..., schedule="schedule.json")``.

**Estimator** (the interaction of components and tasks). Aioli measures it with short probe steps
per component, which would multiply a CPU run's cost; here it comes from the training itself.
Interval ``t`` trains on a known share ``s_c(t)`` of each component's rows and moves task ``j``'s
loss by ``d_j(t)`` (relative to its loss at the start). Modelled as ``d_j(t) = sum_c A_jc s_c(t)``
(``A_jc``: the change an interval of pure ``c`` would make), ``A`` is the ridge fit over the last
``window`` intervals, shrunk towards each task's mean change (the component-blind estimate), so it
moves only as far as the data separates the components. The shares vary because each interval's
sampling weights lean towards one component in turn (``explore``: Aioli's perturbed mixtures,
without extra steps) and because batches are random.

**Update** (exponentiated gradient). Task weights follow DoReMi's focus on the worst task:
``lambda = softmax(log(L_j / L_j(0)) / task_temperature)``, so tasks whose loss fell least count
most. The gradient of the weighted loss change is ``g_c = sum_j lambda_j A_jc``, and
``w_c <- w_c exp(-eta g_c / scale)`` (``scale``: the mean absolute change over the window, so
``eta`` is unit-free), normalised. **Floors**: every component keeps at least ``min_share / K``
(a fixed share of the uniform weight), and each task's protecting component (protect.py) at least
its ``floors`` share, after every update and in the weights each interval draws with (the
exploring lean included; live_mixture.py floors what it is given too), so no protecting
component underflows to zero however long the run.

The run (online_run.py) writes ``trajectory.json`` and ``weights.png`` (weights, sampling weights
and task losses per update), ``schedule.json``, and the LoRA adapter with its run card.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Mapping, Optional, Sequence

import numpy as np

from ..protect import apply_floors
from ..signals import MixSignals
from .base import Learner, MixingMethod

logger = logging.getLogger(__name__)


class OnlineMixer:
    """Exponentiated-gradient weights from interval shares and task losses (see the module doc)."""

    def __init__(self, components: Sequence[str], tasks: Sequence[str], *, eta: float = 0.5, explore: float = 0.25,
                 window: int = 8, ridge: float = 0.5, min_share: float = 0.1, task_temperature: float = 0.1,
                 floors: Optional[Mapping[str, float]] = None):
        if not components or not tasks:
            raise ValueError("the online mixer needs at least one component and one task")
        checks = {"eta": eta > 0, "explore": 0 <= explore < 1, "window": isinstance(window, int) and window >= 1,
                  "ridge": ridge > 0, "min_share": 0 < min_share < 1, "task_temperature": task_temperature > 0}
        bad = [k for k, ok in checks.items() if not ok]
        if bad:
            raise ValueError(f"online: bad {bad[0]} ({locals()[bad[0]]!r}); eta > 0, 0 <= explore < 1, window >= 1, "
                             "ridge > 0, 0 < min_share < 1, task_temperature > 0")
        self.components, self.tasks = list(components), list(tasks)
        self.floors = {c: float(f) for c, f in (floors or {}).items()}  # protecting components' minimum shares
        unknown = sorted(set(self.floors) - set(self.components))
        if unknown:
            raise ValueError(f"online: floors for components the mixer does not have: {', '.join(unknown)} "
                             f"(components: {', '.join(self.components)})")
        if sum(self.floors.values()) > 1:
            raise ValueError(f"online: the floors sum to {sum(self.floors.values()):.3f} > 1")
        self.eta, self.explore, self.window, self.ridge = eta, explore, window, ridge
        self.min_share, self.task_temperature = min_share, task_temperature
        k = len(self.components)
        self.weights = self._floored(np.full(k, 1.0 / k))
        self.initial: Optional[np.ndarray] = None
        self.last: Optional[np.ndarray] = None
        self.history: list = []  # (shares, relative loss changes) per interval
        self.interaction = np.zeros((len(self.tasks), k))
        self.task_weights = np.full(len(self.tasks), 1.0 / len(self.tasks))
        self.updates = 0

    @property
    def floor(self) -> float:
        return self.min_share / len(self.components)

    def start(self, losses: Mapping[str, float]) -> None:
        self.initial = self.last = self._vector(losses)

    def sampling_weights(self) -> dict:
        """The weights the next interval draws with: the learned ones leaning towards one component."""
        w = self.weights * (1 - self.explore)
        w[self.updates % len(self.components)] += self.explore
        return dict(zip(self.components, map(float, self._floored(w))))  # leaning never starves a protector

    def update(self, counts: Mapping[str, int], losses: Mapping[str, float]) -> dict:
        """One interval's rows per component and the task losses after it -> the new weights."""
        if self.initial is None:
            raise RuntimeError("call start(losses) before update")
        n = np.array([counts.get(c, 0) for c in self.components], dtype=np.float64)
        if n.sum() <= 0:
            raise ValueError("an interval with no rows")
        loss = self._vector(losses)
        change = (loss - self.last) / np.maximum(self.initial, 1e-8)
        self.history = (self.history + [(n / n.sum(), change)])[-self.window:]
        self.last = loss
        self.interaction = self._estimate()
        logits = np.log(np.maximum(loss, 1e-8) / np.maximum(self.initial, 1e-8)) / self.task_temperature
        self.task_weights = np.exp(logits - logits.max())
        self.task_weights /= self.task_weights.sum()
        gradient = self.task_weights @ self.interaction  # the weighted loss change per interval of each component
        scale = float(np.mean([np.abs(d).mean() for _, d in self.history])) + 1e-8
        w = self.weights * np.exp(-self.eta * (gradient - gradient.mean()) / scale)
        w /= w.sum()
        k = len(self.components)
        self.weights = (1 - self.min_share) * w + self.min_share / k  # the floor: a fixed share of uniform
        self.weights = self._floored(self.weights)  # and each task's protecting component its own floor
        self.updates += 1
        return self.current()

    def current(self) -> dict:
        return dict(zip(self.components, map(float, self.weights)))

    def params(self) -> dict:
        """The mixer's parameters (floors aside), as the run's record keeps them."""
        return {"eta": self.eta, "explore": self.explore, "window": self.window, "ridge": self.ridge,
                "min_share": self.min_share, "task_temperature": self.task_temperature}

    def _floored(self, w: np.ndarray) -> np.ndarray:
        if not self.floors:
            return w
        out = apply_floors(dict(zip(self.components, map(float, w))), self.floors)
        return np.array([out[c] for c in self.components])

    def _estimate(self) -> np.ndarray:
        S = np.array([s for s, _ in self.history])  # (intervals, components), rows sum to 1
        Y = np.array([d for _, d in self.history])  # (intervals, tasks)
        mean = Y.mean(axis=0)  # the component-blind estimate: every component moves a task alike
        k = S.shape[1]
        coef = np.linalg.solve(S.T @ S + self.ridge * np.eye(k), S.T @ (Y - mean))  # (components, tasks)
        return (mean[None, :] + coef).T

    def _vector(self, losses: Mapping[str, float]) -> np.ndarray:
        missing = [t for t in self.tasks if t not in losses]
        if missing:
            raise ValueError(f"no loss for task {missing[0]!r}")
        return np.array([float(losses[t]) for t in self.tasks])

    # -- checkpoints ------------------------------------------------------------------------------
    def state_dict(self) -> dict:
        return {"weights": self.weights.tolist(), "initial": None if self.initial is None else self.initial.tolist(),
                "last": None if self.last is None else self.last.tolist(), "updates": self.updates,
                "history": [(s.tolist(), d.tolist()) for s, d in self.history],
                "interaction": self.interaction.tolist(), "task_weights": self.task_weights.tolist()}

    def load_state_dict(self, state: Mapping) -> None:
        self.weights = np.array(state["weights"])
        self.initial = None if state["initial"] is None else np.array(state["initial"])
        self.last = None if state["last"] is None else np.array(state["last"])
        self.updates = int(state["updates"])
        self.history = [(np.array(s), np.array(d)) for s, d in state["history"]]
        self.interaction = np.array(state["interaction"])
        self.task_weights = np.array(state["task_weights"])


class Online(MixingMethod):
    """Weights learned during one training run (see the module doc): ``train`` asks the learner for
    the run, ``fit`` returns its final weights."""

    name = "online"
    training = "online"
    config_defaults = ("update_every", "eta")  # ``mix learn --update-every/--eta`` unless given as parameters

    def __init__(self, update_every: int = 20, eta: float = 0.5, explore: float = 0.25, window: int = 8,
                 ridge: float = 0.5, min_share: float = 0.1, task_temperature: float = 0.1, probe_rows: int = 4):
        if isinstance(update_every, bool) or not isinstance(update_every, int) or update_every < 1:
            raise ValueError(f"online: update_every must be a positive integer (got {update_every!r})")
        if isinstance(probe_rows, bool) or not isinstance(probe_rows, int) or probe_rows < 1:
            raise ValueError(f"online: probe_rows must be a positive integer (got {probe_rows!r})")
        self.update_every, self.probe_rows = update_every, probe_rows
        self.mixer_params = {"eta": eta, "explore": explore, "window": window, "ridge": ridge,
                             "min_share": min_share, "task_temperature": task_temperature}
        OnlineMixer(["a"], ["t"], **self.mixer_params)  # parameters checked now, not after measuring signals
        self.run: Optional[dict] = None  # the run's record, once ``train`` has run it

    def train(self, signals: MixSignals, learner: Learner) -> MixSignals:
        """The online run over the signals' components, its task losses measured on each task's first
        ``probe_rows`` learner rows; each task's protecting component keeps its floor at every update."""
        from ..task_loss import generate_framing_rows

        rows = {t: generate_framing_rows(learner.rows[t], self.probe_rows, learner.num_shots) for t in signals.tasks}
        floors = {c: f for c, f in learner.floors.items() if c in signals.components}
        mixer = OnlineMixer(list(signals.components), list(rows), **self.mixer_params, floors=floors)
        self.run = learner.online_run(signals.components, rows, mixer, self.update_every)
        return signals

    def fit(self, signals: MixSignals) -> dict:
        if self.run is None:
            raise ValueError("online learns its weights during a training run: call train(signals, learner) first "
                             "(`mix learn --method online` does)")
        self._explanation = {k: self.run[k] for k in ("interaction", "task_weights", "update_seconds",
                                                      "train_seconds", "schedule", "adapter", "steps")}
        self._explanation["trajectory"] = str(Path(self.run["schedule"]).with_name("trajectory.json"))
        return dict(self.run["final_weights"])

    def params(self) -> dict:
        return {"update_every": self.update_every, "probe_rows": self.probe_rows, **self.mixer_params}
