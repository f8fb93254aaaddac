"""The task-evaluation harness: score a model (optionally with an adapter) on tasks.

``evaluate_model(EvalConfig(model=..., tasks=[...]))`` or ``cookbook eval --model SPEC --tasks
PATH... --out FILE``. Results are written after every task (JSON plus a Markdown table next to
it), so an interrupted run resumes with the tasks it had not finished.
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Optional

from cookbook_datasets.models import DEFAULT_MODEL

from .metrics import load_metric
from .tasks import GenerationTask, MultipleChoiceTask, load_tasks

logger = logging.getLogger(__name__)


@dataclass
class EvalConfig:
    model: str = field(default=DEFAULT_MODEL, metadata={"help": "Model spec (see load_model)."})
    adapter: Optional[str] = field(default=None, metadata={"help": "PEFT adapter directory to apply."})
    tasks: list = field(default_factory=list, metadata={
        "help": "NIV2 .json files, multiple-choice .jsonl files, directories of them, or template names."})
    limit: Optional[int] = field(default=None, metadata={"help": "Examples per task (seeded random subset)."})
    num_shots: int = field(default=2, metadata={"help": "Demonstrations per NIV2 prompt."})
    batch_size: int = field(default=16, metadata={"help": "Requests per forward pass."})
    seed: int = field(default=0, metadata={"help": "Seed of the subsets and template test splits."})
    dtype: Optional[str] = field(default=None, metadata={"help": "Model dtype (default bf16 on GPU, fp32 on CPU)."})
    num_samples: int = field(default=3, metadata={"help": "Predictions kept per task in the results."})
    template_params: dict = field(default_factory=dict, metadata={
        "help": "Parameters of the template tasks (e.g. vocab), as the training data used them."})

    def __post_init__(self):
        if not self.tasks:
            raise ValueError("give at least one task (a task file, a directory or a template name)")
        for name in ("batch_size", "num_shots", "num_samples"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < (0 if name != "batch_size" else 1):
                raise ValueError(f"{name} must be a {'positive' if name == 'batch_size' else 'non-negative'} integer (got {value!r})")
        if self.limit is not None and (not isinstance(self.limit, int) or self.limit <= 0):
            raise ValueError(f"limit must be a positive integer (got {self.limit!r})")

    def identity(self) -> dict:
        """What makes two runs' per-task results interchangeable (for resuming)."""
        d = asdict(self)
        d.pop("tasks")
        d.pop("batch_size")
        return d


def score_generation(task: GenerationTask, predictions: list[str]) -> dict:
    if task.kind == "classification":
        return load_metric("label_exact_match").compute(predictions=predictions, references=task.references,
                                                        labels=task.labels)
    if task.kind == "generation":
        return load_metric("rouge_l").compute(predictions=predictions, references=task.references)
    refs = [r[0] for r in task.references]
    exact = sum(p.strip() == r.strip() for p, r in zip(predictions, refs)) / len(refs)
    alignment = load_metric("template_alignment").compute(predictions=predictions, references=refs)
    return {"exact_match": exact, **alignment}


def score_multiple_choice(task: MultipleChoiceTask, scores: list[list[float]]) -> dict:
    return load_metric("mc_accuracy").compute(loglikelihoods=scores, label=task.labels,
                                              choice_lengths=task.choice_lengths)


def run_task(model, tokenizer, task, batch_size: int = 16, num_samples: int = 3) -> dict:
    from .lm import generate, loglikelihoods

    start = time.time()
    if isinstance(task, MultipleChoiceTask):
        flat = [pair for req in task.requests for pair in req]
        ll = loglikelihoods(model, tokenizer, flat, batch_size=batch_size, desc=task.name)
        scores, pos = [], 0
        for req in task.requests:
            scores.append(ll[pos:pos + len(req)])
            pos += len(req)
        metrics = score_multiple_choice(task, scores)
        samples = [{"context": req[0][0][-300:], "choices": [c for _, c in req], "loglikelihoods": s, "label": y}
                   for req, s, y in list(zip(task.requests, scores, task.labels))[:num_samples]]
        n = len(task.requests)
        info = {"framing": task.framing}
    else:
        predictions = generate(model, tokenizer, task.prompts, max_new_tokens=task.max_new_tokens,
                               batch_size=batch_size, desc=task.name)
        metrics = score_generation(task, predictions)
        samples = [{"prompt": p[-1]["content"][-300:], "prediction": y, "references": r[:3]}
                   for p, y, r in list(zip(task.prompts, predictions, task.references))[:num_samples]]
        n = len(task.prompts)
        info = {"labels": task.labels} if task.labels else {}
    seconds = time.time() - start
    return {"kind": task.kind, "source": task.source, "num_examples": n, "metrics": metrics,
            "seconds": round(seconds, 2), "examples_per_second": round(n / seconds, 3) if seconds else None,
            **info, "samples": samples}


def _write_json(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, default=str))
    os.replace(tmp, path)


def main_metric(result: dict) -> tuple[str, float]:
    metrics = result["metrics"]
    for key in ("acc", "exact_match", "rougeL", "template_alignment"):
        if key in metrics:
            return key, metrics[key]
    key = next(iter(metrics))
    return key, metrics[key]


def markdown_table(results: dict) -> str:
    title = results["model"] + (f" + {results['adapter']}" if results.get("adapter") else "")
    lines = [f"Results for {title}", "", "| task | kind | n | metric | value | other |", "|---|---|---|---|---|---|"]
    for name, r in results["tasks"].items():
        key, value = main_metric(r)
        other = ", ".join(f"{k} {v:.3f}" for k, v in r["metrics"].items()
                          if k != key and isinstance(v, float))
        lines.append(f"| {name} | {r['kind']} | {r['num_examples']} | {key} | {value:.3f} | {other} |")
    return "\n".join(lines) + "\n"


def evaluate_model(config: EvalConfig, out: Optional[str | os.PathLike] = None, model=None, tokenizer=None) -> dict:
    """Score ``config.model`` (+ adapter) on every task; write ``out`` (JSON) and ``out``.md."""
    from cookbook_datasets.models import load_model

    tasks = load_tasks(config.tasks, limit=config.limit, num_shots=config.num_shots, seed=config.seed,
                       template_params=config.template_params)
    results = {"model": config.model, "adapter": config.adapter, "config": config.identity(), "tasks": {}}
    out_path = Path(out) if out else None
    if out_path and out_path.exists():
        previous = json.loads(out_path.read_text())
        if previous.get("config") == results["config"]:
            results["tasks"] = {k: v for k, v in previous.get("tasks", {}).items()
                                if k in {t.name for t in tasks}}
            if results["tasks"]:
                logger.info("resuming %s: %d task(s) already scored", out_path, len(results["tasks"]))
    if model is None:
        model, tokenizer = load_model(config.model, adapter=config.adapter, dtype=config.dtype)
    for task in tasks:
        if task.name in results["tasks"]:
            continue
        logger.info("evaluating %s (%s)", task.name, task.kind)
        results["tasks"][task.name] = run_task(model, tokenizer, task, config.batch_size, config.num_samples)
        if out_path:
            _write_json(out_path, results)
    results["tasks"] = {t.name: results["tasks"][t.name] for t in tasks}
    if out_path:
        _write_json(out_path, results)
        out_path.with_suffix(".md").write_text(markdown_table(results))
    return results
