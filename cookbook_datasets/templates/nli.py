"""Natural language inference over random tokens: entailment / neutral / contradiction by word coverage."""

from dataclasses import dataclass

import numpy as np

from . import register
from .base import Template, param
from .columns import Labels, Tokens
from .real_text import content_words, distinct, text_fields

LABELS = ("entailment", "neutral", "contradiction")


@register
@dataclass
class NLI(Template):
    name = "nli"
    family = "matching"
    description = "Label a premise/hypothesis pair by how many hypothesis words the premise contains."
    instructions = (
        "Does the premise support the hypothesis? Answer {entailment} if every word of the "
        "hypothesis appears in the premise, {contradiction} if none of them does, and {neutral} if "
        "only some do.",
        "Classify the pair. If all hypothesis words occur in the premise, the label is {entailment}; "
        "if no hypothesis word occurs in the premise, it is {contradiction}; otherwise it is "
        "{neutral}.",
        "Check each word of the hypothesis against the premise. All found: {entailment}. None found: "
        "{contradiction}. Some but not all found: {neutral}. Reply with the label.",
        "Give the relation between premise and hypothesis: {entailment} when the premise contains "
        "the whole hypothesis vocabulary, {contradiction} when it shares no word with the "
        "hypothesis, {neutral} when it contains part of it.",
    )
    label_roles = LABELS
    task_fields = ("premise", "hypothesis")

    premise_length: int = param(12, "Distinct tokens in the premise.", range=(2, 512))
    hypothesis_length: int = param(4, "Distinct tokens in the hypothesis.", range=(2, 64))
    label_words: list[str] = param(list(LABELS), "The word answering each role of "
                              f"{list(LABELS)}, in that order (repeats allowed, e.g. "
                              "['1', '0', '0'] for a two-way task).")

    def validate(self):
        if self.hypothesis_length > self.premise_length:
            raise ValueError(
                f"template {self.name!r}: hypothesis_length must be at most premise_length "
                f"({self.hypothesis_length} > {self.premise_length})"
            )

    def generate_batch(self, rng):
        need = self.premise_length + self.hypothesis_length
        if need > len(self.words):
            raise ValueError(f"template {self.name!r}: premise_length + hypothesis_length ({need}) "
                             f"distinct words are needed; vocab {self.vocab!r} has "
                             f"{len(self.words)}")
        p, h = self.premise_length, self.hypothesis_length
        premise = rng.distinct(len(self.words), p)
        label = rng.integers(0, len(LABELS))
        # How many hypothesis words come from the premise: all, some (1 to h - 1) or none.
        some = rng.integers(1, h)
        inside = np.select([label == 0, label == 1], [h, some], 0)
        from_premise = np.take_along_axis(premise, rng.permutation(p)[:, :h], axis=1)
        outside = rng.distinct(len(self.words), h, exclude=premise)
        hypothesis = np.where(np.arange(h)[None, :] < inside[:, None], from_premise, outside)
        hypothesis = rng.shuffle(hypothesis)
        # The label is exact by construction: `inside` distinct premise words, the rest outside.
        return {"premise": Tokens(premise), "hypothesis": Tokens(hypothesis)}, Labels(self.label_roles, label)

    def render_batch(self, text):
        return ["Premise: ", text["premise"], "\nHypothesis: ", text["hypothesis"]]

    def rule(self, inputs):
        premise = set(inputs["premise"])
        found = sum(w in premise for w in inputs["hypothesis"])
        if found == len(inputs["hypothesis"]):
            return "entailment"
        return "contradiction" if found == 0 else "neutral"

    def from_task_example(self, example):
        texts = text_fields(example, self.task_fields)
        if texts is None:
            return None
        premise, hypothesis = (distinct(content_words(t)) for t in texts)
        # An all-function-word hypothesis would be vacuously entailed: the rule has nothing to check.
        return {"premise": premise, "hypothesis": hypothesis} if hypothesis else None
