"""The one row schema every builder emits (DESIGN.md): prompt, completion, source, meta."""

from __future__ import annotations

import datasets
import numpy as np
import pyarrow as pa

FORMATS = ("chat", "text")

_MESSAGE = {"role": datasets.Value("string"), "content": datasets.Value("string")}


def row_features(format: str = "chat") -> datasets.Features:
    """Conversational messages for ``chat``; plain strings (TRL's prompt-completion) for ``text``."""
    if format not in FORMATS:
        raise ValueError(f"format must be one of {list(FORMATS)} (got {format!r})")
    text = datasets.Value("string")
    message = datasets.List(_MESSAGE) if format == "chat" else text
    return datasets.Features({"prompt": message, "completion": message, "source": text, "meta": text})


def _strings(values) -> pa.Array:
    return values if isinstance(values, pa.Array) else pa.array(values, pa.string())


def constant_strings(value: str, n: int) -> pa.Array:
    """``n`` copies of one string (built without n Python objects)."""
    return pa.DictionaryArray.from_arrays(pa.array(np.zeros(n, dtype=np.int32)), pa.array([value])).cast(pa.string())


def _messages(role: str, contents) -> pa.Array:
    """A list<struct<role, content>> array holding one message per row."""
    n = len(contents)
    struct = pa.StructArray.from_arrays(
        [constant_strings(role, n), _strings(contents)], names=["role", "content"]
    )
    return pa.ListArray.from_arrays(pa.array(np.arange(n + 1, dtype=np.int32)), struct)


def rows_table(prompts, completions, sources, metas, format: str = "chat") -> pa.Table:
    """Build a batch of rows column-wise (much faster than converting Python dicts)."""
    if format == "chat":
        prompt, completion = _messages("user", prompts), _messages("assistant", completions)
    else:
        prompt, completion = _strings(prompts), _strings(completions)
    return pa.table({"prompt": prompt, "completion": completion, "source": _strings(sources), "meta": _strings(metas)})
