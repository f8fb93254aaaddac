"""Sort words: write the sequence's words in alphabetical order."""

import functools
from dataclasses import dataclass

import numpy as np

from . import register
from .base import Template, param
from .columns import Tokens
from ..vocab import get_vocabulary


@register
@dataclass
class SortWords(Template):
    name = "sort_words"
    family = "transform"
    description = "Write the words of the sequence sorted alphabetically."
    instructions = (
        "Sort the words of the sequence in alphabetical order and write them out, keeping repeated "
        "words as many times as they occur.",
        "Arrange the words below alphabetically, from A to Z. Every word, repeats included, must "
        "appear in the answer.",
        "Write the same words in dictionary order.",
        "Put the words of the sequence in alphabetical order (compare letter by letter) and output "
        "the sorted list.",
    )

    min_length: int = param(6, "Fewest tokens in the sequence.", range=(1, 4096))
    max_length: int = param(12, "Most tokens in the sequence.", range=(1, 4096))

    def validate(self):
        self.require_at_most("min_length", "max_length")

    def generate_batch(self, rng):
        lengths = rng.integers(self.min_length, self.max_length + 1)
        ids = rng.integers(0, len(self.words), self.max_length)
        # Sort each row by the words' alphabetical rank; padding (beyond the length) goes last.
        padding = np.arange(self.max_length)[None, :] >= lengths[:, None]
        keys = np.where(padding, len(self.words), _alphabetical_rank(self.vocab)[ids])
        order = np.argsort(keys, axis=1, kind="stable")
        return {"sequence": Tokens(ids, lengths)}, Tokens(np.take_along_axis(ids, order, axis=1), lengths)

    def render_batch(self, text):
        return ["Sequence: ", text["sequence"]]

    def rule(self, inputs):
        return sorted(inputs["sequence"])


@functools.lru_cache(maxsize=16)
def _alphabetical_rank(vocab: str) -> np.ndarray:
    """Each token id's position in Python's string order (what ``sorted`` in ``rule`` uses)."""
    words = get_vocabulary(vocab).words
    rank = np.empty(len(words), dtype=np.int64)
    rank[sorted(range(len(words)), key=words.__getitem__)] = np.arange(len(words))
    return rank
