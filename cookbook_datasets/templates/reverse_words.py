"""Reverse words: write the sequence backwards, word by word."""

from dataclasses import dataclass

from . import register
from .base import Template, join, param


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
        if self.min_length > self.max_length:
            raise ValueError(
                f"template {self.name!r}: min_length must be at most max_length "
                f"({self.min_length} > {self.max_length})"
            )

    def generate(self, rng):
        n = self.min_length + int(rng.random() * (self.max_length - self.min_length + 1))
        return {"sequence": self.draw(rng, n)}

    def rule(self, inputs):
        return inputs["sequence"][::-1]

    def render(self, inputs):
        return f"Sequence: {join(inputs['sequence'])}"
