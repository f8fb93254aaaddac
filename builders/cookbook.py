"""The ``cookbook`` builder: one BuilderConfig per Cookbook template.

``Cookbook(config_name="document_qa", num_examples=1000, seed=0, doc_length=64)`` then
``download_and_prepare(num_proc=...)`` / ``as_dataset(split)`` or ``as_streaming_dataset(split)``.
Keyword arguments that are not config fields are the template's parameters.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field, fields
from typing import Optional

import datasets
from datasets.builder import Key

from cookbook_datasets.builder_splits import check_fields, shard_ranges, split_sizes
from cookbook_datasets.row_schema import constant_strings, row_features, rows_table
from cookbook_datasets.seeding import stream_key
from cookbook_datasets.templates import get_template, get_template_class, list_templates

from .arguments import pop_params

SPLITS = (datasets.Split.TRAIN, datasets.Split.VALIDATION, datasets.Split.TEST)
_BATCH = 8192  # rows per Arrow table: large batches amortise the per-table costs of datasets' writer


@dataclass
class CookbookConfig(datasets.BuilderConfig):
    """Which template to run, how many rows, which seed, and the template's own parameters."""

    num_examples: Optional[int] = field(default=1000, metadata={
        "help": "Rows in the train split. None: unbounded (streaming only)."})
    num_eval_examples: Optional[int] = field(default=None, metadata={
        "help": "Rows in each of validation and test; default: 10% of num_examples, at least 1."})
    seed: int = field(default=0, metadata={"help": "Seed of the (seed, template, split, index) hash."})
    format: str = field(default="chat", metadata={
        "help": "'chat': prompt/completion as message lists; 'text': plain strings."})
    template_params: dict = field(default_factory=dict, metadata={
        "help": "Parameters of the template (see `cookbook templates show NAME`)."})

    def __post_init__(self):
        super().__post_init__()
        self.validate()

    def validate(self):
        check_fields(self.num_examples, self.num_eval_examples, self.seed, self.format)

    def split_sizes(self) -> dict[str, Optional[int]]:
        return split_sizes(self.num_examples, self.num_eval_examples)

    def template(self):
        return get_template(self.name, **self.template_params)

    def recipe(self) -> dict:
        """Everything needed to regenerate the data (recorded in DatasetInfo and the card)."""
        from cookbook_datasets import __version__

        return {
            "builder": "cookbook",
            "template": self.name,
            "package_version": __version__,
            "template_code_hash": get_template_class(self.name).code_hash(),
            "params": self.template().params(),
            "seed": self.seed,
            "split_sizes": self.split_sizes(),
            "format": self.format,
        }


_CONFIG_FIELDS = {f.name for f in fields(CookbookConfig)}


class Cookbook(datasets.ArrowBasedBuilder):
    """Cookbook data-generating templates over random tokens (arXiv 2410.05224)."""

    BUILDER_CONFIG_CLASS = CookbookConfig
    BUILDER_CONFIGS = [
        CookbookConfig(name=n, description=get_template_class(n).description) for n in list_templates()
    ]

    def __init__(self, *args, config_name: Optional[str] = None, **kwargs):
        if config_name is None:
            raise ValueError(f"choose a template as config_name; valid templates: {', '.join(list_templates())}")
        template_cls = get_template_class(config_name)  # unknown names list the valid ones
        params = pop_params(kwargs, _CONFIG_FIELDS, "template_params")
        # a tuple and a list of the same label words are the same data: one cache entry
        params = {k: list(v) if isinstance(v, tuple) else v for k, v in params.items()}
        get_template(config_name, **params)  # validates the template parameters
        config_kwargs = {k: v for k, v in kwargs.items() if k in _CONFIG_FIELDS}
        CookbookConfig(name=config_name, **config_kwargs)  # validates before anything is created
        if params:
            kwargs["template_params"] = params
        # A changed template changes the cache directory, so stale data is never reused.
        kwargs.setdefault("hash", template_cls.code_hash())
        super().__init__(*args, config_name=config_name, **kwargs)
        # `datasets` ignores None overrides of a predefined config; None means unbounded here.
        unbounded = [k for k in ("num_examples", "num_eval_examples") if k in kwargs and kwargs[k] is None]
        if unbounded:
            for k in unbounded:
                setattr(self.config, k, None)
            self.info.description = self._info().description

    def _info(self):
        return datasets.DatasetInfo(
            description=json.dumps(self.config.recipe(), sort_keys=True),
            features=row_features(self.config.format),
            homepage="https://arxiv.org/abs/2410.05224",
        )

    def _split_generators(self, dl_manager):
        streaming = isinstance(dl_manager, datasets.StreamingDownloadManager)
        generators = []
        for split, size in self.config.split_sizes().items():
            if size is None and not streaming:
                raise ValueError("num_examples=None (unbounded) needs streaming=True; "
                                 "give a positive num_examples to build a dataset")
            shards = shard_ranges(size)
            generators.append(datasets.SplitGenerator(name=split, gen_kwargs={"shards": shards, "split": str(split)}))
        return generators

    def _generate_tables(self, shards, split):
        template = self.config.template()
        key = stream_key(self.config.seed, self.config.name, split)
        source, fmt = self.config.name, self.config.format
        for shard_id, (start, stop) in enumerate(shards):
            indices = itertools.count(start) if stop is None else iter(range(start, stop))
            for batch_id in itertools.count():
                batch = list(itertools.islice(indices, _BATCH))
                if not batch:
                    break
                prompts, completions, metas = template.sample_batch(key, batch, split)
                yield Key(shard_id, batch_id), rows_table(prompts, completions, constant_strings(source, len(batch)),
                                                          metas, fmt)
