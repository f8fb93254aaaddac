"""Generate template data (and a weighted mixture of it) and write it in the Hub layout."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Mapping, Optional, Sequence

import datasets

from .hub_layout import push_to_hub as _push
from .hub_layout import write_hub_layout
from .loading import load_builder
from .templates import get_template_class

logger = logging.getLogger(__name__)

MIXTURE_CONFIG = "mixture"


def normalize_weights(weights: Mapping[str, float], names: Sequence[str]) -> dict[str, float]:
    """Mixture weights over ``names`` (missing names get 0), summing to 1."""
    unknown = sorted(set(weights) - set(names))
    if unknown:
        raise ValueError(f"mixture weight for {unknown[0]!r}, which is not among the generated "
                         f"templates ({', '.join(names)})")
    bad = {k: w for k, w in weights.items() if not (isinstance(w, (int, float)) and w >= 0)}
    if bad:
        raise ValueError(f"mixture weights must be non-negative numbers (got {bad})")
    total = sum(weights.get(n, 0.0) for n in names)
    if total <= 0:
        raise ValueError("mixture weights must have a positive sum")
    return {n: weights.get(n, 0.0) / total for n in names}


def _counts(weights: dict[str, float], total: int) -> dict[str, int]:
    """Largest-remainder rounding of ``weights * total`` (the counts sum to ``total``)."""
    raw = {n: w * total for n, w in weights.items()}
    counts = {n: int(v) for n, v in raw.items()}
    for n in sorted(raw, key=lambda n: counts[n] - raw[n])[: total - sum(counts.values())]:
        counts[n] += 1
    return counts


def mix(parts: Mapping[str, datasets.DatasetDict], weights: Mapping[str, float], seed: int = 0) -> datasets.DatasetDict:
    """A mixture with each split as large as the parts' split, drawn by ``weights``, shuffled."""
    names = list(parts)
    w = normalize_weights(weights, names)
    out = {}
    for split in next(iter(parts.values())):
        size = len(parts[names[0]][split])
        counts = _counts(w, size)
        pieces = [parts[n][split].select(range(min(counts[n], len(parts[n][split])))) for n in names if counts[n]]
        out[split] = datasets.concatenate_datasets(pieces).shuffle(seed=seed).flatten_indices()
    return datasets.DatasetDict(out)


def generate(
    templates: Sequence[str],
    out_dir: str | os.PathLike,
    *,
    num_examples: int = 1000,
    num_eval_examples: Optional[int] = None,
    seed: int = 0,
    format: str = "chat",
    params: Optional[Mapping[str, Mapping]] = None,
    mixture: Optional[Mapping[str, float]] = None,
    num_proc: Optional[int] = None,
    cache_dir: Optional[str] = None,
    overwrite: bool = False,
    push_to_hub: Optional[str] = None,
    private: bool = False,
) -> Path:
    """Generate each template's splits, optionally a ``mixture`` config, and write them.

    ``params`` maps a template name to its parameters; ``mixture`` maps template names to
    weights (``{}`` or uniform weights for an equal mix). Returns the output directory.
    """
    if not templates:
        raise ValueError("name at least one template (see `cookbook templates`)")
    templates = list(dict.fromkeys(templates))
    if Path(out_dir).exists() and not overwrite:
        raise FileExistsError(f"{out_dir} already exists; pass overwrite=True (--overwrite) to replace it")
    for name in list(params or {}) + list(templates):
        get_template_class(name)  # fail on unknown names before any work
    stray = sorted(set(params or {}) - set(templates))
    if stray:
        raise ValueError(f"parameters given for {stray[0]!r}, which is not among the templates to generate")
    builders = {
        name: load_builder("cookbook", name, num_examples=num_examples, num_eval_examples=num_eval_examples,
                           seed=seed, format=format, cache_dir=cache_dir, **dict((params or {}).get(name, {})))
        for name in templates
    }  # every config is validated before anything is generated
    configs, recipes = {}, {}
    for name, builder in builders.items():
        builder.download_and_prepare(num_proc=num_proc)
        configs[name] = builder.as_dataset()
        recipes[name] = builder.config.recipe()
    if mixture is not None:
        weights = dict(mixture) or {n: 1.0 for n in templates}
        configs[MIXTURE_CONFIG] = mix(configs, weights, seed=seed)
        recipes[MIXTURE_CONFIG] = {"mixture_weights": normalize_weights(weights, templates), "seed": seed,
                                   "parts": sorted(templates)}
    out = write_hub_layout(configs, out_dir, recipes, overwrite=overwrite)
    if push_to_hub:
        logger.info("pushed to %s", _push(out, push_to_hub, private=private))
    return out
