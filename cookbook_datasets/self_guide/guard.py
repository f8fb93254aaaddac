"""Never worse than where the user started: the untuned model is a candidate, and data that cannot teach is refused.

Two checks around fine-tuning (docs/methods/self-guide.md, "Guard"):

- **The probe and the guard.** Before training, the untuned model answers the real validation
  rows (the rows the method may read: ``validation_data``, ``val_instances`` or by default the
  task's instances beside the scored ones; validation.py), posed as the tuned model's epochs are
  scored. Those answers give the probe (``eval.probe.probe_task``: does the model read the task at
  all, against chance and the constant answer) and, after training, the untuned candidate of the
  guard: the epoch picked is compared with it row by row on the same rows (a paired bootstrap
  interval of tuned - untuned). The rule (:func:`guard_decision`): with ``guard="keep-best"``
  the tuned model is kept only when its mean on the validation rows is strictly above the
  untuned model's (the interval is reported, it does not decide: "never worse on the rows that
  choose", not "proven better"); otherwise the untuned model is the result and the adapter stays
  on disk, marked not kept. ``guard="off"`` keeps the tuned model and warns when it is not better.
  With fewer than ``min_validation_rows`` real rows there is no guard choice, and the report and
  the log say so.
- **Data that cannot teach.** For classification, a label of the task's set that the kept pairs
  never use, or one label holding more than ``max_label_share`` of them, is reported
  (:func:`label_check`) and refused before training (:class:`UnteachableDataError`) unless
  ``allow_unteachable_data``; the pairs stay on disk, so a rerun with the override resumes.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import Optional

from cookbook_datasets.atomic_files import atomic_json
from cookbook_datasets.eval.guard import guard_keeps, paired_figure, row_scores
from cookbook_datasets.tasks import Task

from .config import SelfGuideConfig

logger = logging.getLogger(__name__)

UNTUNED_FILE = "untuned.json"


class UnteachableDataError(ValueError):
    """The kept pairs cannot teach the task (a label never used, or one label above ``max_label_share``)."""


# -- the untuned model on the real rows, and the probe -------------------------------------------------

def score_untuned(rows: Task, out: Path, config: SelfGuideConfig, num_shots: int) -> dict:
    """The untuned ``config.model`` on ``rows`` (greedy answers posed with ``num_shots``
    demonstrations, as the tuned epochs are scored), cached in ``out/guard/untuned.json`` under
    what it depends on. Returns ``{"metric", "score", "scores" (per labelled row), "ids", "seconds"}``."""
    from cookbook_datasets.eval.harness import main_metric, run_task
    from cookbook_datasets.models import load_model

    from .tuning import free

    key = {"model": config.model, "dtype": config.dtype, "num_shots": num_shots, "ids": [i.id for i in rows.labelled],
           "kind": rows.kind, "labels": rows.labels, "instruction": rows.instruction,
           "demonstrations": [[d.input, d.answer] for d in rows.demonstrations]}
    key_hash = hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()[:16]
    path = out / "guard" / UNTUNED_FILE
    if path.exists():
        done = json.loads(path.read_text())
        if done.get("key") == key_hash:
            return done
    model, tokenizer = load_model(config.model, dtype=config.dtype)
    result = run_task(model, tokenizer, rows, num_shots=num_shots)
    del model, tokenizer
    free()
    metric, value = main_metric(result)
    done = {"key": key_hash, "metric": metric, "score": value, "scores": row_scores(rows, result),
            "ids": key["ids"], "framing": result["framing"], "num_shots": num_shots, "seconds": result["seconds"],
            "rows": rows.source or "", "model": config.model}
    atomic_json(path, done, indent=1, sort_keys=False)
    return done


def probe_untuned(rows: Task, untuned: dict, seed: int, where: str) -> dict:
    """The probe (``eval.probe``) of :func:`score_untuned`'s answers on ``rows``, with a warning when
    the model does not read the task (before anything is trained): what ``probe_lines`` renders."""
    from cookbook_datasets.eval.probe import probe_report, warn_not_read

    report = probe_report([rows], {rows.name: {untuned["framing"]: untuned["scores"]}}, untuned["model"], where,
                          seed=seed)
    warn_not_read(report, logger)
    return report


# -- the guard ----------------------------------------------------------------------------------------

def no_guard_choice(config: SelfGuideConfig, reason: str, rows: int = 0) -> dict:
    """The guard's record when it cannot choose (the tuned model is kept, unguarded); logged as a warning."""
    return {"mode": config.guard, "chose": False, "kept": "tuned", "rows": rows,
            "min_validation_rows": config.min_validation_rows, "reason": reason}


def guard_decision(config: SelfGuideConfig, untuned: dict, training: dict, where: str, seed: int = 0) -> dict:
    """The guard: the picked epoch vs the untuned model on the same real validation rows.

    ``untuned``: :func:`score_untuned`'s record; ``training``: what ``train_and_pick_epoch``
    returns (its ``best_scores``: the picked epoch's per-row scores on those rows). Returns the
    report's record: both means, the paired bootstrap interval of tuned - untuned, and ``kept``
    (``"tuned"`` or ``"untuned"``) by the rule in the module doc."""
    tuned_scores = training["best_scores"]
    if training.get("validation_ids") != untuned["ids"]:
        raise RuntimeError("the guard compares the tuned and the untuned model on other rows")
    best = training["per_epoch"][training["best_epoch"] - 1]
    diff = paired_figure(untuned["scores"], tuned_scores, seed=seed)
    better = best["score"] > untuned["score"]
    kept = guard_keeps(config.guard, best["score"], untuned["score"])
    return {"mode": config.guard, "chose": True, "kept": kept, "rows": len(tuned_scores), "validation": where,
            "metric": best["metric"], "untuned": untuned["score"], "tuned": best["score"],
            "tuned_epoch": training["best_epoch"], "tuned_better": better, **diff,
            "min_validation_rows": config.min_validation_rows}


def guard_text(g: dict, tuned_path: Optional[str] = None) -> str:
    """The report's guard line."""
    if not g["chose"]:
        return f"Guard ({g['mode']}): no choice: {g['reason']}; the tuned model is kept, unguarded."
    pct = f"{g['level']:.0%}"
    figure = (f"tuned (epoch {g['tuned_epoch']}) {g['tuned']:.3f} vs untuned {g['untuned']:.3f} {g['metric']} on "
              f"{g['rows']} {g['validation']}; tuned - untuned {g['diff']:+.3f} [{g['low']:+.3f}, {g['high']:+.3f}] "
              f"(paired bootstrap {pct}, {g['verdict']})")
    if g["kept"] == "untuned":
        where = f" ({tuned_path})" if tuned_path else ""
        return (f"Guard (keep-best): {figure}. The tuned model is not better: **the untuned model is the result**; "
                f"the tuned model{where} stays on disk, not kept.")
    if not g["tuned_better"]:
        return (f"Guard (off): {figure}. **Warning**: the tuned model is not better than the untuned one and is "
                "kept because guard='off'.")
    return f"Guard ({g['mode']}): {figure}. The tuned model is better: kept."


# -- data that cannot teach -----------------------------------------------------------------------------

def kept_label_counts(counts: dict, labels: list) -> dict:
    """Kept pairs per label (every label of the set, zeros included), from the synthesis counts."""
    if "labels_kept" in counts:
        return dict(counts["labels_kept"])
    if "balancing" in counts:  # data written before labels_kept was recorded
        after = counts["balancing"]["per_label_after"]
        return {label: after.get(label, 0) for label in labels}
    return {label: counts.get("labels_before_balancing", {}).get(label, 0) for label in labels}


def label_check(task: Task, counts: dict, max_label_share: float) -> Optional[dict]:
    """Classification: the label counts before and after balancing and what makes the kept pairs
    unable to teach the task (``problems``: labels never used, a label above ``max_label_share``);
    None for a generation task."""
    if task.kind != "classification":
        return None
    kept = kept_label_counts(counts, task.labels)
    total = sum(kept.values())
    unused = [label for label in task.labels if not kept.get(label)]
    problems = []
    if unused:
        problems.append(f"the kept pairs never use the label(s) {unused} of the task's set")
    top, share = None, 0.0
    if total:
        top = max(kept, key=lambda k: kept[k])
        share = kept[top] / total
        if share > max_label_share:
            problems.append(f"the label {top!r} holds {share:.0%} of the kept pairs, more than max_label_share="
                            f"{max_label_share}")
    return {"labels_before_balancing": dict(counts.get("labels_before_balancing", {})), "labels_kept": kept,
            "top_label": top, "top_share": round(share, 4), "max_label_share": max_label_share,
            "problems": problems, "teachable": not problems}


def _counts_text(counts: dict) -> str:
    return ", ".join(f"{k} {v}" for k, v in counts.items()) or "none"


def check_teachable(task: Task, check: Optional[dict], config: SelfGuideConfig, data_dir: Path, train: bool) -> None:
    """Refuse to train on pairs that cannot teach (unless ``allow_unteachable_data``); warn otherwise."""
    if check is None or check["teachable"]:
        return
    counts = (f"pairs per label before balancing: {_counts_text(check['labels_before_balancing'])}; kept: "
              f"{_counts_text(check['labels_kept'])}")
    if train and not config.allow_unteachable_data:
        raise UnteachableDataError(
            f"SELF-GUIDE for {task.name}: the synthetic pairs cannot teach the task: {'; '.join(check['problems'])} "
            f"({counts}). Not trained. The pairs stay in {data_dir}: to train on them anyway pass "
            "allow_unteachable_data=True (--allow-unteachable-data), and a rerun resumes from them; or raise "
            "max_label_share (--max-label-share), or make other data (annotation='target', agree_with_target, "
            "calibrate_labels='batch', max_rounds)")
    logger.warning("%s: the synthetic pairs cannot teach the task: %s (%s)%s", task.name, "; ".join(check["problems"]),
                   counts, "; trained anyway (allow_unteachable_data)" if train else "")


def label_lines(check: Optional[dict], allowed: bool) -> list:
    """The report's lines on the label counts and, when they cannot teach, the warning."""
    if check is None:
        return []
    lines = ["", f"Pairs per label: before balancing {_counts_text(check['labels_before_balancing'])}; kept "
                 f"{_counts_text(check['labels_kept'])}"
             + (f" (largest share {check['top_share']:.0%}, max_label_share {check['max_label_share']})"
                if check["top_label"] is not None else "")]
    if check["problems"]:
        lines += ["", f"**Warning**: the synthetic pairs cannot teach the task: {'; '.join(check['problems'])}"
                  + ("; trained anyway (allow_unteachable_data)." if allowed else ".")]
    return lines
