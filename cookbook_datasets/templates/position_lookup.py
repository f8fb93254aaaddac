"""Position lookup: which word stands at the given (1-based) position of the sequence?"""

from dataclasses import dataclass

import numpy as np

from . import register
from .base import Template, param
from .columns import Ints, Labels, Tokens


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
        self.require_at_most("min_length", "max_length")

    def generate_batch(self, rng):
        lengths = rng.integers(self.min_length, self.max_length + 1)
        ids = rng.integers(0, len(self.words), self.max_length)
        positions = rng.integers(1, lengths + 1)  # 1-based, within each row's own length
        word = np.take_along_axis(ids, (positions - 1)[:, None], axis=1)[:, 0]
        # A single word (a JSON string, not a list): a label over the whole vocabulary, given as
        # the formatter's Arrow array of words so that it is not converted again every batch.
        return ({"sequence": Tokens(ids, lengths), "position": Ints(positions)},
                Labels(self.formatter.words, word))

    def rule(self, inputs):
        return inputs["sequence"][inputs["position"] - 1]

    def render_batch(self, text):
        return ["Sequence: ", text["sequence"], "\nPosition: ", text["position"]]
