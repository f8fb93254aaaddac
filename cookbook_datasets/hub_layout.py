"""Write datasets in the Hugging Face Hub layout, and read back what a card records.

The layout: ``<config>/<split>-NNNNN-of-NNNNN.parquet`` per config and split, and a README.md
whose YAML ``configs:`` block maps config names to files, followed by a dataset card recording
how the data was made (the recipe, and a SHA-256 of every Parquet file) so that the card alone
is enough to regenerate and check the data (``rebuild.py``). ``datasets.load_dataset(out_dir,
"<config>")`` reads it without this package; ``push.py`` uploads the same layout.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Optional

import datasets
from huggingface_hub import DatasetCard, DatasetCardData

from .atomic_files import atomic_dir

logger = logging.getLogger(__name__)

MAX_SHARD_BYTES = 256 * 2**20


def write_parquet_shards(ds: datasets.Dataset, directory: Path, split: str) -> list[Path]:
    num_shards = max(1, math.ceil(ds.data.nbytes / MAX_SHARD_BYTES))
    from .progress import quiet_datasets

    paths = []
    with quiet_datasets():  # a bar per file is noise: writing is quick next to making the rows
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
                 download_sizes: Optional[Mapping[str, int]] = None,
                 checksums: Optional[Mapping[str, str]] = None) -> DatasetCard:
    """The card: YAML (configs, and per config the features and split sizes, as the Hub writes
    them) and a body recording how the data was made. ``download_sizes``: Parquet bytes per config;
    ``checksums``: file path (relative) -> SHA-256, what a check of data nobody can remake compares.

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

Everything needed to regenerate the data (`cookbook regenerate`):

```json
{json.dumps(recipes, indent=2)}
```
"""
    if checksums:
        body += f"""
## Files

SHA-256 of every Parquet file as written:

```json
{json.dumps(dict(checksums), indent=2, sort_keys=True)}
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
    with atomic_dir(out, overwrite=overwrite) as tmp:  # an existing out_dir is removed only once tmp replaced it
        sizes, checksums = {}, {}
        for name, dd in configs.items():
            (tmp / name).mkdir()
            for split, ds in dd.items():
                for path in write_parquet_shards(ds, tmp / name, split):
                    checksums[path.relative_to(tmp).as_posix()] = file_sha256(path)
            sizes[name] = sum(f.stat().st_size for f in (tmp / name).glob("*.parquet"))
        dataset_card(configs, recipes, download_sizes=sizes, checksums=checksums, **card).save(str(tmp / "README.md"))
        # Keys keep their order: a mixture's draws depend on the order of its weights.
        (tmp / "recipe.json").write_text(json.dumps(recipes, indent=2))
    logger.info("wrote %s (%s)", out, ", ".join(configs))
    return out


def file_sha256(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass
class WrittenCard:
    """What the card of a Hub-layout directory records."""

    root: Path
    configs: dict  # config -> split -> the Parquet files (relative paths, sorted), from the YAML and the files
    recipes: dict  # config -> its recipe (the card's "Recipe" block); {} when the card has none
    checksums: dict  # relative path -> SHA-256 (the card's "Files" block); {} on cards written before it
    pretty_name: Optional[str] = None

    def files(self, config: str, split: str) -> list[Path]:
        return [self.root / f for f in self.configs[config][split]]


def _json_block(text: str, heading: str) -> dict:
    match = re.search(rf"^## {re.escape(heading)}\s*$.*?^```json\n(.*?)^```", text, re.M | re.S)
    return json.loads(match.group(1)) if match else {}


def read_card(out_dir: str | os.PathLike) -> WrittenCard:
    """The configs, splits, files, recipes and checksums of a Hub-layout directory, from its README.md."""
    root = Path(out_dir)
    readme = root / "README.md"
    if not readme.is_file():
        raise FileNotFoundError(f"{root} is no Hub-layout directory: it has no README.md (dataset card)")
    card = DatasetCard.load(readme)
    declared = card.data.to_dict().get("configs") or []
    if not declared:
        raise ValueError(f"{readme} has no `configs:` block in its YAML, so it names no config to read")
    configs = {}
    for entry in declared:
        data_files = entry.get("data_files") or []
        if isinstance(data_files, (str, dict)):
            data_files = [data_files]
        splits = {}
        for item in data_files:
            split, patterns = (item.get("split", "train"), item["path"]) if isinstance(item, dict) else ("train", item)
            for pattern in [patterns] if isinstance(patterns, str) else patterns:
                splits.setdefault(split, []).extend(p.relative_to(root).as_posix() for p in root.glob(pattern)
                                                    if p.is_file())
        configs[entry["config_name"]] = {s: sorted(set(f)) for s, f in splits.items()}
    return WrittenCard(root=root, configs=configs, recipes=_json_block(card.text, "Recipe"),
                       checksums=_json_block(card.text, "Files"), pretty_name=card.data.to_dict().get("pretty_name"))
