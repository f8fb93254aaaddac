"""Entity matching: two records describe the same entity when their Jaccard overlap is high enough."""

from dataclasses import dataclass

from . import register
from .base import Template, join, param


@register
@dataclass
class EntityMatching(Template):
    name = "entity_matching"
    family = "matching"
    description = "Say whether two records describe the same entity (Jaccard word overlap >= threshold)."
    instructions = (
        "Do the two records refer to the same entity? They do when the number of distinct words they "
        "share, divided by the number of distinct words appearing in either record, is at least the "
        "threshold. Answer yes or no.",
        "Compute the Jaccard overlap of the two records: shared distinct words over all distinct words "
        "of both. If it reaches the threshold percentage, reply yes; otherwise reply no.",
        "Two records match when their common words make up at least the threshold percentage of all "
        "the different words in the two records together. Is this pair a match? Answer yes or no.",
        "Decide whether these records describe one and the same entity. Count the distinct words in "
        "both records, divide by the distinct words in at least one of them, and answer yes if that "
        "ratio is at or above the threshold, no if it is below.",
    )

    record_length: int = param(8, "Distinct tokens in each record.", range=(2, 256))
    threshold: int = param(50, "Jaccard overlap (percent) at or above which the records match.",
                           range=(1, 100))

    def generate(self, rng):
        n, t = self.record_length, self.threshold
        need = 2 * n
        if need > len(self.words):
            raise ValueError(f"template {self.name!r}: 2 * record_length ({need}) distinct words "
                             f"are needed; vocab {self.vocab!r} has {len(self.words)}")
        # Shared-token counts s give Jaccard s / (2n - s); split them by label.
        yes = [s for s in range(n + 1) if 100 * s >= t * (2 * n - s)]
        no = [s for s in range(n + 1) if 100 * s < t * (2 * n - s)]
        # Half the pairs match; among the rest, bias towards near misses (the hardest negatives).
        if rng.random() < 0.5:
            shared = yes[int(rng.random() * len(yes))]
        elif rng.random() < 0.5:
            shared = no[-1]
        else:
            shared = no[int(rng.random() * len(no))]
        first = self.draw_distinct(rng, n)
        second = rng.sample(first, shared) + self.draw_distinct(rng, n - shared, first)
        rng.shuffle(second)
        return {"record_a": first, "record_b": second, "threshold": t}

    def rule(self, inputs):
        a, b = set(inputs["record_a"]), set(inputs["record_b"])
        union = len(a | b)
        return "yes" if union and 100 * len(a & b) >= inputs["threshold"] * union else "no"

    def render(self, inputs):
        return (f"Record 1: {join(inputs['record_a'])}\nRecord 2: {join(inputs['record_b'])}\n"
                f"Threshold: {inputs['threshold']}%")
