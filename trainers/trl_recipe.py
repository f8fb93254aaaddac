"""A TRL SFT recipe (YAML) for written data: ``trl sft --config recipe.yaml`` trains on it as it is.

TRL's ``sft`` script reads a dataset mixture from YAML (``datasets: [{path, name, split, columns}]``,
loaded with ``datasets.load_dataset``) and the model, LoRA and training arguments from the same
file. The recipe points at the Hub-layout directory this package wrote, so TRL needs nothing from
this package to run it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional, Sequence

import yaml

from cookbook_datasets.atomic_files import atomic_write_text
from cookbook_datasets.models import DEFAULT_MODEL, planned_model_path

RECIPE_FILE = "sft_recipe.yaml"


def _gpu_has_bf16() -> bool:
    import torch

    return bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported())


def trl_sft_recipe(data_dir: str | os.PathLike, configs: Sequence[str], *, model: str = DEFAULT_MODEL,
                   output_dir: Optional[str] = None, use_peft: bool = True, lora_r: int = 16, lora_alpha: int = 32,
                   learning_rate: float = 2e-4, num_train_epochs: float = 1.0, per_device_train_batch_size: int = 8,
                   max_length: int = 512) -> dict:
    """The recipe as a dict: one ``datasets`` entry per config (train split, prompt/completion columns);
    ``bf16`` is on where this machine has a GPU that supports it (edit it to train elsewhere)."""
    data_dir = Path(data_dir).resolve()
    recipe = {
        "model_name_or_path": planned_model_path(model),
        "datasets": [{"path": str(data_dir), "name": c, "split": "train", "columns": ["prompt", "completion"]}
                     for c in configs],
        "output_dir": output_dir or str(data_dir.parent / f"{data_dir.name}-sft"),
        "learning_rate": learning_rate,
        "num_train_epochs": num_train_epochs,
        "per_device_train_batch_size": per_device_train_batch_size,
        "max_length": max_length,
        "logging_steps": 5,
        "report_to": "none",
        # TRL's SFTConfig turns bf16 on by default, which transformers refuses on a CPU; decide here.
        "bf16": _gpu_has_bf16(),
    }
    if use_peft:
        recipe.update(use_peft=True, lora_r=lora_r, lora_alpha=lora_alpha, lora_target_modules=["all-linear"])
    return recipe


def write_trl_recipe(data_dir: str | os.PathLike, configs: Sequence[str], path: Optional[str | os.PathLike] = None,
                     **options) -> Path:
    """Write :func:`trl_sft_recipe` as YAML (default: ``sft_recipe.yaml`` inside ``data_dir``)."""
    path = Path(path) if path is not None else Path(data_dir) / RECIPE_FILE
    recipe = trl_sft_recipe(data_dir, configs, **options)
    header = ("# TRL SFT recipe written by cookbook-datasets; run it with:\n"
              f"#   trl sft --config {path}\n")
    if not Path(recipe["model_name_or_path"]).exists() and options.get("model", DEFAULT_MODEL) == DEFAULT_MODEL:
        header += ("# The default model's directory is made on its first use; to make it now:\n"
                   "#   python -c 'from cookbook_datasets.models import resolve_model_path as r; r(\"smollm2-135m\")'\n")
    return atomic_write_text(path, header + yaml.safe_dump(recipe, sort_keys=False))
