"""Entity matching: two records describe the same entity when their Jaccard overlap is high enough."""

from dataclasses import dataclass

import numpy as np

from . import register
from .base import Template, param
from .columns import Ints, Labels, Tokens
from .real_text import content_words, distinct, text_fields


@register
@dataclass
class EntityMatching(Template):
    name = "entity_matching"
    family = "matching"
    description = "Say whether two records describe the same entity (Jaccard word overlap >= threshold)."
    instructions = (
        "Do the two records refer to the same entity? They do when the number of distinct words they "
        "share, divided by the number of distinct words appearing in either record, is at least the "
        "threshold. Answer {yes} or {no}.",
        "Compute the Jaccard overlap of the two records: shared distinct words over all distinct words "
        "of both. If it reaches the threshold percentage, reply {yes}; otherwise reply {no}.",
        "Two records match when their common words make up at least the threshold percentage of all "
        "the different words in the two records together. Is this pair a match? Answer {yes} or {no}.",
        "Decide whether these records describe one and the same entity. Count the distinct words in "
        "both records, divide by the distinct words in at least one of them, and answer {yes} if that "
        "ratio is at or above the threshold, {no} if it is below.",
    )
    label_roles = ("yes", "no")
    task_fields = ("sentence1", "sentence2")

    record_length: int = param(8, "Distinct tokens in each record.", range=(2, 256))
    threshold: int = param(50, "Jaccard overlap (percent) at or above which the records match.",
                           range=(1, 100))
    label_words: list[str] = param(["yes", "no"], "The word answering each role of ['yes', 'no'] "
                                   "(match, no match), in that order.")

    def generate_batch(self, rng):
        n, t = self.record_length, self.threshold
        need = 2 * n
        if need > len(self.words):
            raise ValueError(f"template {self.name!r}: 2 * record_length ({need}) distinct words "
                             f"are needed; vocab {self.vocab!r} has {len(self.words)}")
        # Shared-token counts s give Jaccard s / (2n - s); split them by label.
        s = np.arange(n + 1)
        matches = 100 * s >= t * (2 * n - s)
        yes, no = s[matches], s[~matches]
        # Half the pairs match; among the rest, bias towards near misses (the hardest negatives).
        match, near_miss = rng.random() < 0.5, rng.random() < 0.5
        any_yes, any_no = yes[rng.integers(0, len(yes))], no[rng.integers(0, len(no))]
        shared = np.where(match, any_yes, np.where(near_miss, no[-1], any_no))
        first = rng.distinct(len(self.words), n)
        from_first = np.take_along_axis(first, rng.permutation(n), axis=1)
        outside = rng.distinct(len(self.words), n, exclude=first)
        second = np.where(np.arange(n)[None, :] < shared[:, None], from_first, outside)
        second = rng.shuffle(second)
        # Exactly `shared` words in common, so the answer is `matches` at that count.
        inputs = {"record_a": Tokens(first), "record_b": Tokens(second),
                  "threshold": Ints(np.full(rng.n, t))}
        return inputs, Labels(self.label_roles, np.where(matches[shared], 0, 1))

    def render_batch(self, text):
        return ["Record 1: ", text["record_a"], "\nRecord 2: ", text["record_b"],
                "\nThreshold: ", text["threshold"], "%"]

    def rule(self, inputs):
        a, b = set(inputs["record_a"]), set(inputs["record_b"])
        union = len(a | b)
        return "yes" if union and 100 * len(a & b) >= inputs["threshold"] * union else "no"

    def from_task_example(self, example):
        # Two sentences as records: their distinct content words, at this template's threshold.
        texts = text_fields(example, self.task_fields)
        if texts is None:
            return None
        a, b = (distinct(content_words(t)) for t in texts)
        return {"record_a": a, "record_b": b, "threshold": self.threshold} if a or b else None
