"""The task-evaluation harness: score a model (optionally with an adapter) on tasks.

``evaluate_model(EvalConfig(model=..., tasks=[...]), out="r.json")`` or ``cookbook eval --model
SPEC --tasks PATH... --out r.json``. Each task is scored in its framing (``mc_framing``,
``cls_framing``; see framings.py); every mean carries ``<metric>_stderr``. Results are written
after every task: ``r.json``, a Markdown table ``r.md`` and the per-row records ``r.rows.jsonl``
(one line per scored row: task, id, prediction, score, framing), so an interrupted run resumes
with the tasks it had not finished and any two runs can be compared row by row.
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Optional

from cookbook_datasets.atomic_files import atomic_json, atomic_write_text
from cookbook_datasets.executor import ExecutorConfig
from cookbook_datasets.models import DEFAULT_MODEL, DTYPES
from cookbook_datasets.tasks import DatasetTask, Task, ids_hash, load_tasks

from .framings import FRAMINGS, score_task
from .stats import mean_stderr

logger = logging.getLogger(__name__)

MAIN_METRICS = ("acc", "exact_match", "rougeL", "template_alignment")  # the first present is a task's score


@dataclass
class EvalConfig:
    model: str = field(default=DEFAULT_MODEL, metadata={"help": "Model spec (see load_model)."})
    adapter: Optional[str] = field(default=None, metadata={"help": "PEFT adapter directory to apply."})
    tasks: list = field(default_factory=list, metadata={
        "help": "Task files (NIV2 .json, task JSON, multiple-choice .jsonl), directories of them, template names, "
                "or Task objects."})
    limit: Optional[int] = field(default=None, metadata={"help": "Examples per task (seeded random subset)."})
    num_shots: int = field(default=2, metadata={"help": "Demonstrations per prompt (classification, generation)."})
    batch_size: int = field(default=16, metadata={"help": "Requests per forward pass."})
    seed: int = field(default=0, metadata={"help": "Seed of the subsets and template test splits."})
    dtype: Optional[str] = field(default=None, metadata={"help": "Model dtype (default bf16 on GPU, fp32 on CPU).",
                                                         "choices": list(DTYPES)})
    num_samples: int = field(default=3, metadata={"help": "Predictions kept per task in the results."})
    template_params: dict = field(default_factory=dict, metadata={
        "help": "Parameters of the template tasks (e.g. vocab), as the training data used them.",
        "aliases": ["--template-param"]})
    dataset_task: Optional[DatasetTask] = field(default=None, metadata={
        "help": "Read the tasks as datasets (a data file, a dataset directory, a Hub id) with these columns, "
                "instruction, split, ... (DatasetTask's fields, each its own option: --input-field, ...); a data "
                "file (.csv, .parquet) is read so anyway, with the columns input and output unless named."})
    mc_framing: str = field(default="loglik", metadata={
        "help": "Multiple choice: 'loglik' (each choice's log-likelihood, lm-evaluation-harness) or 'generate' "
                "(options listed A., B., ...; the greedy answer's letter or option text).",
        "choices": list(FRAMINGS["multiple_choice"])})
    cls_framing: str = field(default="generate", metadata={
        "help": "Classification: 'generate' (greedy answer, last label mentioned) or 'rank' (the label with the "
                "highest log-likelihood as the answer).",
        "choices": list(FRAMINGS["classification"])})
    execution: Optional[ExecutorConfig] = field(default=None, metadata={
        "help": "Where the tasks are scored (default local; ExecutorConfig's fields, each its own option: --executor ray "
                "--ray-address ADDR --replicas N; with ray, each replica loads the model once and scores whole "
                "tasks); the same results either way."})

    def __post_init__(self):
        self.execution = ExecutorConfig.from_value(self.execution)
        if not self.tasks:
            raise ValueError("give at least one task (a task file, a directory, a template name or a Task)")
        for t in self.tasks:
            if not isinstance(t, (str, os.PathLike, Task)):
                raise ValueError(f"tasks holds {t!r}: give paths, template names or Task objects")
        for name in ("batch_size", "num_shots", "num_samples"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < (0 if name != "batch_size" else 1):
                raise ValueError(f"{name} must be a {'positive' if name == 'batch_size' else 'non-negative'} integer (got {value!r})")
        if self.limit is not None and (not isinstance(self.limit, int) or self.limit <= 0):
            raise ValueError(f"limit must be a positive integer (got {self.limit!r})")
        self.dataset_task = DatasetTask.from_value(self.dataset_task)
        for name, kind in (("mc_framing", "multiple_choice"), ("cls_framing", "classification")):
            if getattr(self, name) not in FRAMINGS[kind]:
                raise ValueError(f"{name} must be one of {list(FRAMINGS[kind])} (got {getattr(self, name)!r})")

    def framing(self, task: Task) -> str:
        return {"multiple_choice": self.mc_framing, "classification": self.cls_framing}.get(task.kind, "generate")

    def identity(self) -> dict:
        """What makes two runs' per-task results interchangeable (for resuming)."""
        identity = {f.name: getattr(self, f.name) for f in fields(self)
                    if f.name not in ("tasks", "batch_size", "execution")}
        identity["dataset_task"] = asdict(self.dataset_task) if self.dataset_task is not None else {}
        return identity


def with_stderr(per_row: dict) -> dict:
    """``{metric: mean, metric_stderr: standard error}`` for each per-row score list."""
    out = {}
    for key, scores in per_row.items():
        out[key] = sum(scores) / len(scores) if scores else 0.0
        out[f"{key}_stderr"] = mean_stderr(scores)
    return out


def main_metric(result: dict) -> tuple[str, float]:
    metrics = result["metrics"]
    for key in MAIN_METRICS:
        if key in metrics:
            return key, metrics[key]
    key = next(k for k in metrics if not k.endswith("_stderr"))
    return key, metrics[key]


def run_task(model, tokenizer, task: Task, batch_size: int = 16, num_samples: int = 3, framing: Optional[str] = None,
             num_shots: int = 2) -> dict:
    """Score one task; the result holds its metrics (with standard errors), the framing, the scored
    ids' hash and, under ``"rows"``, the per-row records (``evaluate_model`` writes them apart)."""
    framing = framing or FRAMINGS[task.kind][0]
    start = time.time()
    scored = score_task(model, tokenizer, task, framing, batch_size=batch_size, num_samples=num_samples,
                        num_shots=num_shots)
    seconds = time.time() - start
    metrics = {**with_stderr(scored.per_row), **scored.totals}
    result = {"kind": task.kind, "framing": framing, "source": task.source, "num_examples": len(scored.ids),
              "metrics": metrics, "ids_hash": ids_hash(scored.ids), "seconds": round(seconds, 2),
              "examples_per_second": round(len(scored.ids) / seconds, 3) if seconds else None, **scored.info}
    described = task.describe()  # one home for what a result records about its task
    result.update({k: described[k] for k in ("labels", "template", "split") if k in described})
    unlabelled = len(task.instances) - len(task.labelled)  # instances without an output are never scored
    if unlabelled:
        result["unlabelled_skipped"] = unlabelled
        logger.warning("%s: %d of %d instances have no output (unlabelled) and were not scored (%s)", task.name,
                       unlabelled, len(task.instances), task.source or "no source")
    key = main_metric(result)[0]
    result["samples"] = scored.samples
    result["rows"] = [{"task": task.name, "id": i, "prediction": p, "score": s, "framing": framing}
                      for i, p, s in zip(scored.ids, scored.predictions, scored.per_row[key])]
    return result


def _stderr_cell(metrics: dict, key: str) -> str:
    err = metrics.get(f"{key}_stderr")
    return f"{metrics[key]:.3f} ± {err:.3f}" if isinstance(err, float) else f"{metrics[key]:.3f}"


def markdown_table(results: dict) -> str:
    title = results["model"] + (f" + {results['adapter']}" if results.get("adapter") else "")
    lines = [f"Results for {title}", "", "| task | kind | framing | n | metric | value ± stderr | other |",
             "|---|---|---|---|---|---|---|"]
    for name, r in results["tasks"].items():
        key, _ = main_metric(r)
        m = r["metrics"]
        other = ", ".join(f"{k} {_stderr_cell(m, k)}" for k, v in m.items()
                          if k != key and not k.endswith("_stderr") and isinstance(v, float))
        lines.append(f"| {name} | {r['kind']} | {r.get('framing', '')} | {r['num_examples']} | {key} | "
                     f"{_stderr_cell(m, key)} | {other} |")
    # what was scored: each task's source (a dataset's names the split read) and the instances left out
    lines += ["", "Scored:"] + [
        f"- {name}: {r.get('source') or 'no source'}"
        + (f"; {r['unlabelled_skipped']} instance(s) without an output (unlabelled) not scored"
           if r.get("unlabelled_skipped") else "") for name, r in results["tasks"].items()]
    return "\n".join(lines) + "\n"


def _read_rows(path: Path) -> dict:
    """task -> its row records, from a previous run's rows file."""
    rows: dict = {}
    if path.exists():
        for line in path.read_text().splitlines():
            if line.strip():
                rec = json.loads(line)
                rows.setdefault(rec["task"], []).append(rec)
    return rows


def _write(out_path: Path, results: dict, rows: dict, final: bool = False) -> None:
    from .compare import rows_path

    atomic_write_text(rows_path(out_path), "".join(json.dumps(rec, ensure_ascii=False) + "\n"
                                                   for name in results["tasks"] for rec in rows.get(name, [])))
    atomic_json(out_path, results)
    if final:
        atomic_write_text(out_path.with_suffix(".md"), markdown_table(results))


def evaluate_model(config: EvalConfig, out: Optional[str | os.PathLike] = None, model=None, tokenizer=None) -> dict:
    """Score ``config.model`` (+ adapter) on every task; write ``out`` (JSON), ``out``.md and the
    per-row records (``r.json`` -> ``r.rows.jsonl``)."""
    from cookbook_datasets.models import load_model

    from .compare import rows_path

    tasks = load_tasks(config.tasks, limit=config.limit, seed=config.seed, dataset_task=config.dataset_task,
                       **config.template_params)
    names = [t.name for t in tasks]
    if len(set(names)) != len(names):
        dup = next(n for n in names if names.count(n) > 1)
        raise ValueError(f"two tasks are named {dup!r}: results are keyed by task name")
    results = {"model": config.model, "adapter": config.adapter, "config": config.identity(), "tasks": {}}
    rows: dict = {}
    out_path = Path(out) if out else None
    if out_path and out_path.exists():
        previous = json.loads(out_path.read_text())
        if previous.get("config") == results["config"]:
            previous_rows = _read_rows(rows_path(out_path))
            for t in tasks:  # a task is done when it was scored on the same instances, rows and all
                done = previous.get("tasks", {}).get(t.name)
                if done and t.name in previous_rows and done.get("ids_hash") == _scored_hash(t):
                    results["tasks"][t.name], rows[t.name] = done, previous_rows[t.name]
            if results["tasks"]:
                logger.info("resuming %s: %d task(s) already scored", out_path, len(results["tasks"]))
    todo = [t for t in tasks if t.name not in results["tasks"]]
    if todo and model is None and config.execution.uses_ray:
        _evaluate_on_ray(config, todo, results, rows, out_path)
        todo = []
    if model is None and todo:
        model, tokenizer = load_model(config.model, adapter=config.adapter, dtype=config.dtype)
    for task in todo:
        framing = config.framing(task)
        logger.info("evaluating %s (%s, %s)", task.name, task.kind, framing)
        result = run_task(model, tokenizer, task, config.batch_size, config.num_samples, framing=framing,
                          num_shots=config.num_shots)
        rows[task.name] = result.pop("rows")
        results["tasks"][task.name] = result
        if out_path:
            _write(out_path, results, rows)
    results["tasks"] = {t.name: results["tasks"][t.name] for t in tasks}
    if out_path:
        _write(out_path, results, rows, final=True)
    return results


def _scored_hash(task: Task) -> str:
    """The hash run_task records: of the instances it scores (the labelled ones)."""
    return ids_hash([inst.id for inst in task.labelled])


class TaskReplica:
    """One model replica of the Ray executor: loads the model once (``load_model``), then scores the
    tasks it is handed by index (``index``, ``framing`` columns) with :func:`run_task`. A task that
    fails comes back as its error, so the other tasks still finish."""

    def __init__(self, config: EvalConfig, tasks: list):
        from cookbook_datasets.models import load_model

        self.config, self.tasks = config, tasks
        self.model, self.tokenizer = load_model(config.model, adapter=config.adapter, dtype=config.dtype)

    def __call__(self, batch):
        import pickle

        import pyarrow as pa

        results, errors = [], []
        for index, framing in zip(batch["index"].to_pylist(), batch["framing"].to_pylist()):
            try:
                result = run_task(self.model, self.tokenizer, self.tasks[index], self.config.batch_size,
                                  self.config.num_samples, framing=framing, num_shots=self.config.num_shots)
                results.append(pickle.dumps(result))
                errors.append(None)
            except Exception as e:  # noqa: BLE001 - reported per task; the other tasks go on
                logger.exception("task %s failed", self.tasks[index].name)
                results.append(None)
                errors.append(f"{type(e).__name__}: {e}")
        return pa.table({"index": batch["index"], "result": pa.array(results, pa.binary()),
                         "error": pa.array(errors, pa.string())})


def _evaluate_on_ray(config: EvalConfig, tasks: list, results: dict, rows: dict, out_path: Optional[Path]) -> None:
    """Score ``tasks`` on the Ray actor pool of ``config.execution``, whole tasks per replica; each
    finished task is added to ``results``/``rows`` and written as it arrives (what a rerun resumes
    from). Tasks that failed are reported together once the others are written."""
    import pickle

    import datasets

    from cookbook_datasets.executor import ray_map

    config.execution.connect()  # a bad address or too small a cluster fails here, before any model loads
    items = datasets.Dataset.from_dict({"index": list(range(len(tasks))),
                                        "framing": [config.framing(t) for t in tasks]})
    failed = []
    for batch in ray_map(config.execution, items, TaskReplica, {"config": config, "tasks": tasks}):
        for index, blob, error in zip(*(batch[c].to_pylist() for c in ("index", "result", "error"))):
            task = tasks[index]
            if error is not None:
                failed.append((task.name, error))
                continue
            result = pickle.loads(blob)
            rows[task.name] = result.pop("rows")
            results["tasks"][task.name] = result
            logger.info("scored %s on Ray", task.name)
        if out_path:
            _write(out_path, results, rows)
    if failed:
        names = ", ".join(name for name, _ in failed)
        raise RuntimeError(f"{len(failed)} of {len(tasks)} task(s) failed on the Ray executor ({names}; first: "
                           f"{failed[0][1]}); the others are written: run again to score only the failed ones")
