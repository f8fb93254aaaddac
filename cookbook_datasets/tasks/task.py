"""The user's target task: one concept every method consumes.

A :class:`Task` holds what a method may know about a task (its instruction, a few
demonstrations, the label set of a classification task) and its instances, each with a stable
id. The kind ("classification or generation") is decided here and nowhere else:
:func:`infer_kind`. Templates read a task's instances as named text fields
(:attr:`Task.field_examples`, through the layout :meth:`Task.with_layout` detects; fields.py).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import TYPE_CHECKING, Mapping, Optional, Sequence

from .fields import FieldLayout, choice_fields, detect_layout

if TYPE_CHECKING:
    from .split import TaskSplit

KINDS = ("classification", "generation", "multiple_choice")
MAX_LABELS = 10  # a task whose outputs take between 2 and this many distinct values is classification


class TaskFormatError(ValueError):
    """A task file or task definition is malformed (the message names the file, record and field)."""


def content_id(input: str, outputs: Sequence[str] = (), choices: Optional[Sequence[str]] = None,
               gold: Optional[int] = None) -> str:
    """An id derived from an instance's content (for files without ids): stable under reordering."""
    blob = json.dumps([input, list(outputs), None if choices is None else list(choices), gold], ensure_ascii=False)
    return "h" + hashlib.blake2b(blob.encode(), digest_size=8).hexdigest()


@dataclass(frozen=True)
class Instance:
    """One instance: an input (the question of a multiple-choice instance), its acceptable outputs
    or its choices and gold choice index; unlabelled when it has neither outputs nor gold."""

    id: str = field(metadata={"help": "Stable id: the file's own, else a hash of the content (content_id)."})
    input: str = field(metadata={"help": "The input text, or the question of a multiple-choice instance."})
    outputs: tuple = field(default=(), metadata={"help": "Acceptable outputs (empty: unlabelled)."})
    choices: Optional[tuple] = field(default=None, metadata={"help": "The options of a multiple-choice instance."})
    gold: Optional[int] = field(default=None, metadata={"help": "Index of the gold choice (multiple choice)."})

    @classmethod
    def make(cls, input: str, outputs: Sequence[str] = (), choices: Optional[Sequence[str]] = None,
             gold: Optional[int] = None, id: Optional[str] = None) -> "Instance":
        outputs = tuple(str(o) for o in outputs)
        choices = None if choices is None else tuple(str(c) for c in choices)
        if id is None or str(id) == "":
            id = content_id(str(input), outputs, choices, gold)
        return cls(id=str(id), input=str(input), outputs=outputs, choices=choices, gold=gold)

    @property
    def question(self) -> str:
        return self.input

    @property
    def labelled(self) -> bool:
        return bool(self.outputs) or self.gold is not None

    @property
    def answer(self) -> Optional[str]:
        """The first acceptable output, or the gold choice's text."""
        if self.gold is not None and self.choices is not None:
            return self.choices[self.gold]
        return self.outputs[0] if self.outputs else None

    def to_dict(self) -> dict:
        d = {"id": self.id, "input": self.input, "outputs": list(self.outputs)}
        if self.choices is not None:
            d.update(choices=list(self.choices), gold=self.gold)
        return d


def with_unique_ids(instances: Sequence[Instance]) -> list[Instance]:
    """Instances whose content hash repeats (identical rows in a file without ids) get ``#2``,
    ``#3``, ... in order; a file's own repeated ids are left for Task to reject."""
    seen: dict = {}
    out = []
    for inst in instances:
        n = seen.get(inst.id, 0) + 1
        seen[inst.id] = n
        hashed = inst.id == content_id(inst.input, inst.outputs, inst.choices, inst.gold)
        out.append(replace(inst, id=f"{inst.id}#{n}") if n > 1 and hashed else inst)
    return out


def label_set(instances: Sequence[Instance]) -> list[str]:
    """The distinct (stripped) outputs of ``instances``, sorted."""
    return sorted({o.strip() for inst in instances for o in inst.outputs if o.strip()})


def infer_kind(instances: Sequence[Instance], labels: Optional[Sequence[str]] = None) -> str:
    """multiple_choice when instances have choices; classification when a label set is given or
    the outputs take between 2 and ``MAX_LABELS`` distinct values; generation otherwise."""
    if instances and all(inst.choices is not None for inst in instances):
        return "multiple_choice"
    if labels:
        return "classification"
    return "classification" if 2 <= len(label_set(instances)) <= MAX_LABELS else "generation"


def ids_hash(ids: Sequence[str]) -> str:
    """A short fingerprint of a list of instance ids (order-independent)."""
    return hashlib.blake2b("\n".join(sorted(ids)).encode(), digest_size=8).hexdigest()


@dataclass
class Task:
    """A target task: instruction, demonstrations, label set and instances, with where it came from."""

    name: str = field(metadata={"help": "Names the task in results and rows' source."})
    instances: list = field(default_factory=list, metadata={"help": "Instances (Instance), labelled or not."})
    instruction: str = field(default="", metadata={"help": "What the task asks, as the model is told."})
    demonstrations: list = field(default_factory=list, metadata={
        "help": "Worked examples (Instance, with outputs) a prompt may show; never scored."})
    labels: Optional[list] = field(default=None, metadata={
        "help": "The label set of a classification task (default: the distinct outputs)."})
    kind: Optional[str] = field(default=None, metadata={
        "help": f"One of {list(KINDS)}; None: decided by infer_kind."})
    source: str = field(default="", metadata={"help": "Where the task came from (a file, a dataset, a template)."})
    template: Optional[str] = field(default=None, metadata={
        "help": "The Cookbook template whose rule wrote the outputs (scored by agreement with the rule)."})
    split_info: Optional[dict] = field(default=None, metadata={
        "help": "Set on a part of Task.split: the part's name, the seed, every part's size, the parent's size."})
    layout: Optional[FieldLayout] = field(default=None, repr=False, metadata={
        "help": "How the inputs split into named fields and which field plays which role (fields.py); set by "
                "Task.with_layout, kept by select and split."})

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name:
            raise TaskFormatError(f"a task needs a non-empty name (got {self.name!r})")
        where = f"task {self.name!r}" + (f" ({self.source})" if self.source else "")
        self.instances = list(self.instances)
        self.demonstrations = list(self.demonstrations)
        for what, items in (("instances", self.instances), ("demonstrations", self.demonstrations)):
            for i, inst in enumerate(items):
                if not isinstance(inst, Instance):
                    raise TaskFormatError(f"{where}: {what}[{i}] must be an Instance (got {type(inst).__name__})")
                if inst.choices is not None:
                    if len(inst.choices) < 2:
                        raise TaskFormatError(f"{where}: {what}[{i}] (id {inst.id!r}): 'choices' needs at least 2 options")
                    if inst.gold is not None and not 0 <= inst.gold < len(inst.choices):
                        raise TaskFormatError(f"{where}: {what}[{i}] (id {inst.id!r}): the gold index {inst.gold} "
                                              f"is not an index into its {len(inst.choices)} choices")
        seen = {}
        for i, inst in enumerate(self.instances):
            if inst.id in seen:
                raise TaskFormatError(f"{where}: instances[{i}] and instances[{seen[inst.id]}] share the id "
                                      f"{inst.id!r} (instance ids must be unique)")
            seen[inst.id] = i
        if not isinstance(self.instruction, str):
            raise TaskFormatError(f"{where}: the instruction must be a string (got {type(self.instruction).__name__})")
        if self.labels is not None:
            if isinstance(self.labels, str):
                raise TaskFormatError(f"{where}: labels must be a list of strings, not one string")
            self.labels = list(dict.fromkeys(str(x).strip() for x in self.labels if str(x).strip())) or None
        if self.kind is None:
            self.kind = infer_kind(self.instances or self.demonstrations, self.labels)
        if self.kind not in KINDS:
            raise TaskFormatError(f"{where}: kind must be one of {list(KINDS)} (got {self.kind!r})")
        if self.kind == "multiple_choice":
            bad = next((i for i, inst in enumerate(self.instances) if inst.choices is None), None)
            if bad is not None:
                raise TaskFormatError(f"{where}: a multiple-choice task needs choices on every instance "
                                      f"(instances[{bad}] has none)")
        if self.kind == "classification":
            if self.labels is None:
                self.labels = label_set(self.instances or self.demonstrations) or None
            if not self.labels or len(self.labels) < 2:
                raise TaskFormatError(f"{where}: a classification task needs a label set of at least 2 labels "
                                      f"(got {self.labels!r})")
        elif self.kind == "generation":
            self.labels = None

    # -- views -----------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.instances)

    @property
    def ids(self) -> list[str]:
        return [inst.id for inst in self.instances]

    def ids_hash(self) -> str:
        return ids_hash(self.ids)

    @property
    def labelled(self) -> list[Instance]:
        return [inst for inst in self.instances if inst.labelled]

    def select(self, ids: Sequence[str], split_info: Optional[dict] = None) -> "Task":
        """The task restricted to the instances ``ids`` (kept in the task's order)."""
        known = set(self.ids)
        missing = [i for i in ids if i not in known]
        if missing:
            raise KeyError(f"task {self.name!r} has no instance with id {missing[0]!r}")
        keep = set(ids)
        return replace(self, instances=[inst for inst in self.instances if inst.id in keep], kind=self.kind,
                       labels=self.labels, split_info=split_info)

    def take(self, positions: Sequence[int]) -> "Task":
        """The task restricted to the instances at ``positions`` (indices into ``instances``; kept
        in the task's order), with its layout and split record."""
        ids = self.ids
        return self.select([ids[i] for i in positions], split_info=self.split_info)

    def sample(self, n: Optional[int], seed: int = 0) -> "Task":
        """A seeded subset of ``n`` instances (the part "scored" of ``split(seed=seed, scored=n)``,
        so it records its ids and seed); the task itself when it has no more (or ``n`` is None)."""
        if n is None or n >= len(self):
            return self
        return self.split(seed=seed, scored=n)["scored"]

    def split(self, seed: int = 0, **sizes) -> "TaskSplit":
        """A seeded, deterministic partition into named parts that never overlap, e.g.
        ``task.split(fit=30, test=0.5, seed=1)`` (counts, or fractions of all instances). See
        :func:`cookbook_datasets.tasks.split.split_task`."""
        from .split import split_task

        return split_task(self, seed=seed, **sizes)

    # -- named fields ------------------------------------------------------------------------------
    def with_layout(self, field_map: Optional[Mapping[str, str]] = None,
                    layout: Optional[FieldLayout] = None) -> "Task":
        """The task with its field layout: ``layout`` when given (e.g. the one detected on a task's
        fit rows, for its other rows), else detected from its demonstrations' and instances' inputs
        (never their answers) and its instruction; none for multiple choice (its fields are given).
        ``field_map`` (role -> field name) steers the detection; a name this task's inputs lack is
        noted, not refused: one mapping serves several tasks (``fields.check_field_map``)."""
        if layout is None and self.kind != "multiple_choice":
            texts = [d.input for d in self.demonstrations] + [i.input for i in self.instances]
            layout = detect_layout(texts, self.instruction, field_map, task=self.name, strict=False)
        return replace(self, layout=layout)

    @cached_property
    def field_examples(self) -> list[dict]:
        """The labelled instances as named text fields, the form templates read
        (``Template.from_task_example``), row for row with :attr:`labelled`: a multiple-choice
        instance's question and choices, any other input split by the task's layout (detected
        here when :meth:`with_layout` was not called)."""
        rows = self.labelled
        if not rows:
            raise TaskFormatError(f"{self.source or self.name}: the task has no labelled instances "
                                  "('Instances' / 'instances' is empty or unlabelled)")
        if self.kind == "multiple_choice":
            return [choice_fields(self.name, inst.question, inst.choices) for inst in rows]
        layout = self.layout if self.layout is not None else self.with_layout().layout
        return [layout.parse(inst.input) for inst in rows]

    def describe(self) -> dict:
        """What a result records about the task (no instance contents)."""
        d = {"name": self.name, "kind": self.kind, "source": self.source, "num_instances": len(self),
             "ids_hash": self.ids_hash()}
        if self.labels:
            d["labels"] = self.labels
        if self.template:
            d["template"] = self.template
        if self.split_info:
            d["split"] = self.split_info
        return d

