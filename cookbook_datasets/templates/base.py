"""The template base class: a dataclass of parameters plus generate / rule / render.

A sample is built in three steps (Cookbook, METHODS.md §1): ``generate`` draws the parent and
child inputs from random tokens, the pure ``rule`` computes the output from the inputs, and
``render`` formats the inputs under one of several instruction phrasings.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import json
import random
from dataclasses import asdict, dataclass, field, fields
from typing import Any, ClassVar, NamedTuple, Sequence

import numpy as np
import pyarrow as pa

from ..vocab import get_vocabulary, validate_vocab_spec
from .columns import BatchRandom, Column, Formatter, Ints, Labels, TokensList, concat, item_keys

FAMILIES = ("selection", "search", "matching", "transform", "counting")
LETTERS = "ABCDEFGHIJ"


def param(default, help: str, range: tuple[int, int] | None = None):
    """A documented template parameter; ``range`` (inclusive) is checked on construction."""
    metadata = {"help": help}
    if range is not None:
        metadata["range"] = range
    return field(default=default, metadata=metadata)


class Sample(NamedTuple):
    inputs: dict
    output: Any
    prompt: str
    completion: str


@dataclass
class Template:
    """Base of every template. Subclasses are dataclasses that add their own parameters."""

    vocab: str = param("pseudo", "Random tokens: 'pseudo' (built-in pseudo-words) or "
                       "'tokenizer:<model spec or path>' (whole-word tokens of that tokenizer).")

    name: ClassVar[str] = ""
    family: ClassVar[str] = ""
    description: ClassVar[str] = ""
    instructions: ClassVar[tuple[str, ...]] = ()

    def __post_init__(self):
        validate_vocab_spec(self.vocab)
        for f in fields(self):
            bounds = f.metadata.get("range")
            value = getattr(self, f.name)
            if bounds is None:
                continue
            lo, hi = bounds
            if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
                raise ValueError(
                    f"template {self.name!r}: parameter {f.name!r} must be an integer in "
                    f"[{lo}, {hi}] (got {value!r})"
                )
        self.validate()

    # -- to override -------------------------------------------------------------------------
    def validate(self) -> None:
        """Check constraints between parameters; raise ValueError naming them."""

    def require_at_most(self, smaller: str, larger: str) -> None:
        """Raise a ValueError naming both parameters unless ``smaller`` <= ``larger``."""
        a, b = getattr(self, smaller), getattr(self, larger)
        if a > b:
            raise ValueError(f"template {self.name!r}: {smaller} must be at most {larger} ({a} > {b})")

    def generate(self, rng: random.Random) -> dict:
        """Draw the structured inputs (JSON-serialisable: str, int, lists) of one sample."""
        raise NotImplementedError

    def rule(self, inputs: dict) -> Any:
        """Recompute the output from the inputs alone (pure)."""
        raise NotImplementedError

    def render(self, inputs: dict) -> str:
        """Format the inputs as the body of the prompt (the instruction comes before it)."""
        raise NotImplementedError

    # -- optional vectorised path (much faster; see columns.py) ------------------------------
    def generate_batch(self, rng: BatchRandom) -> tuple[dict[str, Column], Column]:
        """Draw a whole batch: ``(inputs, output)`` as columns. Optional: templates that do not
        implement it are sampled item by item through ``generate``/``rule``."""
        raise NotImplementedError

    def render_batch(self, text: dict) -> list:
        """The prompt body as pieces (literal strings and Arrow string columns from ``text``,
        which maps each input to its joined text, a list of them for a TokensList)."""
        raise NotImplementedError

    @classmethod
    def vectorized(cls) -> bool:
        return cls.generate_batch is not Template.generate_batch

    def format_output(self, output: Any) -> str:
        if isinstance(output, list):
            return " ".join(str(x) for x in output)
        return str(output)

    # -- shared machinery --------------------------------------------------------------------
    @property
    def words(self) -> tuple[str, ...]:
        return get_vocabulary(self.vocab).words

    def draw(self, rng: random.Random, k: int) -> list[str]:
        """``k`` random tokens, repeats allowed."""
        return rng.choices(self.words, k=k)

    @property
    def formatter(self) -> Formatter:
        return _formatter(self.vocab)

    def sample_batch(self, key: bytes, indices: Sequence[int], split: str) -> tuple[pa.Array, pa.Array, pa.Array]:
        """Prompts, completions and JSON metas of the items ``indices`` of the stream ``key``
        (see seeding.stream_key): item ``i`` depends only on (key, i)."""
        indices = np.asarray(indices, dtype=np.int64)
        keys = item_keys(key, indices)
        if not self.vectorized():
            prompts, completions, metas = [], [], []
            for item_key, index in zip(keys.tolist(), indices.tolist()):
                s = self.sample(random.Random(item_key))
                prompts.append(s.prompt)
                completions.append(s.completion)
                metas.append(json.dumps({"inputs": s.inputs, "output": s.output, "split": split, "index": index}))
            return pa.array(prompts, pa.string()), pa.array(completions, pa.string()), pa.array(metas, pa.string())
        rng = BatchRandom(keys)
        instruction = Labels(self.instructions, rng.integers(0, len(self.instructions)))
        inputs, output = self.generate_batch(rng)
        fmt = self.formatter
        text = {k: [fmt.text(i) for i in c.items] if isinstance(c, TokensList) else fmt.text(c)
                for k, c in inputs.items()}
        prompts = concat(fmt.text(instruction), "\n\n", *self.render_batch(text))
        metas = fmt.json_object({"inputs": fmt.json_object(inputs), "output": output,
                                 "split": Labels((split,), np.zeros(len(indices), dtype=np.int64)),
                                 "index": Ints(indices)})
        return prompts, fmt.text(output), metas

    def sample_rows(self, indices: Sequence[int], seed: int = 0, split: str = "train") -> list[dict]:
        """Rows as dicts (prompt, completion, inputs, output), e.g. to look at or to test."""
        from ..seeding import stream_key

        prompts, completions, metas = self.sample_batch(stream_key(seed, self.name, split), indices, split)
        rows = []
        for p, c, m in zip(prompts.to_pylist(), completions.to_pylist(), metas.to_pylist()):
            meta = json.loads(m)
            rows.append({"prompt": p, "completion": c, "inputs": meta["inputs"], "output": meta["output"]})
        return rows

    def sample(self, rng: random.Random) -> Sample:
        inputs = self.generate(rng)
        output = self.rule(inputs)
        instruction = self.instructions[int(rng.random() * len(self.instructions))]
        prompt = f"{instruction}\n\n{self.render(inputs)}"
        return Sample(inputs, output, prompt, self.format_output(output))

    def params(self) -> dict:
        return asdict(self)

    @classmethod
    def code_hash(cls) -> str:
        """Hash of the code that makes this template's data: its module and the shared modules
        (this base, the vectorised columns and row operations, the vocabularies)."""
        from . import columns, rowops
        from .. import vocab

        digest = hashlib.sha256()
        for module in (inspect.getmodule(Template), columns, rowops, vocab, inspect.getmodule(cls)):
            digest.update(inspect.getsource(module).encode())
        return digest.hexdigest()[:16]

    @classmethod
    def describe_params(cls) -> dict[str, str]:
        return {f.name: f.metadata.get("help", "") for f in fields(cls)}


@functools.lru_cache(maxsize=16)
def _formatter(vocab: str) -> Formatter:
    return Formatter(get_vocabulary(vocab).words)


# Formatting helpers shared by templates -------------------------------------------------------
def join(tokens: Sequence[str]) -> str:
    return " ".join(tokens)


def lettered(options: Sequence[Sequence[str]]) -> str:
    return "\n".join(f"{LETTERS[i]}. {join(o)}" for i, o in enumerate(options))


def overlap(a: Sequence[str], b: Sequence[str]) -> int:
    """Number of distinct tokens two sequences share."""
    return len(set(a) & set(b))


def argmax_first(scores: Sequence[int]) -> int:
    """Index of the largest score; the first one on ties."""
    return max(range(len(scores)), key=lambda i: (scores[i], -i))


def find_span(doc, span):
    """First position of ``span`` in ``doc`` (-1 if absent)."""
    n = len(span)
    if n == 0:
        return 0
    first = span[0]
    for i in range(len(doc) - n + 1):
        if doc[i] == first and doc[i:i + n] == span:
            return i
    return -1
