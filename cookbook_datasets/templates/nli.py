"""Natural language inference over random tokens: entailment / neutral / contradiction by word coverage."""

from dataclasses import dataclass

from . import register
from .base import Template, join, param

LABELS = ("entailment", "neutral", "contradiction")


@register
@dataclass
class NLI(Template):
    name = "nli"
    family = "matching"
    description = "Label a premise/hypothesis pair by how many hypothesis words the premise contains."
    instructions = (
        "Does the premise support the hypothesis? Answer entailment if every word of the hypothesis "
        "appears in the premise, contradiction if none of them does, and neutral if only some do.",
        "Classify the pair. If all hypothesis words occur in the premise, the label is entailment; "
        "if no hypothesis word occurs in the premise, it is contradiction; otherwise it is neutral.",
        "Check each word of the hypothesis against the premise. All found: entailment. None found: "
        "contradiction. Some but not all found: neutral. Reply with the label.",
        "Give the relation between premise and hypothesis: entailment when the premise contains the "
        "whole hypothesis vocabulary, contradiction when it shares no word with the hypothesis, "
        "neutral when it contains part of it.",
    )

    premise_length: int = param(12, "Distinct tokens in the premise.", range=(2, 512))
    hypothesis_length: int = param(4, "Distinct tokens in the hypothesis.", range=(2, 64))

    def validate(self):
        if self.hypothesis_length > self.premise_length:
            raise ValueError(
                f"template {self.name!r}: hypothesis_length must be at most premise_length "
                f"({self.hypothesis_length} > {self.premise_length})"
            )

    def generate(self, rng):
        need = self.premise_length + self.hypothesis_length
        if need > len(self.words):
            raise ValueError(f"template {self.name!r}: premise_length + hypothesis_length ({need}) "
                             f"distinct words are needed; vocab {self.vocab!r} has "
                             f"{len(self.words)}")
        premise = self.draw_distinct(rng, self.premise_length)
        h = self.hypothesis_length
        label = LABELS[int(rng.random() * 3)]
        if label == "entailment":
            inside = h
        elif label == "contradiction":
            inside = 0
        else:
            inside = 1 + int(rng.random() * (h - 1))
        hypothesis = rng.sample(premise, inside) + self.draw_distinct(rng, h - inside, premise)
        rng.shuffle(hypothesis)
        return {"premise": premise, "hypothesis": hypothesis}

    def rule(self, inputs):
        premise = set(inputs["premise"])
        found = sum(w in premise for w in inputs["hypothesis"])
        if found == len(inputs["hypothesis"]):
            return "entailment"
        return "contradiction" if found == 0 else "neutral"

    def render(self, inputs):
        return f"Premise: {join(inputs['premise'])}\nHypothesis: {join(inputs['hypothesis'])}"
