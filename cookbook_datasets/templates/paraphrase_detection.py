"""Paraphrase detection: is the second sequence a reordering of the first (same words, same counts)?"""

from dataclasses import dataclass

import numpy as np

from . import register
from .base import Template, param
from .columns import Labels, Tokens
from .real_text import content_words, distinct, text_fields

_CANDIDATES = 4  # replacement words drawn per row; the first that differs is used


@register
@dataclass
class ParaphraseDetection(Template):
    name = "paraphrase_detection"
    family = "matching"
    description = "Say whether the second sequence uses exactly the first one's words in another order."
    instructions = (
        "Is sequence 2 a paraphrase of sequence 1? It is when it contains exactly the same words, "
        "each the same number of times, possibly in a different order. Answer {yes} or {no}.",
        "Answer {yes} if the second sequence is a rearrangement of the first (no word added, "
        "dropped or replaced, and repeated words kept as often), otherwise {no}.",
        "Compare the two sequences as bags of words: if every word occurs equally often in both, "
        "reply {yes}; if any word is missing, extra or changed, reply {no}.",
        "Decide whether sequence 2 just reorders the words of sequence 1. Reply {yes} or {no}.",
    )
    label_roles = ("yes", "no")
    task_fields = ("sentence1", "sentence2")

    length: int = param(10, "Tokens in the first sequence.", range=(2, 1024))
    label_words: list[str] = param(["yes", "no"], "The word answering each role of ['yes', 'no'] "
                                   "(paraphrase, not a paraphrase), in that order.")

    def generate_batch(self, rng):
        n, vocab_size = self.length, len(self.words)
        rows = np.arange(rng.n)
        first = rng.integers(0, vocab_size, n)
        # Hard negatives: one word replaced by another word, or one word dropped.
        negative, i, drop = rng.random() < 0.5, rng.integers(0, n), rng.random() < 0.5
        old = first[rows, i]
        # The replacement is a word of the sequence or of the vocabulary (even odds), and must
        # differ from the old word: take the first candidate that does, else a vocabulary word
        # other than the old one (drawn from the other vocab_size - 1).
        from_sequence = rng.random(_CANDIDATES) < 0.5
        sequence_word = np.take_along_axis(first, rng.integers(0, n, _CANDIDATES), axis=1)
        candidates = np.where(from_sequence, sequence_word, rng.integers(0, vocab_size, _CANDIDATES))
        other = rng.integers(0, vocab_size - 1)
        other += other >= old
        differs = candidates != old[:, None]
        new = np.where(differs.any(axis=1), candidates[rows, differs.argmax(axis=1)], other)
        second = first.copy()
        second[rows, i] = np.where(negative & ~drop, new, old)
        # Shuffle; a dropped word is sorted to the end and cut off by the row's length.
        keys = rng.random(n)
        keys[rows, i] = np.where(negative & drop, 2.0, keys[rows, i])
        second = np.take_along_axis(second, np.argsort(keys, axis=1, kind="stable"), axis=1)
        lengths = np.where(negative & drop, n - 1, n)
        # Dropping changes the length and replacing changes one word's count: both are "no".
        inputs = {"first": Tokens(first), "second": Tokens(second, lengths)}
        return inputs, Labels(self.label_roles, negative.astype(np.int64))

    def render_batch(self, text):
        return ["Sequence 1: ", text["first"], "\nSequence 2: ", text["second"]]

    def rule(self, inputs):
        return "yes" if sorted(inputs["first"]) == sorted(inputs["second"]) else "no"

    def from_task_example(self, example):
        # Distinct content words: on real text the rule asks whether both use the same vocabulary.
        texts = text_fields(example, self.task_fields)
        if texts is None:
            return None
        first, second = (distinct(content_words(t)) for t in texts)
        return {"first": first, "second": second} if first or second else None
