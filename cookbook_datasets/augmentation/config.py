"""The budgeted-augmentation recipe: strategy, budget and sampling knobs (METHODS.md §3)."""

from __future__ import annotations

import numbers
from dataclasses import asdict, dataclass, field, fields
from typing import Optional

from ..executor import ExecutorConfig
from ..registry import did_you_mean, unknown_name_error

STRATEGIES = ("answer_aug", "rephrase", "new_question")
VERIFY_MODES = ("none", "gold")
# Where the queries run, not what they ask: left out of the recipe, so the cache, the work directory
# and the card are the same whichever executor answered.
JOB_FIELDS = ("execution",)


@dataclass
class AugmentationConfig:
    """How a seed set is augmented. ``AugmentationConfig(strategy="new_question", budget=500)``.

    The budget counts teacher queries: one query is one chat completion (``n=1``), whatever its
    kind (answer, rephrase, new question, check). The paper charges every call the same way.
    """

    strategy: str = field(default="answer_aug", metadata={
        "help": f"One of {list(STRATEGIES)}: new answers for seed questions, rephrased seed questions "
                "(then answered), or new questions written from a seed (checked, then answered)."})
    budget: int = field(default=100, metadata={"help": "Teacher queries the run may spend (Q >= 1)."})
    answer_temperature: float = field(default=0.7, metadata={
        "help": "Temperature of the teacher's answers (sampled: answer augmentation needs varied answers)."})
    question_temperature: float = field(default=0.9, metadata={
        "help": "Temperature of rephrased and new questions."})
    check_temperature: float = field(default=0.0, metadata={"help": "Temperature of the answerability check."})
    top_p: float = field(default=0.95, metadata={"help": "Nucleus sampling of every call, in (0, 1]."})
    max_new_tokens: int = field(default=256, metadata={"help": "Most tokens per teacher answer."})
    question_max_new_tokens: int = field(default=160, metadata={"help": "Most tokens per written question."})
    num_demonstrations: int = field(default=2, metadata={
        "help": "Seed examples shown to the teacher before each answer request, so it follows the format."})
    checker: str = field(default="auto", metadata={
        "help": "Ground-truth checker of final answers: 'auto' (final_number when the seed answers end in "
                "'#### x' or are numbers, else exact), 'final_number', 'exact' or 'none'."})
    verify: str = field(default="none", metadata={
        "help": "'none' or 'gold': answer_aug and rephrase keep an answer only if the checker finds the seed's "
                "answer in it (a local rule, no query); new_question asks a second answer (a 'check' query) and "
                "keeps the question only if both agree. The paper found no significant gain.",
        "choices": list(VERIFY_MODES)})
    require_different_answer: bool = field(default=True, metadata={
        "help": "new_question: drop a new question whose answer equals its seed's (the method asks for a different one)."})
    include_seed: bool = field(default=True, metadata={"help": "Put the seed rows in the output too (as the paper trains)."})
    system_prompt: Optional[str] = field(default=None, metadata={
        "help": "A system message for the rows' prompts (the student sees it at training time)."})
    seed: int = field(default=0, metadata={"help": "Seed of the seed-set order and of every teacher sample."})
    execution: Optional[ExecutorConfig] = field(default=None, metadata={
        "help": "Where the teacher calls run (default local; ExecutorConfig's fields, each its own option: "
                "--executor ray --ray-address ADDR --replicas N): on Ray, a Ray Data actor pool with one teacher "
                "client (or local model replica) per actor, while this process keeps the ledger and the cache; "
                "the same rows either way."})

    def __post_init__(self):
        self.execution = ExecutorConfig.from_value(self.execution)
        if self.strategy not in STRATEGIES:
            raise ValueError(f"AugmentationConfig.strategy must be one of {list(STRATEGIES)}"
                             f"{did_you_mean(self.strategy, STRATEGIES)} "
                             f"(got {self.strategy!r})")
        for name, low in (("budget", 1), ("max_new_tokens", 1), ("question_max_new_tokens", 1),
                          ("num_demonstrations", 0), ("seed", 0)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
                raise ValueError(f"AugmentationConfig.{name} must be an integer >= {low} (got {value!r})")
        for name in ("answer_temperature", "question_temperature", "check_temperature"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 <= value < float("inf"):
                raise ValueError(f"AugmentationConfig.{name} must be a number >= 0 (got {value!r})")
        if isinstance(self.top_p, bool) or not isinstance(self.top_p, numbers.Real) or not 0 < self.top_p <= 1:
            raise ValueError(f"AugmentationConfig.top_p must be in (0, 1] (got {self.top_p!r})")
        from .checkers import CHECKERS

        if self.checker != "auto" and self.checker not in CHECKERS:
            raise ValueError(f"AugmentationConfig.checker must be 'auto' or one of {sorted(CHECKERS)} "
                             f"(got {self.checker!r})")
        if self.verify not in VERIFY_MODES:
            raise ValueError(f"AugmentationConfig.verify must be one of {list(VERIFY_MODES)} (got {self.verify!r})")

    def to_dict(self) -> dict:
        """Every field (``execution`` as a mapping): what ``from_dict`` reads back."""
        return asdict(self)

    def recipe_dict(self) -> dict:
        """The fields the data depends on: ``to_dict`` without where it ran (:data:`JOB_FIELDS`)."""
        return {k: v for k, v in self.to_dict().items() if k not in JOB_FIELDS}

    @classmethod
    def from_dict(cls, values: dict) -> "AugmentationConfig":
        allowed = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - allowed)
        if unknown:
            raise unknown_name_error("augmentation parameter", unknown[0], sorted(allowed), plural="parameters")
        return cls(**values)
