"""Position lookup: which word stands at the given (1-based) position of the sequence?"""

from dataclasses import dataclass

from . import register
from .base import Template, join, param


@register
@dataclass
class PositionLookup(Template):
    name = "position_lookup"
    family = "search"
    description = "Answer with the word at a given 1-based position of the sequence."
    instructions = (
        "Which word is at the given position of the sequence? Positions are counted from 1, "
        "starting at the first word. Reply with that word.",
        "Count the words of the sequence from the left, the first word being number 1, and output "
        "the word at the requested position.",
        "Give the word found at position k of the sequence, where position 1 is the first word.",
        "Look up the requested position in the sequence (the first word is position 1, the second "
        "position 2, and so on) and write the word there.",
    )

    min_length: int = param(8, "Fewest tokens in the sequence.", range=(1, 4096))
    max_length: int = param(16, "Most tokens in the sequence.", range=(1, 4096))

    def validate(self):
        if self.min_length > self.max_length:
            raise ValueError(
                f"template {self.name!r}: min_length must be at most max_length "
                f"({self.min_length} > {self.max_length})"
            )

    def generate(self, rng):
        n = self.min_length + int(rng.random() * (self.max_length - self.min_length + 1))
        return {"sequence": self.draw(rng, n), "position": 1 + int(rng.random() * n)}

    def rule(self, inputs):
        return inputs["sequence"][inputs["position"] - 1]

    def render(self, inputs):
        return f"Sequence: {join(inputs['sequence'])}\nPosition: {inputs['position']}"
