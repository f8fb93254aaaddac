"""The ``self_guide`` builder: SELF-GUIDE synthetic task data as a ``datasets`` builder.

``SelfGuide(task="task.json", model="smollm2-135m", num_examples=100, seed=0)`` (or
``instruction=``, ``examples=``, ``labels=`` instead of a task file), then ``download_and_prepare()``
and ``as_dataset("train")``. Keyword arguments that are not config fields are SELF-GUIDE parameters
(:class:`cookbook_datasets.self_guide.SelfGuideConfig`: ``annotation="rank"``, ``max_minutes=30``, ...).
The pipeline checkpoints every round in a work directory under the cache, so an interrupted build
resumes where it stopped; a build ended by ``max_minutes`` yields the pairs it has (the dataset's
description records ``stopped``) and resumes its rounds when forced to rebuild.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import dataclass, field, fields
from typing import Optional

import datasets
import pyarrow as pa

from cookbook_datasets.models import DEFAULT_MODEL
from cookbook_datasets.row_schema import row_features
from cookbook_datasets.self_guide import SelfGuideConfig, synthesize, to_dataset_dict
from cookbook_datasets.self_guide.config import JOB_FIELDS
from cookbook_datasets.self_guide.pipeline import check_kept_some, recipe, work_identity
from cookbook_datasets.tasks import Task, define_task, load_task, task_definition

from .arguments import pop_params


@dataclass
class SelfGuideBuilderConfig(datasets.BuilderConfig):
    """The task (a file, or an instruction with examples), the model that writes the data, and the
    pipeline's parameters."""

    task: Optional[str] = field(default=None, metadata={
        "help": "Task file: NIV2 JSON or {instruction, examples, labels}. Or give instruction + examples."})
    instruction: Optional[str] = field(default=None, metadata={"help": "The task's instruction (without a task file)."})
    examples: Optional[list] = field(default=None, metadata={"help": "[{'input', 'output'}, ...] demonstrations."})
    labels: Optional[list] = field(default=None, metadata={"help": "Label set of a classification task."})
    kind: str = field(default="auto", metadata={"help": "'auto', 'classification' or 'generation'."})
    num_demonstrations: int = field(default=3, metadata={"help": "Demonstrations read from a task file."})
    model: str = field(default=DEFAULT_MODEL, metadata={"help": "The model that writes (and will learn from) the data."})
    backend: str = field(default="transformers", metadata={"help": "Generation backend: transformers, openai, vllm."})
    engine_options: dict = field(default_factory=dict, metadata={
        "help": "Backend options (adapter, dtype, batch_size; base_url, api_key_env for openai)."})
    self_guide: dict = field(default_factory=dict, metadata={
        "help": "SelfGuideConfig's synthesis fields (num_examples, seed, ...; its job fields are run_self_guide's)."})

    def __post_init__(self):
        super().__post_init__()
        self.pipeline_config()  # validates the parameters before anything runs
        if self.task is None and (self.instruction is None or self.examples is None):
            raise ValueError("give task= (a task file) or instruction= and examples= (a few {'input', 'output'} pairs)")

    def pipeline_config(self) -> SelfGuideConfig:
        job = sorted(set(self.self_guide) & set(JOB_FIELDS))
        if job:
            raise ValueError(f"self_guide builder: {job[0]!r} is a setting of the SELF-GUIDE job (run_self_guide, "
                             "cookbook self-guide), not of its data; the builder takes the synthesis fields")
        return SelfGuideConfig.from_dict({**self.self_guide, "model": self.model, "backend": self.backend,
                                          "num_demonstrations": self.num_demonstrations})

    def definition(self) -> Task:
        """What SELF-GUIDE reads of the task: its instruction, demonstrations and label set."""
        if self.task is not None:
            task = load_task(self.task, demonstrations=self.num_demonstrations)  # a data file's first labelled rows
            return task_definition(task, num_demonstrations=self.num_demonstrations, kind=self.kind)
        return define_task(instruction=self.instruction, examples=self.examples, labels=self.labels, kind=self.kind,
                           name=self.name if self.name != "default" else "task")


logger = logging.getLogger(__name__)

_CONFIG_FIELDS = {f.name for f in fields(SelfGuideBuilderConfig)}


class SelfGuide(datasets.ArrowBasedBuilder):
    """SELF-GUIDE: the model synthesises its own task data (arXiv 2407.12874)."""

    BUILDER_CONFIG_CLASS = SelfGuideBuilderConfig

    def __init__(self, *args, **kwargs):
        params = pop_params(kwargs, _CONFIG_FIELDS, "self_guide")
        kwargs["self_guide"] = params  # unknown or bad parameters fail in the config, before anything is made
        if "task" in kwargs and kwargs["task"] is not None:
            kwargs["task"] = os.path.abspath(os.fspath(kwargs["task"]))
            if not os.path.isfile(kwargs["task"]):
                raise FileNotFoundError(f"task file {kwargs['task']} does not exist")
        elif kwargs.get("instruction") is not None:
            kwargs.setdefault("task", None)
        # the data depends on the task file's content, not only its path
        kwargs.setdefault("hash", self._content_hash(kwargs.get("task")))
        super().__init__(*args, **kwargs)
        self.config.definition()  # a malformed task file fails here, naming the file and field

    @staticmethod
    def _content_hash(task_path: Optional[str]) -> str:
        from cookbook_datasets import __version__

        h = hashlib.blake2b(__version__.encode(), digest_size=8)
        if task_path:
            with open(task_path, "rb") as f:
                h.update(f.read())
        return h.hexdigest()

    def _info(self):
        return datasets.DatasetInfo(description="SELF-GUIDE synthetic task data", features=row_features("chat"),
                                    homepage="https://arxiv.org/abs/2407.12874")

    def _split_generators(self, dl_manager):
        task, config = self.config.definition(), self.config.pipeline_config()
        rec = recipe(task, config)
        # keyed on what the checkpoints depend on: another max_minutes resumes the same rounds
        key = hashlib.blake2b(json.dumps({**work_identity(rec), "backend": self.config.backend}, sort_keys=True).encode(),
                              digest_size=8).hexdigest()
        work = os.path.join(self._cache_dir_root, "self_guide_work", key)
        from cookbook_datasets.generation import load_engine

        with load_engine(self.config.model, backend=self.config.backend, **self.config.engine_options) as engine:
            pairs, stats = synthesize(task, engine, config, work_dir=work)
        check_kept_some(task, stats)
        if stats["stopped"]["reason"] == "budget":
            logger.warning("%s: the time budget (max_minutes=%s) ended synthesis with %d of the %d pairs asked; the "
                           "rounds are checkpointed in %s: load again with download_mode='force_redownload' (and the "
                           "same or a larger max_minutes) to continue", task.name, config.max_minutes, stats["kept"],
                           config.num_examples, work)
        self.info.description = json.dumps({**rec, "counts": stats}, sort_keys=True)
        splits = to_dataset_dict(pairs, task, config)
        return [datasets.SplitGenerator(name=name, gen_kwargs={"table": ds.data.table}) for name, ds in splits.items()]

    def _generate_tables(self, table: pa.Table):
        yield 0, table
