"""Shared words: list the words two sequences have in common (cf. NIV2 task039)."""

from dataclasses import dataclass

from . import register
from .base import Template, join, param


@register
@dataclass
class SharedWords(Template):
    name = "shared_words"
    family = "matching"
    description = "List the words that occur in both sequences, in first-sequence order, once each."
    instructions = (
        "Find the words that appear in both sequences. List each of them once, in the order in "
        "which they first appear in the first sequence.",
        "Which words do the two sequences have in common? Write every shared word a single time, "
        "ordered by where it first occurs in sequence 1.",
        "Go through the first sequence from left to right and write down each word that also "
        "occurs somewhere in the second sequence, skipping words you have already written.",
        "Output the overlapping words of the two sequences without repeats, keeping the order of "
        "their first occurrence in the first sequence.",
    )

    first_length: int = param(12, "Tokens in the first sequence.", range=(1, 1024))
    second_length: int = param(12, "Tokens in the second sequence.", range=(1, 1024))
    max_shared: int = param(4, "Most distinct words deliberately shared (at least one always is).",
                            range=(1, 1024))

    def validate(self):
        if self.max_shared > min(self.first_length, self.second_length):
            raise ValueError(
                f"template {self.name!r}: max_shared must be at most min(first_length, "
                f"second_length) ({self.max_shared} > "
                f"{min(self.first_length, self.second_length)})"
            )

    def generate(self, rng):
        first = self.draw(rng, self.first_length)
        distinct = list(dict.fromkeys(first))
        shared = min(1 + int(rng.random() * self.max_shared), len(distinct))
        second = rng.sample(distinct, shared) + self.draw(rng, self.second_length - shared)
        rng.shuffle(second)
        return {"first": first, "second": second}

    def rule(self, inputs):
        second = set(inputs["second"])
        return [w for w in dict.fromkeys(inputs["first"]) if w in second]

    def render(self, inputs):
        return f"Sequence 1: {join(inputs['first'])}\nSequence 2: {join(inputs['second'])}"
