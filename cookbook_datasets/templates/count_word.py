"""Count word: how many times does the target word occur in the sequence?"""

from dataclasses import dataclass

import numpy as np

from . import register
from .base import Template, param
from .columns import Ints, Labels, Tokens


@register
@dataclass
class CountWord(Template):
    name = "count_word"
    family = "counting"
    description = "Count the occurrences of the target word in the sequence."
    instructions = (
        "How many times does the target word occur in the sequence? Answer with a number (0 if it "
        "does not occur).",
        "Count the occurrences of the given word in the sequence and reply with the count.",
        "Go through the sequence word by word and count how often the target word appears exactly. "
        "Write the total as a number.",
        "Report the number of times the target word is used in the sequence; write 0 if never.",
    )

    length: int = param(16, "Tokens in the sequence.", range=(1, 4096))
    max_count: int = param(6, "Largest count; counts are drawn uniformly from 0 to this.",
                           range=(0, 4096))

    def validate(self):
        if self.max_count > self.length:
            raise ValueError(
                f"template {self.name!r}: max_count must be at most length "
                f"({self.max_count} > {self.length})"
            )

    def generate_batch(self, rng):
        vocab_size, n = len(self.words), self.length
        target = rng.integers(0, vocab_size)
        count = rng.integers(0, self.max_count + 1)
        # Other words: uniform over the vocabulary minus the target (draw from one id fewer and
        # skip over the target's id).
        others = rng.integers(0, vocab_size - 1, n)
        others += others >= target[:, None]
        # The last ``count`` slots hold the target; a per-row shuffle spreads them out.
        ids = np.where(np.arange(n)[None, :] >= (n - count)[:, None], target[:, None], others)
        ids = rng.shuffle(ids)
        return ({"sequence": Tokens(ids), "target": Labels(self.formatter.words, target)},
                Ints(count))

    def rule(self, inputs):
        return inputs["sequence"].count(inputs["target"])

    def render_batch(self, text):
        return ["Sequence: ", text["sequence"], "\nTarget word: ", text["target"]]
