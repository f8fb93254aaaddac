"""The ``augmentation`` builder: a seed set augmented by a teacher under a query budget.

``Augmentation(seed_data="seed.jsonl", strategy="new_question", budget=300,
teacher="http://localhost:8000/v1")``, then ``download_and_prepare()`` and ``as_dataset("train")``;
or ``cookbook_datasets.load_dataset("augmentation", ...)``. Keyword arguments that are not config
fields are augmentation parameters (:class:`cookbook_datasets.augmentation.AugmentationConfig`).
The ledger and the response cache live in a work directory under the cache, so an interrupted
build resumes without paying twice, and a rebuild costs no query.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field, fields
from typing import Optional, Union

import datasets
import pyarrow as pa

from cookbook_datasets.augmentation import AugmentationConfig, load_seed_set, run_augmentation, to_dataset
from cookbook_datasets.augmentation.pipeline import recipe
from cookbook_datasets.augmentation.seed_data import seed_fingerprint
from cookbook_datasets.augmentation.teacher import load_teacher_engine
from cookbook_datasets.row_schema import row_features

from .arguments import pop_params


@dataclass
class AugmentationBuilderConfig(datasets.BuilderConfig):
    """The seed set, the teacher, and the augmentation recipe."""

    seed_data: Optional[Union[str, list]] = field(default=None, metadata={
        "help": "Seed set: a .jsonl/.json file, a Hub-layout directory or dataset name, or a list of "
                "{'question', 'answer'} dicts."})
    question_field: Optional[str] = field(default=None, metadata={"help": "The seed rows' question field (default: auto)."})
    answer_field: Optional[str] = field(default=None, metadata={"help": "The seed rows' answer field (default: auto)."})
    teacher: Optional[str] = field(default=None, metadata={
        "help": "An OpenAI-compatible server URL (http://host:port/v1) or a local model spec (transformers backend)."})
    teacher_model: Optional[str] = field(default=None, metadata={
        "help": "The served model's name (default: the one the server lists)."})
    engine_options: dict = field(default_factory=dict, metadata={
        "help": "Engine options (concurrency, timeout, max_retries, api_key_env; dtype, batch_size locally)."})
    cache_path: Optional[str] = field(default=None, metadata={
        "help": "Response cache file shared between builds (default: one per recipe under the cache dir)."})
    augmentation: dict = field(default_factory=dict, metadata={
        "help": "AugmentationConfig fields (strategy, budget, seed, verify, ...)."})

    def __post_init__(self):
        super().__post_init__()
        self.pipeline_config()  # validates the parameters before anything runs
        if self.seed_data is None:
            raise ValueError("give seed_data= (a seed file, directory or list of {'question', 'answer'} dicts)")
        if not self.teacher:
            raise ValueError("give teacher= (an OpenAI-compatible server URL or a local model spec)")

    def pipeline_config(self) -> AugmentationConfig:
        return AugmentationConfig.from_dict(self.augmentation)


_CONFIG_FIELDS = {f.name for f in fields(AugmentationBuilderConfig)}


class Augmentation(datasets.ArrowBasedBuilder):
    """Budgeted augmentation: answer augmentation, question rephrase, new questions (arXiv 2409.19759)."""

    BUILDER_CONFIG_CLASS = AugmentationBuilderConfig

    def __init__(self, *args, **kwargs):
        params = pop_params(kwargs, _CONFIG_FIELDS, "augmentation")
        AugmentationConfig.from_dict(params)  # unknown or bad parameters fail here, before anything is made
        kwargs["augmentation"] = params
        seed_data = kwargs.get("seed_data")
        if isinstance(seed_data, (str, os.PathLike)) and os.path.exists(seed_data):
            kwargs["seed_data"] = os.path.abspath(os.fspath(seed_data))
        # a malformed seed set fails here, naming the file and field; the data depends on its content
        self._seeds = load_seed_set(kwargs.get("seed_data"), kwargs.get("question_field"), kwargs.get("answer_field")) \
            if seed_data is not None else None
        kwargs.setdefault("hash", self._content_hash(self._seeds, kwargs.get("teacher"), kwargs.get("teacher_model")))
        super().__init__(*args, **kwargs)

    @staticmethod
    def _content_hash(seeds, teacher, teacher_model) -> str:
        from cookbook_datasets import __version__

        blob = json.dumps([__version__, seed_fingerprint(seeds) if seeds else None, teacher, teacher_model])
        return hashlib.blake2b(blob.encode(), digest_size=8).hexdigest()

    def _info(self):
        return datasets.DatasetInfo(description="Budgeted augmentation of a seed set by a teacher",
                                    features=row_features("chat"), homepage="https://arxiv.org/abs/2409.19759")

    def _split_generators(self, dl_manager):
        config = self.config.pipeline_config()
        seeds = self._seeds
        options = dict(self.config.engine_options)
        if self.config.teacher.startswith(("http://", "https://")):
            options.setdefault("progress", False)
        engine = load_teacher_engine(self.config.teacher, model=self.config.teacher_model, **options)
        with engine:
            from cookbook_datasets.augmentation.teacher import engine_model_id

            rec = recipe(config, seed_fingerprint(seeds), engine_model_id(engine))
            key = hashlib.blake2b(json.dumps(rec, sort_keys=True).encode(), digest_size=8).hexdigest()
            work = os.path.join(self._cache_dir_root, "augmentation_work", key)
            rows, summary = run_augmentation(seeds, engine, config, work, cache_path=self.config.cache_path)
        self.info.description = json.dumps({**rec, "ledger": summary["ledger"], "kept": summary["kept"],
                                            "dropped": summary["dropped"]}, sort_keys=True)
        table = to_dataset(rows).data.table
        return [datasets.SplitGenerator(name=datasets.Split.TRAIN, gen_kwargs={"table": table})]

    def _generate_tables(self, table: pa.Table):
        yield 0, table
