"""Supervised fine-tuning with TRL: LoRA by default, full fine-tuning as an option.

``train(TrainConfig(...))`` or ``cookbook train --model SPEC --dataset DATA --out DIR``. The
conversational prompt/completion schema gives completion-only loss. Checkpoints are written as
training goes and a re-run with the same ``output_dir`` resumes from the last one.
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Optional

import yaml

from cookbook_datasets.data_spec import DataSpec, load_training_data
from cookbook_datasets.models import DEFAULT_MODEL, default_device, load_model

logger = logging.getLogger(__name__)

CONFIG_DIR = Path(__file__).parent / "configs"


@dataclass
class TrainConfig:
    """What to train, on what, and how (a recipe; YAML files in trainers/configs/ set these)."""

    model: str = field(default=DEFAULT_MODEL, metadata={"help": "Model spec (see load_model)."})
    datasets: list = field(default_factory=list, metadata={"help": "DataSpec dicts: path, name, split, params."})
    output_dir: str = field(default="runs/sft", metadata={"help": "Adapter, checkpoints and run card go here."})
    use_lora: bool = field(default=True, metadata={"help": "LoRA (True) or full fine-tuning (False)."})
    lora_r: int = field(default=16, metadata={"help": "LoRA rank."})
    lora_alpha: int = field(default=32, metadata={"help": "LoRA alpha."})
    lora_dropout: float = field(default=0.05, metadata={"help": "LoRA dropout."})
    lora_target_modules: str = field(default="all-linear", metadata={
        "help": "'all-linear' or a comma-separated list of module names."})
    learning_rate: float = field(default=2e-4, metadata={"help": "Peak learning rate."})
    lr_scheduler_type: str = field(default="cosine", metadata={"help": "transformers scheduler name."})
    warmup_ratio: float = field(default=0.03, metadata={"help": "Warm-up share of the steps."})
    num_train_epochs: float = field(default=1.0, metadata={"help": "Epochs (when max_steps <= 0)."})
    max_steps: int = field(default=-1, metadata={"help": "Stop after this many steps (> 0 overrides epochs)."})
    per_device_train_batch_size: int = field(default=8, metadata={"help": "Batch size per device."})
    gradient_accumulation_steps: int = field(default=1, metadata={"help": "Steps accumulated per update."})
    max_length: int = field(default=512, metadata={"help": "Truncate tokenised rows to this length."})
    eval_split: Optional[str] = field(default="validation", metadata={
        "help": "Split evaluated during training (None: no evaluation)."})
    max_eval_examples: int = field(default=200, metadata={"help": "Cap on evaluation rows."})
    eval_steps: int = field(default=50, metadata={"help": "Evaluate and checkpoint every N steps."})
    logging_steps: int = field(default=5, metadata={"help": "Log the loss every N steps."})
    save_total_limit: int = field(default=2, metadata={"help": "Checkpoints kept."})
    seed: int = field(default=0, metadata={"help": "Training seed."})
    merge: bool = field(default=False, metadata={"help": "Also write the LoRA-merged model to output_dir/merged."})
    resume: bool = field(default=True, metadata={"help": "Resume from the last checkpoint in output_dir."})
    dtype: Optional[str] = field(default=None, metadata={"help": "Model dtype (default bf16 on GPU, fp32 on CPU)."})
    gradient_checkpointing: bool = field(default=False, metadata={
        "help": "Recompute activations in the backward pass: less memory, about a third more compute."})

    def __post_init__(self):
        self.datasets = [d if isinstance(d, DataSpec) else DataSpec.from_dict(d) for d in self.datasets]
        positive = ["lora_r", "lora_alpha", "per_device_train_batch_size", "gradient_accumulation_steps",
                    "max_length", "eval_steps", "logging_steps", "save_total_limit", "max_eval_examples"]
        for name in positive:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(f"{name} must be a positive integer (got {value!r})")
        if not self.learning_rate > 0:
            raise ValueError(f"learning_rate must be > 0 (got {self.learning_rate!r})")
        if self.max_steps <= 0 and not self.num_train_epochs > 0:
            raise ValueError("give max_steps > 0 or num_train_epochs > 0")
        if not 0 <= self.lora_dropout < 1:
            raise ValueError(f"lora_dropout must be in [0, 1) (got {self.lora_dropout!r})")

    @classmethod
    def from_yaml(cls, path: str | os.PathLike, **overrides) -> "TrainConfig":
        """Load a recipe (a path, or the name of a file in trainers/configs/); ``overrides`` (fields
        given on the command line, for instance) replace its values."""
        p = Path(path)
        if not p.exists() and (CONFIG_DIR / f"{path}.yaml").exists():
            p = CONFIG_DIR / f"{path}.yaml"
        if not p.exists():
            choices = sorted(f.stem for f in CONFIG_DIR.glob("*.yaml"))
            raise FileNotFoundError(f"config {path} not found; bundled configs: {choices}")
        values = yaml.safe_load(p.read_text()) or {}
        allowed = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - allowed)
        if unknown:
            raise ValueError(f"{p}: unknown field {unknown[0]!r}; fields are {sorted(allowed)}")
        values.update(overrides)
        return cls(**values)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["datasets"] = [s.to_dict() for s in self.datasets]
        return d


def _last_checkpoint(output_dir: str) -> Optional[str]:
    from transformers.trainer_utils import get_last_checkpoint

    return get_last_checkpoint(output_dir) if os.path.isdir(output_dir) else None


def _sft_config(config: TrainConfig, has_eval: bool, device: str):
    from trl import SFTConfig

    import torch

    bf16 = device.startswith("cuda") and torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    return SFTConfig(
        output_dir=config.output_dir,
        learning_rate=config.learning_rate,
        lr_scheduler_type=config.lr_scheduler_type,
        warmup_steps=config.warmup_ratio,
        num_train_epochs=config.num_train_epochs,
        max_steps=config.max_steps,
        per_device_train_batch_size=config.per_device_train_batch_size,
        per_device_eval_batch_size=config.per_device_train_batch_size,
        gradient_accumulation_steps=config.gradient_accumulation_steps,
        max_length=config.max_length,
        logging_steps=config.logging_steps,
        eval_strategy="steps" if has_eval else "no",
        eval_steps=config.eval_steps,
        save_strategy="steps",
        save_steps=config.eval_steps,
        save_total_limit=config.save_total_limit,
        seed=config.seed,
        bf16=bf16,
        use_cpu=device == "cpu",
        gradient_checkpointing=config.gradient_checkpointing,
        report_to="none",
        disable_tqdm=False,
    )


def train(config: TrainConfig) -> dict:
    """Fine-tune ``config.model`` on ``config.datasets``; return the run card (also written)."""
    from peft import LoraConfig
    from trl import SFTTrainer

    train_ds = load_training_data(config.datasets, seed=config.seed)
    eval_ds = None
    if config.eval_split:
        try:
            eval_ds = load_training_data(config.datasets, split=config.eval_split, seed=config.seed)
            eval_ds = eval_ds.select(range(min(len(eval_ds), config.max_eval_examples)))
        except (ValueError, KeyError) as e:
            logger.warning("no %r split to evaluate on (%s); training without evaluation", config.eval_split, e)
    device = default_device()
    model, tokenizer = load_model(config.model, dtype=config.dtype, device=device)
    model.train()
    peft_config = None
    if config.use_lora:
        targets = config.lora_target_modules
        peft_config = LoraConfig(
            r=config.lora_r, lora_alpha=config.lora_alpha, lora_dropout=config.lora_dropout,
            target_modules=targets if targets == "all-linear" else [t.strip() for t in targets.split(",")],
            task_type="CAUSAL_LM",
        )
    trainer = SFTTrainer(model=model, args=_sft_config(config, eval_ds is not None, device),
                         train_dataset=train_ds, eval_dataset=eval_ds, processing_class=tokenizer,
                         peft_config=peft_config)
    resume_from = _last_checkpoint(config.output_dir) if config.resume else None
    if resume_from:
        logger.info("resuming from %s", resume_from)
    start = time.time()
    result = trainer.train(resume_from_checkpoint=resume_from)
    trainer.save_model(config.output_dir)
    tokenizer.save_pretrained(config.output_dir)
    final = dict(result.metrics)
    if eval_ds is not None:
        final.update(trainer.evaluate())
    if config.merge and config.use_lora:
        merged = trainer.model.merge_and_unload()
        merged.save_pretrained(os.path.join(config.output_dir, "merged"))
        tokenizer.save_pretrained(os.path.join(config.output_dir, "merged"))
    card = _write_run_card(config, trainer, final, resume_from, time.time() - start, len(train_ds))
    return card


def _data_recipes(config: TrainConfig) -> list[dict]:
    """Each dataset spec plus the recipe the data recorded about itself, when it has one."""
    recipes = []
    for spec in config.datasets:
        entry = spec.to_dict()
        try:
            entry["recipe"] = json.loads(spec.load().info.description or "null")
        except (ValueError, TypeError):
            pass
        recipes.append(entry)
    return recipes


def _write_run_card(config, trainer, final, resumed_from, seconds, num_rows) -> dict:
    from cookbook_datasets import __version__

    out = Path(config.output_dir)
    history = trainer.state.log_history
    card = {
        "package_version": __version__,
        "model": config.model,
        "config": config.to_dict(),
        "data": _data_recipes(config),
        "train_rows": num_rows,
        "resumed_from": resumed_from,
        "train_seconds": round(seconds, 1),
        "global_step": trainer.state.global_step,
        "final_metrics": final,
        "curve": [h for h in history if "loss" in h or "eval_loss" in h],
    }
    tmp = out / "run_card.json.tmp"
    tmp.write_text(json.dumps(card, indent=2, default=str))
    os.replace(tmp, out / "run_card.json")
    _plot_curve(card["curve"], out / "training_curve.png")
    lines = ["# Fine-tuning run\n", f"- model: `{config.model}`", f"- method: {'LoRA' if config.use_lora else 'full'}",
             f"- steps: {card['global_step']}, rows: {num_rows}, time: {card['train_seconds']} s", "",
             "| metric | value |", "|---|---|"]
    lines += [f"| {k} | {v:.4g} |" if isinstance(v, float) else f"| {k} | {v} |" for k, v in final.items()]
    (out / "RUN_CARD.md").write_text("\n".join(lines) + "\n\n![training curve](training_curve.png)\n")
    return card


def _plot_curve(curve: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5))
    for key, label in (("loss", "train loss"), ("eval_loss", "eval loss")):
        points = [(h["step"], h[key]) for h in curve if key in h]
        if points:
            ax.plot(*zip(*points), marker="o" if key == "eval_loss" else None, label=label)
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
