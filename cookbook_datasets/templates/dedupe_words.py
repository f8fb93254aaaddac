"""Dedupe words: drop repeated words, keeping each word's first occurrence."""

from dataclasses import dataclass

import numpy as np

from . import register
from .base import Template, param
from .columns import Tokens
from .vector_ops import compact, first_occurrences


@register
@dataclass
class DedupeWords(Template):
    name = "dedupe_words"
    family = "transform"
    description = "Remove repeated words from the sequence, keeping first occurrences in order."
    instructions = (
        "Remove the duplicates from the sequence: keep the first occurrence of every word, delete "
        "its later repeats, and keep the original order.",
        "Write the sequence again, but whenever a word has already appeared, leave it out.",
        "Output each distinct word of the sequence once, in the order in which it first appears.",
        "Deduplicate the words: go from left to right and copy each word only the first time you "
        "see it.",
    )

    min_length: int = param(8, "Fewest tokens in the sequence.", range=(2, 4096))
    max_length: int = param(14, "Most tokens in the sequence.", range=(2, 4096))

    def validate(self):
        self.require_at_most("min_length", "max_length")

    def generate_batch(self, rng):
        need = width = self.max_length
        if need > len(self.words):
            raise ValueError(f"template {self.name!r}: max_length ({need}) distinct words "
                             f"are needed; vocab {self.vocab!r} has {len(self.words)}")
        lengths = rng.integers(self.min_length, self.max_length + 1)
        # Between 1 and n // 2 of the n tokens repeat an earlier word.
        repeats = rng.integers(1, lengths // 2 + 1)
        n_distinct = lengths - repeats
        distinct = rng.distinct(len(self.words), width)  # the row uses the first n_distinct
        copies = np.take_along_axis(distinct, rng.integers(0, n_distinct, width), axis=1)
        position = np.arange(width)[None, :]
        sequence = np.where(position < n_distinct[:, None], distinct, copies)
        sequence = np.take_along_axis(sequence, _ragged_permutation(rng, lengths, width), axis=1)
        firsts = first_occurrences(sequence, lengths)
        return {"sequence": Tokens(sequence, lengths)}, compact(sequence, firsts)

    def render_batch(self, text):
        return ["Sequence: ", text["sequence"]]

    def rule(self, inputs):
        return list(dict.fromkeys(inputs["sequence"]))


def _ragged_permutation(rng, lengths, width):
    """Per row, a random order of its first ``lengths`` positions, then the padding positions."""
    keys = np.where(np.arange(width)[None, :] < lengths[:, None], rng.random(width), 2.0)
    return np.argsort(keys, axis=1, kind="stable")
