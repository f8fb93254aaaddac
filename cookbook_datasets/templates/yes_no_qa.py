"""Yes/no QA (cf. BoolQ): does the question's phrase occur, word for word, in the passage?"""

from dataclasses import dataclass

from . import register
from .base import Template, join, param


@register
@dataclass
class YesNoQA(Template):
    name = "yes_no_qa"
    family = "search"
    description = "Answer yes if the question phrase occurs contiguously in the passage, else no."
    instructions = (
        "Read the passage and answer the question with yes or no: does the exact phrase appear in "
        "the passage, with its words next to each other and in the same order?",
        "Answer yes if the passage contains the phrase word for word as one unbroken stretch, and "
        "no otherwise (words that appear separately or in another order do not count).",
        "Is the quoted phrase part of the passage? Reply yes only when its words occur consecutively "
        "and in this order somewhere in the passage; otherwise reply no.",
        "Search the passage for the phrase. If you find all of its words side by side in the given "
        "order, say yes. If not, say no.",
    )

    passage_length: int = param(32, "Tokens in the passage.", range=(2, 2048))
    phrase_length: int = param(3, "Tokens in the question phrase.", range=(1, 32))

    def validate(self):
        if self.phrase_length > self.passage_length:
            raise ValueError(
                f"template {self.name!r}: phrase_length must be at most passage_length "
                f"({self.phrase_length} > {self.passage_length})"
            )

    def generate(self, rng):
        n, q = self.passage_length, self.phrase_length
        answer_yes = rng.random() < 0.5
        for _ in range(1000):
            passage = self.draw(rng, n)
            start = int(rng.random() * (n - q + 1))
            if answer_yes:
                return {"passage": passage, "phrase": passage[start:start + q]}
            # Hard negatives: the phrase's words all occur in the passage but not as one run, or
            # one word of a true span is swapped for another passage word or an unseen word.
            for _ in range(10):
                kind = rng.random() if q > 1 else 1.0
                phrase = passage[start:start + q]
                if kind < 1 / 3:
                    phrase = [passage[i] for i in rng.sample(range(n), q)]
                else:
                    word = self.words[int(rng.random() * len(self.words))] if kind >= 2 / 3 \
                        else passage[int(rng.random() * n)]
                    phrase[int(rng.random() * q)] = word
                if _find(passage, phrase) < 0:
                    return {"passage": passage, "phrase": phrase}
        raise ValueError(f"template {self.name!r}: could not build a phrase absent from the passage; "
                         f"lower passage_length ({n}) or use a larger vocab ({self.vocab!r})")

    def rule(self, inputs):
        return "yes" if _find(inputs["passage"], inputs["phrase"]) >= 0 else "no"

    def render(self, inputs):
        return f"Passage: {join(inputs['passage'])}\nQuestion: does \"{join(inputs['phrase'])}\" " \
               "appear in the passage?"


def _find(doc, span):
    """First position of ``span`` in ``doc`` (-1 if absent)."""
    n = len(span)
    if n == 0:
        return 0
    first = span[0]
    for i in range(len(doc) - n + 1):
        if doc[i] == first and doc[i:i + n] == span:
            return i
    return -1
