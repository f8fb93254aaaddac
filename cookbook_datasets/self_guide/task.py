"""What SELF-GUIDE knows about a task: its instruction, a few demonstrations and, for
classification, its label set. Never its instances: those are what the tuned model is scored on.

A :class:`TaskSpec` is SELF-GUIDE's view of a :class:`~cookbook_datasets.tasks.Task`
(``TaskSpec.from_task``); files are read by ``cookbook_datasets.tasks.load_task``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from cookbook_datasets.tasks import Task, TaskFormatError, load_task

KINDS = ("auto", "classification", "generation")


class TaskSpecError(TaskFormatError):
    pass


@dataclass
class TaskSpec:
    """A task as a user describes it: an instruction, demonstrations, and the label set if any."""

    instruction: str = field(metadata={"help": "What the task asks, as the model will be told."})
    examples: list = field(metadata={"help": "Demonstrations: [{'input': str, 'output': str}, ...] (at least 1)."})
    labels: Optional[list] = field(default=None, metadata={
        "help": "The label set of a classification task; None: a generation task (or labels from the examples "
                "when kind='classification')."})
    kind: str = field(default="auto", metadata={
        "help": "'classification', 'generation', or 'auto': classification when labels are given."})
    name: str = field(default="task", metadata={"help": "Names the rows' source and the output files."})

    def __post_init__(self):
        if not isinstance(self.instruction, str) or not self.instruction.strip():
            raise TaskSpecError(f"task {self.name!r}: the instruction must be a non-empty string")
        if not isinstance(self.examples, (list, tuple)) or not self.examples:
            raise TaskSpecError(f"task {self.name!r}: give at least one example as {{'input': ..., 'output': ...}}")
        examples = []
        for i, ex in enumerate(self.examples):
            if not isinstance(ex, dict) or "input" not in ex or "output" not in ex:
                raise TaskSpecError(f"task {self.name!r}: examples[{i}] must be a dict with 'input' and 'output' "
                                    f"(got {ex!r})")
            output = ex["output"][0] if isinstance(ex["output"], list) and ex["output"] else ex["output"]
            if not str(ex["input"]).strip() or not str(output).strip():
                raise TaskSpecError(f"task {self.name!r}: examples[{i}] has an empty input or output")
            examples.append({"input": str(ex["input"]), "output": str(output)})
        self.examples = examples
        if self.kind not in KINDS:
            raise TaskSpecError(f"task {self.name!r}: kind must be one of {list(KINDS)} (got {self.kind!r})")
        if self.labels is not None:
            labels = list(dict.fromkeys(str(label).strip() for label in self.labels if str(label).strip()))
            if len(labels) < 2:
                raise TaskSpecError(f"task {self.name!r}: a label set needs at least 2 labels (got {self.labels!r})")
            self.labels = labels
        if self.kind == "classification" and self.labels is None:
            self.labels = list(dict.fromkeys(ex["output"].strip() for ex in self.examples))
            if len(self.labels) < 2:
                raise TaskSpecError(f"task {self.name!r}: a classification task needs its labels "
                                    "(the examples show only one)")
        if self.kind == "generation":
            self.labels = None
        self.kind = "classification" if self.labels else "generation"

    @property
    def is_classification(self) -> bool:
        return self.kind == "classification"

    def to_dict(self) -> dict:
        return {"name": self.name, "instruction": self.instruction, "examples": self.examples,
                "labels": self.labels, "kind": self.kind}

    @classmethod
    def from_task(cls, task: Task, num_demonstrations: int = 3, kind: str = "auto") -> "TaskSpec":
        """The instruction, the first ``num_demonstrations`` demonstrations and (classification) the
        label set of ``task``; never its instances."""
        if task.kind == "multiple_choice":
            raise TaskSpecError(f"task {task.name!r}: SELF-GUIDE writes classification or generation data; "
                                "a multiple-choice task has no input/output demonstrations")
        examples = [{"input": d.input, "output": d.answer or ""} for d in task.demonstrations[:num_demonstrations]]
        labels = task.labels if task.kind == "classification" and kind != "generation" else None
        where = task.source or task.name
        try:
            return cls(instruction=task.instruction, examples=examples, labels=labels, kind=kind, name=task.name)
        except TaskSpecError as e:
            raise TaskSpecError(f"{where}: {e}") from None


def load_task_spec(path: str | os.PathLike, num_demonstrations: int = 3, kind: str = "auto") -> TaskSpec:
    """A :class:`TaskSpec` from a task file (anything ``cookbook_datasets.tasks.load_task`` reads:
    NIV2 JSON, the project's task JSON ``{"instruction", "examples", "labels"?}``, ...).

    SELF-GUIDE reads the instruction, the first ``num_demonstrations`` demonstrations and, for a
    classification task, its label set (the label space is part of a classification task's
    definition); never the instances' inputs.
    """
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"task file {p} does not exist")
    try:
        task = load_task(p)
    except TaskSpecError:
        raise
    except TaskFormatError as e:
        raise TaskSpecError(str(e)) from None
    return TaskSpec.from_task(task, num_demonstrations=num_demonstrations, kind=kind)
