"""Your own rows as components of a learned mixture, next to the templates.

``MixLearnConfig.components`` (CLI ``--component NAME=DATA[@CONFIG]``) names datasets in the row
schema: your own file (``.jsonl``, ``.parquet``, ...), SELF-GUIDE's output (``<out>/<task>/data``),
augmentation's output, any Hub-layout directory or Hub id (see loading.py). Each becomes a dataset
component of the ``mixture`` builder (components.py), so every method weighs it alongside the
templates:

- ``proxy`` and ``best-single`` fine-tune on it alone and in the random mixtures, ``online``
  measures how its rows move each task's loss, ``uniform`` gives it its share, ``auto`` judges all
  of these on held-out fit rows;
- ``rules`` cannot measure it (no rule reads a dataset): it gets weight only where no template's rule
  helps a task (that task's share is spread over all components); the log says so.

A component wraps around (``repeat``, default true), so a few hundred rows take part at their weight
in a mixture of any length instead of ending it; give ``"repeat": false`` to let it run out.
Every component is loaded and checked against the row schema before any model is loaded.
"""

from __future__ import annotations

import logging
from typing import Mapping

from .signals import MixSignals

logger = logging.getLogger(__name__)

RESERVED_PREFIXES = ("demos[",)  # the tasks' protecting components (protect.py)


def parse_component_arg(text: str) -> tuple[str, dict]:
    """``NAME=DATA`` or ``NAME=DATA@CONFIG`` (the CLI's ``--component``) -> (name, spec)."""
    name, sep, data = str(text).partition("=")
    name, data = name.strip(), data.strip()
    if not sep or not name or not data:
        raise ValueError(f"--component {text!r}: write NAME=DATA or NAME=DATA@CONFIG, DATA a row-schema file, a "
                         "Hub-layout directory (e.g. SELF-GUIDE's or augmentation's output) or a Hub id")
    path, at, config = data.rpartition("@") if "@" in data else (data, "", "")
    if at and (not path or not config):
        raise ValueError(f"--component {text!r}: '@' must be followed by a config name and preceded by the data")
    return name, ({"path": path, "name": config} if at else {"path": data})


def normalise_components(components: Mapping) -> dict:
    """name -> a dataset spec (``path`` required; ``repeat`` defaults to true); bad names are refused."""
    from ..templates import list_templates

    if not isinstance(components, Mapping):
        raise ValueError(f"components must be a dict of name -> data reference (got {components!r})")
    templates = set(list_templates())
    out = {}
    for name, spec in components.items():
        if not isinstance(name, str) or not name.strip():
            raise ValueError(f"a component needs a non-empty name (got {name!r})")
        if name in templates:
            raise ValueError(f"component name {name!r} is a template's name; choose another name for your data")
        if name.startswith(RESERVED_PREFIXES):
            raise ValueError(f"component name {name!r}: names starting with 'demos[' are the tasks' protecting "
                             "components; choose another name")
        if isinstance(spec, str):
            spec = {"path": spec}
        if not isinstance(spec, Mapping) or not spec.get("path") or "template" in spec:
            raise ValueError(f"component {name!r}: give a data reference (a file, a directory or a Hub id) or "
                             f"{{'path': DATA, 'name': CONFIG, ...}} (got {spec!r}); templates are chosen by "
                             "`templates`, not here")
        out[name] = {**dict(spec), "repeat": spec.get("repeat", True)}
    return out


def check_components(components: Mapping, format: str = "chat") -> dict:
    """Load every component once (a clear error names the one that fails); name -> its rows per split."""
    from .components import DatasetComponent

    return {name: {s: len(ds) for s, ds in DatasetComponent(name, spec, format).data.items()}
            for name, spec in components.items()}


def add_components(signals: MixSignals, components: Mapping) -> None:
    """Add the components to ``signals`` as dataset components (no rule: accuracy None, coverage 0)."""
    clash = sorted(set(components) & set(signals.components))
    if clash:
        raise ValueError(f"component name {clash[0]!r} is already a component of this mixture; choose another name")
    from .signals import mark_no_rule

    for name, spec in components.items():
        signals.components[name] = dict(spec)
        mark_no_rule(signals, name)
