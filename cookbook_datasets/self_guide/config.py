"""Everything a SELF-GUIDE run needs, in one config: the synthesis recipe (every knob of the
pipeline, with the paper's defaults; METHODS.md §2) and the job around it (the model and its
engine, how the task is read, fine-tuning, choosing the epoch, scoring). It is also the command
line of ``cookbook self-guide`` and the keys of its ``--config FILE.yaml``.

Only the synthesis fields and the model make the data (:meth:`SelfGuideConfig.recipe_dict`, what
``recipe.json`` records and a resumed run is compared on); ``JOB_FIELDS`` shape what is done
with it.
"""

from __future__ import annotations

import numbers
import os
from dataclasses import asdict, dataclass, field, fields
from typing import Optional

from ..eval.guard import GUARD_MODES
from ..executor import ExecutorConfig
from ..generation.base import BACKENDS
from ..models import DEFAULT_MODEL, DTYPES
from ..registry import unknown_name_error
from ..tasks import DatasetTask

# Phrases that mark an output as chatter about the task rather than an answer or an input
# (the paper's noise filter: greetings and format tokens).
NOISE_PHRASES = (
    "sure, i'd be happy to help", "i'd be happy to help", "happy to help", "here is a new input",
    "here's a new input", "as an ai", "i cannot", "i can't", "[input]", "[output]", "input:", "output:",
    "new input", "example input",
)

ANNOTATION_MODES = ("generate", "rank", "target")
# calibrate_labels: how a label's votes are divided by the model's bias for it (annotation.py)
CALIBRATIONS = ("content-free", "batch")
FINETUNE_MODES = ("lora", "full")
# What the guard does with a tuned model that is not better than the untuned one (guard.py).
# GUARD_MODES: eval/guard.py (shared with DiverseEvol)
# Fields that bound a run but change neither its pairs nor its rows (ignored when resuming).
RUN_LIMITS = ("max_minutes",)
# Fields that shape the rows made from the pairs, not the pairs (a work directory is resumed across them).
ROW_FORMAT = ("train_num_shots",)
# The job's fields: how the task is read, which engine runs the model, training, the epoch choice,
# scoring. Not in the data's recipe (the model is, on its own key; the demonstrations read are, as
# the task's definition).
JOB_FIELDS = ("model", "num_demonstrations", "dataset_task", "backend", "base_url", "engine_options", "dtype",
              "train", "finetune", "num_train_epochs", "max_steps", "learning_rate", "per_device_train_batch_size",
              "lora_r", "min_validation_rows", "evaluate", "eval_limit", "val_instances", "num_shots",
              "tuned_num_shots", "validation_data", "guard", "max_label_share", "allow_unteachable_data",
              "execution")
# The training fields, passed on to TrainConfig over the finetune recipe's values where given.
TRAIN_FIELDS = ("num_train_epochs", "max_steps", "learning_rate", "per_device_train_batch_size", "lora_r")


def check_finetune(finetune: str) -> None:
    if finetune not in FINETUNE_MODES:
        raise ValueError(f"finetune (--finetune) must be one of {list(FINETUNE_MODES)} (got {finetune!r})")


@dataclass
class SelfGuideConfig:
    """A SELF-GUIDE run: ``SelfGuideConfig(num_examples=200, seed=1, model="smollm2-135m", eval_limit=200)``.
    The synthesis fields come first, then the job's (``JOB_FIELDS``)."""

    num_examples: int = field(default=100, metadata={
        "help": "Stop once this many pairs have passed annotation (before class balancing)."})
    max_rounds: int = field(default=100, metadata={
        "help": "Most input-generation rounds, whatever was kept (bounds the cost of a task the model cannot do)."})
    stop_window: int = field(default=5, metadata={
        "help": "Stop early when a target cannot plausibly be reached: once this many rounds ran, a label short of "
                "its share (without balancing: the pairs short of num_examples), at its mean yield per round over "
                "the last this-many rounds, would need more rounds than max_rounds leaves. 0: never stop early."})
    max_minutes: Optional[float] = field(default=None, metadata={
        "help": "Time budget of one synthesis call, in minutes: no new round (or annotation) starts past it, and the "
                "run ends with the pairs it has (its counts say it stopped on the budget). Started again, it resumes "
                "from its checkpoints with a fresh budget. None: no budget. Not part of the recipe."})
    prompts_per_round: int = field(default=10, metadata={"help": "Input-generation prompts per round (paper: 10)."})
    max_previous_inputs: int = field(default=10, metadata={
        "help": "Each prompt shows 1..this many inputs generated earlier, as examples to differ from (paper: 10)."})
    input_temperature: Optional[float] = field(default=None, metadata={
        "help": "Input sampling temperature; None: 0.7 for classification, 0.9 for generation (paper)."})
    input_top_k: int = field(default=40, metadata={"help": "Input sampling top-k (paper: 40)."})
    input_max_new_tokens: int = field(default=500, metadata={
        "help": "Most tokens per generated input (paper: 500). Also capped at what the length filter could "
                "keep, so no tokens are spent on inputs the filter would drop."})
    length_std: Optional[float] = field(default=2.0, metadata={
        "help": "Keep inputs (and generation-task outputs) whose length in characters is within the "
                "demonstrations' mean +- this many standard deviations (paper: 2); None: no length filter."})
    min_length_margin: float = field(default=0.25, metadata={
        "help": "The length window is at least the mean +- this share of it (two demonstrations of nearly equal "
                "length would otherwise allow almost nothing)."})
    length_adapt_share: Optional[float] = field(default=0.5, metadata={
        "help": "When more than this share of a round's inputs is dropped by the length filter, widen the window on "
                "the side they fall past by a factor of 1.5 (at most 4x the first window), for the rounds after; "
                "the demonstrations' mean +- 2 std is narrow when they are few. None: a fixed window (the paper)."})
    noise_phrases: tuple = field(default=NOISE_PHRASES, metadata={
        "help": "Case-insensitive phrases that mark a generated input or output as noise (default: greetings and "
                "format tokens, NOISE_PHRASES)."})
    annotation_samples: int = field(default=10, metadata={"help": "Sampled answers per input (paper: 10)."})
    annotation_temperature: float = field(default=0.2, metadata={"help": "Answer sampling temperature (paper: 0.2)."})
    annotation_top_k: int = field(default=10, metadata={"help": "Answer sampling top-k (paper: 10)."})
    annotation_max_new_tokens: Optional[int] = field(default=None, metadata={
        "help": "Most tokens per answer; None: 16 for classification, 128 for generation."})
    annotation: Optional[str] = field(default=None, metadata={
        "help": "Classification: 'generate' (sample annotation_samples answers, map each to the label it mentions "
                "last, vote; the paper), 'rank' (score every label's log-likelihood as the answer after the same "
                "prompt, the evaluation's rank framing; the label distribution is the vote, so the answer is always "
                "a label; needs a local model, transformers backend) or 'target' (no annotation: each input's output "
                "is the label it was written for, drawn uniformly; the model only writes inputs). Default (None): "
                "'target', the remedy that measured best on the dev classification tasks, where the model's own "
                "annotation put every pair on one label (docs/methods/self-guide.md, 'Remedies'); 'generate' when "
                "agree_with_target or calibrate_labels is set, since both act on the model's annotation. Generation "
                "tasks always generate.",
        "choices": list(ANNOTATION_MODES)})
    consistency_threshold: float = field(default=0.3, metadata={
        "help": "Keep the most frequent answer only if this share of the samples gave it (paper: 0.3)."})
    agree_with_target: bool = field(default=False, metadata={
        "help": "Classification, generate or rank annotation: keep a pair only when its annotated label is the label "
                "its input was written for (each input is asked for a label drawn uniformly); the others are "
                "counted as dropped_disagreeing. Not in the paper (off by default)."})
    calibrate_labels: Optional[str] = field(default=None, metadata={
        "help": "Classification: divide each label's votes by the model's bias for it before the vote, against a "
                "small model's label bias. 'content-free': its answers to content-free inputs such as 'N/A' "
                "(contextual calibration, Zhao et al. 2021); 'batch': its mean label distribution over the round's "
                "own inputs (batch calibration, Zhou et al. 2024). None: no calibration (the paper).",
        "choices": list(CALIBRATIONS)})
    balance_labels: bool = field(default=True, metadata={
        "help": "Classification: down-sample every label to the rarest one's count."})
    train_num_shots: Optional[int] = field(default=None, metadata={
        "help": "Demonstrations in each training row's prompt: the task posed exactly as the evaluation poses it "
                "(eval.prompts.chat_prompt: the instruction, this many demonstrations as turns, the input; loss on the "
                "output only), as the reference code trains. None: num_shots (the evaluation's). 0: instruction "
                "and input only."})
    validation_fraction: float = field(default=0.1, metadata={
        "help": "Share of the kept pairs held out as the validation split (picks the best epoch)."})
    seed: int = field(default=0, metadata={
        "help": "Seed of the label draws, the shuffles and the samples, and of the scored/validation split."})

    # --- the job: the model and its engine, the task, training, the epoch choice, scoring --------------
    model: str = field(default=DEFAULT_MODEL, metadata={
        "help": "The model that writes the data and is tuned on it."})
    num_demonstrations: int = field(default=3, metadata={
        "help": "Demonstrations SELF-GUIDE reads of the task (with its instruction and label set; never its "
                "instances)."})
    dataset_task: Optional[DatasetTask] = field(default=None, metadata={
        "help": "Read the task as a dataset (a data file, a dataset directory, a Hub id) with these columns, "
                "instruction, split, ... (DatasetTask's fields, each its own option: --input-field, ...); a data "
                "file (.csv, .parquet) is read so anyway. Its first num_demonstrations labelled rows are the "
                "demonstrations unless dataset_task.demonstrations says otherwise."})
    backend: str = field(default="transformers", metadata={
        "help": "Generation backend of synthesis.", "choices": list(BACKENDS)})
    base_url: Optional[str] = field(default=None, metadata={
        "help": "openai backend: the server's URL (e.g. http://localhost:8000/v1)."})
    engine_options: dict = field(default_factory=dict, metadata={
        "help": "Backend-specific engine options (e.g. batch_size; api_key_env, timeout, max_retries for openai; "
                "see cookbook_datasets.generation).", "aliases": ["--engine-option"]})
    dtype: Optional[str] = field(default=None, metadata={
        "help": "Dtype of generation, training checkpoints' scoring and evaluation (default: bf16 on GPU, fp32 on "
                "CPU).", "choices": list(DTYPES)})
    train: bool = field(default=True, metadata={"help": "Fine-tune the model on the kept pairs."})
    finetune: str = field(default="lora", metadata={
        "help": "lora (the project's LoRA recipe, learning rate 2e-4) or full (the reference code's full "
                "fine-tuning: learning rate 5e-5, linear, no warm-up); 3 epochs either way; the training fields "
                "below override the recipe.", "choices": list(FINETUNE_MODES)})
    num_train_epochs: Optional[float] = field(default=None, metadata={
        "help": "Training epochs (default: the finetune recipe's, 3); a checkpoint is kept per epoch.",
        "aliases": ["--epochs"]})
    max_steps: Optional[int] = field(default=None, metadata={
        "help": "Stop training after this many steps (default: by epochs)."})
    learning_rate: Optional[float] = field(default=None, metadata={
        "help": "Peak learning rate (default: the finetune recipe's).", "aliases": ["--lr"]})
    per_device_train_batch_size: Optional[int] = field(default=None, metadata={
        "help": "Training batch size per device (default: TrainConfig's).", "aliases": ["--batch-size"]})
    lora_r: Optional[int] = field(default=None, metadata={"help": "LoRA rank (default: TrainConfig's)."})
    min_validation_rows: int = field(default=20, metadata={
        "help": "Fewest validation rows (real instances or synthetic pairs) an epoch is chosen on, and fewest real "
                "rows the guard chooses on: one task's score on a handful of rows is mostly noise (on 2 binary rows "
                "it can only be 0, 0.5 or 1). With fewer, no epoch is scored and the last one is kept, and the guard "
                "makes no choice; the report and the log say so."})
    evaluate: bool = field(default=True, metadata={
        "help": "Score prompting vs the tuned model on the task's real instances (needs labelled instances).",
        "aliases": ["--eval"]})
    eval_limit: int = field(default=100, metadata={"help": "Real instances scored (a seeded subset)."})
    val_instances: Optional[int] = field(default=None, metadata={
        "help": "Choose the epoch (and guard it) on this many labelled real instances, disjoint from the scored ones "
                "(the paper's protocol; the task needs eval_limit + this many). None (default): up to 100 of the "
                "task's instances left beside the scored ones, when there are min_validation_rows of them (fewer: "
                "the probe reads them, the synthetic validation split picks the epoch, the guard makes no choice). "
                "0: none (the synthetic split picks; no probe, no guard choice)."})
    validation_data: Optional[str] = field(default=None, metadata={
        "help": "Your own labelled validation rows instead (a data file, a dataset directory or Hub id, or a task "
                "file), read with the task's columns (dataset_task); they choose the epoch and the guard and must "
                "not repeat a scored input.", "metavar": "DATA"})
    guard: str = field(default="keep-best", metadata={
        "help": "Never worse than where you started: the untuned model is a candidate beside the tuned epochs, on "
                "the real validation rows. 'keep-best': the tuned model is kept only when its mean there is above "
                "the untuned model's, else the untuned model is the result (the adapter stays on disk, reported as "
                "not kept). 'off': the tuned model is kept, with a warning when it is not better. The report gives "
                "the paired interval of tuned - untuned either way; costs one scoring of the rows per candidate.",
        "choices": list(GUARD_MODES)})
    max_label_share: float = field(default=0.8, metadata={
        "help": "Classification: the kept pairs cannot teach the task when one label holds more than this share "
                "of them, or a label of the task's set is never used; such data is refused before training "
                "(allow_unteachable_data overrides).", "metavar": "SHARE"})
    allow_unteachable_data: bool = field(default=False, metadata={
        "help": "Train on classification pairs that cannot teach the task (max_label_share) anyway, with a "
                "warning in the report and the log."})
    num_shots: int = field(default=2, metadata={
        "help": "Demonstrations in the prompting baseline's prompts (and, by default, in training rows)."})
    execution: Optional[ExecutorConfig] = field(default=None, metadata={
        "help": "Where synthesis's model calls run (input generation and annotation; default local; "
                "ExecutorConfig's fields, each its own option: --executor ray --ray-address ADDR --replicas N); "
                "the same pairs either way."})
    tuned_num_shots: Optional[int] = field(default=None, metadata={
        "help": "Demonstrations when scoring the tuned model and its epochs (default: as trained, train_num_shots)."})

    def __post_init__(self):
        for name in ("num_examples", "max_rounds", "prompts_per_round", "max_previous_inputs", "input_max_new_tokens",
                     "annotation_samples"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
                raise ValueError(f"SelfGuideConfig.{name} must be a positive integer (got {value!r})")
        for name in ("input_top_k", "annotation_top_k", "seed"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
                raise ValueError(f"SelfGuideConfig.{name} must be an integer >= 0 (got {value!r})")
        if self.annotation_max_new_tokens is not None and (
                not isinstance(self.annotation_max_new_tokens, numbers.Integral) or self.annotation_max_new_tokens < 1):
            raise ValueError(f"SelfGuideConfig.annotation_max_new_tokens must be a positive integer or None "
                             f"(got {self.annotation_max_new_tokens!r})")
        for name in ("input_temperature", "annotation_temperature"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, numbers.Real) or value < 0):
                raise ValueError(f"SelfGuideConfig.{name} must be a number >= 0 (got {value!r})")
        if self.length_std is not None and not (isinstance(self.length_std, numbers.Real) and self.length_std > 0):
            raise ValueError(f"SelfGuideConfig.length_std must be > 0 or None (got {self.length_std!r})")
        if isinstance(self.stop_window, bool) or not isinstance(self.stop_window, numbers.Integral) or self.stop_window < 0:
            raise ValueError(f"SelfGuideConfig.stop_window must be an integer >= 0 (got {self.stop_window!r})")
        if self.max_minutes is not None and (isinstance(self.max_minutes, bool) or not isinstance(self.max_minutes, numbers.Real)
                                             or not self.max_minutes > 0):
            raise ValueError(f"SelfGuideConfig.max_minutes must be a number of minutes > 0 or None (got {self.max_minutes!r})")
        if self.length_adapt_share is not None and not (isinstance(self.length_adapt_share, numbers.Real)
                                                        and 0 < self.length_adapt_share < 1):
            raise ValueError(f"SelfGuideConfig.length_adapt_share must be in (0, 1) or None (got {self.length_adapt_share!r})")
        if not 0 <= self.min_length_margin < 1:
            raise ValueError(f"SelfGuideConfig.min_length_margin must be in [0, 1) (got {self.min_length_margin!r})")
        if self.annotation is None:  # measured best on the dev tasks (docs/methods/self-guide.md, "Remedies")
            self.annotation = "generate" if (self.agree_with_target or self.calibrate_labels) else "target"
        if self.annotation not in ANNOTATION_MODES:
            raise ValueError(f"SelfGuideConfig.annotation must be one of {list(ANNOTATION_MODES)} "
                             f"(got {self.annotation!r})")
        if self.calibrate_labels is True or self.calibrate_labels is False:  # the flag it was before 'batch'
            self.calibrate_labels = "content-free" if self.calibrate_labels else None
        if self.calibrate_labels is not None and self.calibrate_labels not in CALIBRATIONS:
            raise unknown_name_error("calibrate_labels", self.calibrate_labels, list(CALIBRATIONS))
        if self.agree_with_target and self.annotation == "target":
            raise ValueError("SelfGuideConfig.agree_with_target compares an annotation with the input's target label; "
                             "annotation='target' has no annotation to compare (use generate or rank)")
        if not 0 < self.consistency_threshold <= 1:
            raise ValueError(f"SelfGuideConfig.consistency_threshold must be in (0, 1] "
                             f"(got {self.consistency_threshold!r})")
        if self.train_num_shots is not None and (isinstance(self.train_num_shots, bool) or not isinstance(
                self.train_num_shots, numbers.Integral) or self.train_num_shots < 0):
            raise ValueError(f"SelfGuideConfig.train_num_shots must be an integer >= 0 or None (got {self.train_num_shots!r})")
        if not 0 <= self.validation_fraction < 1:
            raise ValueError(f"SelfGuideConfig.validation_fraction must be in [0, 1) (got {self.validation_fraction!r})")
        if isinstance(self.noise_phrases, str):
            raise ValueError("SelfGuideConfig.noise_phrases must be a list of phrases, not one string")
        self.noise_phrases = tuple(str(p).lower() for p in self.noise_phrases)
        self._check_job()

    def _check_job(self) -> None:
        BACKENDS.get(self.backend)  # an unknown backend: the error lists them
        if self.dtype is not None and self.dtype not in DTYPES:
            raise ValueError(f"SelfGuideConfig.dtype must be one of {list(DTYPES)} or None (got {self.dtype!r})")
        check_finetune(self.finetune)
        if not isinstance(self.engine_options, dict):
            raise ValueError(f"SelfGuideConfig.engine_options must be a mapping (got {self.engine_options!r})")
        self.dataset_task = DatasetTask.from_value(self.dataset_task)
        self.execution = ExecutorConfig.from_value(self.execution)
        for name, least in (("num_demonstrations", 1), ("eval_limit", 1), ("min_validation_rows", 1),
                            ("num_shots", 0)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < least:
                raise ValueError(f"SelfGuideConfig.{name} must be an integer >= {least} (got {value!r})")
        for name, least in (("max_steps", 1), ("per_device_train_batch_size", 1), ("lora_r", 1),
                            ("tuned_num_shots", 0)):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, numbers.Integral)
                                      or value < least):
                raise ValueError(f"SelfGuideConfig.{name} must be an integer >= {least} or None (got {value!r})")
        for name in ("num_train_epochs", "learning_rate"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, numbers.Real) or not value > 0):
                raise ValueError(f"SelfGuideConfig.{name} must be a number > 0 or None (got {value!r})")
            if value is not None:  # 2 from a YAML file is 2.0 from the command line: one training, one record
                setattr(self, name, float(value))
        if self.val_instances is not None and (isinstance(self.val_instances, bool)
                                               or not isinstance(self.val_instances, numbers.Integral)
                                               or self.val_instances < 0):
            raise ValueError(f"val_instances (--val-instances) must be an integer >= 0 (0: none) or None "
                             f"(got {self.val_instances!r})")
        if self.val_instances and not self.train:
            raise ValueError("val_instances (--val-instances) picks the epoch of training; with train=False "
                             "(--no-train) there is none to pick")
        if self.validation_data is not None:
            if not isinstance(self.validation_data, (str, os.PathLike)) or not str(self.validation_data):
                raise ValueError(f"validation_data (--validation-data) must be a path or a dataset id "
                                 f"(got {self.validation_data!r})")
            self.validation_data = str(self.validation_data)
            if self.val_instances is not None:
                raise ValueError("give validation_data (--validation-data) or val_instances (--val-instances), "
                                 "not both: the rows that choose come from one place")
            if not self.train:
                raise ValueError("validation_data (--validation-data) picks the epoch of training and guards it; "
                                 "with train=False (--no-train) there is none")
        if self.guard not in GUARD_MODES:
            raise unknown_name_error("guard (--guard) mode", self.guard, GUARD_MODES, listed="guard takes")
        if (isinstance(self.max_label_share, bool) or not isinstance(self.max_label_share, numbers.Real)
                or not 0 < self.max_label_share <= 1):
            raise ValueError(f"max_label_share (--max-label-share) must be a number in (0, 1] "
                             f"(got {self.max_label_share!r})")
        self.max_label_share = float(self.max_label_share)
        if not isinstance(self.allow_unteachable_data, bool):
            raise ValueError(f"allow_unteachable_data must be True or False (got {self.allow_unteachable_data!r})")

    def input_temperature_for(self, classification: bool) -> float:
        if self.input_temperature is not None:
            return float(self.input_temperature)
        return 0.7 if classification else 0.9

    def train_shots(self) -> int:
        """The demonstrations a training row shows (``train_num_shots``, None: the evaluation's ``num_shots``)."""
        return self.num_shots if self.train_num_shots is None else int(self.train_num_shots)

    def train_args(self) -> dict:
        """The training fields given (TrainConfig fields over the finetune recipe's)."""
        return {name: getattr(self, name) for name in TRAIN_FIELDS if getattr(self, name) is not None}

    def annotation_tokens_for(self, classification: bool) -> int:
        if self.annotation_max_new_tokens is not None:
            return int(self.annotation_max_new_tokens)
        return 16 if classification else 128

    def to_dict(self) -> dict:
        """Every field, as JSON holds it (what the report records)."""
        d = asdict(self)
        d["noise_phrases"] = list(self.noise_phrases)
        return d

    def recipe_dict(self) -> dict:
        """The synthesis fields: what the pairs depend on (with the model and the task's definition,
        which ``pipeline.recipe`` adds)."""
        return {k: v for k, v in self.to_dict().items() if k not in JOB_FIELDS}

    @classmethod
    def from_dict(cls, values: dict) -> "SelfGuideConfig":
        allowed = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - allowed)
        if unknown:
            raise unknown_name_error("SELF-GUIDE parameter", unknown[0], sorted(allowed), plural="parameters")
        return cls(**values)
