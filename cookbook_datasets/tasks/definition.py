"""A task's definition: what a method that must not see the instances reads of a task (SELF-GUIDE
writes its data from this alone).

A definition is a :class:`Task` with no instances: a non-empty instruction, at least one
demonstration with a non-empty input and output, and for classification a label set of at least
two labels. :func:`task_definition` takes it from a loaded task (its first few demonstrations;
the label set is part of a classification task's definition); :func:`define_task` makes one from
an instruction and ``{"input", "output"}`` examples. ``kind``: "classification", "generation", or
"auto" (classification when there is a label set).
"""

from __future__ import annotations

from typing import Optional, Sequence

from .task import Instance, Task, TaskFormatError

DEFINITION_KINDS = ("auto", "classification", "generation")


def define_task(instruction: str, examples: Sequence[dict], labels: Optional[Sequence[str]] = None,
                kind: str = "auto", name: str = "task", source: str = "") -> Task:
    """A definition from an instruction and examples ``[{"input": str, "output": str}, ...]`` (an
    output may be a list: its first item counts). Without ``labels``, ``kind="classification"``
    takes the examples' distinct outputs in order of appearance."""
    def fail(message: str):
        raise TaskFormatError(f"task {name!r}: {message}")

    if not isinstance(instruction, str) or not instruction.strip():
        fail("the instruction must be a non-empty string")
    if not isinstance(examples, (list, tuple)) or not examples:
        fail("give at least one example as {'input': ..., 'output': ...}")
    demonstrations = []
    for i, ex in enumerate(examples):
        if not isinstance(ex, dict) or "input" not in ex or "output" not in ex:
            fail(f"examples[{i}] must be a dict with 'input' and 'output' (got {ex!r})")
        output = ex["output"][0] if isinstance(ex["output"], list) and ex["output"] else ex["output"]
        if not str(ex["input"]).strip() or not str(output).strip():
            fail(f"examples[{i}] has an empty input or output")
        demonstrations.append(Instance.make(str(ex["input"]), [str(output)]))
    if kind not in DEFINITION_KINDS:
        fail(f"kind must be one of {list(DEFINITION_KINDS)} (got {kind!r})")
    given = labels
    if labels is not None:
        labels = list(dict.fromkeys(str(label).strip() for label in labels if str(label).strip()))
        if len(labels) < 2:
            fail(f"a label set needs at least 2 labels (got {given!r})")
    if kind == "classification" and labels is None:
        labels = list(dict.fromkeys(d.answer.strip() for d in demonstrations))
        if len(labels) < 2:
            fail("a classification task needs its labels (the examples show only one)")
    if kind == "generation":
        labels = None
    return Task(name=name, instruction=instruction, demonstrations=demonstrations, labels=labels,
                kind="classification" if labels else "generation", source=source)


def task_definition(task: Task, num_demonstrations: Optional[int] = 3, kind: str = "auto") -> Task:
    """``task``'s instruction, its first ``num_demonstrations`` demonstrations (None: all) and, for
    classification, its label set; never its instances. Errors name the task's file."""
    if task.kind == "multiple_choice":
        raise TaskFormatError(f"task {task.name!r}: SELF-GUIDE writes classification or generation data; "
                              "a multiple-choice task has no input/output demonstrations")
    shown = task.demonstrations if num_demonstrations is None else task.demonstrations[:num_demonstrations]
    examples = [{"input": d.input, "output": d.answer or ""} for d in shown]
    labels = task.labels if task.kind == "classification" and kind != "generation" else None
    try:
        return define_task(task.instruction, examples, labels=labels, kind=kind, name=task.name, source=task.source)
    except TaskFormatError as e:
        raise TaskFormatError(f"{task.source or task.name}: {e}") from None
