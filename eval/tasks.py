"""Evaluation tasks: NIV2 task files, multiple-choice JSONL, and Cookbook templates.

A task spec is a path (file or directory of files) or a template name. Each task yields
requests the harness scores: chat prompts to generate from (NIV2, templates) or
context/continuation pairs to score by log-likelihood (multiple choice).
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

MAX_LABELS = 10  # a task whose outputs take at most this many values is classification


class TaskFormatError(ValueError):
    pass


@dataclass
class GenerationTask:
    """Greedy generation from chat prompts; scored against reference strings."""

    name: str
    kind: str  # "classification" | "generation" | "template"
    prompts: list  # list of message lists
    references: list  # list of list[str] (acceptable answers)
    labels: Optional[list] = None  # the label set of a classification task
    max_new_tokens: int = 32
    source: str = ""


@dataclass
class MultipleChoiceTask:
    """Zero-shot log-likelihood scoring of each choice (lm-evaluation-harness framing)."""

    name: str
    requests: list  # per example: list of (context, continuation) per choice
    labels: list  # gold choice index per example
    choice_lengths: list  # per example: character length of each choice continuation
    kind: str = "multiple_choice"
    source: str = ""
    framing: str = ""


def _require(record: dict, fields: tuple, path: Path, where: str):
    for f in fields:
        if f not in record:
            raise TaskFormatError(f"{path}: {where} is missing the field {f!r} (needs {', '.join(fields)})")


def _subsample(items: list, limit: Optional[int], seed: int) -> list:
    """A seeded random subset (NIV2 files are often sorted by label), in file order."""
    if limit is None or limit >= len(items):
        return items
    keep = sorted(random.Random(seed).sample(range(len(items)), limit))
    return [items[i] for i in keep]


# -- NIV2 -------------------------------------------------------------------------------------
def load_niv2(path: Path, limit: Optional[int] = None, num_shots: int = 2, seed: int = 0) -> GenerationTask:
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise TaskFormatError(f"{path}: not valid JSON ({e})") from None
    if not isinstance(data, dict):
        raise TaskFormatError(f"{path}: expected a JSON object with Definition, Positive Examples, Instances")
    _require(data, ("Definition", "Positive Examples", "Instances"), path, "the task")
    definition = data["Definition"][0] if isinstance(data["Definition"], list) else str(data["Definition"])
    demos = data["Positive Examples"][:num_shots]
    for i, demo in enumerate(demos):
        _require(demo, ("input", "output"), path, f"Positive Examples[{i}]")
    for i, inst in enumerate(data["Instances"]):
        _require(inst, ("input", "output"), path, f"Instances[{i}]")
    instances = _subsample(data["Instances"], limit, seed)
    outputs = {o.strip() for inst in data["Instances"] for o in _as_list(inst["output"])}
    is_classification = len(outputs) <= MAX_LABELS
    turns = []
    for demo in demos:
        turns += [{"role": "user", "content": demo["input"]},
                  {"role": "assistant", "content": _as_list(demo["output"])[0]}]
    prompts = [[{"role": "system", "content": definition}, *turns, {"role": "user", "content": inst["input"]}]
               for inst in instances]
    return GenerationTask(
        name=path.stem, kind="classification" if is_classification else "generation", prompts=prompts,
        references=[_as_list(inst["output"]) for inst in instances],
        labels=sorted(outputs) if is_classification else None,
        max_new_tokens=16 if is_classification else 64, source=str(path),
    )


def _as_list(x) -> list:
    return [str(v) for v in x] if isinstance(x, list) else [str(x)]


# -- multiple choice ----------------------------------------------------------------------------
def _frame(task: str, question: str, choice: str) -> tuple[str, str]:
    """(context, continuation) as lm-evaluation-harness frames each task."""
    if task.startswith("hellaswag"):
        return question, " " + choice
    if task.startswith("boolq"):  # question already holds passage + "\nQuestion: ...?"
        return f"{question}\nAnswer:", " " + choice
    if task.startswith("openbookqa"):
        return question, " " + choice
    if task.startswith("winogrande") and "_" in question:
        # partial scoring: the option fills the blank in the context; score the rest of the sentence
        before, after = question.split("_", 1)
        return before + choice, " " + after.strip()
    return f"Question: {question}\nAnswer:", " " + choice  # ARC, PIQA and the default


def framing_name(task: str) -> str:
    for prefix in ("hellaswag", "boolq", "openbookqa", "winogrande"):
        if task.startswith(prefix):
            return prefix
    return "question-answer"


def load_multiple_choice(path: Path, limit: Optional[int] = None, seed: int = 0) -> MultipleChoiceTask:
    records = []
    for lineno, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as e:
            raise TaskFormatError(f"{path}: line {lineno} is not valid JSON ({e})") from None
        _require(record, ("question", "choices", "label"), path, f"line {lineno}")
        if not isinstance(record["choices"], list) or len(record["choices"]) < 2:
            raise TaskFormatError(f"{path}: line {lineno}: 'choices' must be a list of at least 2 strings")
        if not isinstance(record["label"], int) or not 0 <= record["label"] < len(record["choices"]):
            raise TaskFormatError(f"{path}: line {lineno}: 'label' must be an index into 'choices'")
        records.append(record)
    if not records:
        raise TaskFormatError(f"{path}: no examples")
    records = _subsample(records, limit, seed)
    name = path.stem
    requests = [[_frame(name, r["question"], str(c)) for c in r["choices"]] for r in records]
    return MultipleChoiceTask(
        name=name, requests=requests, labels=[r["label"] for r in records],
        choice_lengths=[[len(cont) for _, cont in req] for req in requests], source=str(path),
        framing=framing_name(name),
    )


# -- templates ----------------------------------------------------------------------------------
def load_template_task(name: str, limit: Optional[int] = None, seed: int = 0, **params) -> GenerationTask:
    from cookbook_datasets import load_dataset

    n = limit or 100
    test = load_dataset("cookbook", name, num_examples=n, num_eval_examples=n, seed=seed, split="test", **params)
    refs = [[row[0]["content"]] for row in test["completion"]]
    longest = max(len(r[0].split()) for r in refs)
    return GenerationTask(
        name=name, kind="template", prompts=list(test["prompt"]), references=refs,
        max_new_tokens=min(96, 8 + 3 * longest), source=f"cookbook/{name} (test split, seed {seed})",
    )


def load_tasks(specs: list[str], limit: Optional[int] = None, num_shots: int = 2, seed: int = 0,
               template_params: Optional[dict] = None) -> list:
    """Expand task specs (files, directories, template names) into tasks, in order.
    ``template_params`` apply to every template task that has them (e.g. ``vocab``)."""
    from cookbook_datasets.templates import get_template_class

    tasks = []
    for spec in specs:
        path = Path(spec)
        if path.is_dir():
            files = sorted(p for p in path.iterdir() if p.suffix in (".json", ".jsonl"))
            if not files:
                raise TaskFormatError(f"{path}: no .json (NIV2) or .jsonl (multiple choice) task files")
        elif path.exists():
            files = [path]
        elif re.fullmatch(r"[a-z0-9_]+", spec):
            allowed = get_template_class(spec).describe_params()  # unknown names list the templates
            params = {k: v for k, v in (template_params or {}).items() if k in allowed}
            tasks.append(load_template_task(spec, limit=limit, seed=seed, **params))
            continue
        else:
            raise FileNotFoundError(f"task {spec!r} is neither a file, a directory nor a template name")
        for f in files:
            if f.suffix == ".jsonl":
                tasks.append(load_multiple_choice(f, limit=limit, seed=seed))
            elif f.suffix == ".json":
                tasks.append(load_niv2(f, limit=limit, num_shots=num_shots, seed=seed))
            else:
                raise TaskFormatError(f"{f}: task files are .json (NIV2) or .jsonl (multiple choice)")
    return tasks
