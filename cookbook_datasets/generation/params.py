"""What every backend takes (chat prompts, :class:`SamplingParams`) and gives back
(:class:`GenerationOutput` per prompt, one :class:`Completion` per sample)."""

from __future__ import annotations

import numbers
from dataclasses import dataclass, field
from typing import Optional, Sequence, Union

import numpy as np

Messages = list  # [{"role": "system" | "user" | "assistant", "content": str}, ...]
Prompt = Union[str, Messages]


@dataclass(frozen=True)
class SamplingParams:
    """How to sample. ``temperature=0`` is greedy decoding (then the ``n`` samples are identical)."""

    n: int = field(default=1, metadata={"help": "Completions per prompt (>= 1)."})
    temperature: float = field(default=1.0, metadata={"help": "Softmax temperature (>= 0); 0 is greedy."})
    top_k: int = field(default=0, metadata={"help": "Sample among the k most likely tokens (>= 0); 0 is off."})
    top_p: float = field(default=1.0, metadata={
        "help": "Nucleus sampling: the smallest set of tokens whose probability reaches top_p, in (0, 1]; 1 is off."})
    max_new_tokens: int = field(default=64, metadata={"help": "Most tokens generated per completion (>= 1)."})
    stop: tuple = field(default=(), metadata={
        "help": "Strings that end a completion; the text returned stops before the first one."})
    seed: Optional[int] = field(default=0, metadata={
        "help": "Seed (>= 0) of the samples; each (seed, prompt index, sample index) gets its own random stream. "
                "None draws fresh entropy (not reproducible)."})

    def __post_init__(self):
        def integer(name, low):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
                raise ValueError(f"SamplingParams.{name} must be an integer >= {low} (got {value!r})")
            object.__setattr__(self, name, int(value))

        integer("n", 1)
        integer("top_k", 0)
        integer("max_new_tokens", 1)
        if self.seed is not None:
            integer("seed", 0)
        t = self.temperature
        if isinstance(t, bool) or not isinstance(t, numbers.Real) or not t >= 0 or t == float("inf"):
            raise ValueError(f"SamplingParams.temperature must be a number >= 0 (0 is greedy; got {t!r})")
        object.__setattr__(self, "temperature", float(t))
        p = self.top_p
        if isinstance(p, bool) or not isinstance(p, numbers.Real) or not 0 < p <= 1:
            raise ValueError(f"SamplingParams.top_p must be in (0, 1] (1 is off; got {p!r})")
        object.__setattr__(self, "top_p", float(p))
        stop = (self.stop,) if isinstance(self.stop, str) else tuple(self.stop or ())
        if not all(isinstance(s, str) and s for s in stop):
            raise ValueError(f"SamplingParams.stop must be non-empty strings (got {self.stop!r})")
        object.__setattr__(self, "stop", stop)

    @property
    def greedy(self) -> bool:
        return self.temperature == 0

    def sample_seed(self, prompt_index: int, sample_index: int = 0) -> Optional[int]:
        """A 32-bit seed for one (prompt, sample) stream, hashed from (seed, prompt, sample).

        Hashing rather than ``seed + index`` keeps neighbouring seeds' streams unrelated and makes a
        sample independent of which other prompts share its batch.
        """
        if self.seed is None:
            return None
        return int(np.random.SeedSequence([self.seed, prompt_index, sample_index]).generate_state(1)[0])


@dataclass
class Completion:
    """One sampled completion."""

    text: str  # decoded without special tokens, cut before the first stop string
    finish_reason: str  # "stop" (end-of-sequence token or a stop string) or "length" (max_new_tokens reached)
    num_tokens: Optional[int] = None  # tokens generated (the end-of-sequence token included); None if unknown
    token_ids: Optional[list] = None  # the generated token ids (local backends only)


@dataclass
class GenerationOutput:
    """The ``n`` completions of one prompt, with its token counts."""

    completions: list
    prompt_tokens: Optional[int] = None  # tokens of the formatted prompt (chat template applied)
    completion_tokens: Optional[int] = None  # tokens generated over all completions

    @property
    def texts(self) -> list[str]:
        return [c.text for c in self.completions]


def normalize_prompts(prompts: Sequence[Prompt]) -> list[Messages]:
    """Chat prompts as message lists; a plain string is one user message. Errors name the prompt."""
    if isinstance(prompts, (str, dict)):
        raise TypeError("prompts must be a list of prompts (each a list of {'role', 'content'} messages or a string)")
    out = []
    for i, prompt in enumerate(prompts):
        if isinstance(prompt, str):
            out.append([{"role": "user", "content": prompt}])
            continue
        if not isinstance(prompt, (list, tuple)) or not prompt:
            raise ValueError(f"prompt {i} must be a non-empty list of {{'role', 'content'}} messages or a string "
                             f"(got {type(prompt).__name__})")
        for j, message in enumerate(prompt):
            if not isinstance(message, dict) or "role" not in message or "content" not in message:
                raise ValueError(f"prompt {i}, message {j} must be a dict with 'role' and 'content' (got {message!r})")
        out.append(list(prompt))
    return out


def cut_at_stop(text: str, stop: Sequence[str]) -> tuple[str, bool]:
    """``text`` up to the earliest stop string, and whether one was found."""
    cut = min((i for i in (text.find(s) for s in stop) if i >= 0), default=-1)
    return (text[:cut], True) if cut >= 0 else (text, False)
