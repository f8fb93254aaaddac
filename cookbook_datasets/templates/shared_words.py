"""Shared words: list the words two sequences have in common (cf. NIV2 task039)."""

from dataclasses import dataclass

import numpy as np

from . import register
from .base import Template, param
from .columns import Tokens, in_rows
from .real_text import content_words, surface_forms, text_fields
from .vector_ops import compact, first_occurrences


@register
@dataclass
class SharedWords(Template):
    name = "shared_words"
    family = "matching"
    description = "List the words that occur in both sequences, in first-sequence order, once each."
    instructions = (
        "Find the words that appear in both sequences. List each of them once, in the order in "
        "which they first appear in the first sequence.",
        "Which words do the two sequences have in common? Write every shared word a single time, "
        "ordered by where it first occurs in sequence 1.",
        "Go through the first sequence from left to right and write down each word that also "
        "occurs somewhere in the second sequence, skipping words you have already written.",
        "Output the overlapping words of the two sequences without repeats, keeping the order of "
        "their first occurrence in the first sequence.",
    )
    task_fields = ("sentence1", "sentence2")

    first_length: int = param(12, "Tokens in the first sequence.", range=(1, 1024))
    second_length: int = param(12, "Tokens in the second sequence.", range=(1, 1024))
    max_shared: int = param(4, "Most distinct words deliberately shared (at least one always is).",
                            range=(1, 1024))

    def validate(self):
        if self.max_shared > min(self.first_length, self.second_length):
            raise ValueError(
                f"template {self.name!r}: max_shared must be at most min(first_length, "
                f"second_length) ({self.max_shared} > "
                f"{min(self.first_length, self.second_length)})"
            )

    def generate_batch(self, rng):
        n1, n2, k = self.first_length, self.second_length, self.max_shared
        first = rng.integers(0, len(self.words), n1)
        firsts = first_occurrences(first)  # one position per distinct word
        shared = np.minimum(rng.integers(1, k + 1), firsts.sum(axis=1))
        # A random sample of `shared` distinct words (random order over first occurrences).
        order = np.argsort(np.where(firsts, rng.random(n1), 2.0), axis=1, kind="stable")
        sampled = np.take_along_axis(first, order[:, :k], axis=1)
        second = rng.integers(0, len(self.words), n2)
        second[:, :k] = np.where(np.arange(k)[None, :] < shared[:, None], sampled, second[:, :k])
        second = rng.shuffle(second)
        answer = compact(first, firsts & in_rows(first, second, len(self.words)))
        return {"first": Tokens(first), "second": Tokens(second)}, answer

    def render_batch(self, text):
        return ["Sequence 1: ", text["first"], "\nSequence 2: ", text["second"]]

    def rule(self, inputs):
        second = set(inputs["second"])
        return [w for w in dict.fromkeys(inputs["first"]) if w in second]

    def from_task_example(self, example):
        texts = text_fields(example, self.task_fields)
        if texts is None:
            return None
        first, second = (content_words(t) for t in texts)
        return {"first": first, "second": second}

    def predict(self, example):
        # The shared stems as the first sentence writes them ("parasites", not "parasit").
        inputs = self.from_task_example(example)
        if inputs is None:
            return None
        surface = surface_forms(example[self.task_fields[0]])
        return self.format_output([surface[w] for w in self.rule(inputs)])
