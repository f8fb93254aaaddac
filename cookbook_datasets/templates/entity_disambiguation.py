"""Entity disambiguation: the mention refers to the candidate whose description best fits the context."""

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from . import register
from .base import Template, argmax_first, overlap, param
from .columns import Labels, Tokens, TokensList, concat
from .vector_ops import gather, subsets


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

    def generate_batch(self, rng):
        need = self.context_length + self.num_candidates * (1 + self.description_length)
        if need > len(self.words):
            raise ValueError(f"template {self.name!r}: {need} distinct words are needed ("
                             "context_length + num_candidates * (1 + description_length)"
                             f"); vocab {self.vocab!r} has {len(self.words)}")
        n, m, c = self.context_length, self.description_length, self.num_candidates
        # Context, names and every description's fresh words, all distinct: a description's
        # overlap with the context is exactly the number of context words put into it.
        ids = rng.distinct(len(self.words), need)
        context, names, fresh = ids[:, :n], ids[:, n:n + c], ids[:, n + c:].reshape(-1, c, m)
        # The right candidate (the first) shares more context words than any other candidate.
        best = rng.integers(1, m + 1)
        shared = np.concatenate([best[:, None], rng.integers(0, best, c - 1)], axis=1)
        mention_at = rng.integers(0, n)
        # Descriptions borrow from the context without the mention (n - 1 words): pick p stands
        # for context position p, shifted past the mention.
        picked = subsets(rng.random(c, m), n - 1, shared)
        picked += picked >= mention_at[:, None, None]
        descriptions = np.where(picked >= 0, gather(context, np.maximum(picked, 0)), fresh)
        descriptions = gather(descriptions, np.argsort(rng.random(c, m), axis=2, kind="stable"))
        # Shuffle the candidates (names and descriptions together); the answer is candidate 0.
        answer = names[:, 0]
        order, rows = rng.permutation(c), np.arange(rng.n)[:, None]
        names, descriptions = names[rows, order], descriptions[rows, order]
        return ({"context": Tokens(context), "mention": self._words_of(context[rows[:, 0], mention_at]),
                 "names": Tokens(names),
                 "descriptions": TokensList([Tokens(descriptions[:, i]) for i in range(c)])},
                self._words_of(answer))

    def _words_of(self, ids):
        """One word per row: a JSON string, not a list (the Arrow vocabulary serves as the labels)."""
        return Labels(self.formatter.words, ids)

    def render_batch(self, text):
        names = pc.split_pattern(text["names"], " ")
        candidates = []
        for i, description in enumerate(text["descriptions"]):
            candidates += ["\n- " if i else "- ", pc.list_element(names, i), ": ", description]
        return ["Context: ", _mark(text["context"], text["mention"]), "\nMention: ", text["mention"],
                "\nCandidates:\n", *candidates]

    def rule(self, inputs):
        scores = [overlap(d, inputs["context"]) for d in inputs["descriptions"]]
        return inputs["names"][argmax_first(scores)]



def _mark(context, mention):
    """The context text with its mention in brackets (context words are distinct: one match)."""
    words = pc.split_pattern(context, " ")
    flat, row = pc.list_flatten(words), pc.list_parent_indices(words)
    marked = pc.if_else(pc.equal(flat, mention.take(row)), concat("[", mention, "]").take(row), flat)
    return pc.binary_join(pa.ListArray.from_arrays(words.offsets, marked), " ")
