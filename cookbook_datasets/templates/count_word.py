"""Count word: how many times does the target word occur in the sequence?"""

from dataclasses import dataclass

from . import register
from .base import Template, join, param


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

    def generate(self, rng):
        words = self.words
        target = words[int(rng.random() * len(words))]
        count = int(rng.random() * (self.max_count + 1))
        sequence = self.draw(rng, self.length - count)
        for i, w in enumerate(sequence):
            while w == target:
                w = sequence[i] = words[int(rng.random() * len(words))]
        sequence += [target] * count
        rng.shuffle(sequence)
        return {"sequence": sequence, "target": target}

    def rule(self, inputs):
        return inputs["sequence"].count(inputs["target"])

    def render(self, inputs):
        return f"Sequence: {join(inputs['sequence'])}\nTarget word: {inputs['target']}"
