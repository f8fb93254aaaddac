"""The online mixture's training run: a TRL ``TrainerCallback`` that re-weights the live mixture.

``train_online`` runs the project's ``train`` (trainers/sft.py) on a :class:`LiveMixture` with
:class:`OnlineMixingCallback`: at the start and every ``update_every`` steps it measures the task
losses (task_loss.py), hands them and the interval's rows per component to the mixer (an
:class:`~cookbook_datasets.mixing.methods.online.OnlineMixer`: ``start``, ``update``,
``sampling_weights``, ``current``, ``state_dict``), and sets the mixer's next sampling weights on
the stream (they reach the rows not yet drawn). Checkpoints carry the mixer's state, so a killed
run resumes with the same schedule. See methods/online.py for the estimator and the update.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Mapping, Optional, Sequence

from transformers import TrainerCallback

from ..atomic_files import atomic_json
from .live_mixture import LiveMixture
from .schedule import WeightSchedule
from .task_loss import TaskLosses

logger = logging.getLogger(__name__)


class OnlineMixingCallback(TrainerCallback):
    """Every ``update_every`` steps: task losses -> the online mixer -> new weights on the stream."""

    STATE_FILE = "online_mixing.json"

    def __init__(self, live: LiveMixture, task_rows: Mapping[str, Sequence[dict]], mixer,
                 update_every: int, out_dir: str | Path, max_length: int = 1024):
        if isinstance(update_every, bool) or not isinstance(update_every, int) or update_every < 1:
            raise ValueError(f"update_every must be a positive integer (got {update_every!r})")
        self.live, self.task_rows, self.mixer, self.update_every = live, dict(task_rows), mixer, update_every
        self.out_dir, self.max_length = Path(out_dir), max_length
        self.losses: Optional[TaskLosses] = None
        self.trajectory: list = []
        self.update_seconds = 0.0
        self.rows_per_step = 1
        self._autocast = False

    # -- events -----------------------------------------------------------------------------------
    def on_train_begin(self, args, state, control, model=None, processing_class=None, **kwargs):
        if self.update_every > state.max_steps:
            raise ValueError(f"update_every ({self.update_every}) is larger than the run ({state.max_steps} steps): "
                             "the weights would never change; lower update_every or train longer")
        if args.dataloader_num_workers:
            raise ValueError("the online mixture changes its weights in the training process: use "
                             f"dataloader_num_workers=0 (got {args.dataloader_num_workers})")
        self.rows_per_step = args.per_device_train_batch_size * args.gradient_accumulation_steps * args.world_size
        self._autocast = bool(args.bf16)
        self.losses = TaskLosses(self.task_rows, processing_class, max_length=self.max_length)
        if state.global_step > 0:
            self._restore(Path(args.output_dir) / f"checkpoint-{state.global_step}" / self.STATE_FILE)
            return
        start = time.perf_counter()
        losses = self.losses.measure(model, autocast=self._autocast)
        self.mixer.start(losses)
        seconds = time.perf_counter() - start
        self.update_seconds += seconds
        self.trajectory.append(self._record(0, 0, losses, seconds))

    def on_step_end(self, args, state, control, model=None, **kwargs):
        step = state.global_step
        if step % self.update_every:
            return
        start = time.perf_counter()
        losses = self.losses.measure(model, autocast=self._autocast)
        counts = self.live.counts((step - self.update_every) * self.rows_per_step, step * self.rows_per_step)
        self.mixer.update(counts, losses)
        row = self.live.set_weights(self.mixer.sampling_weights(), step=step)
        seconds = time.perf_counter() - start
        self.update_seconds += seconds
        self.trajectory.append(self._record(step, row, losses, seconds, counts))
        logger.info("online mixture, step %d: weights %s; task losses %s", step,
                    {c: round(w, 3) for c, w in self.mixer.current().items()},
                    {t: round(v, 3) for t, v in losses.items()})

    def on_save(self, args, state, control, **kwargs):
        atomic_json(Path(args.output_dir) / f"checkpoint-{state.global_step}" / self.STATE_FILE, self.state_dict())

    def on_train_end(self, args, state, control, **kwargs):
        self.write()

    # -- records ----------------------------------------------------------------------------------
    def _record(self, step, row, losses, seconds, counts=None) -> dict:
        record = {"step": step, "start_row": row, "task_losses": losses, "weights": self.mixer.current(),
                  "sampling_weights": self.live.schedule.weights_at(row), "update_seconds": round(seconds, 4)}
        if counts is not None:
            record["interval_rows"] = counts
        return record

    def state_dict(self) -> dict:
        return {"mixer": self.mixer.state_dict(), "schedule": self.live.schedule.to_dict(),
                "trajectory": self.trajectory, "update_seconds": self.update_seconds}

    def _restore(self, path: Path) -> None:
        if not path.is_file():
            raise FileNotFoundError(f"resuming an online mixture needs {path} (the mixer's state at the checkpoint)")
        state = json.loads(path.read_text())
        self.mixer.load_state_dict(state["mixer"])
        self.live.schedule = WeightSchedule.from_dict(state["schedule"], where=str(path))
        self.trajectory, self.update_seconds = state["trajectory"], state["update_seconds"]
        logger.info("online mixture resumed from %s (%d updates)", path, self.mixer.updates)

    def write(self) -> dict:
        """schedule.json, trajectory.json and weights.png in ``out_dir``; returns the trajectory record."""
        self.live.schedule.rows_per_step = self.rows_per_step
        self.live.schedule.save(self.out_dir / "schedule.json")
        record = {"components": self.mixer.components, "tasks": self.mixer.tasks, "update_every": self.update_every,
                  "rows_per_step": self.rows_per_step, "final_weights": self.mixer.current(),
                  "interaction": {t: dict(zip(self.mixer.components, map(float, row)))
                                  for t, row in zip(self.mixer.tasks, self.mixer.interaction)},
                  "task_weights": dict(zip(self.mixer.tasks, map(float, self.mixer.task_weights))),
                  "update_seconds": round(self.update_seconds, 3), "updates": self.trajectory}
        atomic_json(self.out_dir / "trajectory.json", record)
        plot_trajectory(record, self.out_dir / "weights.png")
        return record


def plot_trajectory(record: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    updates = record["updates"]
    steps = [u["step"] for u in updates]
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(7, 6), sharex=True)
    for c in record["components"]:
        line, = top.plot(steps, [u["weights"][c] for u in updates], marker="o", label=c)
        top.plot(steps, [u["sampling_weights"][c] for u in updates], linestyle=":", color=line.get_color())
    top.set_ylabel("weight (dotted: drawn with)")
    top.legend(fontsize=7, loc="best")
    for t in record["tasks"]:
        bottom.plot(steps, [u["task_losses"][t] for u in updates], marker=".", label=t)
    bottom.set_ylabel("task loss (fit rows)")
    bottom.set_xlabel("step")
    bottom.legend(fontsize=7, loc="best")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def train_online(components: Mapping[str, dict], task_rows: Mapping[str, Sequence[dict]], out_dir: str | Path,
                 mixer, *, model: str, steps: int, update_every: int, seed: int = 0, learning_rate: float = 5e-4,
                 batch_size: int = 8, max_length: int = 512, train_params: Optional[Mapping] = None) -> dict:
    """One LoRA run on the live mixture of ``components`` (name -> spec) re-weighted by ``mixer`` (an
    ``OnlineMixer`` over those components and the tasks of ``task_rows``, with its floors);
    ``task_rows``: task -> prompt/completion rows its loss is measured on. Returns the trajectory
    record (with ``adapter``, ``train_seconds``); a finished run in ``out_dir`` is read, not redone."""
    from ..loading import load_builder
    from ..trainers import TrainConfig, train

    out_dir = Path(out_dir)
    if update_every > steps:
        raise ValueError(f"update_every ({update_every}) is larger than the run ({steps} steps): the weights "
                         "would never change; lower update_every or train longer")
    done = out_dir / "trajectory.json"
    adapter = out_dir / "adapter"
    if done.exists() and (adapter / "run_card.json").exists():
        record = json.loads(done.read_text())
        if record.get("finished"):
            return record
    names = list(components)
    if list(mixer.components) != names or list(mixer.tasks) != list(task_rows):
        raise ValueError(f"the mixer is over {list(mixer.components)} and tasks {list(mixer.tasks)}; the run over "
                         f"{names} and tasks {list(task_rows)}")
    floors = dict(mixer.floors)
    first = mixer.sampling_weights()
    builder = load_builder("mixture", "mixture", weights=first, components={c: components[c] for c in names},
                           seed=seed, num_examples=1)
    live = LiveMixture(builder, WeightSchedule.constant(first), chunk=batch_size, floors=floors)
    callback = OnlineMixingCallback(live, task_rows, mixer, update_every, out_dir, max_length=max_length)
    save_every = max(update_every, (steps // 4) // update_every * update_every)
    config = TrainConfig(model=model, datasets=[], output_dir=str(adapter), max_steps=steps,
                         learning_rate=learning_rate, per_device_train_batch_size=batch_size, eval_split=None,
                         seed=seed, max_length=max_length, save_total_limit=1, eval_steps=save_every,
                         **dict(train_params or {}))
    card = train(config, callbacks=[callback], train_dataset=live.dataset())
    record = callback.write()
    record.update(finished=True, adapter=str(adapter), train_seconds=card["train_seconds"], steps=steps,
                  schedule=str(out_dir / "schedule.json"), seed=seed, mixer=mixer.params(), floors=floors,
                  components_spec={c: components[c] for c in names})
    atomic_json(done, record)
    return record
