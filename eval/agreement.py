"""A task's own metric of answers already given (a model's, or a rule's) against any targets.

The framings (framings.py) score a model's replies against the gold answers; Cookbook-Mix also
scores a rule's answers, and a model's answers against a rule's (template alignment). Here
answers are model texts or choice indices (a multiple-choice answer may hold one choice per
framing, ``framings.model_answers``); targets are one answer per row: gold (:func:`gold`) or a
rule's.
"""

from __future__ import annotations

import functools
from typing import Optional, Sequence

import numpy as np

from cookbook_datasets.tasks import Task

from .metrics import load_metric


def normalize_answer(text) -> str:
    """Lower case, whitespace collapsed: how a bare label is compared."""
    return " ".join(str(text).lower().split())


def _mc_hit(answer, target) -> float:
    """A multiple-choice answer against a target choice: one choice, or the mean over its framings."""
    if isinstance(answer, (list, tuple)):
        return float(np.mean([a == target for a in answer]))
    return float(answer == target)


@functools.lru_cache(maxsize=None)
def _metric(name: str):
    return load_metric(name)


def agreement(task: Task, answers: Sequence, targets: Sequence, keep: Optional[Sequence[int]] = None) -> float:
    """The task's own metric of ``answers`` against ``targets`` (one per instance of ``task``), over
    the rows ``keep`` (default all): label exact match (classification), ROUGE-L (generation),
    accuracy (multiple choice; an answer per framing counts as the mean over its framings)."""
    keep = list(range(len(answers))) if keep is None else list(keep)
    if not keep:
        return float("nan")
    a, t = [answers[i] for i in keep], [targets[i] for i in keep]
    if task.kind == "multiple_choice":
        return float(np.mean([_mc_hit(x, y) for x, y in zip(a, t)]))
    refs = [y if isinstance(y, list) else [y] for y in t]
    if task.kind == "classification":
        labels = sorted({*task.labels, *(r for ref in refs for r in ref)})
        norm = {normalize_answer(x) for x in labels}
        if all(normalize_answer(x) in norm for x in a):  # bare labels (a rule's answers): extraction is the identity
            return float(np.mean([normalize_answer(x) in {normalize_answer(r) for r in ref}
                                  for x, ref in zip(a, refs)]))
        return float(_metric("label_exact_match").compute(predictions=a, references=refs,
                                                          labels=labels)["exact_match"])
    return float(_metric("rouge_l").compute(predictions=a, references=refs)["rougeL"])


def gold(task: Task) -> list:
    """The gold targets ``agreement`` compares with, per instance: choice indices or acceptable answers."""
    if task.kind == "multiple_choice":
        return [inst.gold for inst in task.instances]
    return [list(inst.outputs) for inst in task.instances]


def score(task: Task, answers: Sequence) -> float:
    """``answers`` (one per instance) against the gold answers, with the task's own metric."""
    return agreement(task, answers, gold(task))


def chance(task: Task) -> float:
    """What answering without reading scores: the most frequent label, or 1 / #options."""
    if task.kind == "multiple_choice":
        return float(np.mean([1 / len(inst.choices) for inst in task.instances]))
    if task.kind == "classification":
        firsts = [inst.outputs[0] for inst in task.instances]
        return max(firsts.count(x) for x in set(firsts)) / len(firsts)
    return 0.0


__all__ = ["agreement", "chance", "gold", "normalize_answer", "score"]
