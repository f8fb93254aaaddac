"""Keyword extraction: the keywords of a document are its most frequent tokens."""

from collections import Counter
from dataclasses import dataclass

import numpy as np

from . import register
from .base import Template, param
from .columns import Ints, Tokens


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

    def generate_batch(self, rng):
        n, top_k = self.doc_length, self.top_k
        if n > len(self.words):
            raise ValueError(f"template {self.name!r}: doc_length ({n}) distinct words "
                             f"are needed; vocab {self.vocab!r} has {len(self.words)}")
        # Between top_k and top_k + 2 repeated words (two or more occurrences each); every other
        # word occurs once, so the keywords are always repeated words. Slots 0..most-1 are the
        # candidate repeated words; those at or past a row's ``repeated`` count are unused.
        most = top_k + 2
        repeated = rng.integers(top_k, top_k + 3)
        used = np.arange(most)[None, :] < repeated[:, None]
        counts = np.where(used, 2 + rng.integers(0, self.max_count - 1, most), 0)
        # Enough distinct words for the row needing the most: repeated = top_k, all counts 2.
        tokens = rng.distinct(len(self.words), n - top_k)
        # Unshuffled, the document is each repeated word's copies (slot r fills positions
        # ends[r-1] to ends[r]), then one copy of each next word. Shuffled, position j holds
        # unshuffled position src[j]: map it to its slot directly.
        ends = np.cumsum(counts, axis=1)
        src = _permutation(rng, n)
        slot = repeated[:, None] + src - ends[:, -1:]
        repeated_slot = np.zeros_like(slot)
        for r in range(most - 1):
            repeated_slot += src >= ends[:, r:r + 1]
        slot = np.where(src < ends[:, -1:], repeated_slot, slot)
        document = np.take_along_axis(tokens, slot, axis=1)
        # The rule's order: most occurrences first, then earliest first occurrence. Unused slots
        # (count 0) sort after every repeated word whatever their ``first``.
        first = np.stack([np.argmax(slot == r, axis=1) for r in range(most)], axis=1)
        order = np.argsort((self.max_count - counts) * (n + 1) + first, axis=1, kind="stable")
        keywords = np.take_along_axis(tokens, order[:, :top_k], axis=1)
        return ({"document": Tokens(document), "top_k": Ints(np.full(len(repeated), top_k))},
                Tokens(keywords))

    def rule(self, inputs):
        counts = Counter(inputs["document"])
        # Counters keep first-occurrence order and sorted() is stable (reverse=True included),
        # so equal counts keep that order.
        return sorted(counts, key=counts.__getitem__, reverse=True)[:inputs["top_k"]]

    def render_batch(self, text):
        return ["Document: ", text["document"], "\nNumber of keywords: ", text["top_k"]]


def _permutation(rng, k):
    """A random permutation of range(k) per row, like ``rng.permutation`` but faster: sort random
    64-bit keys whose low bits are replaced by the position, so the keys are distinct and the
    sorted low bits are the permutation (a plain sort instead of a stable argsort)."""
    shift = np.uint64(max(k - 1, 1).bit_length())
    keys = (rng.bits(k) >> shift << shift) | np.arange(k, dtype=np.uint64)
    return (np.sort(keys, axis=1) & ((np.uint64(1) << shift) - np.uint64(1))).astype(np.int64)
