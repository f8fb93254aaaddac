"""Generate template data (and a weighted mixture of it) and write it in the Hub layout."""

from __future__ import annotations

import dataclasses
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Optional, Sequence, Union

from .models import DEFAULT_MODEL, planned_model_path

logger = logging.getLogger(__name__)

MIXTURE_CONFIG = "mixture"


@dataclass
class GenerateConfig:
    """Which templates to generate, how many rows, whether to mix them, and where to write them:
    ``generate(GenerateConfig(templates=["nli"], out_dir="data", mixture={}))`` (and the options
    of ``cookbook generate``)."""

    templates: list[str] = field(metadata={"help": "Templates to generate (see `cookbook templates`)."})
    out_dir: str = field(metadata={"help": "Output directory (Hub layout).", "aliases": ["--out"]})
    num_examples: int = field(default=1000, metadata={"help": "Train rows per template."})
    num_eval_examples: Optional[int] = field(default=None, metadata={
        "help": "Validation and test rows per template (default: 10% of num_examples, at least 1)."})
    seed: int = field(default=0, metadata={"help": "Seed of every row."})
    format: str = field(default="chat", metadata={
        "help": "'chat': conversational prompt/completion messages; 'text': plain strings for base models."})
    params: dict = field(default_factory=dict, metadata={
        "help": "Each template's parameters, {template: {parameter: value}} (see `cookbook templates show NAME`)."})
    mixture: Optional[Union[dict, str]] = field(default=None, metadata={
        "help": "Also write a 'mixture' config and a TRL recipe (sft_recipe.yaml): {} (or equal weights) for a "
                "uniform mix, {template: weight}, or the path of a learned mix.json; None: no mixture."})
    stopping_strategy: str = field(default="first_exhausted", metadata={
        "help": "first_exhausted or all_exhausted, as in datasets.interleave_datasets (matters only for finite "
                "parts of a mixture, such as a learned mix.json's own rows): all_exhausted wraps them around until "
                "num_examples rows; first_exhausted stops when one runs out, short of num_examples (logged, and "
                "recorded in the card)."})
    recipe_model: str = field(default=DEFAULT_MODEL, metadata={"help": "The model the TRL recipe trains."})
    num_proc: Optional[int] = field(default=None, metadata={"help": "Processes generating in parallel (default: one)."})
    cache_dir: Optional[str] = field(default=None, metadata={"help": "The builders' cache (default: datasets')."})

    def __post_init__(self):
        from .builder_splits import check_fields
        from .templates import get_template_class

        if isinstance(self.templates, str) or not self.templates:
            raise ValueError("name at least one template as a list (see `cookbook templates`)")
        self.templates = list(dict.fromkeys(self.templates))
        if self.out_dir is None:
            raise ValueError("out_dir: give the directory to write to")
        self.out_dir = os.fspath(self.out_dir)
        self.params = {name: dict(p) for name, p in dict(self.params or {}).items()}
        for name in list(self.params) + self.templates:
            get_template_class(name)  # unknown names fail here, with the closest valid one
        stray = sorted(set(self.params) - set(self.templates))
        if stray:
            raise ValueError(f"parameters given for {stray[0]!r}, which is not among the templates to generate")
        if self.num_examples is None:
            raise ValueError("num_examples must be a positive integer (got None)")
        check_fields(self.num_examples, self.num_eval_examples, self.seed, self.format)
        if self.num_proc is not None and (isinstance(self.num_proc, bool) or not isinstance(self.num_proc, int)
                                          or self.num_proc < 1):
            raise ValueError(f"num_proc must be a positive integer or None (got {self.num_proc!r})")
        if isinstance(self.mixture, os.PathLike):
            self.mixture = os.fspath(self.mixture)
        if not (self.mixture is None or isinstance(self.mixture, (str, Mapping))):
            raise ValueError(f"mixture must be None, a {{template: weight}} mapping or the path of a mix.json "
                             f"(got {self.mixture!r})")


def _mixture_params(weights, params: Optional[Mapping]) -> dict:
    """The templates' parameters for the mixture (a mix.json brings its own, which win)."""
    if isinstance(weights, str):
        return {}
    return {n: dict(p) for n, p in (params or {}).items() if n in weights and p}


def generate(
    templates: Union[Sequence[str], GenerateConfig],
    out_dir: Optional[str | os.PathLike] = None,
    *,
    overwrite: bool = False,
    push_to_hub: Optional[str] = None,
    private: bool = False,
    **fields,
) -> Path:
    """Generate each template's splits, optionally a ``mixture`` config, and write them.

    ``generate(GenerateConfig(...))``, or the same as ``generate(templates, out_dir, **fields)``
    with :class:`GenerateConfig`'s other fields as keywords (``num_examples``, ``seed``, ``params``,
    ``mixture``, ...; given with a config, they replace its values). The mixture is the
    ``mixture`` builder's data (rows drawn by weight, each row's ``source`` its template) with as
    many rows as each template config; with it, a TRL SFT recipe (``sft_recipe.yaml``, model
    ``recipe_model``) that ``trl sft --config`` runs as it is. ``overwrite`` replaces an existing
    ``out_dir``; ``push_to_hub`` then uploads it to that Hub dataset repository (``private``: a
    private one). Returns the output directory.
    """
    if isinstance(templates, GenerateConfig):
        config = dataclasses.replace(templates, **fields, **({"out_dir": out_dir} if out_dir is not None else {}))
    else:
        config = GenerateConfig(templates=list(templates) if templates else [], out_dir=out_dir, **fields)
    from tqdm.auto import tqdm

    from .hub_layout import write_hub_layout
    from .loading import load_builder
    from .progress import quiet_datasets

    templates, params, mixture = config.templates, config.params, config.mixture
    if Path(config.out_dir).exists() and not overwrite:
        raise FileExistsError(f"{config.out_dir} already exists; pass overwrite=True (--overwrite) to replace it")
    common = dict(num_examples=config.num_examples, num_eval_examples=config.num_eval_examples, seed=config.seed,
                  format=config.format, cache_dir=config.cache_dir)
    builders = {name: load_builder("cookbook", name, **common, **params.get(name, {})) for name in templates}
    # every config is validated before anything is generated
    mixer = None
    if mixture is not None:
        weights = mixture if isinstance(mixture, str) else (dict(mixture) or {n: 1.0 for n in templates})
        mixer = load_builder("mixture", MIXTURE_CONFIG, weights=weights, params=_mixture_params(weights, params),
                             stopping_strategy=config.stopping_strategy, **common)
        # A plain template name must be generated too; a name the mixture describes (a mix.json's template
        # settings, demonstrations and your own rows, or components=) is a part of the mixture alone.
        unknown = sorted(set(mixer.config.weights) - set(templates) - set(mixer.config.components))
        if unknown:
            raise ValueError(f"mixture weight for {unknown[0]!r}, which is not among the generated templates "
                             f"({', '.join(templates)}); add it to the templates to generate")
        planned_model_path(config.recipe_model)  # a bad model spec fails before anything is written
    configs, recipes = {}, {}
    stages = list(builders.items()) + ([(MIXTURE_CONFIG, mixer)] if mixer is not None else [])
    bar = tqdm(total=len(stages), desc="Generating configs", unit="config", disable=len(stages) < 2)
    with bar, quiet_datasets():  # one bar over the configs, not one per config and split
        for name, builder in stages:
            bar.set_postfix_str(name)
            builder.download_and_prepare(num_proc=config.num_proc)
            configs[name] = builder.as_dataset()
            recipes[name] = builder.recipe() if builder is mixer else builder.config.recipe()
            bar.update()
    out = write_hub_layout(configs, config.out_dir, recipes, overwrite=overwrite)
    if mixer is not None:
        from .trainers.trl_recipe import write_trl_recipe  # imports TRL: only when a recipe is written

        write_trl_recipe(out, [MIXTURE_CONFIG], model=config.recipe_model)
    if push_to_hub:
        from .push import push_dataset

        logger.info("pushed to %s", push_dataset(out, push_to_hub, private=private))
    return out
