"""Paraphrase detection: is the second sequence a reordering of the first (same words, same counts)?"""

from dataclasses import dataclass

from . import register
from .base import Template, join, param


@register
@dataclass
class ParaphraseDetection(Template):
    name = "paraphrase_detection"
    family = "matching"
    description = "Say whether the second sequence uses exactly the first one's words in another order."
    instructions = (
        "Is sequence 2 a paraphrase of sequence 1? It is when it contains exactly the same words, "
        "each the same number of times, possibly in a different order. Answer yes or no.",
        "Answer yes if the second sequence is a rearrangement of the first (no word added, dropped "
        "or replaced, and repeated words kept as often), otherwise no.",
        "Compare the two sequences as bags of words: if every word occurs equally often in both, "
        "reply yes; if any word is missing, extra or changed, reply no.",
        "Decide whether sequence 2 just reorders the words of sequence 1. Reply yes or no.",
    )

    length: int = param(10, "Tokens in the first sequence.", range=(2, 1024))

    def generate(self, rng):
        first = self.draw(rng, self.length)
        second = list(first)
        if rng.random() < 0.5:
            # Hard negatives: one word replaced by another word, or one word dropped.
            i = int(rng.random() * len(second))
            if rng.random() < 0.5:
                second.pop(i)
            else:
                new = second[i]
                while new == second[i]:
                    new = first[int(rng.random() * len(first))] if rng.random() < 0.5 \
                        else self.words[int(rng.random() * len(self.words))]
                second[i] = new
        rng.shuffle(second)
        return {"first": first, "second": second}

    def rule(self, inputs):
        return "yes" if sorted(inputs["first"]) == sorted(inputs["second"]) else "no"

    def render(self, inputs):
        return f"Sequence 1: {join(inputs['first'])}\nSequence 2: {join(inputs['second'])}"
