"""A target task's fit rows and eval rows, and scoring on them with the task's own metric.

The rows of a task file are split once by a seeded permutation: the first ``fit_size`` choose
mixture weights and label words, the next ``eval_size`` are scored and chose nothing. Both the
structured examples (what rules read) and the evaluation harness's requests (what the model
answers) are kept for the same rows, so a rule's answers and a model's are scored alike.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from cookbook_datasets.eval.tasks import GenerationTask, MultipleChoiceTask, load_tasks

from .task_examples import TaskExamples, load_task_examples


@dataclass
class TaskRows:
    """Some rows of one task: structured examples plus the harness's requests, row for row."""

    name: str
    kind: str  # classification | generation | multiple_choice
    rows: list  # row indices in the task file
    examples: TaskExamples
    harness: object  # GenerationTask or MultipleChoiceTask

    def __len__(self) -> int:
        return len(self.rows)


def _subset_examples(ex: TaskExamples, idx: Sequence[int]) -> TaskExamples:
    pick = lambda xs: None if xs is None else [xs[i] for i in idx]  # noqa: E731
    return dataclasses.replace(ex, examples=pick(ex.examples), answers=pick(ex.answers),
                               references=pick(ex.references), answer_index=pick(ex.answer_index))


def _subset_harness(task, idx: Sequence[int]):
    if isinstance(task, MultipleChoiceTask):
        return dataclasses.replace(task, requests=[task.requests[i] for i in idx], labels=[task.labels[i] for i in idx],
                                   choice_lengths=[task.choice_lengths[i] for i in idx])
    return dataclasses.replace(task, prompts=[task.prompts[i] for i in idx],
                               references=[task.references[i] for i in idx])


def load_task_rows(path: str | Path, fit_size: int, eval_size: int, seed: int = 0,
                   num_shots: int = 2) -> tuple[TaskRows, TaskRows]:
    """(fit rows, eval rows) of a task file, disjoint; fewer eval rows when the file is short."""
    if fit_size < 1 or eval_size < 1:
        raise ValueError(f"fit_size and eval_size must be >= 1 (got {fit_size}, {eval_size})")
    examples = load_task_examples(path)
    (harness,) = load_tasks([str(path)], limit=None, num_shots=num_shots, seed=seed)
    n = len(examples)
    if n < fit_size + 1:
        raise ValueError(f"{path}: {n} rows, fewer than fit_size + 1 = {fit_size + 1} (fit rows and scored rows "
                         "must not overlap)")
    order = np.random.default_rng(seed).permutation(n)
    fit = sorted(int(i) for i in order[:fit_size])
    held = sorted(int(i) for i in order[fit_size:fit_size + eval_size])
    kind = harness.kind
    return tuple(TaskRows(examples.name, kind, idx, _subset_examples(examples, idx), _subset_harness(harness, idx))
                 for idx in (fit, held))


# -- scoring -----------------------------------------------------------------------------------------
def model_answers(model, tokenizer, rows: TaskRows, batch_size: int = 16) -> list:
    """The model's answer per row: generated text, or the chosen option's index (multiple choice)."""
    from cookbook_datasets.eval.lm import generate, loglikelihoods

    task = rows.harness
    if isinstance(task, MultipleChoiceTask):
        flat = [pair for req in task.requests for pair in req]
        ll = loglikelihoods(model, tokenizer, flat, batch_size=batch_size, desc=rows.name)
        answers, pos = [], 0
        for req in task.requests:
            answers.append(int(np.argmax(ll[pos:pos + len(req)])))
            pos += len(req)
        return answers
    return generate(model, tokenizer, task.prompts, max_new_tokens=task.max_new_tokens, batch_size=batch_size,
                    desc=rows.name)


def agreement(rows: TaskRows, answers: Sequence, targets: Sequence, keep: Optional[Sequence[int]] = None) -> float:
    """The task's own metric of ``answers`` (model texts or choice indices) against ``targets``
    (one answer per row: gold or a rule's), over the rows ``keep`` (default all):
    label exact match (classification), ROUGE-L (generation), accuracy (multiple choice)."""
    keep = list(range(len(answers))) if keep is None else list(keep)
    if not keep:
        return float("nan")
    a, t = [answers[i] for i in keep], [targets[i] for i in keep]
    if rows.kind == "multiple_choice":
        return float(np.mean([x == y for x, y in zip(a, t)]))
    refs = [y if isinstance(y, list) else [y] for y in t]
    if rows.kind == "classification":
        labels = sorted({*rows.harness.labels, *(r for ref in refs for r in ref)})
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
    from cookbook_datasets.eval.harness import load_metric

    return load_metric(name)


def gold(rows: TaskRows) -> list:
    """The gold targets ``agreement`` compares with: choice indices or acceptable answers."""
    if rows.kind == "multiple_choice":
        return list(rows.harness.labels)
    return list(rows.harness.references)


def score(rows: TaskRows, answers: Sequence) -> float:
    return agreement(rows, answers, gold(rows))


def chance(rows: TaskRows) -> float:
    """What answering without reading scores: the most frequent label, or 1 / #options."""
    if rows.kind == "multiple_choice":
        return float(np.mean([1 / len(r) for r in rows.harness.requests]))
    if rows.kind == "classification":
        firsts = [r[0] for r in rows.harness.references]
        return max(firsts.count(x) for x in set(firsts)) / len(firsts)
    return 0.0


__all__ = ["GenerationTask", "MultipleChoiceTask", "TaskRows", "agreement", "chance", "gold", "load_task_rows",
           "model_answers", "score"]
