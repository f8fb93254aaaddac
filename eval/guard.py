"""The guard's general part: the untuned model as a candidate beside a tuned one, on real validation rows.

Shared by SELF-GUIDE (self_guide/guard.py), DiverseEvol (trainers/diverse_evol.py), ``cookbook train``
(trainers/sft.py, with ``validation_data``) and ``mix learn`` (mixing/learn.py, per task). The rule
(:func:`guard_keeps`): with ``guard="keep-best"`` the tuned model is kept only when its mean on the
validation rows is strictly above the untuned model's, else the untuned model is the result;
``guard="off"`` keeps the tuned model (the caller warns when it is not better). The paired
bootstrap interval of tuned - untuned (:func:`paired_figure`) is reported; it does not decide.
Over several tasks (:func:`guard_figures`) the same rule is applied per task and to the task
average (the mean over tasks of each task's mean; :func:`task_average_figure` is its interval).
"""

from __future__ import annotations

from typing import Mapping, Optional, Sequence

from cookbook_datasets.tasks import Task

GUARD_MODES = ("keep-best", "off")


def check_guard_mode(mode, option: str = "guard (--guard) mode") -> None:
    """A clear error for a guard mode that is none of :data:`GUARD_MODES`."""
    from cookbook_datasets.registry import unknown_name_error

    if mode not in GUARD_MODES:
        raise unknown_name_error(option, mode, GUARD_MODES, listed="guard takes")


def guard_keeps(mode: str, tuned: float, untuned: float) -> str:
    """``"tuned"`` or ``"untuned"``: what the guard keeps, by the rule in the module doc."""
    check_guard_mode(mode)
    return "tuned" if tuned > untuned or mode == "off" else "untuned"


def row_scores(task: Task, result: dict) -> list:
    """Per labelled row of ``task`` (in its order), the main metric's score from a ``run_task`` result."""
    by_id = {row["id"]: float(row["score"]) for row in result["rows"]}
    missing = [inst.id for inst in task.labelled if inst.id not in by_id]
    if missing:
        raise RuntimeError(f"{task.name}: no score for the validation row {missing[0]!r}")
    return [by_id[inst.id] for inst in task.labelled]


def paired_figure(untuned_scores: list, tuned_scores: list, seed: int = 0) -> dict:
    """The paired bootstrap interval of tuned - untuned over the same rows (``eval.stats``), as a dict."""
    from .probe import LEVEL
    from .stats import paired_bootstrap

    if len(untuned_scores) != len(tuned_scores):
        raise RuntimeError("the guard compares the tuned and the untuned model on other rows")
    return paired_bootstrap(untuned_scores, tuned_scores, level=LEVEL, seed=seed).to_dict()


def validation_rows(full: Task, scored: Task, max_rows: int, seed: int = 0) -> Optional[Task]:
    """Up to ``max_rows`` labelled instances of ``full`` (seeded) that are not among the ``scored``
    ones, by id or by input; None when there are none."""
    scored_ids = set(scored.ids)
    scored_inputs = {" ".join(inst.input.split()) for inst in scored.instances}
    rest = [inst.id for inst in full.labelled
            if inst.id not in scored_ids and " ".join(inst.input.split()) not in scored_inputs]
    if not rest:
        return None
    part = full.select(rest, split_info={"part": "validation", "of": len(full), "seed": seed})
    if len(part) > max_rows:
        part = full.select(part.sample(max_rows, seed).ids,
                           split_info={"part": "validation", "of": len(full), "seed": seed})
    return part


def task_average_figure(pairs: Sequence[tuple], seed: int = 0) -> dict:
    """The paired interval of the task average of tuned - untuned (``pairs``: one ``(untuned scores,
    tuned scores)`` per task, rows paired; rows resampled within each task, ``eval.stats``), as a dict."""
    from .probe import LEVEL
    from .stats import task_average_bootstrap

    return task_average_bootstrap(pairs, level=LEVEL, seed=seed).to_dict()


def guard_figures(mode: str, untuned: Mapping[str, Sequence[float]], tuned: Mapping[str, Sequence[float]],
                  seed: int = 0) -> dict:
    """The guard over several tasks: ``untuned[t]`` and ``tuned[t]`` are per-row scores on the same rows
    of task ``t``, in one order. Returns ``{"tasks": {t: figure}, "average": figure}``, a figure being
    both means, ``tuned_better``, what :func:`guard_keeps` keeps (``kept``), the rows and the paired
    interval of tuned - untuned (``diff``, ``low``, ``high``, ``verdict``, ...). The average is the mean
    over tasks of each task's mean, so a task with many rows does not outweigh one with few."""
    import numpy as np

    check_guard_mode(mode)
    if set(untuned) != set(tuned) or not untuned:
        raise RuntimeError("the guard compares the tuned and the untuned model on other tasks")

    def figure(u_mean: float, t_mean: float, rows: int, interval: dict) -> dict:
        return {"rows": rows, "untuned": u_mean, "tuned": t_mean, "tuned_better": t_mean > u_mean,
                "kept": guard_keeps(mode, t_mean, u_mean), **interval}

    per_task = {t: figure(float(np.mean(untuned[t])), float(np.mean(tuned[t])), len(untuned[t]),
                          paired_figure(untuned[t], tuned[t], seed=seed)) for t in untuned}
    average = figure(float(np.mean([f["untuned"] for f in per_task.values()])),
                     float(np.mean([f["tuned"] for f in per_task.values()])),
                     sum(f["rows"] for f in per_task.values()),
                     task_average_figure([(untuned[t], tuned[t]) for t in untuned], seed=seed))
    return {"tasks": per_task, "average": average}


def answer_row_scores(task: Task, answers: Sequence) -> list:
    """Per labelled row of ``task``, the score of answers already given (``framings.model_answers``'
    form, as mix learn keeps them): the task's own metric per row, a multiple-choice row's the mean
    over its framings (as ``eval.agreement.score`` counts it)."""
    import numpy as np

    from .probe import answer_scores

    by_framing = list(answer_scores(task, answers).values())
    return [float(np.mean(row)) for row in zip(*by_framing)]
