"""The ``mixture`` builder: templates and datasets in the row schema, drawn by weight.

``cookbook_datasets.load_dataset("mixture", weights={"nli": 2, "shared_words": 1}, num_examples=N)``,
or ``weights="mix.json"`` (a learned mixture). Rows are drawn with ``datasets.interleave_datasets``
semantics (see cookbook_datasets/mixing/interleave.py): a mixture of finite datasets equals
``interleave_datasets(parts, probabilities, seed, stopping_strategy)`` row for row. Templates are
unbounded parts, so a mixture of templates streams without end (``num_examples=None``).

``schedule=`` makes the weights a function of the row index (cookbook_datasets/mixing/schedule.py):
``[(0, {"nli": 1, "shared_words": 1}), (800, {"nli": 3, "shared_words": 1})]`` or the path of a
saved ``schedule.json`` (``mix learn --method online`` writes one). The rows are then a function of
(seed, schedule), so a run whose weights changed mid-run is replayed from its schedule; a
one-entry schedule gives the rows of its weights. The schedule's components must be the weights'.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field, fields
from typing import Optional, Union

import datasets
import numpy as np
import pyarrow as pa
from datasets.builder import Key

from cookbook_datasets.builder_splits import check_fields, shard_ranges, split_sizes
from cookbook_datasets.mixing.components import build_components, components_hash, validate_weights
from cookbook_datasets.mixing.interleave import (draw_blocks, draws, exhausted_parts, mixture_length, row_indices,
                                                 validate_stopping_strategy)
from cookbook_datasets.mixing.mix_file import read_mix
from cookbook_datasets.mixing.schedule import WeightSchedule, as_schedule
from cookbook_datasets.row_schema import row_features
from cookbook_datasets.seeding import stream_key

from .arguments import BUILDER_ARGS

_BATCH = 8192
logger = logging.getLogger(__name__)


@dataclass
class MixtureConfig(datasets.BuilderConfig):
    """The components, their weights, how many rows, and how to stop."""

    weights: Optional[Union[dict, str]] = field(default=None, metadata={
        "help": "Component -> weight (normalised to probabilities), or the path of a learned mix.json."})
    components: dict = field(default_factory=dict, metadata={
        "help": "Name -> {'template': T, ...params} or {'path': DIR_OR_HUB_ID_OR_BUILDER, 'name': ..., ...} for "
                "weights' names that are not plain template names."})
    params: dict = field(default_factory=dict, metadata={"help": "Template component -> its parameters."})
    num_examples: Optional[int] = field(default=1000, metadata={
        "help": "Rows in the train split: exactly this many, except under first_exhausted where a finite dataset "
                "part that runs out first ends it short (logged with the count and why, and recorded in the card's "
                "recipe under short_splits). None: until the stopping strategy ends it, or unbounded (streaming) "
                "for templates alone."})
    num_eval_examples: Optional[int] = field(default=None, metadata={
        "help": "Rows in each of validation and test; default: 10% of num_examples, at least 1."})
    seed: int = field(default=0, metadata={
        "help": "Seed of the draws (train uses it as interleave_datasets' seed) and of the template streams."})
    stopping_strategy: str = field(default="first_exhausted", metadata={
        "help": "When a finite part runs out: 'first_exhausted' stops (possibly short of num_examples: logged and "
                "recorded); 'all_exhausted' wraps it around (oversamples) until every finite part has run out, "
                "as in datasets.interleave_datasets, and with num_examples until that many rows: the count "
                "asked is what you get."})
    format: str = field(default="chat", metadata={"help": "'chat' (message lists) or 'text' (plain strings)."})
    schedule: Optional[Union[list, dict, str]] = field(default=None, metadata={
        "help": "Weights by row: [(start_row, weights), ...] (first at row 0) or the path of a schedule.json; "
                "its components must be the weights' (default weights: its first entry's). None: the weights "
                "throughout."})

    def __post_init__(self):
        super().__post_init__()
        if self.schedule is not None:
            schedule = as_schedule(self.schedule)
            if self.weights is None:
                self.weights = dict(schedule.entries[0][1])
            self.schedule = schedule.to_dict()  # plain data: the cache key is the schedule itself
        if isinstance(self.weights, str):
            mix = read_mix(self.weights)
            self.weights = mix["weights"]
            self.params = {**mix.get("params", {}), **self.params}
            self.components = {**mix.get("components", {}), **self.components}
        if self.weights is not None:
            self.weights = validate_weights(self.weights)
        if self.schedule is not None and self.weights is not None:
            self.weight_schedule().check_components(self.weights, what="mixture's weights")
        check_fields(self.num_examples, self.num_eval_examples, self.seed, self.format)
        validate_stopping_strategy(self.stopping_strategy)
        for name in ("components", "params"):
            if not isinstance(getattr(self, name), dict):
                raise ValueError(f"{name} must be a dict (got {getattr(self, name)!r})")

    def weight_schedule(self) -> WeightSchedule:
        """The weights by row: the schedule, or the weights throughout."""
        if self.schedule is None:
            return WeightSchedule.constant(self.weights)
        return as_schedule(self.schedule)

    def ever_positive(self) -> dict[str, float]:
        """Each component's largest weight over the schedule (0: never drawn, not built)."""
        schedule = self.weight_schedule()  # its order is the draws' (a saved mix.json sorts its keys)
        return {n: max(w[n] for _, w in schedule.entries) for n in schedule.components}

    def segments(self, names) -> list:
        """``(start_row, probabilities over names)`` per schedule entry."""
        return self.weight_schedule().segments(names)

    def probabilities(self) -> dict[str, float]:
        positive = {n: w for n, w in self.weights.items() if w > 0}
        total = sum(positive.values())
        return {n: w / total for n, w in positive.items()}

    def draw_seed(self, split: str) -> int:
        """The interleaving seed of a split: ``seed`` for train, hashed from it for the others."""
        if split == "train":
            return self.seed
        return int.from_bytes(stream_key(self.seed, "mixture", split)[:4], "little")

    def split_caps(self) -> dict[str, Optional[int]]:
        return split_sizes(self.num_examples, self.num_eval_examples)


_CONFIG_FIELDS = {f.name for f in fields(MixtureConfig)}


class Mixture(datasets.ArrowBasedBuilder):
    """Cookbook-Mix: a weighted mixture of templates and row-schema datasets (arXiv 2410.05224)."""

    BUILDER_CONFIG_CLASS = MixtureConfig
    DEFAULT_CONFIG_NAME = "mixture"

    def __init__(self, *args, config_name: Optional[str] = None, **kwargs):
        unknown = sorted(set(kwargs) - _CONFIG_FIELDS - BUILDER_ARGS)
        if unknown:
            raise TypeError(f"mixture: unknown argument {unknown[0]!r}; arguments are "
                            f"{', '.join(sorted(_CONFIG_FIELDS - {'name', 'version', 'data_dir', 'data_files', 'description'}))}"
                            " (template parameters go in params={component: {...}})")
        if kwargs.get("weights") is None and kwargs.get("schedule") is None:
            raise ValueError("give weights= (component -> weight, or the path of a mix.json) or schedule=")
        # Resolve a mix.json now: the cache is then keyed by the weights and parameters themselves.
        config = MixtureConfig(name=config_name or "mixture", **{k: v for k, v in kwargs.items() if k in _CONFIG_FIELDS})
        kwargs.update(weights=config.weights, params=config.params, components=config.components,
                      schedule=config.schedule)
        self.parts = build_components(config.ever_positive(), config.components, config.params, config.seed, config.format,
                                      cache_dir=kwargs.get("cache_dir"))
        kwargs.setdefault("hash", components_hash(self.parts))
        super().__init__(*args, config_name=config_name or "mixture", **kwargs)
        if "num_examples" in kwargs and kwargs["num_examples"] is None:
            self.config.num_examples = None  # datasets drops None overrides; None means "until it stops" here
            self.info.description = self._info().description

    # -- what the data is ---------------------------------------------------------------------------
    def split_names(self) -> list[str]:
        names = [s for s in ("train", "validation", "test") if all(s in p.splits for p in self.parts.values())]
        if not names:
            raise ValueError("the mixture's components share no split: "
                             + "; ".join(f"{n}: {list(p.splits)}" for n, p in self.parts.items()))
        return names

    def split_size(self, split: str) -> Optional[int]:
        names = list(self.parts)
        return mixture_length(self.config.segments(names), [self.parts[n].length(split) for n in names],
                              self.config.draw_seed(split), self.config.stopping_strategy,
                              self.config.split_caps()[split])

    def shortfalls(self) -> dict[str, dict]:
        """The splits a finite part ended short of the rows asked (first_exhausted): split -> {rows, asked, why}."""
        names, caps, short = list(self.parts), self.config.split_caps(), {}
        for split in self.split_names():
            size, cap = self.split_size(split), caps[split]
            if cap is None or size is None or size >= cap:
                continue
            lengths = [self.parts[n].length(split) for n in names]
            ran_out = [f"{names[i]!r} ({lengths[i]} rows)" for i in
                       exhausted_parts(self.config.segments(names), lengths, self.config.draw_seed(split), size)]
            short[split] = {"rows": size, "asked": cap, "why": (
                f"stopping_strategy='first_exhausted' ends the mixture when a finite part runs out: "
                f"{', '.join(ran_out)} ran out after {size} rows; stopping_strategy='all_exhausted' (or "
                f"'repeat': true on the component) wraps it around to give {cap}")}
        return short

    def recipe(self) -> dict:
        from cookbook_datasets import __version__

        recipe = {"builder": "mixture", "package_version": __version__, "weights": self.config.weights,
                  "probabilities": self.config.probabilities(), "seed": self.config.seed,
                  "stopping_strategy": self.config.stopping_strategy, "format": self.config.format,
                  "components": {n: p.describe() for n, p in self.parts.items()},
                  "split_caps": self.config.split_caps()}
        if self.config.schedule is not None:
            recipe["schedule"] = self.config.schedule
        short = self.shortfalls()
        if short:
            recipe["short_splits"] = short  # the card says the count asked was not reached, and why
        return recipe

    def _info(self):
        return datasets.DatasetInfo(description=json.dumps(self.recipe(), sort_keys=True, default=str),
                                    features=row_features(self.config.format),
                                    homepage="https://arxiv.org/abs/2410.05224")

    def _split_generators(self, dl_manager):
        streaming = isinstance(dl_manager, datasets.StreamingDownloadManager)
        for split, short in self.shortfalls().items():
            logger.warning("mixture split %r has %d rows, not the %d asked: %s", split, short["rows"], short["asked"],
                           short["why"])
        generators = []
        for split in self.split_names():
            size = self.split_size(split)
            if size is None and not streaming:
                raise ValueError("this mixture of templates has no end (num_examples=None): use streaming=True "
                                 "or give a positive num_examples")
            shards = shard_ranges(size)
            generators.append(datasets.SplitGenerator(name=split, gen_kwargs={"shards": shards, "split": split}))
        return generators

    # -- making it ----------------------------------------------------------------------------------
    def _generate_tables(self, shards, split):
        names = list(self.parts)
        p = self.config.segments(names)
        seed = self.config.draw_seed(split)
        for shard_id, (start, stop) in enumerate(shards):
            for batch_id, (sources, offsets) in enumerate(self._batches(p, seed, start, stop)):
                yield Key(shard_id, batch_id), self._rows(names, split, sources, offsets)

    def _batches(self, p, seed, start, stop):
        """(sources, per-part offsets before them) for rows [start, stop) in batches; ``p``: the
        schedule's segments over the parts."""
        n_parts = len(p[0][1])
        if stop is not None:
            plan = draws(p, seed, stop)
            offsets = np.bincount(plan[:start], minlength=n_parts).astype(np.int64)
            for a in range(start, stop, _BATCH):
                sources = plan[a:min(stop, a + _BATCH)]
                yield sources, offsets
                offsets = offsets + np.bincount(sources, minlength=n_parts)
            return
        offsets = np.zeros(n_parts, dtype=np.int64)  # an endless stream (templates only)
        for block in draw_blocks(p, seed):
            yield block, offsets
            offsets = offsets + np.bincount(block, minlength=n_parts)

    def _rows(self, names, split, sources, offsets) -> pa.Table:
        indices, _ = row_indices(sources, offsets)
        tables, positions = [], []
        for part in np.unique(sources):
            where = np.flatnonzero(sources == part)
            tables.append(self.parts[names[part]].rows(split, indices[where]))
            positions.append(where)
        table = pa.concat_tables(tables)
        return table.take(pa.array(np.argsort(np.concatenate(positions), kind="stable")))
