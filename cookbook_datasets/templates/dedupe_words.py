"""Dedupe words: drop repeated words, keeping each word's first occurrence."""

from dataclasses import dataclass

from . import register
from .base import Template, join, param


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
        if self.min_length > self.max_length:
            raise ValueError(
                f"template {self.name!r}: min_length must be at most max_length "
                f"({self.min_length} > {self.max_length})"
            )

    def generate(self, rng):
        n = self.min_length + int(rng.random() * (self.max_length - self.min_length + 1))
        need = self.max_length
        if need > len(self.words):
            raise ValueError(f"template {self.name!r}: max_length ({need}) distinct words "
                             f"are needed; vocab {self.vocab!r} has {len(self.words)}")
        # Between 1 and n // 2 of the n tokens repeat an earlier word.
        repeats = 1 + int(rng.random() * (n // 2))
        distinct = self.draw_distinct(rng, n - repeats)
        sequence = distinct + rng.choices(distinct, k=repeats)
        rng.shuffle(sequence)
        return {"sequence": sequence}

    def rule(self, inputs):
        return list(dict.fromkeys(inputs["sequence"]))

    def render(self, inputs):
        return f"Sequence: {join(inputs['sequence'])}"
