"""Generate template data (and a weighted mixture of it) and write it in the Hub layout."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Mapping, Optional, Sequence

from tqdm.auto import tqdm

from .push import push_dataset as _push
from .hub_layout import write_hub_layout
from .loading import load_builder
from .models import DEFAULT_MODEL, planned_model_path
from .progress import quiet_datasets
from .templates import get_template_class

logger = logging.getLogger(__name__)

MIXTURE_CONFIG = "mixture"


def _mixture_params(weights, params: Optional[Mapping]) -> dict:
    """The templates' parameters for the mixture (a mix.json brings its own, which win)."""
    if isinstance(weights, str):
        return {}
    return {n: dict(p) for n, p in (params or {}).items() if n in weights and p}


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
    stopping_strategy: str = "first_exhausted",
    recipe_model: str = DEFAULT_MODEL,
    num_proc: Optional[int] = None,
    cache_dir: Optional[str] = None,
    overwrite: bool = False,
    push_to_hub: Optional[str] = None,
    private: bool = False,
) -> Path:
    """Generate each template's splits, optionally a ``mixture`` config, and write them.

    ``params`` maps a template name to its parameters; ``mixture`` maps template names to
    weights (``{}`` or uniform weights for an equal mix), or is the path of a learned mix.json.
    The mixture is the ``mixture`` builder's data (rows drawn by weight, each row's ``source`` its
    template) with as many rows as each template config; with it, a TRL SFT recipe
    (``sft_recipe.yaml``, model ``recipe_model``) that ``trl sft --config`` runs as it is.
    Returns the output directory.
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
    mixer = None
    if mixture is not None:
        weights = mixture if isinstance(mixture, (str, os.PathLike)) else (dict(mixture) or {n: 1.0 for n in templates})
        if isinstance(weights, os.PathLike):
            weights = str(weights)
        mixer = load_builder("mixture", MIXTURE_CONFIG, weights=weights, params=_mixture_params(weights, params),
                             num_examples=num_examples, num_eval_examples=num_eval_examples, seed=seed, format=format,
                             stopping_strategy=stopping_strategy, cache_dir=cache_dir)
        unknown = sorted(set(mixer.config.weights) - set(templates))
        if unknown:
            raise ValueError(f"mixture weight for {unknown[0]!r}, which is not among the generated templates "
                             f"({', '.join(templates)})")
        planned_model_path(recipe_model)  # a bad model spec fails before anything is written
    configs, recipes = {}, {}
    stages = list(builders.items()) + ([(MIXTURE_CONFIG, mixer)] if mixer is not None else [])
    bar = tqdm(total=len(stages), desc="Generating configs", unit="config", disable=len(stages) < 2)
    with bar, quiet_datasets():  # one bar over the configs, not one per config and split
        for name, builder in stages:
            bar.set_postfix_str(name)
            builder.download_and_prepare(num_proc=num_proc)
            configs[name] = builder.as_dataset()
            recipes[name] = builder.recipe() if builder is mixer else builder.config.recipe()
            bar.update()
    out = write_hub_layout(configs, out_dir, recipes, overwrite=overwrite)
    if mixer is not None:
        from .trainers.trl_recipe import write_trl_recipe  # imports TRL: only when a recipe is written

        write_trl_recipe(out, [MIXTURE_CONFIG], model=recipe_model)
    if push_to_hub:
        logger.info("pushed to %s", _push(out, push_to_hub, private=private))
    return out
