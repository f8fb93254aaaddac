"""Supervised fine-tuning with TRL: LoRA by default, full fine-tuning as an option.

``train(TrainConfig(...))`` or ``cookbook train --model SPEC --dataset DATA --out DIR``. The
conversational prompt/completion schema gives completion-only loss. Checkpoints are written as
training goes and a re-run with the same ``output_dir`` resumes from the last one.

**The guard** (with ``validation_data``; docs/training.md, "Guard"; the rule is ``eval.guard``'s,
shared with SELF-GUIDE and DiverseEvol): after training, the untuned model and the trained one
answer the labelled validation rows (the evaluation harness, ``num_shots`` as ``cookbook eval``),
per task and on the task average (rows paired). With ``guard="keep-best"`` the trained model is
kept only when its task average is strictly above the untuned model's; otherwise the untuned model
is the result and the trained model's files move to ``output_dir/not_kept/`` (so ``--adapter
output_dir`` finds no adapter). ``guard="off"`` keeps it, warning when it is not better. Fewer
than ``min_validation_rows`` rows: no choice, said in the log and the run card. The layout::

    output_dir/run_card.json, RUN_CARD.md   the run, its guard record and ``result`` (what is kept)
    output_dir/guard.json                   both scores, the paired intervals, the rows, the decision
    output_dir/guard/untuned.json (.md, .rows.jsonl)  the untuned model's answers (cached: a rerun reuses them)
    output_dir/guard/tuned.json (.md, .rows.jsonl)    the trained model's answers
    output_dir/adapter_* (or the model)     the trained model, when it is kept
    output_dir/not_kept/                    the trained model's files, when the untuned model is kept
    output_dir/checkpoint-N/                checkpoints (resuming)
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
import dataclasses
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Optional

import yaml

from cookbook_datasets.atomic_files import atomic_json
from cookbook_datasets.cpu import PRECISIONS, release_memory, resolve_precision, tune_allocator
from cookbook_datasets.data_spec import DataSpec, load_training_data
from cookbook_datasets.eval.guard import GUARD_MODES, check_guard_mode
from cookbook_datasets.eval.harness import EvalConfig
from cookbook_datasets.eval.probe import probe_lines
from cookbook_datasets.models import DEFAULT_MODEL, default_device, load_model, peft_without_deprecation_noise
from cookbook_datasets.progress import one_bar_per_stage

logger = logging.getLogger(__name__)

CONFIG_DIR = Path(__file__).parent / "configs"
ATTN_IMPLEMENTATIONS = ("auto", "eager", "sdpa", "flash_attention_2", "flash_attention_3", "flex_attention")
# the guard scores its rows as `cookbook eval` does by default (demonstrations per prompt)
EVAL_NUM_SHOTS = next(f.default for f in fields(EvalConfig) if f.name == "num_shots")
GUARD_FIELDS = ("validation_data", "validation_task", "validation_num_shots", "guard", "min_validation_rows")


@dataclass
class TrainConfig:
    """What to train, on what, and how (a recipe; YAML files in trainers/configs/ set these)."""

    model: str = field(default=DEFAULT_MODEL, metadata={"help": "Model spec (see load_model)."})
    datasets: list = field(default_factory=list, metadata={
        "help": "Datasets to train on: DataSpec dicts (path, name, split, params; JSON on the command line) or paths."})
    output_dir: str = field(default="runs/sft", metadata={"help": "Adapter, checkpoints and run card go here.",
                                                          "aliases": ["--out"]})
    use_lora: bool = field(default=True, metadata={"help": "LoRA (True) or full fine-tuning (False)."})
    lora_r: int = field(default=16, metadata={"help": "LoRA rank."})
    lora_alpha: int = field(default=32, metadata={"help": "LoRA alpha."})
    lora_dropout: float = field(default=0.0, metadata={
        "help": "LoRA dropout (PEFT's default, 0, skips it; on a CPU its random masks cost a third of a LoRA step)."})
    lora_target_modules: str = field(default="all-linear", metadata={
        "help": "'all-linear' or a comma-separated list of module names.", "aliases": ["--lora-targets"]})
    learning_rate: float = field(default=2e-4, metadata={"help": "Peak learning rate.", "aliases": ["--lr"]})
    lr_scheduler_type: str = field(default="cosine", metadata={"help": "transformers scheduler name."})
    warmup_ratio: float = field(default=0.03, metadata={"help": "Warm-up share of the steps."})
    num_train_epochs: float = field(default=1.0, metadata={"help": "Epochs (when max_steps <= 0).",
                                                           "aliases": ["--epochs"]})
    max_steps: int = field(default=-1, metadata={"help": "Stop after this many steps (> 0 overrides epochs)."})
    per_device_train_batch_size: int = field(default=8, metadata={"help": "Batch size per device.",
                                                                  "aliases": ["--batch-size"]})
    gradient_accumulation_steps: int = field(default=1, metadata={"help": "Steps accumulated per update."})
    max_length: int = field(default=512, metadata={"help": "Truncate tokenised rows to this length."})
    eval_split: Optional[str] = field(default="validation", metadata={
        "help": "Split evaluated during training (None: no evaluation)."})
    max_eval_examples: int = field(default=200, metadata={"help": "Cap on evaluation rows."})
    eval_steps: int = field(default=50, metadata={"help": "Evaluate and checkpoint every N steps."})
    save_strategy: str = field(default="steps", metadata={
        "help": "'steps': evaluate and checkpoint every eval_steps; 'epoch': at the end of every epoch (to pick an "
                "epoch afterwards, keep save_total_limit >= the epochs).", "choices": ["steps", "epoch"]})
    logging_steps: int = field(default=5, metadata={"help": "Log the loss every N steps."})
    save_total_limit: int = field(default=2, metadata={"help": "Checkpoints kept."})
    seed: int = field(default=0, metadata={"help": "Training seed."})
    merge: bool = field(default=False, metadata={"help": "Also write the LoRA-merged model to output_dir/merged."})
    resume: bool = field(default=True, metadata={"help": "Resume from the last checkpoint in output_dir."})
    dtype: Optional[str] = field(default=None, metadata={
        "help": "Dtype the weights are stored in (default: fp32 for full fine-tuning, whose updates bf16 weights "
                "would round away; for LoRA bf16 on GPU and fp32 on CPU, where LoRA's frozen linear "
                "weights are stored in bf16 when computing in bf16: the same operands autocast would make)."})
    precision: str = field(default="auto", metadata={
        "help": "Compute precision: 'bf16' (autocast), 'fp32', or 'auto': bf16 on GPUs that support it and on CPUs "
                "with AVX512-BF16/AMX, fp32 elsewhere.", "choices": list(PRECISIONS)})
    attn_implementation: str = field(default="auto", metadata={
        "help": "Attention kernel ('eager', 'sdpa', ...) or 'auto': eager on CPU (the CPU SDPA kernel's backward is "
                "several times slower at these lengths), the model's default on GPU.",
        "choices": list(ATTN_IMPLEMENTATIONS)})
    loss_positions_only: bool = field(default=True, metadata={
        "help": "Run the LM head only at the positions the loss uses (completion tokens) instead of every position."})
    group_by_length: bool = field(default=False, metadata={
        "help": "Batch rows of similar length together (less padding; batches are then less random)."})
    tune_allocator: bool = field(default=True, metadata={
        "help": "On CPU, keep freed memory in the process between steps (glibc) instead of returning it to the "
                "kernel, which costs page faults on every step."})
    gradient_checkpointing: bool = field(default=False, metadata={
        "help": "Recompute activations in the backward pass: less memory, about a third more compute."})
    # -- the guard: never worse than where you started (the module doc; docs/training.md, "Guard") --
    validation_data: list = field(default_factory=list, metadata={
        "help": "Labelled real rows the guard chooses on, read as `cookbook eval` reads its tasks: task files (NIV2 "
                ".json, task JSON, multiple-choice .jsonl), directories of them, or your data (.csv, .parquet, a "
                "dataset directory, a Hub id) read with validation_task's columns. After training the untuned and "
                "the trained model answer them; see guard. Empty (default): no guard.", "metavar": "TASK"})
    validation_task: dict = field(default_factory=dict, metadata={
        "help": "How validation_data's datasets are read (eval's dataset_task): DatasetTask's fields (input_field, "
                "output_field, label_set, instruction, dataset_split, ...), one KEY=VALUE per option "
                "(--validation-task input_field=review --validation-task output_field=sentiment) or one JSON "
                "object; a YAML file gives a mapping. Default: the columns input and output."})
    validation_num_shots: int = field(default=EVAL_NUM_SHOTS, metadata={
        "help": "Demonstrations per prompt when the guard's candidates answer the validation rows (`cookbook "
                "eval`'s num_shots; a dataset's rows hold none unless validation_task's demonstrations takes "
                "some)."})
    guard: str = field(default="keep-best", metadata={
        "help": "With validation_data: 'keep-best' keeps the trained model only when its mean on the validation "
                "rows (the task average) is strictly above the untuned model's; else the untuned model is the "
                "result, the run card says kept=untuned and the trained model's files move to output_dir/not_kept. "
                "'off' keeps the trained model, with a warning when it is not better. guard.json records both "
                "scores and the paired interval of trained - untuned.", "choices": list(GUARD_MODES)})
    min_validation_rows: int = field(default=20, metadata={
        "help": "Fewest labelled validation rows (all tasks together) the guard chooses on: a mean over a handful "
                "of rows is mostly noise. With fewer it makes no choice (the trained model stays, unguarded) and "
                "the log and the run card say so."})

    def __post_init__(self):
        self.datasets = [d if isinstance(d, DataSpec) else DataSpec.from_dict({"path": d} if isinstance(d, str) else d)
                         for d in self.datasets]
        positive = ["lora_r", "lora_alpha", "per_device_train_batch_size", "gradient_accumulation_steps",
                    "max_length", "eval_steps", "logging_steps", "save_total_limit", "max_eval_examples",
                    "min_validation_rows"]
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
        if self.save_strategy not in ("steps", "epoch"):
            raise ValueError(f"save_strategy must be 'steps' or 'epoch' (got {self.save_strategy!r})")
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {list(PRECISIONS)} (got {self.precision!r})")
        if self.attn_implementation not in ATTN_IMPLEMENTATIONS:
            raise ValueError(f"attn_implementation must be one of {list(ATTN_IMPLEMENTATIONS)} "
                             f"(got {self.attn_implementation!r})")
        self._check_guard_fields()

    def _check_guard_fields(self) -> None:
        from cookbook_datasets.tasks import DatasetTask

        check_guard_mode(self.guard)
        if isinstance(self.validation_data, (str, os.PathLike)):  # one reference (a YAML scalar)
            self.validation_data = [self.validation_data]
        bad = next((v for v in self.validation_data if not isinstance(v, (str, os.PathLike)) or not str(v)), None)
        if bad is not None:
            raise ValueError(f"validation_data (--validation-data) holds {bad!r}: give task files, directories of "
                             "them or data references (.csv, .parquet, a dataset directory, a Hub id)")
        self.validation_data = [str(v) for v in self.validation_data]
        if dataclasses.is_dataclass(self.validation_task):
            self.validation_task = dataclasses.asdict(self.validation_task)
        if self.validation_task is None:
            self.validation_task = {}
        DatasetTask.from_value(dict(self.validation_task))  # an unknown key or a bad value is named now
        if self.validation_task and not self.validation_data:
            raise ValueError("validation_task (--validation-task) says how validation_data is read; give "
                             "validation_data (--validation-data) too")
        value = self.validation_num_shots
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"validation_num_shots must be an integer >= 0 (got {value!r})")

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
        if not self.validation_data:  # no guard: the same record as a run made before the guard existed
            for name in GUARD_FIELDS:
                del d[name]
        return d


def _last_checkpoint(output_dir: str) -> Optional[str]:
    from transformers.trainer_utils import get_last_checkpoint

    return get_last_checkpoint(output_dir) if os.path.isdir(output_dir) else None


def resolve_attn_implementation(requested: str, device: str) -> Optional[str]:
    """The attention kernel to train with (None: the model's default)."""
    if requested != "auto":
        return requested
    return "eager" if device == "cpu" else None


def _sft_config(config: TrainConfig, has_eval: bool, device: str, precision: str):
    from trl import SFTConfig

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
        eval_strategy=config.save_strategy if has_eval else "no",
        eval_steps=config.eval_steps,
        save_strategy=config.save_strategy,
        save_steps=config.eval_steps,
        save_total_limit=config.save_total_limit,
        seed=config.seed,
        bf16=precision == "bf16",
        train_sampling_strategy="group_by_length" if config.group_by_length else "random",
        use_cpu=device == "cpu",
        activation_checkpointing=config.gradient_checkpointing,  # transformers 5 name
        report_to="none",
        disable_tqdm=False,
    )


def train(config: TrainConfig, *, callbacks: Optional[list] = None, train_dataset=None) -> dict:
    """Fine-tune ``config.model`` on ``config.datasets``; return the run card (also written).

    ``callbacks``: extra ``transformers.TrainerCallback`` objects (timing, early stopping, ...).
    ``train_dataset``: rows to train on instead of ``config.datasets`` (e.g. an ``IterableDataset``
    whose weights a callback changes: the online mixture; needs ``max_steps``)."""
    from peft import LoraConfig
    from trl import SFTTrainer

    import torch

    from .compact_loss import CompactLossSFTTrainer
    from .frozen_weights import frozen_weights_go_bf16, store_frozen_linear_weights

    # the guard's rows are read and checked first: bad validation data fails before anything is written
    guard_tasks = load_validation_tasks(config) if config.validation_data else None
    train_ds = train_dataset if train_dataset is not None else load_training_data(config.datasets, seed=config.seed)
    # before any training: does the untuned model read the tasks? (its answers are the guard's, reused after)
    probe = probe_before_training(config, guard_tasks) if guard_tasks is not None else None
    eval_ds = None
    if config.eval_split:
        try:
            eval_ds = load_training_data(config.datasets, split=config.eval_split, seed=config.seed)
            eval_ds = eval_ds.select(range(min(len(eval_ds), config.max_eval_examples)))
        except (ValueError, KeyError) as e:
            logger.warning("no %r split to evaluate on (%s); training without evaluation", config.eval_split, e)
    device = default_device()
    precision = resolve_precision(config.precision, device)
    allocator_tuned = device == "cpu" and config.tune_allocator and tune_allocator()
    # Full fine-tuning keeps fp32 master weights (bf16 compute comes from autocast): AdamW's small
    # updates round away in bf16 weights. LoRA's frozen base may be stored in bf16 on a GPU.
    dtype = config.dtype or (None if config.use_lora else "float32")
    model, tokenizer = load_model(config.model, dtype=dtype, device=device)
    attn = resolve_attn_implementation(config.attn_implementation, device)
    if attn is not None:
        model.set_attn_implementation(attn)
    logger.info("training on %s in %s, attention %s", device, precision, attn or model.config._attn_implementation)
    model.train()
    peft_config = None
    if config.use_lora:
        targets = config.lora_target_modules
        peft_config = LoraConfig(
            r=config.lora_r, lora_alpha=config.lora_alpha, lora_dropout=config.lora_dropout,
            target_modules=targets if targets == "all-linear" else [t.strip() for t in targets.split(",")],
            task_type="CAUSAL_LM",
        )
    trainer_cls = CompactLossSFTTrainer if config.loss_positions_only else SFTTrainer
    with peft_without_deprecation_noise():  # SFTTrainer wraps the model with peft here
        trainer = trainer_cls(model=model, args=_sft_config(config, eval_ds is not None, device, precision),
                              train_dataset=train_ds, eval_dataset=eval_ds, processing_class=tokenizer,
                              peft_config=peft_config, callbacks=callbacks)
    one_bar_per_stage(trainer)  # no evaluation bar nested in the training bar
    frozen_bf16 = 0
    if frozen_weights_go_bf16(config.use_lora, precision, device, config.dtype):
        frozen_bf16 = store_frozen_linear_weights(trainer.model, torch.bfloat16)
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
        # merge into the base weights as they were loaded (training may have stored them in bf16)
        from peft import PeftModel

        base, _ = load_model(config.model, dtype=config.dtype, device=device)
        with peft_without_deprecation_noise():
            merged = PeftModel.from_pretrained(base, config.output_dir).merge_and_unload()
        merged.save_pretrained(os.path.join(config.output_dir, "merged"))
        tokenizer.save_pretrained(os.path.join(config.output_dir, "merged"))
    runtime = {"device": device, "precision": precision, "attn_implementation": model.config._attn_implementation,
               "loss_positions_only": trainer_cls is CompactLossSFTTrainer, "allocator_tuned": allocator_tuned,
               "frozen_weights_bf16": frozen_bf16 > 0}
    card = _run_card(config, trainer, final, resume_from, time.time() - start,
                     len(train_ds) if hasattr(train_ds, "__len__") else None, runtime)
    del trainer, model
    if allocator_tuned or guard_tasks is not None:
        release_memory()  # the heap kept every step's buffers; what comes next has other shapes
    if probe is not None:
        card["probe"] = {t: {"verdict": r["verdict"], "why": r["why"], "rows": r["n"]} for t, r in probe["tasks"].items()}
    if guard_tasks is not None:
        card["guard"] = run_guard(config, guard_tasks)
        card["result"] = guard_result(config, card["guard"])
    _write_run_card(config, card)
    return card


# -- the guard: the untuned model beside the trained one, on the user's labelled rows ----------------

GUARD_DIR, GUARD_FILE, NOT_KEPT_DIR = "guard", "guard.json", "not_kept"
# What trainer.save_model, tokenizer.save_pretrained and merge put in output_dir: the trained model, moved
# aside as a whole when it is not kept (a README.md, possibly the user's, stays: it loads as nothing).
MODEL_FILES = ("adapter_config.json", "adapter_model.*", "config.json", "generation_config.json", "model.safetensors",
               "model-*.safetensors", "model.safetensors.index.json", "pytorch_model*.bin", "training_args.bin",
               "tokenizer*", "special_tokens_map.json", "added_tokens.json", "chat_template.*", "vocab.json",
               "merges.txt", "merged")


def load_validation_tasks(config: TrainConfig) -> list:
    """``config.validation_data`` as Tasks, read by the resolver `cookbook eval` reads its tasks with
    (``tasks.load_tasks``, ``validation_task`` as its ``dataset_task``), and checked: unique names,
    labelled rows in every task, every classification label in its task's label set."""
    from cookbook_datasets.tasks import DatasetTask, load_tasks
    from cookbook_datasets.tasks.checks import check_labels_in_set

    dataset_task = DatasetTask.from_value(dict(config.validation_task)) if config.validation_task else None
    tasks = load_tasks(config.validation_data, seed=config.seed, dataset_task=dataset_task)
    names = [t.name for t in tasks]
    dup = next((n for n in names if names.count(n) > 1), None)
    if dup is not None:
        raise ValueError(f"validation_data (--validation-data): two tasks are named {dup!r}; the guard keys its "
                         "scores by task name (rename one file)")
    for task in tasks:
        if not task.labelled:
            raise ValueError(f"validation_data (--validation-data): task {task.name!r} ({task.source or 'no source'}) "
                             "holds no labelled rows (rows with an output) for the guard to score")
        if task.kind == "classification":
            check_labels_in_set(task.labelled, task.labels, f"validation_data (--validation-data) task {task.name!r} "
                                                            f"({task.source or 'no source'})")
    rows = sum(len(t.labelled) for t in tasks)
    if rows < config.min_validation_rows:
        logger.warning("guard: validation_data holds %d labelled rows, fewer than min_validation_rows=%d: the guard "
                       "will make no choice after training", rows, config.min_validation_rows)
    return tasks


PROBE_HEADING = "## Does the model read each task? (the guard's validation rows, before training)"


def probe_before_training(config: TrainConfig, tasks: list) -> Optional[dict]:
    """The probe (``eval.probe``) of the untuned model on the guard's rows, before anything is trained:
    per task its score against chance and the constant answer, and a warning for each task it does not
    read (training would teach the format or the label prior). These answers are the guard's own
    (``guard/untuned.json``, reused after training), so the probe costs nothing extra. Written to
    ``guard/probe.json`` and ``.md``. None when the guard will make no choice (too few rows: nothing
    is scored)."""
    from cookbook_datasets.eval.probe import probe_report, warn_not_read, write_probe

    if sum(len(t.labelled) for t in tasks) < config.min_validation_rows:
        return None
    untuned, metrics, framings = _guard_scores(config, tasks, "untuned")
    report = probe_report(tasks, {t.name: {framings[t.name]: untuned[t.name]} for t in tasks}, config.model,
                          "validation rows (validation_data)", seed=config.seed, metrics=metrics)
    write_probe(Path(config.output_dir) / GUARD_DIR, report)
    warn_not_read(report, logger)
    return report


def _guard_scores(config: TrainConfig, tasks: list, which: str) -> tuple[dict, dict, dict]:
    """Per task, the main metric of each labelled row (in the task's order) for the ``"untuned"`` or
    ``"tuned"`` model, scored by the evaluation harness into ``guard/<which>.json`` with its rows; and
    per task the metric's name and the framing it was scored in. The untuned model's scores are reused
    where that file already holds them for these rows (a resumed run, or the probe before training);
    the trained model's are made afresh (training changed it)."""
    from cookbook_datasets.eval.compare import load_rows, rows_path
    from cookbook_datasets.eval.harness import evaluate_model, main_metric

    out = Path(config.output_dir)
    path = out / GUARD_DIR / f"{which}.json"
    if which == "untuned":
        model, adapter = config.model, None
    else:
        model, adapter = (config.model, str(out)) if config.use_lora else (str(out), None)
        for stale in (path, rows_path(path), path.with_suffix(".md")):
            stale.unlink(missing_ok=True)
    ev = EvalConfig(model=model, adapter=adapter, tasks=tasks, num_shots=config.validation_num_shots,
                    seed=config.seed)
    results = evaluate_model(ev, out=path)
    release_memory()
    _, by_id, _ = load_rows(path)
    scores = {t.name: [by_id[t.name][inst.id] for inst in t.labelled] for t in tasks}
    return (scores, {name: main_metric(result)[0] for name, result in results["tasks"].items()},
            {name: result["framing"] for name, result in results["tasks"].items()})


def run_guard(config: TrainConfig, tasks: list) -> dict:
    """The guard after training (the module doc): both models scored on ``tasks``' labelled rows, the
    decision (``kept``: ``"tuned"`` or ``"untuned"``, by ``eval.guard``'s rule on the task average)
    or why there is none, the trained model's files placed accordingly, and ``guard.json`` written."""
    from cookbook_datasets.eval.guard import guard_figures

    out = Path(config.output_dir)
    task_rows = {t.name: len(t.labelled) for t in tasks}
    rows = sum(task_rows.values())
    record = {"mode": config.guard, "min_validation_rows": config.min_validation_rows,
              "validation_data": list(config.validation_data), "num_shots": config.validation_num_shots,
              "rows": rows, "task_rows": task_rows}
    if rows < config.min_validation_rows:
        reason = (f"validation_data holds {rows} labelled rows, fewer than the {config.min_validation_rows} the "
                  "guard chooses on (min_validation_rows): no choice is made")
        record.update(chose=False, kept="tuned", reason=reason)
    else:
        untuned, metrics, _ = _guard_scores(config, tasks, "untuned")
        tuned, _, _ = _guard_scores(config, tasks, "tuned")
        figures = guard_figures(config.guard, untuned, tuned, seed=config.seed)
        average = figures["average"]
        record.update(chose=True, decided_on="task average (the mean over tasks of each task's mean)",
                      **{k: v for k, v in average.items() if k != "rows"},
                      per_task={t: {"metric": metrics[t], **{k: v for k, v in f.items() if k != "kept"}}
                                for t, f in figures["tasks"].items()},
                      scores={"untuned": str(out / GUARD_DIR / "untuned.json"),
                              "tuned": str(out / GUARD_DIR / "tuned.json")},
                      validation_ids={t.name: [inst.id for inst in t.labelled] for t in tasks})
    _place_trained_model(config, record)
    line = guard_line(record, config)
    if record["kept"] == "untuned" or not record["chose"] or not record["tuned_better"]:
        logger.warning(line)
    else:
        logger.info(line)
    atomic_json(out / GUARD_FILE, record, sort_keys=False)
    return record


def _place_trained_model(config: TrainConfig, record: dict) -> None:
    """The trained model's files stay in output_dir when kept; when the untuned model is kept they move
    to output_dir/not_kept (with a NOT_KEPT.md saying why), so ``--adapter output_dir`` finds none."""
    out = Path(config.output_dir)
    aside = out / NOT_KEPT_DIR
    if aside.exists():
        shutil.rmtree(aside)  # an earlier run's rejected model: this run's decides
    if record["kept"] != "untuned":
        return
    aside.mkdir()
    for pattern in MODEL_FILES:
        for path in sorted(out.glob(pattern)):
            shutil.move(str(path), str(aside / path.name))
    (aside / "NOT_KEPT.md").write_text(
        "# Not kept\n\n" + guard_line(record, config) + "\n\nThese files are kept for inspection only. Load them "
        f"only knowingly: `--adapter {aside}`" + ("" if config.use_lora else f" (a full model: `--model {aside}`)")
        + ".\n")


def guard_result(config: TrainConfig, record: dict) -> dict:
    """What a guarded run's result is: the model (and adapter) to use, and where a rejected one lies."""
    out = config.output_dir
    if record["kept"] == "untuned":
        return {"kept": "untuned", "model": config.model, "adapter": None, "not_kept": str(Path(out) / NOT_KEPT_DIR)}
    if config.use_lora:
        return {"kept": "tuned", "model": config.model, "adapter": out}
    return {"kept": "tuned", "model": out, "adapter": None}


def guard_line(record: dict, config: TrainConfig) -> str:
    """The guard's decision in one line (the log, the run card and the command line say it)."""
    what = "adapter" if config.use_lora else "model"
    if not record["chose"]:
        return f"Guard ({record['mode']}): {record['reason']}; the trained {what} is kept, unguarded."
    figure = (f"trained {record['tuned']:.3f} vs untuned {record['untuned']:.3f} (task average of the main metric) "
              f"on {record['rows']} validation rows; trained - untuned {record['diff']:+.3f} "
              f"[{record['low']:+.3f}, {record['high']:+.3f}] (paired bootstrap {record['level']:.0%}, "
              f"{record['verdict']})")
    if record["kept"] == "untuned":
        return (f"Guard (keep-best): {figure}. The trained {what} is not better: KEPT = UNTUNED: use {config.model} "
                f"without this {what}; the trained {what} was moved to {Path(config.output_dir) / NOT_KEPT_DIR} "
                "(not kept).")
    if not record["tuned_better"]:
        return (f"Guard (off): {figure}. Warning: the trained {what} is not better than the untuned model and is "
                "kept because guard='off'.")
    return f"Guard ({record['mode']}): {figure}. The trained {what} is better: kept."


def finished_run(config: TrainConfig) -> Optional[dict]:
    """The run card of ``config.output_dir`` when a run with this very config finished there (its
    adapter or model saved, every step done), else None: what to reuse instead of training again
    (a resumed trainer with nothing left to do would report 0 steps and a loss of 0)."""
    out = Path(config.output_dir)
    card_path = out / "run_card.json"
    if not card_path.exists():
        return None
    try:
        card = json.loads(card_path.read_text())
    except ValueError:
        return None
    # the trained model is where the run left it: output_dir, or not_kept/ when the guard kept the untuned model
    where = out / NOT_KEPT_DIR if (card.get("result") or {}).get("kept") == "untuned" else out
    if not ((where / "adapter_config.json").exists() if config.use_lora else (where / "config.json").exists()):
        return None
    same = card.get("config") == json.loads(json.dumps(config.to_dict(), default=str))
    done = config.max_steps <= 0 or card.get("global_step") == config.max_steps
    return card if same and done else None


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


def _run_card(config, trainer, final, resumed_from, seconds, num_rows, runtime) -> dict:
    from cookbook_datasets import __version__

    history = trainer.state.log_history
    return {
        "package_version": __version__,
        "model": config.model,
        "config": config.to_dict(),
        "data": _data_recipes(config),
        "train_rows": num_rows,
        "resumed_from": resumed_from,
        "train_seconds": round(seconds, 1),
        "runtime": runtime,
        "global_step": trainer.state.global_step,
        "final_metrics": final,
        "curve": [h for h in history if "loss" in h or "eval_loss" in h],
    }


def _write_run_card(config: TrainConfig, card: dict) -> None:
    out = Path(config.output_dir)
    atomic_json(out / "run_card.json", card, sort_keys=False)
    _plot_curve(card["curve"], out / "training_curve.png")
    lines = ["# Fine-tuning run\n", f"- model: `{config.model}`", f"- method: {'LoRA' if config.use_lora else 'full'}",
             f"- steps: {card['global_step']}, rows: {card['train_rows']}, time: {card['train_seconds']} s"]
    if card.get("guard"):
        lines += [f"- kept: **{card['result']['kept']}**", "", guard_line(card["guard"], config)]
    if card.get("probe") and (out / GUARD_DIR / "probe.json").exists():
        lines += probe_lines(json.loads((out / GUARD_DIR / "probe.json").read_text()), PROBE_HEADING)
    lines += ["", "| metric | value |", "|---|---|"]
    lines += [f"| {k} | {v:.4g} |" if isinstance(v, float) else f"| {k} | {v} |"
              for k, v in card["final_metrics"].items()]
    (out / "RUN_CARD.md").write_text("\n".join(lines) + "\n\n![training curve](training_curve.png)\n")


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
    if ax.get_legend_handles_labels()[0]:  # a run too short to log a loss has no line to label
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
