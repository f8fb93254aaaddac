"""Keyword extraction: the keywords of a document are its most frequent tokens."""

from collections import Counter
from dataclasses import dataclass

from . import register
from .base import Template, join, param


@register
@dataclass
class KeywordExtraction(Template):
    name = "keyword_extraction"
    family = "search"
    description = "List the document's k most frequent words (ties: earlier first occurrence first)."
    instructions = (
        "Extract the keywords of the document: the given number of words that occur most often. "
        "List them from most to least frequent; when two words occur equally often, the one that "
        "appears first in the document comes first.",
        "Which words does the document repeat the most? Write the requested number of them, most "
        "frequent first, breaking ties by earliest first appearance.",
        "Count how many times each word occurs in the document. Output the top words by count, as "
        "many as asked, in decreasing order of count, and order equal counts by first occurrence.",
        "Give the document's most frequent words (how many is stated), sorted by frequency from "
        "high to low; for words with the same frequency, the one seen earlier goes first.",
    )

    doc_length: int = param(40, "Tokens in the document.", range=(2, 4096))
    top_k: int = param(3, "Number of keywords to output.", range=(1, 32))
    max_count: int = param(5, "Most occurrences of a repeated word.", range=(2, 512))

    def validate(self):
        if (self.top_k + 2) * self.max_count > self.doc_length:
            raise ValueError(
                f"template {self.name!r}: (top_k + 2) * max_count must be at most doc_length "
                f"(({self.top_k} + 2) * {self.max_count} > {self.doc_length})"
            )

    def generate(self, rng):
        need = self.doc_length
        if need > len(self.words):
            raise ValueError(f"template {self.name!r}: doc_length ({need}) distinct words "
                             f"are needed; vocab {self.vocab!r} has {len(self.words)}")
        # Between top_k and top_k + 2 repeated words (two or more occurrences each); every other
        # word occurs once, so the keywords are always repeated words.
        repeated = self.top_k + int(rng.random() * 3)
        spread = self.max_count - 1
        counts = [2 + int(rng.random() * spread) for _ in range(repeated)]
        tokens = self.draw_distinct(rng, self.doc_length - sum(counts) + repeated)
        doc = [w for w, c in zip(tokens, counts) for _ in range(c)] + tokens[repeated:]
        rng.shuffle(doc)
        return {"document": doc, "top_k": self.top_k}

    def rule(self, inputs):
        counts = Counter(inputs["document"])
        # Counters keep first-occurrence order and sorted() is stable (reverse=True included),
        # so equal counts keep that order.
        return sorted(counts, key=counts.__getitem__, reverse=True)[:inputs["top_k"]]

    def render(self, inputs):
        return f"Document: {join(inputs['document'])}\nNumber of keywords: {inputs['top_k']}"
