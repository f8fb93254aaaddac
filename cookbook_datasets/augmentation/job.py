"""Augment a seed set into a Hub-layout dataset: the function behind ``cookbook augment``.

    summary = augment_to_hub("seed.jsonl", "runs/aug/data", strategy="rephrase", budget=200,
                             teacher="http://localhost:8000/v1")

The ledger and the response cache live in ``work_dir`` (default ``<out>.work``), outside the
written dataset, so a killed run started again resumes from them and a finished one re-run costs
no query. The card records the recipe and the ledger.
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
from .teacher import load_teacher_engine

logger = logging.getLogger(__name__)

DESCRIPTION = """Made by [cookbook-datasets](https://pypi.org/project/cookbook-datasets/) budgeted augmentation
(arXiv 2409.19759): a teacher model augmented a seed set under a budget of queries. Rows follow one
schema: `prompt`, `completion` (messages), `source` (`augmentation/<strategy>` or `augmentation/seed`)
and `meta` (JSON: the strategy, the seed row, the queries the row used). The recipe below holds the
ledger: queries used by kind, paid, served from the cache, lost in flight."""


def augment_to_hub(seed_data, out: str | os.PathLike, *, teacher: str, strategy: str = "answer_aug", budget: int = 100,
                   teacher_model: Optional[str] = None, work_dir: Optional[str | os.PathLike] = None,
                   cache_path: Optional[str | os.PathLike] = None, concurrency: int = 8,
                   engine_options: Optional[dict] = None, question_field: Optional[str] = None,
                   answer_field: Optional[str] = None, overwrite: bool = False, progress: bool = True,
                   **params) -> dict:
    """Run one strategy and write the rows to ``out`` (config = the strategy's name, split ``train``).
    ``params``: more :class:`AugmentationConfig` fields. Returns the summary (with ``out``)."""
    config = AugmentationConfig.from_dict({**params, "strategy": strategy, "budget": budget})
    out = Path(out)
    if out.exists() and not overwrite:
        raise FileExistsError(f"{out} already exists; pass overwrite=True (--overwrite) to replace it")
    seeds = load_seed_set(seed_data, question_field=question_field, answer_field=answer_field)
    options = dict(engine_options or {})
    if str(teacher).startswith(("http://", "https://")):
        options.setdefault("concurrency", concurrency)
        options.setdefault("progress", False)  # the teacher shows one bar per batch itself
    engine = load_teacher_engine(teacher, model=teacher_model, **options)
    with engine:
        rows, summary = run_augmentation(seeds, engine, config, work_dir or f"{out}.work", cache_path=cache_path,
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
