"""Write datasets in the Hugging Face Hub layout and push them.

The layout: ``<config>/<split>-NNNNN-of-NNNNN.parquet`` per config and split, and a README.md
whose YAML ``configs:`` block maps config names to files, followed by a dataset card recording
how the data was made. ``datasets.load_dataset(out_dir, "<config>")`` reads it without this
package; ``push_to_hub`` uploads the same files.
"""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
import tempfile
from pathlib import Path
from typing import Mapping, Optional

import datasets
from huggingface_hub import DatasetCard, DatasetCardData, HfApi

logger = logging.getLogger(__name__)

MAX_SHARD_BYTES = 256 * 2**20


def write_parquet_shards(ds: datasets.Dataset, directory: Path, split: str) -> list[Path]:
    num_shards = max(1, math.ceil(ds.data.nbytes / MAX_SHARD_BYTES))
    paths = []
    for i in range(num_shards):
        path = directory / f"{split}-{i:05d}-of-{num_shards:05d}.parquet"
        ds.shard(num_shards, i, contiguous=True).to_parquet(str(path))
        paths.append(path)
    return paths


TEMPLATES_DESCRIPTION = """Made by [cookbook-datasets](https://pypi.org/project/cookbook-datasets/) without annotators and
without a stronger LLM: every row comes from a data-generating template over random tokens
(Cookbook, arXiv 2410.05224). Rows follow one schema: `prompt` and `completion` (TRL
conversational messages or plain text), `source` (the template) and `meta` (JSON with the
structured `inputs` and the rule's `output`)."""


def dataset_card(configs: Mapping[str, datasets.DatasetDict], recipes: Mapping[str, dict],
                 pretty_name: str = "Cookbook synthetic instruction data",
                 description: str = TEMPLATES_DESCRIPTION,
                 download_sizes: Optional[Mapping[str, int]] = None) -> DatasetCard:
    """The card: YAML (configs, and per config the features and split sizes, as the Hub writes
    them) and a body recording how the data was made. ``download_sizes``: Parquet bytes per config.

    The sizes matter locally too: ``datasets`` caches a local directory under a hash of this YAML
    alone, so without them a directory rewritten with other rows of the same configs would be
    read back from the stale cache."""
    dataset_info = []
    for name, dd in configs.items():
        info = {"config_name": name, "features": next(iter(dd.values())).features._to_yaml_list(),
                "splits": [{"name": s, "num_bytes": int(dd[s].data.nbytes), "num_examples": len(dd[s])} for s in dd],
                "dataset_size": int(sum(dd[s].data.nbytes for s in dd))}
        if download_sizes and name in download_sizes:
            info["download_size"] = int(download_sizes[name])
        dataset_info.append(info)
    card_data = DatasetCardData(
        dataset_info=dataset_info,
        pretty_name=pretty_name,
        license="apache-2.0",
        tags=["synthetic", "cookbook-datasets"],
        task_categories=["text-generation"],
        configs=[
            {"config_name": name, "data_files": [{"split": s, "path": f"{name}/{s}-*.parquet"} for s in dd]}
            for name, dd in configs.items()
        ],
    )
    sizes = "\n".join(
        f"| `{name}` | " + " | ".join(f"{s}: {len(dd[s])}" for s in dd) + " |" for name, dd in configs.items()
    )
    body = f"""
# {pretty_name}

{description}

```python
from datasets import load_dataset
ds = load_dataset("<this repo or directory>", "{next(iter(configs))}")
```

## Configs

| config | rows |
|---|---|
{sizes}

## Recipe

Everything needed to regenerate the data:

```json
{json.dumps(recipes, indent=2, sort_keys=True)}
```
"""
    return DatasetCard(f"---\n{card_data.to_yaml()}\n---\n{body}")


def write_hub_layout(configs: Mapping[str, datasets.DatasetDict], out_dir: str | os.PathLike,
                     recipes: Mapping[str, dict], overwrite: bool = False, **card) -> Path:
    """Write ``configs`` (name -> DatasetDict) under ``out_dir`` atomically.

    Everything is written to a temporary sibling directory first and renamed into place, so an
    error never leaves a partial ``out_dir`` behind (nor destroys an existing one). ``card``:
    ``pretty_name`` and ``description`` of the dataset card.
    """
    out = Path(out_dir)
    if out.exists() and not overwrite:
        raise FileExistsError(f"{out} already exists; pass overwrite=True (--overwrite) to replace it")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    tmp.chmod(0o755)  # mkdtemp makes it private; the result should read like any directory
    try:
        sizes = {}
        for name, dd in configs.items():
            (tmp / name).mkdir()
            for split, ds in dd.items():
                write_parquet_shards(ds, tmp / name, split)
            sizes[name] = sum(f.stat().st_size for f in (tmp / name).glob("*.parquet"))
        dataset_card(configs, recipes, download_sizes=sizes, **card).save(str(tmp / "README.md"))
        (tmp / "recipe.json").write_text(json.dumps(recipes, indent=2, sort_keys=True))
        if out.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
            os.replace(out, old / out.name)
            os.replace(tmp, out)
            shutil.rmtree(old)
        else:
            os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    logger.info("wrote %s (%s)", out, ", ".join(configs))
    return out


def push_to_hub(out_dir: str | os.PathLike, repo_id: str, *, private: bool = False,
                token: Optional[str] = None, commit_message: str = "Upload with cookbook-datasets") -> str:
    """Upload a directory written by :func:`write_hub_layout` to a Hub dataset repository."""
    api = HfApi(token=token)
    api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True)
    api.upload_folder(folder_path=str(out_dir), repo_id=repo_id, repo_type="dataset",
                      commit_message=commit_message)
    return f"https://huggingface.co/datasets/{repo_id}"
