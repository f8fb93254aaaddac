"""Field checks the task loaders share: every error names the file, the record and the field."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Optional

from .task import TaskFormatError


def read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise TaskFormatError(f"{path}: not valid JSON ({e.msg}, line {e.lineno})") from None


def _names(fields: tuple) -> str:
    quoted = [repr(f) for f in fields]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " and " + quoted[-1]


def require(record: Any, fields: tuple, where: str) -> None:
    if not isinstance(record, dict):
        raise TaskFormatError(f"{where} must be a JSON object with {_names(fields)} (got {type(record).__name__})")
    for f in fields:
        if f not in record:
            raise TaskFormatError(f"{where} is missing the field {f!r} (needs {_names(fields)})")


def text(value: Any, where: str, field: str) -> str:
    if not isinstance(value, str):
        raise TaskFormatError(f"{where}: the field {field!r} must be a string (got {type(value).__name__})")
    return value


def outputs(value: Any, where: str, field: str) -> tuple:
    """One acceptable output (a string or a number) or a non-empty list of them."""
    items = value if isinstance(value, list) else [value]
    if not items or any(isinstance(v, (dict, list, bool)) or v is None for v in items):
        raise TaskFormatError(f"{where}: the field {field!r} must be a string or a non-empty list of strings "
                              f"(got {value!r})")
    return tuple(str(v) for v in items)


def choices_and_gold(choices: Any, label: Any, where: str, choices_field: str = "choices",
                     label_field: str = "label") -> tuple[tuple, Optional[int]]:
    if not isinstance(choices, list) or len(choices) < 2 or any(isinstance(c, (dict, list)) for c in choices):
        raise TaskFormatError(f"{where}: the field {choices_field!r} must be a list of at least 2 strings")
    if label is None:
        return tuple(str(c) for c in choices), None
    if isinstance(label, bool) or not isinstance(label, int) or not 0 <= label < len(choices):
        raise TaskFormatError(f"{where}: the field {label_field!r} must be an index into {choices_field!r} "
                              f"(0 to {len(choices) - 1}; got {label!r})")
    return tuple(str(c) for c in choices), label


def optional_id(record: dict, where: str, field: str = "id") -> Optional[str]:
    value = record.get(field)
    if value is None:
        return None
    if isinstance(value, (dict, list, bool)):
        raise TaskFormatError(f"{where}: the field {field!r} must be a string or a number (got {value!r})")
    return str(value)


def check_labels_in_set(rows, labels, where: str) -> None:
    """Refuse labelled ``rows`` (Instances) whose output is no label of ``labels`` (compared as the
    scoring metric compares them: case and whitespace aside): rows a classifier is judged
    on must be answerable with the task's label set. The error names how many, an example and the set."""
    from cookbook_datasets.eval.metrics.label_exact_match.label_exact_match import normalise

    allowed = {normalise(label) for label in labels}
    outside = [inst for inst in rows if inst.outputs and normalise(inst.outputs[0]) not in allowed]
    if outside:
        found = sorted({inst.outputs[0] for inst in outside})
        raise TaskFormatError(f"{where}: {len(outside)} of its {len(rows)} labelled rows have a label outside the "
                              f"task's label set {list(labels)} (found {found[:5]}{' ...' if len(found) > 5 else ''}; "
                              f"e.g. the row {outside[0].id!r}); fix those rows or drop them")
