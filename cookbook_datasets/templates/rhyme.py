"""Rhyme (the Cookbook paper's poetry template): pick the option that rhymes with the line's last word."""

import functools
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import pyarrow.compute as pc

from . import register
from .base import Template, param
from .columns import Labels, Tokens
from ..vocab import get_vocabulary


@register
@dataclass
class Rhyme(Template):
    name = "rhyme"
    family = "selection"
    description = "Pick the option that rhymes with (shares the last two letters of) the line's last word."
    instructions = (
        "Which option rhymes with the last word of the line? Two words rhyme here when they end in "
        "the same two letters. Exactly one option does; reply with it.",
        "Continue the poem: choose the option whose last two letters match the last two letters of "
        "the line's final word, and write that word.",
        "Find the rhyme. Look at the final word of the line and pick the option ending with the same "
        "two letters.",
        "Pick the word from the options that rhymes with the end of the line, meaning its final two "
        "letters are the same as those of the line's last word.",
    )

    line_length: int = param(6, "Tokens in the line, its last word (the one to rhyme) included.",
                             range=(1, 256))
    num_options: int = param(4, "Number of options.", range=(2, 10))

    def generate_batch(self, rng):
        table = _rhyme_table(self.vocab)
        vocab_size, k = len(table.group), self.num_options
        if not len(table.targets) or vocab_size - table.sizes.max() < k - 1:
            raise ValueError(f"template {self.name!r}: vocab {self.vocab!r} has too few rhyming words")
        # The target: a word with at least one other word of the same ending.
        target = table.targets[rng.integers(0, len(table.targets))]
        group = table.group[target]
        start, size = table.start[group], table.sizes[group]
        # The answer: another word of the group (draw among size - 1, skipping the target's rank).
        r = rng.integers(0, size - 1)
        answer = table.by_ending[start + r + (r >= table.rank[target])]
        # Distractors: k - 1 distinct words of other endings, i.e. distinct ranks among the
        # vocab_size - size words outside the group in by_ending order.
        outside = _distinct_below(rng.random(k - 1), vocab_size - size)
        distractors = table.by_ending[np.where(outside < start[:, None], outside, outside + size[:, None])]
        options = rng.shuffle(np.concatenate([answer[:, None], distractors], axis=1))
        line = np.concatenate([rng.integers(0, vocab_size, self.line_length - 1), target[:, None]], axis=1)
        answer = Labels(self.formatter.words, answer)  # one word (the Arrow vocabulary as labels)
        return {"line": Tokens(line), "options": Tokens(options)}, answer

    def render_batch(self, text):
        return ["Line: ", text["line"], "\nOptions: ", pc.replace_substring(text["options"], " ", ", ")]

    def rule(self, inputs):
        target = inputs["line"][-1]
        return next(o for o in inputs["options"] if o != target and o[-2:] == target[-2:])



class _RhymeTable(NamedTuple):
    """Word ids grouped by their last two letters, as NumPy lookup arrays."""

    group: np.ndarray      # word id -> its ending group
    by_ending: np.ndarray  # word ids sorted by ending group (each group contiguous)
    start: np.ndarray      # group -> its first position in by_ending
    sizes: np.ndarray      # group -> number of words
    rank: np.ndarray       # word id -> its position within its group
    targets: np.ndarray    # word ids that rhyme with at least one other word


@functools.lru_cache(maxsize=16)
def _rhyme_table(vocab: str) -> _RhymeTable:
    words = get_vocabulary(vocab).words
    _, group = np.unique([w[-2:] for w in words], return_inverse=True)
    by_ending = np.argsort(group, kind="stable")
    sizes = np.bincount(group)
    start = np.cumsum(sizes) - sizes
    rank = np.empty(len(words), dtype=np.int64)
    rank[by_ending] = np.arange(len(words)) - start[group[by_ending]]
    return _RhymeTable(group, by_ending, start, sizes, rank, np.flatnonzero(sizes[group] > 1))


def _distinct_below(u, bound):
    """Distinct integers in [0, bound) per row (``bound`` per row), one uniform of ``u`` (n, k)
    each, by Floyd's algorithm: a uniform random subset without rejection (in no uniform order)."""
    picks, top = [], bound - u.shape[1]
    for i in range(u.shape[1]):
        # Floyd's step i: t uniform in [0, top + i], or top + i itself when t is already picked
        t = (u[:, i] * (top + i + 1)).astype(np.int64)
        taken = np.zeros(len(t), dtype=bool)
        for p in picks:
            taken |= p == t
        picks.append(np.where(taken, top + i, t))
    return np.stack(picks, axis=1)
