"""The parts of a mixture: templates (unbounded, any row by its index) and datasets in the row schema.

A component is named in the mixture's ``weights``. A bare template name is that template (with
``params[name]``); ``components[name]`` says what else a name is:

- ``{"template": "nli", "label_words": [...]}``: a template under another name (so one template
  can take part twice with different parameters);
- ``{"path": DIR_OR_HUB_ID_OR_BUILDER, "name": CONFIG, ...}``: anything
  :func:`cookbook_datasets.load_dataset` loads (a Hub-layout directory, a Hub id, another builder of
  this package with its parameters), whose columns are the row schema;
- a string: shorthand for ``{"path": string}``.

A dataset's ``prompt`` and ``completion`` may be plain strings or message lists, whatever the
mixture's ``format``: as TRL reads either, a string joins a ``chat`` mixture as one message (the
prompt a ``user`` message, the completion an ``assistant`` one) and a message list joins a ``text``
mixture as its messages' contents (one message: its content, as the templates' text rows are; several:
joined by a blank line) (:func:`to_format`).

A dataset entry with ``"repeat": true`` is unbounded: it wraps around and never runs out, so a
few rows (a task's demonstrations, protect.py) take part at their weight in a mixture of any
length instead of ending it (``stopping_strategy`` counts only the parts that can run out).

Every row's ``source`` is its component's name.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import Mapping, Optional

import datasets
import numpy as np
import pyarrow as pa

from ..registry import did_you_mean
from ..row_schema import constant_strings, row_features, rows_table
from ..seeding import stream_key
from ..templates import get_template, get_template_class, list_templates

logger = logging.getLogger(__name__)

TEMPLATE_SPLITS = ("train", "validation", "test")
REQUIRED_COLUMNS = ("prompt", "completion")  # source is always the component's name; meta defaults to "{}"


class UnknownComponentError(ValueError):
    pass


class TemplateComponent:
    """An unbounded template stream; row ``k`` of split ``s`` is the template's item ``k`` of the
    stream (seed, component name, s), the same rows the ``cookbook`` builder makes for that name."""

    def __init__(self, name: str, template: str, params: Mapping, seed: int, format: str):
        self.name, self.template_name, self.seed, self.format = name, template, seed, format
        self.template = get_template(template, **dict(params))

    splits = TEMPLATE_SPLITS

    def length(self, split: str) -> Optional[int]:
        return None

    def rows(self, split: str, indices: np.ndarray) -> pa.Table:
        prompts, completions, metas = self.template.sample_batch(stream_key(self.seed, self.name, split), indices, split)
        return rows_table(prompts, completions, constant_strings(self.name, len(indices)), metas, self.format)

    def describe(self) -> dict:
        return {"template": self.template_name, "params": self.template.params(),
                "template_code_hash": get_template_class(self.template_name).code_hash()}


class DatasetComponent:
    """A finite dataset in the row schema (its splits as they are)."""

    def __init__(self, name: str, spec: Mapping, format: str, cache_dir: Optional[str] = None):
        from ..loading import load_dataset

        self.name, self.spec, self.format = name, dict(spec), format
        self.repeat = self.spec.get("repeat", False)
        if not isinstance(self.repeat, bool):
            raise ValueError(f"mixture component {name!r}: 'repeat' must be true or false (got {self.repeat!r})")
        kwargs = {k: v for k, v in self.spec.items() if k not in ("path", "name", "repeat")}
        try:
            loaded = load_dataset(self.spec["path"], self.spec.get("name"), cache_dir=cache_dir, **kwargs)
        except (FileNotFoundError, datasets.exceptions.DatasetNotFoundError) as e:
            raise ValueError(f"mixture component {name!r}: cannot load {self.spec['path']!r} ({e})") from e
        if isinstance(loaded, datasets.Dataset):
            loaded = datasets.DatasetDict({"train": loaded})
        self.data = loaded
        self.splits = tuple(loaded)
        self.converted = {}  # column -> how its rows are turned into this mixture's format (to_format)
        features = row_features(format)
        for split, ds in loaded.items():
            missing = [c for c in REQUIRED_COLUMNS if c not in ds.column_names]
            if missing:
                raise ValueError(f"mixture component {name!r} (split {split!r}) has no column {missing[0]!r}: "
                                 f"a component's rows need {list(REQUIRED_COLUMNS)} (the row schema: prompt, "
                                 f"completion, source, meta); it has {ds.column_names}")
            for column in REQUIRED_COLUMNS + ("meta",):
                if column not in ds.features or _same_type(ds.features[column], features[column]):
                    continue
                if column in REQUIRED_COLUMNS and _convertible(ds.features[column], format):
                    self.converted[column] = ("string -> messages" if format == "chat" else "messages -> text")
                    continue
                raise ValueError(f"mixture component {name!r}: column {column!r} is {ds.features[column]}, but a "
                                 f"{format!r} mixture needs {features[column]} (plain strings or "
                                 f"{{'role', 'content'}} message lists; convert the component)")
            if len(ds) == 0:
                raise ValueError(f"mixture component {name!r}: split {split!r} is empty")
        self._schema = features.arrow_schema
        self._arrow = {split: ds.with_format("arrow") for split, ds in loaded.items()}  # made once, read per batch

    def length(self, split: str) -> Optional[int]:
        return None if self.repeat else len(self.data[split])  # repeat: wraps around, never runs out

    def rows(self, split: str, indices: np.ndarray) -> pa.Table:
        table = self._arrow[split][(indices % len(self.data[split])).tolist()]
        n = table.num_rows
        meta = table.column("meta") if "meta" in table.column_names else constant_strings("{}", n)
        prompt, completion = table.column("prompt"), table.column("completion")
        if "prompt" in self.converted:
            prompt = to_format(prompt, self.format, "user")
        if "completion" in self.converted:
            completion = to_format(completion, self.format, "assistant")
        table = pa.table({"prompt": prompt, "completion": completion,
                          "source": constant_strings(self.name, n), "meta": meta})
        return table.cast(self._schema)

    def describe(self) -> dict:
        described = {"dataset": self.spec, "fingerprints": {s: ds._fingerprint for s, ds in self.data.items()},
                     "rows": {s: len(ds) for s, ds in self.data.items()}}
        if self.converted:
            described["converted"] = dict(self.converted)
        return described


def _same_type(a, b) -> bool:
    return a == b or (isinstance(a, (datasets.List, datasets.LargeList)) and isinstance(b, datasets.List)
                      and a.feature == b.feature)


def _convertible(feature, format: str) -> bool:
    """A prompt/completion column :func:`to_format` turns into ``format``'s type."""
    if format == "chat":
        return feature in (datasets.Value("string"), datasets.Value("large_string"))
    return _same_type(feature, row_features("chat")["prompt"])


def to_format(column, format: str, role: str) -> pa.Array:
    """A prompt or completion column in a mixture's ``format``, as TRL reads either form: for
    ``chat``, each string becomes one message of ``role``; for ``text``, each message list becomes
    its contents (one message: its content; several: joined by a blank line)."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    if format == "chat":
        n = len(column)
        struct = pa.StructArray.from_arrays([constant_strings(role, n), column.cast(pa.string())],
                                            names=["role", "content"])
        return pa.ListArray.from_arrays(pa.array(np.arange(n + 1, dtype=np.int32)), struct)
    return pa.array(["\n\n".join(m["content"] or "" for m in messages or []) for messages in column.to_pylist()],
                    pa.string())


def component_spec(name: str, components: Mapping, params: Mapping) -> dict:
    """What ``name`` refers to, as a dict with either ``template`` (+ params) or ``path``."""
    spec = components.get(name)
    if spec is None:
        if name in list_templates():
            spec = {"template": name}
        elif Path(name).exists():  # a local dataset directory named directly in the weights
            spec = {"path": name}
        else:
            valid = list_templates() + sorted(components)
            hint = did_you_mean(name, valid, sentence=True)
            raise UnknownComponentError(
                f"unknown mixture component {name!r}.{hint} A component is a template ({', '.join(list_templates())}), "
                f"an entry of components= ({', '.join(sorted(components)) or 'none given'}) or an existing dataset "
                f"directory")
    if isinstance(spec, str):
        spec = {"path": spec}
    if not isinstance(spec, Mapping) or ("template" in spec) == ("path" in spec):
        raise ValueError(f"mixture component {name!r}: give either {{'template': NAME, ...params}} or "
                         f"{{'path': DIR_OR_HUB_ID, ...}} (got {spec!r})")
    spec = dict(spec)
    extra = dict(params.get(name) or {})
    if extra and "template" not in spec:
        raise ValueError(f"params given for {name!r}, which is a dataset, not a template")
    if "template" in spec:
        get_template_class(spec["template"])  # unknown names list the valid templates
        spec = {**spec, **extra}
    return spec


def validate_weights(weights) -> dict[str, float]:
    """Weights as a name -> float dict: non-negative, finite, with a positive sum."""
    if not isinstance(weights, Mapping) or not weights:
        raise ValueError(f"weights must be a non-empty dict of component -> weight, or the path of a mix.json "
                         f"(got {weights!r})")
    out = {}
    for name, w in weights.items():
        if isinstance(w, bool) or not isinstance(w, (int, float)) or not np.isfinite(w):
            raise ValueError(f"weight of {name!r} must be a number (got {w!r})")
        if w < 0:
            raise ValueError(f"weight of {name!r} is negative ({w}); weights must be >= 0")
        out[str(name)] = float(w)
    if sum(out.values()) <= 0:
        raise ValueError(f"all weights are zero ({out}); at least one must be positive")
    return out


def build_components(weights: Mapping[str, float], components: Mapping, params: Mapping, seed: int, format: str,
                     cache_dir: Optional[str] = None) -> dict:
    """The mixture's parts (weights > 0 only), in the weights' order."""
    stray = sorted((set(components) | set(params)) - set(weights))
    if stray:
        raise ValueError(f"{stray[0]!r} is described in components/params but has no weight; weights name "
                         f"{', '.join(weights)}")
    specs = {name: component_spec(name, components, params) for name in weights}  # all checked before loading
    parts = {}
    for name, w in weights.items():
        if w <= 0:
            continue
        spec = specs[name]
        if "template" in spec:
            template_params = {k: v for k, v in spec.items() if k != "template"}
            parts[name] = TemplateComponent(name, spec["template"], template_params, seed, format)
        else:
            parts[name] = DatasetComponent(name, spec, format, cache_dir=cache_dir)
    return parts


def components_hash(parts: Mapping) -> str:
    """Changes when any part's code or data does (the builder's cache key beyond its config)."""
    # a list, not a dict: the draws depend on the parts' order, so the cache key must too
    return hashlib.sha256(json.dumps([[n, p.describe()] for n, p in parts.items()], sort_keys=True,
                                     default=str).encode()).hexdigest()[:16]
