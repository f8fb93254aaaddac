"""Sort words: write the sequence's words in alphabetical order."""

from dataclasses import dataclass

from . import register
from .base import Template, join, param


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
        if self.min_length > self.max_length:
            raise ValueError(
                f"template {self.name!r}: min_length must be at most max_length "
                f"({self.min_length} > {self.max_length})"
            )

    def generate(self, rng):
        n = self.min_length + int(rng.random() * (self.max_length - self.min_length + 1))
        return {"sequence": self.draw(rng, n)}

    def rule(self, inputs):
        return sorted(inputs["sequence"])

    def render(self, inputs):
        return f"Sequence: {join(inputs['sequence'])}"
