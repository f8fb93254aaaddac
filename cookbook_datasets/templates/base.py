"""The template base class: a dataclass of parameters plus generate / rule / render.

A sample is built in three steps (Cookbook, METHODS.md §1): ``generate`` draws the parent and
child inputs from random tokens, the pure ``rule`` computes the output from the inputs, and
``render`` formats the inputs under one of several instruction phrasings.

Templates also speak a real task's language and say how their rule reads a real example:
``label_words`` (one word per role of ``label_roles``) and ``answer_format`` (choice templates)
change the completions and the instruction texts, and ``from_task_example`` / ``predict`` map a
real example (named text fields, ``Task.field_examples``) into the rule's inputs and answer.
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
from .columns import BatchRandom, Column, Formatter, Ints, Labels, Tokens, TokensList, concat, item_keys
from .real_text import choice_texts

FAMILIES = ("selection", "search", "matching", "transform", "counting")
LETTERS = "ABCDEFGHIJ"
ANSWER_FORMATS = ("letter", "number", "text")


def param(default, help: str, range: tuple[int, int] | None = None):
    """A documented template parameter; ``range`` (inclusive) is checked on construction. A list
    default is copied for every instance."""
    metadata = {"help": help}
    if range is not None:
        metadata["range"] = range
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata=metadata)
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
    instructions: ClassVar[tuple[str, ...]] = ()  # str.format patterns over instruction_fields()
    # Label templates: the semantic role of each label, in the order of the ``label_words`` param.
    label_roles: ClassVar[tuple[str, ...]] = ()
    # Choice templates: the ``answer_format`` values they take and the input holding the options.
    answer_formats: ClassVar[tuple[str, ...]] = ()
    options_key: ClassVar[str] = ""
    # Fields of a real task example that ``from_task_example`` reads.
    task_fields: ClassVar[tuple[str, ...]] = ()

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
        if self.label_roles:
            self._validate_label_words()
        if self.answer_formats and self.answer_format not in self.answer_formats:
            raise ValueError(f"template {self.name!r}: parameter 'answer_format' must be one of "
                             f"{list(self.answer_formats)} (got {self.answer_format!r})")
        self.validate()

    def _validate_label_words(self) -> None:
        words, roles = self.label_words, self.label_roles
        allowed = (f"a list of {len(roles)} non-empty strings without line breaks or surrounding "
                   f"spaces, one per role {list(roles)} (repeats allowed)")
        if not isinstance(words, (list, tuple)) or len(words) != len(roles):
            raise ValueError(f"template {self.name!r}: parameter 'label_words' must be {allowed} "
                             f"(got {words!r})")
        for role, word in zip(roles, words):
            if (not isinstance(word, str) or not word.strip() or word != word.strip()
                    or "\n" in word or "\r" in word):
                raise ValueError(f"template {self.name!r}: parameter 'label_words' must be {allowed}; "
                                 f"the word for {role!r} is {word!r}")
        self.label_words = list(words)  # a tuple would make another recipe than the same list

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

    def instruction_fields(self) -> dict[str, str]:
        """What the instruction patterns may name: each label role's word, and for choice
        templates the phrases of ``answer_phrases``."""
        fields = dict(zip(self.label_roles, self.label_words)) if self.label_roles else {}
        if self.answer_formats:
            fields.update(self.answer_phrases()[self.answer_format])
        return fields

    def answer_phrases(self) -> dict[str, dict[str, str]]:
        """Choice templates: per answer_format, the instruction phrases that say what to reply."""
        return {}

    def instruction_texts(self) -> tuple[str, ...]:
        """The instructions as this instance states them (its label words, its answer format)."""
        fields = self.instruction_fields()
        return tuple(text.format(**fields) for text in self.instructions)

    def format_output(self, output: Any, inputs: dict | None = None) -> str:
        """The completion for ``output``: a label's word, a choice's letter or number (found in
        ``inputs``), list items joined with spaces."""
        if self.label_roles:
            return self.label_words[self.label_roles.index(output)]
        if self.answer_formats and self.answer_format != "text":
            if inputs is None:
                raise ValueError(f"template {self.name!r}: the {self.answer_format} of the answer "
                                 "depends on the options: pass the inputs to format_output")
            return self.choice_label(inputs[self.options_key].index(output))
        if isinstance(output, list):
            return " ".join(str(x) for x in output)
        return str(output)

    def choice_label(self, index: int) -> str:
        """How option ``index`` is named in prompts and letter/number answers ("text" answers
        keep the letters in the prompt)."""
        return str(index + 1) if self.answer_format == "number" else LETTERS[index]

    def completion_batch(self, inputs: dict[str, Column], output: Column) -> Column:
        """The completion column of ``generate_batch``'s output (the rule's output stays in the
        meta): label words for a label template, option letters or numbers for a choice one."""
        if self.label_roles:
            if tuple(output.values) != self.label_roles:
                raise TypeError(f"template {self.name!r}: generate_batch must label by label_roles")
            return Labels(tuple(self.label_words), output.index)
        if self.answer_formats and self.answer_format != "text":
            options = inputs[self.options_key]
            count = len(options.items) if isinstance(options, TokensList) else options.ids.shape[1]
            return Labels([self.choice_label(i) for i in range(count)], _choice_positions(options, output))
        return output

    # -- real task examples --------------------------------------------------------------------
    def from_task_example(self, example: dict) -> dict | None:
        """The rule's inputs for a real task example (a dict of named text fields, see
        ``task_fields``): the structure ``generate`` draws, with the example's content words
        (real_text.content_words) as tokens. None when the rule does not apply to it."""
        return None

    def predict(self, example: dict) -> str | None:
        """The rule's answer to a real example, as this instance would write the completion
        (its label words, its answer format); None when the template does not apply. A choice
        answered as "text" is the real option's text, not its content words."""
        inputs = self.from_task_example(example)
        if inputs is None:
            return None
        output = self.rule(inputs)
        if self.answer_formats and self.answer_format == "text":
            return choice_texts(example)[inputs[self.options_key].index(output)]
        return self.format_output(output, inputs)

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
        instruction = Labels(self.instruction_texts(), rng.integers(0, len(self.instructions)))
        inputs, output = self.generate_batch(rng)
        fmt = self.formatter
        text = {k: [fmt.text(i) for i in c.items] if isinstance(c, TokensList) else fmt.text(c)
                for k, c in inputs.items()}
        prompts = concat(fmt.text(instruction), "\n\n", *self.render_batch(text))
        metas = fmt.json_object({"inputs": fmt.json_object(inputs), "output": output,
                                 "split": Labels((split,), np.zeros(len(indices), dtype=np.int64)),
                                 "index": Ints(indices)})
        return prompts, fmt.text(self.completion_batch(inputs, output)), metas

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
        instructions = self.instruction_texts()
        instruction = instructions[int(rng.random() * len(instructions))]
        prompt = f"{instruction}\n\n{self.render(inputs)}"
        return Sample(inputs, output, prompt, self.format_output(output, inputs))

    def params(self) -> dict:
        return asdict(self)

    @classmethod
    def code_hash(cls) -> str:
        """Hash of the code that makes this template's data: its module and the shared modules
        (this base, the vectorised columns and row operations, the vocabularies)."""
        from . import columns, vector_ops
        from .. import vocab

        digest = hashlib.sha256()
        for module in (inspect.getmodule(Template), columns, vector_ops, vocab, inspect.getmodule(cls)):
            digest.update(inspect.getsource(module).encode())
        return digest.hexdigest()[:16]

    @classmethod
    def describe_params(cls) -> dict[str, str]:
        return {f.name: f.metadata.get("help", "") for f in fields(cls)}


def _choice_positions(options: Column, answer: Column) -> np.ndarray:
    """Per row, the first option equal to the answer (options: a TokensList of token lists or
    a Tokens column of one word each; answer: Tokens, or Labels of word ids)."""
    if isinstance(options, TokensList):
        opts = np.stack([o.ids for o in options.items], axis=1)
    else:
        opts = options.ids[:, :, None]
    ans = answer.ids[:, None, :] if isinstance(answer, Tokens) else np.asarray(answer.index)[:, None, None]
    return np.argmax((opts == ans).all(axis=2), axis=1)


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
