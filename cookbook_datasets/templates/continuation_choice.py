"""Continuation choice (cf. HellaSwag): the right ending shares the most words with the context's end."""

from dataclasses import dataclass

import numpy as np

from . import register
from .base import ANSWER_FORMATS, Template, argmax_first, overlap, param
from .columns import Ints, Tokens, TokensList
from .real_text import choice_texts, content_words
from .vector_ops import gather, lettered_pieces, subsets


@register
@dataclass
class ContinuationChoice(Template):
    name = "continuation_choice"
    family = "selection"
    description = "Pick the ending that shares the most words with the last words of the context."
    instructions = (
        "Choose the ending that best continues the context. The right ending is the one that has "
        "the most words in common with the last words of the context (how many is given). Reply "
        "with the ending's {answer}.",
        "Which ending follows the context? Look only at the context's final words, as many as "
        "stated, and pick the ending that shares the largest number of them. {write}.",
        "Count, for each candidate ending, how many different words it shares with the stated "
        "number of words at the end of the context. Output {output} with the highest count.",
        "Continue the context with one of the endings: the correct one overlaps most with the tail "
        "of the context (its last few words, as indicated). Answer with {that}.",
    )
    answer_formats = ANSWER_FORMATS
    options_key = "endings"
    task_fields = ("context", "choices")

    context_length: int = param(16, "Distinct tokens in the context.", range=(1, 512))
    tail_length: int = param(6, "Last context tokens the endings are compared with.", range=(1, 512))
    ending_length: int = param(4, "Tokens in each ending.", range=(1, 32))
    num_endings: int = param(4, "Number of candidate endings.", range=(2, 10))
    answer_format: str = param("text", "The completion: 'text' (the ending's words), 'letter' "
                               "(A, B, ...) or 'number' (1, 2, ...; the endings are numbered).")

    def validate(self):
        if self.tail_length > self.context_length:
            raise ValueError(
                f"template {self.name!r}: tail_length must be at most context_length "
                f"({self.tail_length} > {self.context_length})"
            )

    def generate_batch(self, rng):
        n, k, m, e = self.context_length, self.tail_length, self.ending_length, self.num_endings
        need = n + e * m
        if need > len(self.words):
            raise ValueError(f"template {self.name!r}: {need} distinct words are needed ("
                             "context_length + num_endings * ending_length"
                             f"); vocab {self.vocab!r} has {len(self.words)}")
        # The context and every ending's fresh words, all distinct: an ending's overlap with the
        # tail is exactly the number of tail words put into it.
        ids = rng.distinct(len(self.words), need)
        context, fresh = ids[:, :n], ids[:, n:].reshape(-1, e, m)
        head, tail = context[:, :max(n - k, 1)], context[:, n - k:]  # an empty head is never used
        # The right ending (the first) shares more tail words than any other ending; every ending
        # may also borrow words from earlier in the context, which do not count.
        best = rng.integers(1, min(m, k) + 1)
        shared = np.concatenate([best[:, None], rng.integers(0, best, e - 1)], axis=1)
        borrowed = rng.integers(0, np.minimum(m - shared, n - k) + 1, e)
        # Slots of an ending: its tail words first, its head words last (shared + borrowed <= m),
        # fresh words between; then the slots are shuffled.
        from_tail = gather(tail, np.maximum(subsets(rng.random(e, m), k, shared), 0))
        from_head = gather(head, np.maximum(subsets(rng.random(e, m), n - k, borrowed), 0))[:, :, ::-1]
        slot = np.arange(m)
        endings = np.where(slot < shared[:, :, None], from_tail,
                           np.where(slot >= (m - borrowed)[:, :, None], from_head, fresh))
        endings = gather(endings, np.argsort(rng.random(e, m), axis=2, kind="stable"))
        answer = endings[:, 0]
        endings = endings[np.arange(rng.n)[:, None], rng.permutation(e)]
        return ({"context": Tokens(context), "tail_length": Ints(np.full(rng.n, k)),
                 "endings": TokensList([Tokens(endings[:, i]) for i in range(e)])}, Tokens(answer))

    def render_batch(self, text):
        return ["Context: ", text["context"], "\nCompare with the last ", text["tail_length"],
                " words of the context.\nEndings:\n",
                *lettered_pieces(text["endings"], [self.choice_label(i) for i in range(self.num_endings)])]

    def answer_phrases(self):
        return {"text": {"answer": "text", "write": "Write the ending out", "output": "the ending",
                         "that": "that ending"},
                "letter": {"answer": "letter", "write": "Write its letter",
                           "output": "the letter of the ending", "that": "that ending's letter"},
                "number": {"answer": "number", "write": "Write its number",
                           "output": "the number of the ending", "that": "that ending's number"}}

    def rule(self, inputs):
        tail = inputs["context"][-inputs["tail_length"]:]
        return inputs["endings"][argmax_first([overlap(e, tail) for e in inputs["endings"]])]

    def from_task_example(self, example):
        # The tail is this template's tail_length last content words (fewer in a short context).
        context, endings = example.get("context"), choice_texts(example)
        if not isinstance(context, str) or endings is None or len(endings) > 10:
            return None
        words = content_words(context)
        return {"context": words, "tail_length": min(self.tail_length, len(words)),
                "endings": [content_words(e) for e in endings]}
