"""Reverse words: write the sequence backwards, word by word."""

from dataclasses import dataclass

import numpy as np

from . import register
from .base import Template, param
from .columns import Tokens


@register
@dataclass
class ReverseWords(Template):
    name = "reverse_words"
    family = "transform"
    description = "Write the words of the sequence in reverse order."
    instructions = (
        "Reverse the sequence: write its words in the opposite order, last word first.",
        "Write the words below backwards, starting with the final word and ending with the first.",
        "Output the same words in reverse order (the words themselves stay unchanged).",
        "Read the sequence from right to left and write down each word as you meet it.",
    )

    min_length: int = param(6, "Fewest tokens in the sequence.", range=(1, 4096))
    max_length: int = param(12, "Most tokens in the sequence.", range=(1, 4096))

    def validate(self):
        self.require_at_most("min_length", "max_length")

    def generate_batch(self, rng):
        lengths = rng.integers(self.min_length, self.max_length + 1)
        ids = rng.integers(0, len(self.words), self.max_length)
        # reversing row i's first lengths[i] ids: read them back from position lengths[i] - 1
        back = lengths[:, None] - 1 - np.arange(self.max_length)[None, :]
        reversed_ids = np.take_along_axis(ids, np.maximum(back, 0), axis=1)
        return {"sequence": Tokens(ids, lengths)}, Tokens(reversed_ids, lengths)

    def render_batch(self, text):
        return ["Sequence: ", text["sequence"]]

    def rule(self, inputs):
        return inputs["sequence"][::-1]
