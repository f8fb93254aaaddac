"""``mix.json``: a learned mixture (weights and per-template parameters) and how it was learned.

The mixture builder reads ``weights`` and ``params`` (and ``components`` when present); the rest
(method, signals, budget, seeds, rows that chose the weights) is the record of how it was learned.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Mapping, Optional

from ..atomic_files import atomic_json

FORMAT = "cookbook-mix"
VERSION = 1


def mix_content(weights: Mapping[str, float], *, params: Optional[Mapping] = None,
                components: Optional[Mapping] = None, **record) -> dict:
    """What a mix.json holds, as JSON holds it (what :func:`read_mix` returns for the written file);
    ``record``: method, signals, budget, seeds, ... (JSON-serialisable)."""
    from .. import __version__
    from ..templates import get_template_class, list_templates

    code = {n: get_template_class(n).code_hash() for n in weights if n in list_templates()}
    for name, spec in (components or {}).items():
        if isinstance(spec, Mapping) and "template" in spec:
            code[name] = get_template_class(spec["template"]).code_hash()
    data = {"format": FORMAT, "version": VERSION, "package_version": __version__, "weights": dict(weights),
            "params": {k: dict(v) for k, v in (params or {}).items()}, "components": dict(components or {}),
            "template_code_hashes": code, **record}
    return json.loads(json.dumps(data, sort_keys=True, default=str))


def write_mix(path: str | os.PathLike, weights: Mapping[str, float], *, params: Optional[Mapping] = None,
              components: Optional[Mapping] = None, **record) -> Path:
    """Write a mix.json atomically (:func:`mix_content`)."""
    return atomic_json(Path(path), mix_content(weights, params=params, components=components, **record))


def read_mix(path: str | os.PathLike) -> dict:
    """A mix.json, checked: this format and version, and templates this package has."""
    from ..templates import list_templates

    from ..atomic_files import read_json

    path = Path(path)
    data = read_json(path, "mix file")
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ValueError(f"{path}: not a Cookbook-Mix file (its 'format' must be {FORMAT!r}; "
                         f"got {data.get('format') if isinstance(data, dict) else type(data).__name__!r})")
    if data.get("version") != VERSION:
        raise ValueError(f"{path}: mix file version {data.get('version')!r} (package {data.get('package_version')}); "
                         f"this package reads version {VERSION}: learn the mixture again with `cookbook mix learn`")
    for key in ("weights", "params", "components"):
        if not isinstance(data.get(key, {}), dict):
            raise ValueError(f"{path}: field {key!r} must be an object")
    if not data.get("weights"):
        raise ValueError(f"{path}: field 'weights' is missing or empty")
    components = data.get("components", {})
    unknown = sorted(n for n in data["weights"] if n not in components and n not in list_templates())
    unknown += sorted(s["template"] for s in components.values()
                      if isinstance(s, dict) and "template" in s and s["template"] not in list_templates())
    if unknown:
        raise ValueError(f"{path}: made for templates this package does not have ({', '.join(unknown)}); "
                         f"templates here: {', '.join(list_templates())}")
    return data
