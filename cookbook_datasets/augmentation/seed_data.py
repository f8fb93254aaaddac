"""Load a seed set S: question/answer pairs from a file, a directory, a dataset or a list of dicts.

A :class:`~cookbook_datasets.tasks.Task` gives its labelled instances. Accepted shapes, per row:
``{question, answer}`` (or the aliases below, or ``question_field=`` / ``answer_field=``), or the
project's row schema (``prompt``/``completion`` messages: the last user message is the question,
the assistant's reply the answer). Errors name the file, the row and the field.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Optional, Sequence

QUESTION_FIELDS = ("question", "input", "instruction", "problem", "query")
ANSWER_FIELDS = ("answer", "output", "response", "solution", "target")


class SeedDataError(ValueError):
    pass


def _from_messages(value, role: str) -> Optional[str]:
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        texts = [m.get("content") for m in value if isinstance(m, dict) and m.get("role") == role]
        return texts[-1] if texts else None
    return None


def _pair(row, where: str, question_field: Optional[str], answer_field: Optional[str]) -> tuple[str, str]:
    if not isinstance(row, dict):
        raise SeedDataError(f"{where}: a seed example must be an object with question and answer fields "
                            f"(got {type(row).__name__})")
    out = []
    for role, given, aliases, schema in (("question", question_field, QUESTION_FIELDS, "prompt"),
                                         ("answer", answer_field, ANSWER_FIELDS, "completion")):
        names = (given,) if given else aliases
        name = next((n for n in names if n in row), None)
        if name is not None:
            value = row[name]
        elif not given and schema in row:
            name, value = schema, _from_messages(row[schema], "user" if role == "question" else "assistant")
        else:
            looked = repr(given) if given else f"one of {list(aliases)} or '{schema}' messages"
            raise SeedDataError(f"{where}: no {role} field (looked for {looked}; the row has {sorted(row)}); "
                                f"name it with {role}_field=")
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            value = str(value)  # CSV and Parquet files type numeric answers as numbers
        if not isinstance(value, str) or not value.strip():
            raise SeedDataError(f"{where}: field {name!r} must be a non-empty string (got {value!r})")
        out.append(value.strip())
    return out[0], out[1]


def _read_rows(source) -> tuple[list, str, str]:
    """(rows, what the errors call the source, the unit of a row: 'line' or 'row')."""
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if path.suffix in (".jsonl", ".json") and not path.exists():
            raise FileNotFoundError(f"seed file {path} does not exist")
        if path.suffix == ".jsonl":
            rows = []
            for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if not line.strip():
                    continue
                try:
                    rows.append((f"{path}, line {i}", json.loads(line)))
                except json.JSONDecodeError as e:
                    raise SeedDataError(f"{path}, line {i}: not valid JSON ({e.msg})") from None
            return rows, str(path), "line"
        if path.suffix == ".json":
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except json.JSONDecodeError as e:
                raise SeedDataError(f"{path}: not valid JSON ({e.msg}, line {e.lineno})") from None
            if isinstance(data, dict):
                key = next((k for k in ("examples", "data", "instances", "rows") if isinstance(data.get(k), list)), None)
                if key is None:
                    raise SeedDataError(f"{path}: expected a list of examples, or an object with an 'examples' list "
                                        f"(it has {sorted(data)})")
                data = data[key]
            if not isinstance(data, list):
                raise SeedDataError(f"{path}: expected a list of examples (got {type(data).__name__})")
            return [(f"{path}, example {i}", r) for i, r in enumerate(data)], str(path), "example"
        from cookbook_datasets.loading import load_dataset

        ds = load_dataset(str(source), split="train")  # a Hub-layout directory, a Hub id, a builder name
        return [(f"{source}, row {i}", r) for i, r in enumerate(ds)], str(source), "row"
    if hasattr(source, "column_names") and hasattr(source, "__iter__"):  # a datasets.Dataset
        return [(f"seed dataset, row {i}", r) for i, r in enumerate(source)], "the seed dataset", "row"
    if isinstance(source, Sequence):
        return [(f"seed example {i}", r) for i, r in enumerate(source)], "the seed list", "example"
    raise SeedDataError(f"seed_data must be a file (.jsonl/.json), a directory or dataset name, a Dataset or a list "
                        f"of dicts (got {type(source).__name__})")


def seed_set_from_task(task) -> list[dict]:
    """A :class:`~cookbook_datasets.tasks.Task`'s labelled instances as seed rows, in the task's
    order: the input is the question (a multiple-choice instance's options listed after it), the
    first acceptable output (or the gold choice) the answer; ``seed_id`` keeps the instance id."""
    labelled = task.labelled
    if not labelled:
        raise SeedDataError(f"task {task.name!r} ({task.source or 'no source'}) has no labelled instances: "
                            "augmentation needs at least one question/answer pair")
    seeds = []
    for i, inst in enumerate(labelled):
        question = inst.input
        if inst.choices is not None:
            from cookbook_datasets.eval.prompts import options_text

            question = options_text(inst)
        seeds.append({"seed_index": i, "seed_id": inst.id, "question": question.strip(), "answer": inst.answer.strip()})
    return seeds


def load_seed_set(source, question_field: Optional[str] = None, answer_field: Optional[str] = None) -> list[dict]:
    """``[{"seed_index", "question", "answer"}, ...]`` in the source's order (a Task: its labelled
    instances, see :func:`seed_set_from_task`)."""
    from cookbook_datasets.tasks import Task

    if isinstance(source, Task):
        return seed_set_from_task(source)
    rows, name, _ = _read_rows(source)
    if not rows:
        raise SeedDataError(f"{name} holds no seed examples: augmentation needs at least one question/answer pair")
    seeds = []
    for i, (where, row) in enumerate(rows):
        question, answer = _pair(row, where, question_field, answer_field)
        seeds.append({"seed_index": i, "question": question, "answer": answer})
    return seeds


def seed_fingerprint(seeds: list[dict]) -> str:
    import hashlib

    blob = json.dumps([[s["question"], s["answer"]] for s in seeds], ensure_ascii=False).encode()
    return hashlib.blake2b(blob, digest_size=8).hexdigest()
