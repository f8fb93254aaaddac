"""Document QA: the question is a span of a random document; the answer is the tokens after it."""

from dataclasses import dataclass

import numpy as np

from . import register
from .base import Template, find_span, param
from .columns import Ints, Tokens
from .vector_ops import take

_CANDIDATES = 3  # random starts per row; all three being repeats is rare


@register
@dataclass
class DocumentQA(Template):
    name = "document_qa"
    family = "search"
    description = "Find a span of a random document and answer with the tokens that follow it."
    instructions = (
        "Read the document. The question is a phrase from it: answer with the words that come "
        "right after that phrase.",
        "Find the question's words in the document and reply with the words that follow them.",
        "Answer using the document: which words come next after the phrase in the question?",
        "Locate the quoted phrase in the passage below and continue it with the passage's next words.",
    )

    doc_length: int = param(48, "Tokens in the document.", range=(8, 2048))
    question_length: int = param(4, "Tokens in the question span.", range=(1, 32))
    answer_length: int = param(3, "Tokens in the answer.", range=(1, 32))

    def validate(self):
        if self.question_length + self.answer_length > self.doc_length:
            raise ValueError(
                f"template {self.name!r}: question_length + answer_length must be at most "
                f"doc_length ({self.question_length} + {self.answer_length} > {self.doc_length})"
            )

    def generate_batch(self, rng):
        n, q, a = self.doc_length, self.question_length, self.answer_length
        doc = rng.integers(0, len(self.words), n)
        # The start must be the span's first occurrence (the rule answers after that one): of
        # _CANDIDATES random starts, take the first that is. If none is (rare), move the first
        # candidate back to the first occurrence of its own span, a valid start by definition.
        candidates = rng.integers(0, n - q - a + 1, _CANDIDATES)
        first = _first_occurrence(doc, candidates, q)
        valid = first == candidates
        pick = np.argmax(valid, axis=1)
        start = np.where(valid.any(axis=1), take(candidates, pick), first[:, 0])
        question = take(doc, start[:, None] + np.arange(q))
        answer = take(doc, start[:, None] + q + np.arange(a))
        inputs = {"document": Tokens(doc), "question": Tokens(question),
                  "answer_length": Ints(np.full(len(doc), a))}
        return inputs, Tokens(answer)

    def rule(self, inputs):
        doc, question = inputs["document"], inputs["question"]
        start = find_span(doc, question) + len(question)
        return doc[start:start + inputs["answer_length"]]

    def render_batch(self, text):
        return ["Document: ", text["document"], "\nQuestion: ", text["question"],
                "\nAnswer with ", text["answer_length"], " words."]


def _first_occurrence(doc, starts, q):
    """For each span ``doc[row, s:s + q]`` with ``s`` in ``starts`` (rows, k): the first position
    where the same q words occur (``s`` itself when the span does not occur earlier)."""
    windows = doc.shape[1] - q + 1
    spans = take(doc, starts[:, :, None] + np.arange(q))
    # Windows starting with the span's first word (few), then check the others word by word.
    row, span, at = np.nonzero(doc[:, None, :windows] == spans[:, :, :1])
    match = np.ones(len(row), dtype=bool)
    for j in range(1, q):
        match &= doc[row, at + j] == spans[row, span, j]
    row, span, at = row[match], span[match], at[match]
    # nonzero lists the matches in (row, span, at) order: the first of each (row, span) group
    # is the earliest; every span matches at least at its own start.
    group = row * starts.shape[1] + span
    head = np.ones(len(group), dtype=bool)
    head[1:] = group[1:] != group[:-1]
    first = np.empty_like(starts)
    first[row[head], span[head]] = at[head]
    return first
