"""The SELF-GUIDE recipe: every knob of the pipeline, with the paper's defaults (METHODS.md §2)."""

from __future__ import annotations

import numbers
from dataclasses import asdict, dataclass, field, fields
from typing import Optional

from ..registry import unknown_name_error

# Phrases that mark an output as chatter about the task rather than an answer or an input
# (the paper's noise filter: greetings and format tokens).
NOISE_PHRASES = (
    "sure, i'd be happy to help", "i'd be happy to help", "happy to help", "here is a new input",
    "here's a new input", "as an ai", "i cannot", "i can't", "[input]", "[output]", "input:", "output:",
    "new input", "example input",
)

ANNOTATION_MODES = ("generate", "rank")
# What a recipe written before a field existed means by its absence (what the older code did).
LEGACY_VALUES = {"stop_window": 0, "length_adapt_share": None, "train_num_shots": 0}
# Fields that bound a run but change neither its pairs nor its rows (ignored when resuming).
RUN_LIMITS = ("max_minutes",)
# Fields that shape the rows made from the pairs, not the pairs (a work directory is resumed across them).
ROW_FORMAT = ("train_num_shots",)
# The demonstrations the evaluation shows when nothing says otherwise (EvalConfig.num_shots).
EVAL_NUM_SHOTS = 2


@dataclass
class SelfGuideConfig:
    """How SELF-GUIDE synthesises data. ``SelfGuideConfig(num_examples=200, seed=1)``."""

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
        "help": "Case-insensitive phrases that mark a generated input or output as noise."})
    annotation_samples: int = field(default=10, metadata={"help": "Sampled answers per input (paper: 10)."})
    annotation_temperature: float = field(default=0.2, metadata={"help": "Answer sampling temperature (paper: 0.2)."})
    annotation_top_k: int = field(default=10, metadata={"help": "Answer sampling top-k (paper: 10)."})
    annotation_max_new_tokens: Optional[int] = field(default=None, metadata={
        "help": "Most tokens per answer; None: 16 for classification, 128 for generation."})
    annotation: str = field(default="generate", metadata={
        "help": "Classification: 'generate' (sample annotation_samples answers, map each to the label it mentions "
                "last, vote; the paper) or 'rank' (score every label's log-likelihood as the answer after the same "
                "prompt, the evaluation's rank framing; the label distribution is the vote, so the answer is always "
                "a label). Needs a local model (transformers backend). Generation tasks always generate."})
    consistency_threshold: float = field(default=0.3, metadata={
        "help": "Keep the most frequent answer only if this share of the samples gave it (paper: 0.3)."})
    calibrate_labels: bool = field(default=False, metadata={
        "help": "Classification: divide each label's votes by the model's prior for it (its answers to content-free "
                "inputs such as 'N/A', as in contextual calibration, Zhao et al. 2021) before the vote; counters a "
                "small model's label bias. Rank mode divides the label distribution by the mean distribution on those "
                "inputs. Not in the paper (off by default)."})
    balance_labels: bool = field(default=True, metadata={
        "help": "Classification: down-sample every label to the rarest one's count."})
    train_num_shots: Optional[int] = field(default=None, metadata={
        "help": "Demonstrations in each training row's prompt: the task posed exactly as the evaluation poses it "
                "(eval.prompts.chat_prompt: the instruction, this many demonstrations as turns, the input; loss on the "
                "output only), as the reference code trains. None: the evaluation's num_shots (run_self_guide's "
                "num_shots; 2, the harness default, in the builder). 0: instruction and input only."})
    validation_fraction: float = field(default=0.1, metadata={
        "help": "Share of the kept pairs held out as the validation split (picks the best epoch)."})
    seed: int = field(default=0, metadata={"help": "Seed of the label draws, the shuffles and the samples."})

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
        if self.annotation not in ANNOTATION_MODES:
            raise ValueError(f"SelfGuideConfig.annotation must be one of {list(ANNOTATION_MODES)} "
                             f"(got {self.annotation!r})")
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

    def input_temperature_for(self, classification: bool) -> float:
        if self.input_temperature is not None:
            return float(self.input_temperature)
        return 0.7 if classification else 0.9

    def train_shots(self) -> int:
        """The demonstrations a training row shows (``train_num_shots``, None: the evaluation's default)."""
        return EVAL_NUM_SHOTS if self.train_num_shots is None else int(self.train_num_shots)

    def annotation_tokens_for(self, classification: bool) -> int:
        if self.annotation_max_new_tokens is not None:
            return int(self.annotation_max_new_tokens)
        return 16 if classification else 128

    def to_dict(self) -> dict:
        d = asdict(self)
        d["noise_phrases"] = list(self.noise_phrases)
        return d

    @classmethod
    def from_dict(cls, values: dict) -> "SelfGuideConfig":
        allowed = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - allowed)
        if unknown:
            raise unknown_name_error("SELF-GUIDE parameter", unknown[0], sorted(allowed), plural="parameters")
        return cls(**values)
