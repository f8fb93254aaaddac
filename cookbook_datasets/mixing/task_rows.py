"""A target task's fit rows and eval rows, and scoring on them with the task's own metric.

A task's labelled instances are split once by ``Task.split`` (seeded, by instance id): the
``fit`` part chooses mixture weights and label words, the ``eval`` part is scored and chose
nothing. Both the structured examples (what rules read) and the Task (what the model answers)
are kept for the same rows, so a rule's answers and a model's are scored alike.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence, Union

import numpy as np

from cookbook_datasets.tasks import Task, load_task

from .task_examples import TaskExamples, task_examples


@dataclass
class TaskRows:
    """Some rows of one task: structured examples plus the Task they came from, row for row."""

    name: str
    kind: str  # classification | generation | multiple_choice
    rows: list  # the rows' instance ids
    examples: TaskExamples
    task: Task  # the rows as a Task (its instances are exactly these rows)
    num_shots: int = 2  # demonstrations in the model's prompts

    def __len__(self) -> int:
        return len(self.rows)


def task_rows(task: Task, num_shots: int = 2, layout=None, field_map: Optional[dict] = None) -> TaskRows:
    """All of ``task``'s labelled instances as rows; ``layout`` (fields.py) splits their inputs
    (default: detected on these rows), ``field_map`` (role -> field name) steers the detection."""
    part = task.select([i.id for i in task.labelled], split_info=task.split_info)
    return TaskRows(task.name, task.kind, part.ids, task_examples(part, field_map=field_map, layout=layout), part,
                    num_shots)


def subset_rows(rows: TaskRows, index: Sequence[int]) -> TaskRows:
    """The rows at ``index`` of ``rows`` (same layout, same order as given)."""
    ids = [rows.rows[i] for i in index]
    part = rows.task.select(ids, split_info=rows.task.split_info)
    return TaskRows(rows.name, rows.kind, part.ids, task_examples(part, layout=rows.examples.layout), part,
                    rows.num_shots)


def load_task_rows(path: Union[str, Path, Task], fit_size: int, eval_size: int, seed: int = 0,
                   num_shots: int = 2, field_map: Optional[dict] = None) -> tuple[TaskRows, TaskRows]:
    """(fit rows, eval rows) of a task (a file or a Task), disjoint; fewer eval rows when it is short.
    The field layout is detected on the fit rows (and demonstrations) and reused for the eval rows,
    so rows that are scored choose nothing, not even how inputs split."""
    if fit_size < 1 or eval_size < 1:
        raise ValueError(f"fit_size and eval_size must be >= 1 (got {fit_size}, {eval_size})")
    task = load_task(path)
    labelled = task.select([i.id for i in task.labelled])
    n = len(labelled)
    if n < fit_size + 1:
        raise ValueError(f"{path}: {n} rows, fewer than fit_size + 1 = {fit_size + 1} (fit rows and scored rows "
                         "must not overlap)")
    parts = labelled.split(seed=seed, fit=fit_size, eval=min(eval_size, n - fit_size))
    fit = task_rows(parts["fit"], num_shots, field_map=field_map)
    return fit, task_rows(parts["eval"], num_shots, layout=fit.examples.layout)


# -- scoring -----------------------------------------------------------------------------------------
MC_FRAMINGS = ("loglik", "generate")  # a multiple-choice answer is one choice per framing, in this order


def model_answers(model, tokenizer, rows: TaskRows, batch_size: int = 16) -> list:
    """The model's answer per row: generated text, or for multiple choice ``[loglik choice, generate
    choice]``: the option of highest log-likelihood, and the option its greedy reply to the listed
    options names (None when it names none). Scoring averages the two framings, so the fit rows
    judge a mixture the way its arms are scored: in both framings (a model that learned to pick
    among listed options shows it only in the generate framing)."""
    from cookbook_datasets.eval.lm import generate, loglikelihoods
    from cookbook_datasets.eval.option_answers import parse_option
    from cookbook_datasets.eval.tasks import chat_prompts, loglik_requests, max_new_tokens, options_prompt

    task = rows.task
    if rows.kind == "multiple_choice":
        requests = loglik_requests(task)
        ll = loglikelihoods(model, tokenizer, [pair for req in requests for pair in req], batch_size=batch_size,
                            desc=rows.name)
        by_loglik, pos = [], 0
        for req in requests:
            by_loglik.append(int(np.argmax(ll[pos:pos + len(req)])))
            pos += len(req)
        replies = generate(model, tokenizer, [options_prompt(task, inst) for inst in task.instances],
                           max_new_tokens=max_new_tokens(task), batch_size=batch_size, desc=f"{rows.name} (generate)")
        picked = [parse_option(r, inst.choices) for r, inst in zip(replies, task.instances)]
        return [[a, b] for a, b in zip(by_loglik, picked)]
    return generate(model, tokenizer, chat_prompts(task, rows.num_shots), max_new_tokens=max_new_tokens(task),
                    batch_size=batch_size, desc=rows.name)


def _mc_hit(answer, target) -> float:
    """A multiple-choice answer against a target choice: one choice, or the mean over its framings."""
    if isinstance(answer, (list, tuple)):
        return float(np.mean([a == target for a in answer]))
    return float(answer == target)


def agreement(rows: TaskRows, answers: Sequence, targets: Sequence, keep: Optional[Sequence[int]] = None) -> float:
    """The task's own metric of ``answers`` (model texts or choice indices) against ``targets``
    (one answer per row: gold or a rule's), over the rows ``keep`` (default all):
    label exact match (classification), ROUGE-L (generation), accuracy (multiple choice; an answer
    per framing counts as the mean over its framings)."""
    keep = list(range(len(answers))) if keep is None else list(keep)
    if not keep:
        return float("nan")
    a, t = [answers[i] for i in keep], [targets[i] for i in keep]
    if rows.kind == "multiple_choice":
        return float(np.mean([_mc_hit(x, y) for x, y in zip(a, t)]))
    refs = [y if isinstance(y, list) else [y] for y in t]
    if rows.kind == "classification":
        labels = sorted({*rows.task.labels, *(r for ref in refs for r in ref)})
        norm = {_norm(x) for x in labels}
        if all(_norm(x) in norm for x in a):  # bare labels (a rule's answers): extraction is the identity
            return float(np.mean([_norm(x) in {_norm(r) for r in ref} for x, ref in zip(a, refs)]))
        return float(_metric("label_exact_match").compute(predictions=a, references=refs,
                                                          labels=labels)["exact_match"])
    return float(_metric("rouge_l").compute(predictions=a, references=refs)["rougeL"])


def _norm(text: str) -> str:
    return " ".join(str(text).lower().split())


@functools.lru_cache(maxsize=None)
def _metric(name: str):
    from cookbook_datasets.eval.metrics import load_metric

    return load_metric(name)


def gold(rows: TaskRows) -> list:
    """The gold targets ``agreement`` compares with: choice indices or acceptable answers."""
    if rows.kind == "multiple_choice":
        return [inst.gold for inst in rows.task.instances]
    return [list(inst.outputs) for inst in rows.task.instances]


def score(rows: TaskRows, answers: Sequence) -> float:
    return agreement(rows, answers, gold(rows))


def chance(rows: TaskRows) -> float:
    """What answering without reading scores: the most frequent label, or 1 / #options."""
    if rows.kind == "multiple_choice":
        return float(np.mean([1 / len(inst.choices) for inst in rows.task.instances]))
    if rows.kind == "classification":
        firsts = [inst.outputs[0] for inst in rows.task.instances]
        return max(firsts.count(x) for x in set(firsts)) / len(firsts)
    return 0.0


__all__ = ["MC_FRAMINGS", "TaskRows", "agreement", "chance", "gold", "load_task_rows", "model_answers", "score",
           "subset_rows", "task_rows"]
