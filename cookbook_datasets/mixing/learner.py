"""The training mixing methods ask for, on the target tasks' fit rows (the ``Learner`` of methods/base.py).

:class:`TaskLearner` is what ``mix learn`` hands every method: the fit rows it learns on, each
task's protecting floors, and the model work, each piece cached so a killed run resumes:

- the untuned model's answers on the fit rows (``work/base_fit_answers.json``);
- proxy fine-tunes: LoRA on mixture rows with the same budget each (``proxy_steps`` steps on
  ``proxy_rows`` rows), their adapters in ``work/proxies/<recipe hash>``, their answers on the fit
  rows in ``work/proxy_answers.json``;
- the online run (``<out>/online``, methods/online.py and online_run.py).

``learn(method, signals)`` is the one way a method is learned, by ``mix learn`` and by ``auto``
alike: the training ``method.training`` names, ``fit``, then the weights normalised with each
task's protecting component at its floor.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Mapping, Optional

from cookbook_datasets.eval.agreement import score

from ..atomic_files import atomic_json
from .methods import METHODS, Learned, MixingMethod, get_method
from .methods.base import normalise
from .protect import apply_floors
from .signals import MixSignals


def recipe_key(data) -> str:
    """A short hash of a recipe (the directory name of a cached run)."""
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()[:16]


class TaskLearner:
    """Learns methods on ``fit`` (task -> its fit part, a Task), or on the rows ``indices`` picks from them, for
    the run ``config`` (a MixLearnConfig) whose caches are in ``<config.out>/work``; ``runs_dir``:
    where the online run goes (``<runs_dir>/online``; default ``config.out``)."""

    def __init__(self, config, fit: Mapping, floors: Mapping[str, float], indices: Optional[Mapping] = None,
                 runs_dir: Optional[Path] = None):
        self.config, self.fit, self.floors, self.indices = config, dict(fit), dict(floors), indices
        self.rows = self.fit if indices is None else {t: self.fit[t].take(indices[t]) for t in self.fit}
        self.seed, self.use_model, self.use_labels = config.seed, config.use_model, config.use_labels
        self.num_shots = config.num_shots
        self.work = Path(config.out) / "work"
        self.runs_dir = Path(config.out) if runs_dir is None else Path(runs_dir)

    def method(self, name: str, **params) -> MixingMethod:
        defaults = {k: getattr(self.config, k) for k in METHODS[name].config_defaults}
        return get_method(name, **{**defaults, **params})

    def learn(self, method: MixingMethod, signals: MixSignals) -> Learned:
        signals = method.train(signals, self)  # the training the method asks for
        raw = method.fit(signals)  # its weights
        return Learned(method, raw, apply_floors(normalise(raw), self.floors), signals)  # floors

    def part(self, indices: Mapping, name: Optional[str] = None) -> "TaskLearner":
        picked = indices if self.indices is None else {t: [self.indices[t][i] for i in indices[t]] for t in indices}
        return TaskLearner(self.config, self.fit, self.floors, picked,
                           self.runs_dir if name is None else self.runs_dir / name)

    def base_answers(self) -> dict:
        return self._on_rows(base_answers(self.config, self.fit))

    def proxy_answers(self, weights: Mapping, components: Mapping) -> dict:
        return self._on_rows(run_answers(dict(weights), components, self.fit, self.config, self.work))

    def proxy_runs(self, mixtures: list, signals: MixSignals) -> MixSignals:
        signals = signals.replace(runs=[])
        for weights in mixtures:
            answers = self.proxy_answers(weights, signals.components)
            signals.runs.append({"weights": weights,
                                 "scores": {t: score(self.rows[t], answers[t]) for t in self.rows}})
        return signals

    def online_run(self, components: Mapping, task_rows: Mapping, mixer, update_every: int) -> dict:
        from .online_run import train_online

        c = self.config
        return train_online(components, task_rows, self.runs_dir / "online", mixer, model=c.model,
                            steps=c.online_steps, update_every=update_every, seed=c.seed,
                            learning_rate=c.learning_rate, batch_size=c.batch_size)

    def _on_rows(self, answers: dict) -> dict:
        """Answers on every fit row -> answers on this learner's rows."""
        if self.indices is None:
            return answers
        return {t: [answers[t][i] for i in self.indices[t]] for t in self.fit}


def base_answers(config, fit: Mapping) -> dict:
    """task -> the untuned model's answers on every fit row (cached in ``<out>/work``)."""
    return answer_tasks(config.model, None, fit, Path(config.out) / "work" / "base_fit_answers.json", config)


def answer_tasks(model_spec: str, adapter: Optional[str], rows: Mapping, cache: Path, config) -> dict:
    """task -> the model's answers on ``rows`` (cached in ``cache``)."""
    from ..cpu import release_memory
    from ..models import load_model
    from cookbook_datasets.eval.framings import model_answers

    done = json.loads(cache.read_text()) if cache.exists() else {}
    todo = [t for t in rows if not current_answers(done.get(t), rows[t])]
    execution = getattr(config, "execution", None)
    if todo and execution is not None and execution.uses_ray:
        answer_tasks_on_ray(model_spec, adapter, {t: rows[t] for t in todo}, cache, config, done)
    elif todo:
        model, tokenizer = load_model(model_spec, adapter=adapter, dtype=config.dtype)
        for task in todo:
            done[task] = model_answers(model, tokenizer, rows[task], num_shots=config.num_shots,
                                       batch_size=config.eval_batch_size)
            atomic_json(cache, done)
        del model
        release_memory()
    return {t: done[t] for t in rows}


class AnswerReplica:
    """One model replica of the Ray executor: loads the model (and adapter) once, then answers the
    tasks it is handed by index with ``eval.framings.model_answers``, as the local path does. A task
    that fails comes back as its error, so the others still finish."""

    def __init__(self, model_spec: str, adapter: Optional[str], rows: dict, config):
        from ..models import load_model

        self.rows, self.config = rows, config
        self.names = list(rows)
        self.model, self.tokenizer = load_model(model_spec, adapter=adapter, dtype=config.dtype)

    def __call__(self, batch):
        import pyarrow as pa

        from cookbook_datasets.eval.framings import model_answers

        answers, errors = [], []
        for index in batch["index"].to_pylist():
            try:
                answers.append(json.dumps(model_answers(self.model, self.tokenizer, self.rows[self.names[index]],
                                                        num_shots=self.config.num_shots,
                                                        batch_size=self.config.eval_batch_size)))
                errors.append(None)
            except Exception as e:  # noqa: BLE001 - reported per task; the other tasks go on
                answers.append(None)
                errors.append(f"{type(e).__name__}: {e}")
        return pa.table({"index": batch["index"], "answers": pa.array(answers, pa.string()),
                         "error": pa.array(errors, pa.string())})


def answer_tasks_on_ray(model_spec: str, adapter: Optional[str], todo: dict, cache: Path, config, done: dict) -> None:
    """:func:`answer_tasks`'s model calls on the Ray actor pool of ``config.execution``, a task per work
    item; each task's answers are added to ``done`` and the cache written as they arrive (what a rerun
    resumes from). Failed tasks are reported together once the others are written."""
    import datasets

    from ..executor import ray_map

    config.execution.connect()  # a bad address or too small a cluster fails here, before any model loads
    names = list(todo)
    items = datasets.Dataset.from_dict({"index": list(range(len(names)))})
    failed = []
    for batch in ray_map(config.execution, items, AnswerReplica,
                         {"model_spec": model_spec, "adapter": adapter, "rows": todo, "config": config},
                         max_tasks_in_flight_per_actor=1):
        for index, answers, error in zip(*(batch[c].to_pylist() for c in ("index", "answers", "error"))):
            if error is not None:
                failed.append((names[index], error))
                continue
            done[names[index]] = json.loads(answers)
        atomic_json(cache, done)
    if failed:
        raise RuntimeError(f"{len(failed)} of {len(names)} task(s) failed on the Ray executor "
                           f"({', '.join(n for n, _ in failed)}; first: {failed[0][1]}); the others are written: "
                           "run again to answer only the failed ones")


def current_answers(answers, rows) -> bool:
    """Whether cached answers are the current kind for ``rows``: one per row, and for multiple choice
    a choice per framing (an older cache held the log-likelihood choice alone: it is answered again)."""
    if answers is None or len(answers) != len(rows):
        return False
    return rows.kind != "multiple_choice" or all(isinstance(a, list) for a in answers)


def train_mixture(weights: Mapping, components: Mapping, work: Path, config, steps: int, rows: int) -> str:
    """LoRA-tune ``config.model`` on ``rows`` rows of the mixture ``weights`` for ``steps`` steps (the
    proxy recipe: ``config``'s seed, learning rate and batch size); returns the adapter directory
    (reused when it exists: the directory under ``work`` is keyed by the whole recipe)."""
    from ..trainers import TrainConfig, train

    recipe = {"weights": weights, "components": components, "steps": steps, "rows": rows, "seed": config.seed,
              "lr": config.learning_rate, "batch": config.batch_size, "model": config.model}
    out = Path(work) / recipe_key(recipe)
    if (out / "run_card.json").exists():
        return str(out)
    positive = {c: w for c, w in weights.items() if w > 0}
    spec = {"path": "mixture", "weights": positive, "components": {c: components[c] for c in positive},
            "num_examples": rows, "seed": config.seed}
    train(TrainConfig(model=config.model, datasets=[spec], output_dir=str(out), max_steps=steps,
                      learning_rate=config.learning_rate, per_device_train_batch_size=config.batch_size,
                      eval_split=None, seed=config.seed, max_length=512, save_total_limit=1, eval_steps=steps))
    atomic_json(out / "recipe.json", recipe)
    return str(out)


def run_answers(weights: dict, components: Mapping, fit: Mapping, config, work: Path) -> dict:
    """task -> the answers, on every fit row, of a proxy fine-tune on ``weights`` (cached by weights
    and components in ``work/proxy_answers.json``, and the run by its recipe)."""
    cache = work / "proxy_answers.json"
    done = json.loads(cache.read_text()) if cache.exists() else {}
    key = recipe_key({"weights": weights, "components": {c: components[c] for c in weights if c in components}})
    if key not in done or set(done[key]["answers"]) != set(fit) or \
            not all(current_answers(done[key]["answers"][t], fit[t]) for t in fit):
        adapter = train_mixture(weights, components, work / "proxies", config, config.proxy_steps,
                                config.proxy_rows)
        answers = answer_tasks(config.model, adapter, fit, Path(adapter) / "fit_answers.json", config)
        done[key] = {"weights": weights, "answers": answers}
        atomic_json(cache, done)
    return done[key]["answers"]
