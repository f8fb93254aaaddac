"""Paired comparison of evaluation runs: per task and on the task average, each arm's score with
its standard error and each arm's difference from a baseline with a paired-bootstrap interval.

``compare(["base.json", "tuned.json"])`` reads each result's per-row records (``base.rows.jsonl``
beside ``base.json``, one line per scored row: task, id, score), pairs the rows by (task, id) and
returns a :class:`Comparison`; ``str()`` of it is the Markdown table, ``plot_comparison`` draws the
intervals. ``compare_rows`` does the same from per-row scores already in memory (the experiments
assemble an arm's rows from several result files).

Runs scored on different rows are refused: a difference is only meaningful on the same rows.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Optional, Sequence

import numpy as np

from cookbook_datasets.atomic_files import atomic_path

from .stats import mean_stderr, paired_bootstrap, task_average_bootstrap, task_average_stderr

AVERAGE = "task average"


class RowMismatchError(ValueError):
    """Two runs to compare were not scored on the same rows."""


@dataclass
class ArmScore:
    """One arm's score on one task (or the task average): the mean per-row score and its standard error."""

    label: str
    score: float
    stderr: float
    n: int
    framing: Optional[str] = None

    def to_dict(self) -> dict:
        return {"label": self.label, "score": self.score, "stderr": self.stderr, "n": self.n, "framing": self.framing}


@dataclass
class TaskComparison:
    """One line of the table: every arm's score, and each non-baseline arm's difference from the baseline."""

    task: str
    metric: str
    n: int
    arms: list  # ArmScore per label, in the comparison's label order
    differences: dict  # label -> stats.PairedDifference (arm - baseline), for every label but the baseline

    def to_dict(self) -> dict:
        return {"task": self.task, "metric": self.metric, "n": self.n, "arms": [a.to_dict() for a in self.arms],
                "differences": {k: d.to_dict() for k, d in self.differences.items()}}


@dataclass
class Comparison:
    """The paired comparison of several arms against a baseline, per task and on the task average."""

    labels: list
    baseline: str
    tasks: list  # TaskComparison per task
    average: Optional[TaskComparison]  # the task average (None with a single task: it would repeat it)
    level: float = 0.95
    num_resamples: int = 10_000
    seed: int = 0
    sources: dict = field(default_factory=dict)  # label -> where its rows came from

    @property
    def lines(self) -> list:
        return self.tasks + ([self.average] if self.average else [])

    def to_dict(self) -> dict:
        return {"labels": self.labels, "baseline": self.baseline, "level": self.level,
                "num_resamples": self.num_resamples, "seed": self.seed, "sources": self.sources,
                "tasks": {t.task: t.to_dict() for t in self.tasks},
                "average": self.average.to_dict() if self.average else None}

    def to_markdown(self) -> str:
        others = [label for label in self.labels if label != self.baseline]
        pct = f"{100 * self.level:g}%"
        head = ["task", "metric", "n", *self.labels]
        for label in others:
            head += [f"Δ {label} − {self.baseline} [{pct}]", ""]
        lines = [f"Paired comparison vs **{self.baseline}**: score ± standard error per arm; Δ with a {pct} "
                 f"paired-bootstrap interval over rows ({self.num_resamples} resamples; the task average resamples "
                 "rows within each task); **bold** Δ: the interval excludes zero.", "",
                 "| " + " | ".join(head) + " |",
                 "|---|---|---:|" + "---:|" * len(self.labels) + "---:|---|" * len(others)]
        for t in self.lines:
            name = f"**{t.task}**" if t is self.average else t.task + _framing_note(t.arms)
            cells = [name, t.metric, str(t.n)] + [f"{a.score:.3f} ± {a.stderr:.3f}" for a in t.arms]
            for label in others:
                d = t.differences[label]
                delta = f"{d.mean:+.3f} [{d.low:+.3f}, {d.high:+.3f}]"
                cells += [f"**{delta}**" if d.excludes_zero else delta, d.verdict]
            lines.append("| " + " | ".join(cells) + " |")
        return "\n".join(lines) + "\n"

    def __str__(self) -> str:
        return self.to_markdown()


def _framing_note(arms: Sequence[ArmScore]) -> str:
    framings = list(dict.fromkeys(a.framing for a in arms if a.framing))
    return f" ({' / '.join(framings)})" if framings else ""


def compare_rows(arms: Mapping[str, Mapping[str, Mapping]], *, baseline: Optional[str] = None,
                 metrics: Optional[Mapping[str, str]] = None, framings: Optional[Mapping[str, Mapping]] = None,
                 num_resamples: int = 10_000, level: float = 0.95, seed: int = 0) -> Comparison:
    """Compare arms given as ``{label: {task: {row id: score}}}`` (per-row main-metric scores).

    Every arm must have the same tasks and, per task, the same row ids; the baseline (default: the
    first arm) is subtracted from every other arm. Per task, the difference is the mean over rows of
    ``arm - baseline`` with a paired-bootstrap percentile interval (rows resampled with
    replacement). The task average is the mean over tasks of those per-task differences; its
    interval resamples rows within each task (stratified), so each task keeps its weight. An arm's
    task-average standard error combines the per-task ones as independent means.
    ``metrics`` names each task's metric, ``framings`` each arm's framing per task (both for display).
    """
    labels = list(arms)
    if len(labels) < 2:
        raise ValueError(f"a comparison needs at least two arms (got {labels})")
    baseline = labels[0] if baseline is None else baseline
    if baseline not in arms:
        raise ValueError(f"baseline {baseline!r} is not one of the arms {labels}")
    tasks = list(arms[baseline])
    if not tasks:
        raise ValueError(f"the baseline {baseline!r} has no task to compare on")
    for label in labels:
        missing = [t for t in tasks if t not in arms[label]]
        extra = [t for t in arms[label] if t not in arms[baseline]]
        if missing or extra:
            raise RowMismatchError(
                f"{label!r} and {baseline!r} were scored on different tasks: "
                + "; ".join(x for x in (f"{label!r} lacks {missing}" if missing else "",
                                        f"{baseline!r} lacks {extra}" if extra else "") if x)
                + " (compare on the tasks they share: tasks=[...])")
    ids = {t: _check_same_rows(t, {label: arms[label][t] for label in labels}, baseline) for t in tasks}
    metrics, framings = metrics or {}, framings or {}
    kw = {"num_resamples": num_resamples, "level": level, "seed": seed}

    def scores(label, task):
        rows = arms[label][task]
        return np.array([float(rows[i]) for i in ids[task]])

    lines = []
    for t in tasks:
        per_arm = {label: scores(label, t) for label in labels}
        lines.append(TaskComparison(
            task=t, metric=metrics.get(t, "score"), n=len(ids[t]),
            arms=[ArmScore(label, float(x.mean()), mean_stderr(x), x.size, framings.get(label, {}).get(t))
                  for label, x in per_arm.items()],
            differences={label: paired_bootstrap(per_arm[baseline], per_arm[label], **kw)
                         for label in labels if label != baseline}))
    average = None
    if len(tasks) > 1:
        names = list(dict.fromkeys(line.metric for line in lines))
        average = TaskComparison(
            task=AVERAGE, metric=names[0] if len(names) == 1 else "mean of task metrics", n=sum(len(ids[t]) for t in tasks),
            arms=[ArmScore(label, float(np.mean([line.arms[k].score for line in lines])),
                           task_average_stderr([line.arms[k].stderr for line in lines]),
                           sum(line.arms[k].n for line in lines)) for k, label in enumerate(labels)],
            differences={label: task_average_bootstrap([(scores(baseline, t), scores(label, t)) for t in tasks], **kw)
                         for label in labels if label != baseline})
    return Comparison(labels=labels, baseline=baseline, tasks=lines, average=average, level=level,
                      num_resamples=num_resamples, seed=seed)


def _check_same_rows(task: str, rows: Mapping[str, Mapping], baseline: str) -> list:
    ids = list(rows[baseline])
    if not ids:
        raise RowMismatchError(f"task {task!r}: {baseline!r} has no scored row")
    want = set(ids)
    for label, mine in rows.items():
        have = set(mine)
        if have != want:
            only_here, only_base = sorted(map(str, have - want)), sorted(map(str, want - have))
            raise RowMismatchError(
                f"task {task!r}: {label!r} and {baseline!r} were scored on different rows: "
                f"{len(only_here) + len(only_base)} ids differ ({len(only_here)} only in {label!r}"
                f"{', e.g. ' + ', '.join(only_here[:3]) if only_here else ''}; {len(only_base)} only in {baseline!r}"
                f"{', e.g. ' + ', '.join(only_base[:3]) if only_base else ''}); a paired comparison needs the same "
                "rows (same tasks, limit and seed)")
    return ids


def rows_path(result_path: str | os.PathLike) -> Path:
    """Where ``evaluate_model(..., out="r.json")`` writes its per-row records: ``r.rows.jsonl``."""
    p = Path(result_path)
    return p.with_name(p.stem + ".rows.jsonl") if p.suffix == ".json" else p.with_name(p.name + ".rows.jsonl")


def load_rows(result_path: str | os.PathLike) -> tuple[dict, dict, dict]:
    """(result JSON, ``{task: {id: score}}``, ``{task: framing}``) of one evaluation run.

    Only the tasks of the result JSON are kept; each must have its rows, once each.
    """
    path = Path(result_path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such evaluation result")
    result = json.loads(path.read_text())
    if not isinstance(result.get("tasks"), dict):
        raise ValueError(f"{path}: not an evaluation result (no 'tasks' mapping)")
    rp = rows_path(path)
    if not rp.exists():
        raise FileNotFoundError(f"{rp}: no per-row records for {path}, so its rows cannot be paired (evaluate_model "
                                "writes them beside the result; re-run the evaluation to get them)")
    rows: dict = {t: {} for t in result["tasks"]}
    framings: dict = {}
    with open(rp) as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
                task, row_id, score = rec["task"], rec["id"], float(rec["score"])
            except (ValueError, KeyError, TypeError) as e:
                raise ValueError(f"{rp}, line {number}: a row record needs 'task', 'id' and a numeric 'score' "
                                 f"({type(e).__name__}: {e})") from None
            if task not in rows:
                continue
            key = row_id if isinstance(row_id, (str, int)) else json.dumps(row_id, sort_keys=True)
            if key in rows[task]:
                raise ValueError(f"{rp}, line {number}: task {task!r} has row id {row_id!r} twice")
            rows[task][key] = score
            if rec.get("framing"):
                framings[task] = rec["framing"]
    empty = [t for t, r in rows.items() if not r]
    if empty:
        raise ValueError(f"{rp}: no row records for task(s) {empty} of {path}")
    return result, rows, framings


def _unique(labels: Sequence[str]) -> list:
    out, seen = [], {}
    for label in labels:
        seen[label] = seen.get(label, 0) + 1
        out.append(label if seen[label] == 1 else f"{label} ({seen[label]})")
    return out


def compare(paths: Sequence[str | os.PathLike], labels: Optional[Sequence[str]] = None, *,
            baseline: Optional[str] = None, tasks: Optional[Sequence[str]] = None, num_resamples: int = 10_000,
            level: float = 0.95, seed: int = 0) -> Comparison:
    """Paired comparison of evaluation results (``evaluate_model`` JSON files with their rows files).

    Rows are paired by (task, id). Each arm's difference from ``baseline`` (a label; default the
    first run) gets a paired-bootstrap interval per task and on the task average (the mean over
    tasks of per-row differences; resampled within each task, see ``compare_rows``). ``labels``
    default to the file stems; ``tasks`` restricts the comparison to some tasks. Runs on different
    tasks or rows raise :class:`RowMismatchError` naming the task and how many ids differ.
    ``str(result)`` is the Markdown table, ``result.to_dict()`` the same as JSON-ready data.
    """
    paths = [Path(p) for p in paths]
    if len(paths) < 2:
        raise ValueError(f"compare needs at least two result files (got {len(paths)})")
    if labels is not None and len(labels) != len(paths):
        raise ValueError(f"{len(labels)} labels for {len(paths)} result files: give one label per file")
    labels = _unique([str(x) for x in labels] if labels else [p.stem for p in paths])
    arms, framings, metrics = {}, {}, {}
    for label, path in zip(labels, paths):
        result, rows, framing = load_rows(path)
        if tasks is not None:
            unknown = [t for t in tasks if t not in rows]
            if unknown:
                raise ValueError(f"{path}: no task(s) {unknown} (it has {sorted(rows)})")
            rows = {t: rows[t] for t in tasks}
        arms[label], framings[label] = rows, framing
        for t in rows:
            metrics.setdefault(t, _main_metric_name(result["tasks"][t]))
    comparison = compare_rows(arms, baseline=baseline, metrics=metrics, framings=framings,
                              num_resamples=num_resamples, level=level, seed=seed)
    comparison.sources = {label: str(p) for label, p in zip(labels, paths)}
    return comparison


def _main_metric_name(task_result: dict) -> str:
    from .harness import main_metric

    return main_metric(task_result)[0] if task_result.get("metrics") else "score"


def plot_comparison(comparison: Comparison | Sequence[str | os.PathLike], png: str | os.PathLike,
                    labels: Optional[Sequence[str]] = None, title: Optional[str] = None) -> Path:
    """Draw a comparison (or ``compare(paths, labels)``) to ``png``: left, each arm's score ± standard
    error per task; right, each arm's difference from the baseline with its interval (filled where
    it excludes zero). Written atomically."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not isinstance(comparison, Comparison):
        comparison = compare(comparison, labels=labels)
    c = comparison
    lines = c.lines
    others = [label for label in c.labels if label != c.baseline]
    y = np.arange(len(lines))[::-1].astype(float)
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, max(2.5, 0.45 * len(lines) + 1.5)), sharey=True)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    step = 0.7 / max(1, len(c.labels))
    for k, label in enumerate(c.labels):
        offset = (k - (len(c.labels) - 1) / 2) * step
        left.errorbar([line.arms[k].score for line in lines], y + offset,
                      xerr=[line.arms[k].stderr for line in lines], fmt="o", capsize=3, color=colors[k % len(colors)],
                      label=label)
    left.set_xlabel("score ± standard error")
    left.set_yticks(y, [line.task for line in lines])
    left.legend(fontsize=8)
    step = 0.6 / max(1, len(others))
    for k, label in enumerate(others):
        offset = (k - (len(others) - 1) / 2) * step
        color = colors[(c.labels.index(label)) % len(colors)]
        for yy, line in zip(y, lines):
            d = line.differences[label]
            right.plot([d.low, d.high], [yy + offset] * 2, color=color, lw=2)
            right.plot([d.mean], [yy + offset], "o", color=color, markerfacecolor=color if d.excludes_zero else "white",
                       label=f"{label} − {c.baseline}" if yy == y[0] else None)
    right.axvline(0, color="grey", lw=1, ls="--")
    right.set_xlabel(f"difference vs {c.baseline} ({100 * c.level:g}% paired-bootstrap interval)")
    right.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    png = Path(png)
    with atomic_path(png) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)
    return png


__all__ = ["ArmScore", "Comparison", "RowMismatchError", "TaskComparison", "compare", "compare_rows", "load_rows",
           "plot_comparison", "rows_path"]
