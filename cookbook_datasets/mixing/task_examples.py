"""Real task examples as named text fields, the form templates read (``Template.from_task_example``).

A multiple-choice JSONL line becomes ``{"question", "choices"}`` (plus ``"context"`` for
continuation tasks such as HellaSwag and PIQA, and ``"passage"`` for BoolQ-like questions that
hold "passage\\nQuestion: q"). An NIV2 instance's ``input`` is split into fields by the
task's :class:`~cookbook_datasets.mixing.fields.FieldLayout` (detected once per task from its
inputs and definition, or given by the user's ``--field ROLE=NAME``), and the fields fill the roles
templates read (premise/hypothesis = sentence1/sentence2, passage/question, question/choices).
Files are read and checked by ``cookbook_datasets.tasks``; this module only structures a
:class:`~cookbook_datasets.tasks.Task`'s instances.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Union

from cookbook_datasets.tasks import Task, TaskFormatError, load_task

from .fields import FieldLayout, detect_layout, split_numbered  # noqa: F401 (split_numbered: re-exported)

CONTINUATION_TASKS = ("hellaswag", "piqa")  # the question is a context that the choices continue


@dataclass
class TaskExamples:
    """A real task's examples as named text fields, with their gold answers."""

    name: str
    kind: str  # "classification" | "multiple_choice" | "generation"
    examples: list  # dicts of named fields (str, or a list of str for "choices")
    answers: list  # the gold answer text as the task scores it (the first acceptable one)
    references: list  # every acceptable answer, per example
    answer_index: Optional[list] = None  # multiple choice: the gold choice's index, per example
    label_set: Optional[list] = None  # classification: the distinct answers
    demonstrations: list = field(default_factory=list)  # (fields, answer) of the task's own examples
    definition: str = ""
    source: str = ""
    layout: Optional[FieldLayout] = None  # how the inputs split into fields (fields.py); None: multiple choice

    def __len__(self) -> int:
        return len(self.examples)


def load_task_examples(path: Union[str, Path, Task], limit: Optional[int] = None, seed: int = 0,
                       field_map: Optional[dict] = None) -> TaskExamples:
    """A task file as structured examples (any file ``load_task`` reads). ``limit`` takes the same
    seeded subset as the evaluation harness; ``field_map``: role -> field name (fields.py)."""
    from cookbook_datasets.eval.tasks import limit_task

    if not isinstance(path, Task) and not Path(path).is_file():
        raise TaskFormatError(f"{path}: no such task file")
    task = limit_task(load_task(path if isinstance(path, Task) else Path(path)), limit, seed)
    examples = task_examples(task, field_map=field_map)
    check_field_map(field_map, {task.name: examples.layout})
    return examples


def task_layout(task: Task, field_map: Optional[dict] = None) -> Optional[FieldLayout]:
    """The field layout of a task's inputs, detected from its demonstrations' and instances' inputs
    (never their answers) and its definition; None for multiple-choice tasks (their fields are given)."""
    if task.kind == "multiple_choice":
        return None
    texts = [d.input for d in task.demonstrations] + [i.input for i in task.instances]
    # not strict: one --field mapping serves several tasks; a name no task has is refused by
    # check_field_map once all of them are read
    return detect_layout(texts, task.instruction, field_map, task=task.name, strict=False)


def check_field_map(field_map: Optional[dict], layouts: dict) -> None:
    """Refuse a ``--field ROLE=NAME`` that no task's inputs have, naming each task's fields."""
    from .fields import FieldMappingError, parse_field_map

    for role, name in parse_field_map(field_map).items():
        if not any(l is not None and l.how.get(role) == "user" for l in layouts.values()):
            found = "; ".join(f"{t}: {', '.join(f.name for f in l.fields) or 'none'}"
                              for t, l in layouts.items() if l is not None) or "no task with named fields"
            raise FieldMappingError(f"--field {role}={name}: no task's inputs have a field {name!r}; fields "
                                    f"found: {found}")


def task_examples(task: Task, field_map: Optional[dict] = None, layout: Optional[FieldLayout] = None) -> TaskExamples:
    """A Task's labelled instances as named fields with their gold answers (row for row). The
    layout is ``layout`` when given (e.g. the one detected on a task's fit rows, for its other
    rows), else detected on this task's inputs."""
    rows = task.labelled
    if not rows:
        raise TaskFormatError(f"{task.source or task.name}: the task has no labelled instances "
                              "('Instances' / 'instances' is empty or unlabelled)")
    if task.kind == "multiple_choice":
        demonstrations = [(structure_choice_record(task.name, {"question": d.question,
                                                               "choices": list(d.choices or ())}),
                           (d.answer or "").strip()) for d in task.demonstrations if d.choices]
        examples = [structure_choice_record(task.name, {"question": i.question, "choices": list(i.choices)})
                    for i in rows]
        answers = [i.answer for i in rows]
        return TaskExamples(name=task.name, kind=task.kind, examples=examples, answers=answers,
                            references=[[a] for a in answers], answer_index=[i.gold for i in rows],
                            demonstrations=demonstrations, definition=task.instruction, source=task.source)
    layout = layout if layout is not None else task_layout(task, field_map)
    demonstrations = [(layout.parse(d.input), d.answer.strip()) for d in task.demonstrations]
    examples = [layout.parse(i.input) for i in rows]
    references = [[o.strip() for o in i.outputs] for i in rows]
    answers = [refs[0] for refs in references]
    return TaskExamples(name=task.name, kind=task.kind, examples=examples, answers=answers, references=references,
                        answer_index=_numbered_answers(examples, answers), label_set=task.labels,
                        demonstrations=demonstrations, definition=task.instruction, source=task.source,
                        layout=layout)


# -- NIV2 ---------------------------------------------------------------------------------------
def parse_fields(text: str, definition: str = "") -> dict:
    """The fields of one input on its own (fields.py's detection over this one text): one per
    ``Name:`` segment under its normal name, the roles they fill, and "text" for the text before
    the first field."""
    return detect_layout([text], definition).parse(text)


def _numbered_answers(examples: list, answers: list) -> Optional[list]:
    """Gold choice indices when every example has choices and every answer is a choice number."""
    index = []
    for example, answer in zip(examples, answers):
        choices = example.get("choices")
        if not isinstance(choices, list) or not answer.isdigit() or not 1 <= int(answer) <= len(choices):
            return None
        index.append(int(answer) - 1)
    return index


# -- multiple choice ------------------------------------------------------------------------------
def structure_choice_record(task: str, record: dict) -> dict:
    """A multiple-choice record's fields: question and choices, "context" for continuation
    tasks, "passage" and the bare question for BoolQ-like records."""
    question, choices = str(record["question"]), [str(c) for c in record["choices"]]
    example = {"question": question, "choices": choices}
    passage, sep, asked = question.rpartition("\nQuestion: ")
    if sep:
        example.update(passage=passage.strip(), question=asked.strip())
    if task.startswith(CONTINUATION_TASKS):
        example["context"] = question
    return example
