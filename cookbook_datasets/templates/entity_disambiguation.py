"""Entity disambiguation: the mention refers to the candidate whose description best fits the context."""

from dataclasses import dataclass

from . import register
from .base import Template, argmax_first, join, overlap, param


@register
@dataclass
class EntityDisambiguation(Template):
    name = "entity_disambiguation"
    family = "selection"
    description = "Pick the candidate entity whose description shares the most words with the context."
    instructions = (
        "The marked mention in the context could refer to any of the candidate entities. It refers "
        "to the candidate whose description has the most words in common with the context. Reply "
        "with that candidate's name.",
        "Which entity does the bracketed mention mean? Compare each candidate's description with the "
        "context and choose the candidate whose description shares the most words with it. Answer "
        "with the name only.",
        "Disambiguate the mention: count, for every candidate, how many different words of its "
        "description also appear in the context, and output the name of the candidate with the "
        "highest count.",
        "Resolve the ambiguous mention to one candidate. The right candidate is the one whose "
        "description overlaps the context in the largest number of words. Write its name.",
    )

    context_length: int = param(12, "Tokens in the context, the mention included.", range=(3, 256))
    description_length: int = param(4, "Tokens in each candidate's description.", range=(1, 32))
    num_candidates: int = param(3, "Number of candidate entities.", range=(2, 10))

    def validate(self):
        if self.description_length > self.context_length - 1:
            raise ValueError(
                f"template {self.name!r}: description_length must be at most context_length - 1 "
                f"({self.description_length} > {self.context_length} - 1)"
            )

    def generate(self, rng):
        need = self.context_length + self.num_candidates * (1 + self.description_length)
        if need > len(self.words):
            raise ValueError(f"template {self.name!r}: {need} distinct words are needed ("
                             "context_length + num_candidates * (1 + description_length)"
                             f"); vocab {self.vocab!r} has {len(self.words)}")
        n, m = self.context_length, self.description_length
        # The right candidate (the first) shares more context words than any other candidate.
        best = 1 + int(rng.random() * m)
        shared = [best] + [int(rng.random() * best) for _ in range(self.num_candidates - 1)]
        tokens = self.draw_distinct(rng, n + self.num_candidates + m * len(shared) - sum(shared))
        context, names = tokens[:n], tokens[n:n + self.num_candidates]
        fresh = tokens[n + self.num_candidates:]
        mention_at = int(rng.random() * n)
        others = context[:mention_at] + context[mention_at + 1:]
        descriptions = []
        for k in shared:
            desc = rng.sample(others, k) + fresh[:m - k]
            fresh = fresh[m - k:]
            rng.shuffle(desc)
            descriptions.append(desc)
        order = list(range(self.num_candidates))
        rng.shuffle(order)
        return {"context": context, "mention": context[mention_at],
                "names": [names[i] for i in order], "descriptions": [descriptions[i] for i in order]}

    def rule(self, inputs):
        scores = [overlap(d, inputs["context"]) for d in inputs["descriptions"]]
        return inputs["names"][argmax_first(scores)]

    def render(self, inputs):
        mention = inputs["mention"]
        context = join(f"[{w}]" if w == mention else w for w in inputs["context"])
        candidates = "\n".join(f"- {n}: {join(d)}"
                               for n, d in zip(inputs["names"], inputs["descriptions"]))
        return f"Context: {context}\nMention: {mention}\nCandidates:\n{candidates}"
