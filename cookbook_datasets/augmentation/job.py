"""Augment a seed set into a Hub-layout dataset: the function behind ``cookbook augment``.

    summary = augment_to_hub("seed.jsonl", "runs/aug/data", strategy="rephrase", budget=200,
                             teacher="http://localhost:8000/v1")

The ledger and the response cache live in ``work_dir`` (default ``<out>.work``), outside the
written dataset, so a killed run started again resumes from them and a finished one re-run costs
no query. The card records the recipe and the ledger. ``teacher`` may list several servers of one
model (requests go round robin); ``execution={"executor": "ray", "replicas": 4}`` sends the
requests from a Ray Data actor pool, with the same rows.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Optional

import datasets

from .config import AugmentationConfig
from .pipeline import run_augmentation, to_dataset
from .seed_data import load_seed_set
from .endpoints import is_url, teacher_endpoints, teacher_list

logger = logging.getLogger(__name__)

DESCRIPTION = """Made by [cookbook-datasets](https://pypi.org/project/cookbook-datasets/) budgeted augmentation
(arXiv 2409.19759): a teacher model augmented a seed set under a budget of queries. Rows follow one
schema: `prompt`, `completion` (messages), `source` (`augmentation/<strategy>` or `augmentation/seed`)
and `meta` (JSON: the strategy, the seed row, the queries the row used). The recipe below holds the
ledger: queries used by kind, paid, served from the cache, lost in flight."""


def augment_to_hub(seed_data, out: str | os.PathLike, *, teacher: str | list, strategy: str = "answer_aug",
                   budget: int = 100, teacher_model: Optional[str] = None, work_dir: Optional[str | os.PathLike] = None,
                   cache_path: Optional[str | os.PathLike] = None, concurrency: int = 8,
                   engine_options: Optional[dict] = None, question_field: Optional[str] = None,
                   answer_field: Optional[str] = None, overwrite: bool = False, progress: bool = True,
                   **params) -> dict:
    """Run one strategy and write the rows to ``out`` (config = the strategy's name, split ``train``).
    ``teacher``: a server URL, a local model spec, or a list of server URLs serving one model.
    ``params``: more :class:`AugmentationConfig` fields (``execution`` among them). Returns the
    summary (with ``out``). Bad input (a malformed URL, an empty list, an existing ``out``, a
    server that does not answer, an unreachable Ray cluster) fails before any query."""
    config = AugmentationConfig.from_dict({**params, "strategy": strategy, "budget": budget})
    teachers = teacher_list(teacher)  # a malformed or empty teacher list fails before anything else
    out = Path(out)
    if out.exists() and not overwrite:
        raise FileExistsError(f"{out} already exists; pass overwrite=True (--overwrite) to replace it")
    seeds = load_seed_set(seed_data, question_field=question_field, answer_field=answer_field)
    options = dict(engine_options or {})
    if is_url(teachers[0]):
        options.setdefault("concurrency", concurrency)
        options.setdefault("progress", False)  # the teacher shows one bar per batch itself
    if config.execution.uses_ray:
        config.execution.connect()  # an unreachable cluster: one line, before the servers are asked anything
    endpoints = teacher_endpoints(teachers, model=teacher_model, **options)
    rows, summary = run_augmentation(seeds, endpoints, config, work_dir or f"{out}.work", cache_path=cache_path,
                                     progress=progress)
    recipe = {**summary["recipe"], "seed_data": str(seed_data) if isinstance(seed_data, (str, os.PathLike)) else None,
              "ledger": summary["ledger"], "kept": summary["kept"], "dropped": summary["dropped"],
              "steps": summary["steps"], "checker": summary["checker"]}
    from cookbook_datasets.hub_layout import write_hub_layout

    write_hub_layout({config.strategy: datasets.DatasetDict({"train": to_dataset(rows)})}, out,
                     recipes={config.strategy: recipe}, overwrite=overwrite,
                     pretty_name=f"Budgeted augmentation ({config.strategy})", description=DESCRIPTION)
    logger.info("wrote %s: %d rows (%s)", out, len(rows), json.dumps(summary["ledger"]))
    return {**summary, "out": str(out), "rows": len(rows)}
