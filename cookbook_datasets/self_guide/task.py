"""What SELF-GUIDE knows about a task: its instruction, a few demonstrations and, for
classification, its label set. Never its instances: those are what the tuned model is scored on.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

MAX_LABELS = 10  # as the eval harness: a task whose outputs take at most this many values is classification
KINDS = ("auto", "classification", "generation")


class TaskSpecError(ValueError):
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


def load_task_spec(path: str | os.PathLike, num_demonstrations: int = 3, kind: str = "auto") -> TaskSpec:
    """A :class:`TaskSpec` from a task file: NIV2 JSON (``Definition``, ``Positive Examples``) or a
    JSON object ``{"instruction", "examples", "labels"?}``.

    From an NIV2 file the pipeline reads the definition, the first ``num_demonstrations`` positive
    examples and, for tasks with at most ``MAX_LABELS`` distinct outputs, that label set (the
    label space is part of a classification task's definition); never the instances' inputs.
    """
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"task file {p} does not exist")
    try:
        data = json.loads(p.read_text())
    except json.JSONDecodeError as e:
        raise TaskSpecError(f"{p}: not valid JSON ({e})") from None
    if not isinstance(data, dict):
        raise TaskSpecError(f"{p}: expected a JSON object (NIV2 task or {{instruction, examples, labels}})")
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", p.stem)
    if "Definition" in data:
        for key in ("Positive Examples",):
            if key not in data:
                raise TaskSpecError(f"{p}: the NIV2 task has no {key!r} field")
        definition = data["Definition"][0] if isinstance(data["Definition"], list) else str(data["Definition"])
        examples = data["Positive Examples"][:num_demonstrations]
        outputs = {str(o).strip() for inst in data.get("Instances", [])
                   for o in (inst.get("output") if isinstance(inst.get("output"), list) else [inst.get("output")])}
        outputs.discard("None")
        labels = sorted(outputs) if 2 <= len(outputs) <= MAX_LABELS and kind != "generation" else None
        try:
            return TaskSpec(instruction=definition, examples=examples, labels=labels, kind=kind, name=name)
        except TaskSpecError as e:
            raise TaskSpecError(f"{p}: {e}") from None
    if "instruction" not in data or "examples" not in data:
        missing = "instruction" if "instruction" not in data else "examples"
        raise TaskSpecError(f"{p}: missing the field {missing!r} (a task file holds 'instruction', 'examples' and "
                            "optionally 'labels', or is an NIV2 task with 'Definition' and 'Positive Examples')")
    try:
        return TaskSpec(instruction=data["instruction"], examples=list(data["examples"])[:num_demonstrations],
                        labels=data.get("labels"), kind=data.get("kind", kind), name=data.get("name", name))
    except TaskSpecError as e:
        raise TaskSpecError(f"{p}: {e}") from None
