"""Real task examples as named text fields, the form templates read (``Template.from_task_example``).

A multiple-choice JSONL line becomes ``{"question", "choices"}`` (plus ``"context"`` for
continuation tasks such as HellaSwag and PIQA, and ``"passage"`` for BoolQ-like questions that
hold "passage\\nQuestion: q"). An NIV2 instance's ``input`` is split at its field markers
("Premise:", "Sentence 1:", "Choices: 1. ... 2. ...", ...) and the fields get canonical aliases,
so that one example serves NLI templates (premise/hypothesis) and sentence-pair templates
(sentence1/sentence2) alike. Files are read and checked by ``cookbook_datasets.tasks``; this
module only structures a :class:`~cookbook_datasets.tasks.Task`'s instances.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Union

from cookbook_datasets.tasks import Task, TaskFormatError, load_task

# Field markers of NIV2 inputs (case-insensitive) and the field each one fills.
MARKERS = {
    "premise": "premise", "hypothesis": "hypothesis",
    "sentence 1": "sentence1", "sentence1": "sentence1", "sentence 2": "sentence2", "sentence2": "sentence2",
    "statement": "statement", "choices": "choices", "claim": "claim", "perspective": "perspective",
    "update": "update", "question": "question", "sentence": "sentence", "fact": "fact",
    "passage": "passage", "context": "context",
}
# Canonical fields and the parsed fields they are copied from, first present wins.
ALIASES = {
    "premise": ("premise", "sentence1", "statement", "claim", "sentence"),
    "hypothesis": ("hypothesis", "sentence2", "perspective"),
    "sentence1": ("sentence1", "premise", "statement", "claim", "sentence"),
    "sentence2": ("sentence2", "hypothesis", "perspective"),
    "passage": ("passage", "sentence"),
    "question": ("question", "statement"),
}
CONTINUATION_TASKS = ("hellaswag", "piqa")  # the question is a context that the choices continue

# A marker starts the input or follows whitespace (or "<sep>"); longer names first.
_MARKER = re.compile(
    r"(?:^|(?<=\s)|(?<=>))(" + "|".join(sorted((re.escape(m).replace(r"\ ", r"\s?") for m in MARKERS),
                                               key=len, reverse=True)) + r")\s*:",
    re.IGNORECASE,
)
_SEP = re.compile(r"(\s*<sep>\s*)+$", re.IGNORECASE)


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

    def __len__(self) -> int:
        return len(self.examples)


def load_task_examples(path: Union[str, Path, Task], limit: Optional[int] = None, seed: int = 0) -> TaskExamples:
    """A task file as structured examples (any file ``load_task`` reads). ``limit`` takes the same
    seeded subset as the evaluation harness."""
    from cookbook_datasets.eval.tasks import limit_task

    if not isinstance(path, Task) and not Path(path).is_file():
        raise TaskFormatError(f"{path}: no such task file")
    return task_examples(limit_task(load_task(path if isinstance(path, Task) else Path(path)), limit, seed))


def task_examples(task: Task) -> TaskExamples:
    """A Task's labelled instances as named fields with their gold answers (row for row)."""
    rows = task.labelled
    if not rows:
        raise TaskFormatError(f"{task.source or task.name}: the task has no labelled instances "
                              "('Instances' / 'instances' is empty or unlabelled)")
    demonstrations = [(parse_fields(d.input), d.answer.strip()) for d in task.demonstrations]
    if task.kind == "multiple_choice":
        examples = [structure_choice_record(task.name, {"question": i.question, "choices": list(i.choices)})
                    for i in rows]
        answers = [i.answer for i in rows]
        return TaskExamples(name=task.name, kind=task.kind, examples=examples, answers=answers,
                            references=[[a] for a in answers], answer_index=[i.gold for i in rows],
                            demonstrations=demonstrations, definition=task.instruction, source=task.source)
    examples = [parse_fields(i.input) for i in rows]
    references = [[o.strip() for o in i.outputs] for i in rows]
    answers = [refs[0] for refs in references]
    return TaskExamples(name=task.name, kind=task.kind, examples=examples, answers=answers, references=references,
                        answer_index=_numbered_answers(examples, answers), label_set=task.labels,
                        demonstrations=demonstrations, definition=task.instruction, source=task.source)


# -- NIV2 ---------------------------------------------------------------------------------------
def parse_fields(text: str) -> dict:
    """The fields of an NIV2 input: one per marker (its first occurrence), "choices" split at
    "1.", "2.", ..., plus the canonical aliases. Text before the first marker (or the whole
    input when it has none) is "text"."""
    found, seen = [], set()
    for m in _MARKER.finditer(text):
        name = MARKERS[re.sub(r"\s+", " ", m.group(1).lower())]
        before = text[:m.start()].rstrip(" \t")
        # Mid-line, only a capitalised marker counts ("... a significant fact: ..." is text);
        # a marker's second occurrence is text too.
        starts_line = not before or before.endswith(("\n", ">"))
        if (starts_line or m.group(1)[0].isupper()) and name not in seen:
            seen.add(name)
            found.append((name, m.start(), m.end()))
    fields: dict = {}
    head = text[:found[0][1]] if found else text
    if _clean(head):
        fields["text"] = _clean(head)
    for i, (name, _, end) in enumerate(found):
        value = _clean(text[end:found[i + 1][1]] if i + 1 < len(found) else text[end:])
        fields[name] = split_numbered(value) if name == "choices" else value
    for alias, sources in ALIASES.items():
        if alias not in fields:
            source = next((s for s in sources if s in fields), None)
            if source is not None:
                fields[alias] = fields[source]
    return fields


def split_numbered(text: str) -> list[str]:
    """ "1. a 2. b 3. c" -> ["a", "b", "c"]: each number in turn, after whitespace (or at the
    start) and followed by "." or ")" and whitespace; the whole text as one item when there is no "1."."""
    starts, at = [], 0
    for k in range(1, 100):
        m = re.compile(rf"(?:^|(?<=\s)){k}[.)]\s+").search(text, at)
        if m is None:
            break
        starts.append((m.start(), m.end()))
        at = m.end()
    if not starts:
        return [text]
    return [_clean(text[end:starts[i + 1][0]] if i + 1 < len(starts) else text[end:])
            for i, (_, end) in enumerate(starts)]


def _clean(value: str) -> str:
    return _SEP.sub("", value).strip()


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
