"""A TRL SFT recipe (YAML) for written data: ``trl sft --config recipe.yaml`` trains on it as it is.

TRL's ``sft`` script reads a dataset mixture from YAML (``datasets: [{path, name, split, columns}]``,
loaded with ``datasets.load_dataset``) and the model, LoRA and training arguments from the same
file. The recipe points at the Parquet files of the Hub-layout directory this package wrote, so TRL
needs nothing from this package to run it.

A recipe is pushed to the Hub beside its data, so it holds no path of this machine: TRL's ``sft``
script hands each ``datasets: [{path: ...}]`` entry to ``datasets.load_dataset`` as it is (trl
1.16, ``trl/scripts/utils.py: get_dataset``), so a relative path is read from the directory TRL
runs in; the recipe's paths (data, ``output_dir``) are relative to the recipe's own directory and
its header says to run ``trl sft`` from there. The model is its public Hub id where one is known
(a Hub id; the embedded default ``smollm2-135m`` as ``HuggingFaceTB/SmolLM2-135M-Instruct``, the
public original its GGUF quantises): offline, pass this machine's converted copy with
``--model_name_or_path`` (the header prints how). A local model (a directory, a GGUF file,
``tiny-random``) has no public name: the recipe then names its directory (relative to the recipe
where it lies beside it), and the header says it is a path of this machine.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional, Sequence

import yaml

from cookbook_datasets.atomic_files import atomic_write_text
from cookbook_datasets.models import DEFAULT_MODEL, planned_model_path, public_model_id

RECIPE_FILE = "sft_recipe.yaml"


def _gpu_has_bf16() -> bool:
    import torch

    return bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported())


def _relative(path: Path, start: Path) -> str:
    """``path`` relative to ``start`` ('.' for the same directory), POSIX-style."""
    return Path(os.path.relpath(path, start)).as_posix()


def recipe_model(model: str, recipe_dir: str | os.PathLike) -> tuple[str, bool]:
    """(what the recipe's ``model_name_or_path`` says, whether that is a path of this machine):
    the public Hub id where one is known, else the local directory (relative to ``recipe_dir``
    when it lies inside it)."""
    public = public_model_id(model)
    if public is not None:
        return public, False
    local = Path(planned_model_path(model)).resolve()
    recipe_dir = Path(recipe_dir).resolve()
    if local == recipe_dir or recipe_dir in local.parents:
        return _relative(local, recipe_dir), False
    return str(local), True


def _dataset_entry(data_dir: Path, config: str, recipe_dir: Path) -> dict:
    """A ``datasets:`` entry for ``config``'s train split of the Hub-layout ``data_dir``: its Parquet
    files, relative to ``recipe_dir``. (Not ``path: .`` with ``name: config``: datasets 5.2 refuses
    ``load_dataset(".")``, it takes the dataset's name from the path's last part; and a path
    naming the directory breaks once the directory is renamed or downloaded from the Hub.)"""
    from cookbook_datasets.hub_layout import read_card

    files = [_relative(f, recipe_dir) for f in read_card(data_dir).files(config, "train")]
    return {"path": "parquet", "data_files": files[0] if len(files) == 1 else files, "split": "train",
            "columns": ["prompt", "completion"]}


def trl_sft_recipe(data_dir: str | os.PathLike, configs: Sequence[str], *, model: str = DEFAULT_MODEL,
                   output_dir: Optional[str] = None, use_peft: bool = True, lora_r: int = 16, lora_alpha: int = 32,
                   learning_rate: float = 2e-4, num_train_epochs: float = 1.0, per_device_train_batch_size: int = 8,
                   max_length: int = 512, recipe_dir: Optional[str | os.PathLike] = None) -> dict:
    """The recipe as a dict: one ``datasets`` entry per config (train split, prompt/completion columns);
    ``bf16`` is on where this machine has a GPU that supports it (edit it to train elsewhere).
    Paths are relative to ``recipe_dir`` (default ``data_dir``), where ``trl sft`` is to run; the
    model is its public id where one is known (module doc)."""
    data_dir = Path(data_dir).resolve()
    recipe_dir = Path(recipe_dir).resolve() if recipe_dir is not None else data_dir
    recipe = {
        "model_name_or_path": recipe_model(model, recipe_dir)[0],
        "datasets": [_dataset_entry(data_dir, c, recipe_dir) for c in configs],
        "output_dir": output_dir or _relative(data_dir.parent / f"{data_dir.name}-sft", recipe_dir),
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
    """Write :func:`trl_sft_recipe` as YAML (default: ``sft_recipe.yaml`` inside ``data_dir``), its
    paths relative to the file's directory; the header says how to run it."""
    path = Path(path) if path is not None else Path(data_dir) / RECIPE_FILE
    recipe = trl_sft_recipe(data_dir, configs, recipe_dir=path.parent, **options)
    model = options.get("model", DEFAULT_MODEL)
    header = ("# TRL SFT recipe written by cookbook-datasets: it trains on the train split of config(s) "
              f"{', '.join(configs)}\n"
              "# (their Parquet files under `datasets:`). TRL reads those paths relative to the directory it\n"
              "# runs in, so run it from the directory holding this file:\n"
              f"#   trl sft --config {path.name}\n")
    if model == DEFAULT_MODEL:
        header += ("# model_name_or_path is the public original of the embedded default model "
                   f"{DEFAULT_MODEL!r} (this package\n"
                   "# trains its GGUF copy). Offline, train this machine's converted copy instead:\n"
                   f"#   trl sft --config {path.name} --model_name_or_path \"$(python -c 'from cookbook_datasets.models "
                   f"import resolve_model_path as r; print(r(\"{DEFAULT_MODEL}\"))')\"\n")
    elif recipe_model(model, path.parent)[1]:
        header += (f"# model_name_or_path is a directory on the machine that wrote this recipe (model {model!r}, which\n"
                   "# has no public id): replace it (or pass --model_name_or_path) to train elsewhere.\n")
    return atomic_write_text(path, header + yaml.safe_dump(recipe, sort_keys=False))
