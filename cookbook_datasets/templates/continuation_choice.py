"""Continuation choice (cf. HellaSwag): the right ending shares the most words with the context's end."""

from dataclasses import dataclass

from . import register
from .base import Template, argmax_first, join, lettered, overlap, param


@register
@dataclass
class ContinuationChoice(Template):
    name = "continuation_choice"
    family = "selection"
    description = "Pick the ending that shares the most words with the last words of the context."
    instructions = (
        "Choose the ending that best continues the context. The right ending is the one that has "
        "the most words in common with the last words of the context (how many is given). Reply "
        "with the ending's text.",
        "Which ending follows the context? Look only at the context's final words, as many as "
        "stated, and pick the ending that shares the largest number of them. Write the ending out.",
        "Count, for each candidate ending, how many different words it shares with the stated "
        "number of words at the end of the context. Output the ending with the highest count.",
        "Continue the context with one of the endings: the correct one overlaps most with the tail "
        "of the context (its last few words, as indicated). Answer with that ending.",
    )

    context_length: int = param(16, "Distinct tokens in the context.", range=(1, 512))
    tail_length: int = param(6, "Last context tokens the endings are compared with.", range=(1, 512))
    ending_length: int = param(4, "Tokens in each ending.", range=(1, 32))
    num_endings: int = param(4, "Number of candidate endings.", range=(2, 10))

    def validate(self):
        if self.tail_length > self.context_length:
            raise ValueError(
                f"template {self.name!r}: tail_length must be at most context_length "
                f"({self.tail_length} > {self.context_length})"
            )

    def generate(self, rng):
        n, k, m = self.context_length, self.tail_length, self.ending_length
        need = n + self.num_endings * m
        if need > len(self.words):
            raise ValueError(f"template {self.name!r}: {need} distinct words are needed ("
                             "context_length + num_endings * ending_length"
                             f"); vocab {self.vocab!r} has {len(self.words)}")
        # The right ending (the first) shares more tail words than any other ending; every ending
        # may also borrow words from earlier in the context, which do not count.
        best = 1 + int(rng.random() * min(m, k))
        plan = []
        for i in range(self.num_endings):
            shared = best if i == 0 else int(rng.random() * best)
            plan.append((shared, int(rng.random() * (min(m - shared, n - k) + 1))))
        fresh = self.draw_distinct(rng, n + self.num_endings * m - sum(s + b for s, b in plan))
        context, fresh = fresh[:n], fresh[n:]
        head, tail = context[:-k], context[-k:]
        endings = []
        for shared, borrowed in plan:
            new = m - shared - borrowed
            ending = _pick(rng, tail, shared) + _pick(rng, head, borrowed) + fresh[:new]
            fresh = fresh[new:]
            rng.shuffle(ending)
            endings.append(ending)
        rng.shuffle(endings)
        return {"context": context, "tail_length": k, "endings": endings}

    def rule(self, inputs):
        tail = inputs["context"][-inputs["tail_length"]:]
        return inputs["endings"][argmax_first([overlap(e, tail) for e in inputs["endings"]])]

    def render(self, inputs):
        return (f"Context: {join(inputs['context'])}\nCompare with the last {inputs['tail_length']} "
                f"words of the context.\nEndings:\n{lettered(inputs['endings'])}")


def _pick(rng, pool, k):
    """``k`` distinct random items of ``pool`` (a partial Fisher-Yates shuffle of a copy)."""
    if not k:
        return []
    pool, n = list(pool), len(pool)
    for i in range(k):
        j = i + int(rng.random() * (n - i))
        pool[i], pool[j] = pool[j], pool[i]
    return pool[:k]
