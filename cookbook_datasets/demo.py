"""The main job: template mixture -> LoRA fine-tune of the default model -> base vs tuned.

Every stage is resumable: existing data is reused, training resumes from its checkpoints (a
finished adapter trained with the same settings is reused as it is, without starting a trainer)
and evaluation from its results file, so re-running after an interruption continues the work.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from .models import DEFAULT_MODEL
from .template_data import MIXTURE_CONFIG, generate
from .templates import get_template_class

logger = logging.getLogger(__name__)

# Short-answer templates from every family but transform: on a CPU a few minutes of LoRA train
# a visible change on these, and they are quick to score.
DEMO_TEMPLATES = ("count_word", "entity_matching", "multiple_choice_qa", "nli", "paraphrase_detection",
                  "position_lookup", "reverse_words", "rhyme", "yes_no_qa")


@dataclass
class DemoConfig:
    out: str = field(default="runs/demo", metadata={"help": "Directory for data, adapter and results."})
    model: str = field(default=DEFAULT_MODEL, metadata={"help": "Model spec to fine-tune."})
    templates: list = field(default_factory=list, metadata={"help": "Templates to mix (default: DEMO_TEMPLATES)."})
    vocab: Optional[str] = field(default=None, metadata={
        "help": "Random-token vocabulary (default: the model's own whole-word tokens, one token per word)."})
    max_steps: int = field(default=40, metadata={"help": "LoRA training steps."})
    batch_size: int = field(default=8, metadata={"help": "Training batch size."})
    learning_rate: float = field(default=1e-3, metadata={"help": "LoRA learning rate."})
    eval_examples: int = field(default=16, metadata={"help": "Examples per task (template test rows too)."})
    tasks: list = field(default_factory=list, metadata={"help": "Extra task files/dirs to evaluate."})
    seed: int = field(default=0, metadata={"help": "Seed of the data and the training."})

    def __post_init__(self):
        self.templates = list(self.templates) or list(DEMO_TEMPLATES)
        for name in self.templates:
            get_template_class(name)
        self.vocab = self.vocab or f"tokenizer:{self.model}"
        for name in ("max_steps", "batch_size", "eval_examples"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive (got {getattr(self, name)!r})")


def run_demo(config: DemoConfig) -> dict:
    from .eval import EvalConfig, compare, evaluate_model, plot_comparison
    from .models import load_model, peft_without_deprecation_noise
    from .trainers import TrainConfig, train
    from .trainers.sft import finished_run

    out = Path(config.out)
    data_dir = out / "data"
    rows = config.max_steps * config.batch_size  # one pass over the mixture
    if not (data_dir / "README.md").exists():
        generate(config.templates, data_dir, num_examples=rows, num_eval_examples=max(64, config.eval_examples),
                 seed=config.seed, mixture={}, params={n: {"vocab": config.vocab} for n in config.templates})
    train_config = TrainConfig(
        model=config.model, datasets=[{"path": str(data_dir), "name": MIXTURE_CONFIG}],
        output_dir=str(out / "adapter"), max_steps=config.max_steps, per_device_train_batch_size=config.batch_size,
        learning_rate=config.learning_rate, eval_steps=max(1, config.max_steps // 2), max_eval_examples=64,
        max_length=384, seed=config.seed,
    )
    card = finished_run(train_config)  # trained by an earlier run with these settings: reused, no trainer
    reused = card is not None
    if reused:
        logger.info("reusing the adapter trained earlier in %s", train_config.output_dir)
    else:
        card = train(train_config)
    tasks = config.templates + list(config.tasks)
    # The template test splits use a different seed from training, so no test row was trained on.
    eval_seed = config.seed + 1000
    base_cfg = EvalConfig(model=config.model, tasks=tasks, limit=config.eval_examples, seed=eval_seed,
                          template_params={"vocab": config.vocab})
    model, tokenizer = load_model(config.model)
    results = {}
    for label, adapter in (("base", None), ("tuned", str(out / "adapter"))):
        cfg = EvalConfig(**{**base_cfg.__dict__, "adapter": adapter})
        if adapter is not None:
            from peft import PeftModel

            with peft_without_deprecation_noise():
                model = PeftModel.from_pretrained(model, adapter)
            model.eval()
        results[label] = evaluate_model(cfg, out=out / f"eval_{label}.json", model=model, tokenizer=tokenizer)
    paths = [out / "eval_base.json", out / "eval_tuned.json"]
    comparison = compare(paths, labels=["base", "tuned"])  # paired by row, with intervals
    table = comparison.to_markdown()
    (out / "comparison.md").write_text(table)
    plot_comparison(comparison, out / "comparison.png")
    summary = {"train": {**{k: card[k] for k in ("global_step", "train_seconds", "train_rows")}, "reused": reused,
                         "adapter": train_config.output_dir},
               "comparison_table": str(out / "comparison.md"), "plot": str(out / "comparison.png")}
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    return {"table": table, **summary}
