"""Yes/no QA (cf. BoolQ): does the question's phrase occur, word for word, in the passage?"""

from dataclasses import dataclass

import numpy as np

from . import register
from .base import Template, find_span, param
from .columns import Labels, Tokens
from .real_text import content_words, text_fields
from .vector_ops import take

_ATTEMPTS = 6  # hard-negative candidates per row; all of them occurring is very rare


@register
@dataclass
class YesNoQA(Template):
    name = "yes_no_qa"
    family = "search"
    description = "Answer yes if the question phrase occurs contiguously in the passage, else no."
    instructions = (
        "Read the passage and answer the question with {yes} or {no}: does the exact phrase appear "
        "in the passage, with its words next to each other and in the same order?",
        "Answer {yes} if the passage contains the phrase word for word as one unbroken stretch, and "
        "{no} otherwise (words that appear separately or in another order do not count).",
        "Is the quoted phrase part of the passage? Reply {yes} only when its words occur "
        "consecutively and in this order somewhere in the passage; otherwise reply {no}.",
        "Search the passage for the phrase. If you find all of its words side by side in the given "
        "order, say {yes}. If not, say {no}.",
    )
    label_roles = ("yes", "no")
    task_fields = ("passage", "question")

    passage_length: int = param(32, "Tokens in the passage.", range=(2, 2048))
    phrase_length: int = param(3, "Tokens in the question phrase.", range=(1, 32))
    label_words: list[str] = param(["yes", "no"], "The word answering each role of ['yes', 'no'], "
                                   "in that order.")

    def validate(self):
        if self.phrase_length > self.passage_length:
            raise ValueError(
                f"template {self.name!r}: phrase_length must be at most passage_length "
                f"({self.phrase_length} > {self.passage_length})"
            )

    def generate_batch(self, rng):
        n, q, vocab_size = self.passage_length, self.phrase_length, len(self.words)
        answer_yes = rng.random() < 0.5
        passage = rng.integers(0, vocab_size, n)
        start = rng.integers(0, n - q + 1)
        span = np.take_along_axis(passage, start[:, None] + np.arange(q), axis=1)
        # Hard negatives, _ATTEMPTS candidates per row (the first absent one is used): the
        # phrase's words all occur in the passage but not as one run (q distinct positions in
        # random order), or one word of the true span is swapped for another passage word or for
        # any vocabulary word. A one-word phrase can only take the last kind.
        kind = rng.random(_ATTEMPTS) if q > 1 else np.ones((rng.n, _ATTEMPTS))
        scattered = take(passage, _distinct_positions(rng, n, q, _ATTEMPTS))
        swap_at = rng.integers(0, q, _ATTEMPTS)
        passage_word = take(passage, rng.integers(0, n, _ATTEMPTS))
        new_word = np.where(kind < 2 / 3, passage_word, rng.integers(0, vocab_size, _ATTEMPTS))
        swapped = np.where(np.arange(q) == swap_at[:, :, None], new_word[:, :, None], span[:, None, :])
        candidates = np.where((kind < 1 / 3)[:, :, None], scattered, swapped)
        present = np.zeros(kind.shape, dtype=bool)  # only the negative rows need checking
        negative_rows = ~answer_yes
        present[negative_rows] = _occurs(passage[negative_rows], candidates[negative_rows])
        pick = np.argmax(~present, axis=1)  # the first absent one (the first of all if none is)
        negative = take(candidates, pick)
        # In the rare rows where every candidate occurs, the phrase keeps its true answer (yes).
        is_yes = answer_yes | take(present, pick)
        phrase = np.where(answer_yes[:, None], span, negative)
        output = Labels(self.label_roles, (~is_yes).astype(np.int64))
        return {"passage": Tokens(passage), "phrase": Tokens(phrase)}, output

    def rule(self, inputs):
        return "yes" if find_span(inputs["passage"], inputs["phrase"]) >= 0 else "no"

    def from_task_example(self, example):
        # The phrase is the question's content words: "yes" when they run together in the passage.
        texts = text_fields(example, self.task_fields)
        if texts is None:
            return None
        passage, phrase = (content_words(t) for t in texts)
        return {"passage": passage, "phrase": phrase} if phrase else None

    def render_batch(self, text):
        return ["Passage: ", text["passage"], "\nQuestion: does \"", text["phrase"],
                "\" appear in the passage?"]


def _occurs(passage, phrases):
    """Whether each of the phrases (rows, k, q) occurs contiguously in its row's passage."""
    q = phrases.shape[2]
    windows = passage.shape[1] - q + 1
    # Windows starting with the phrase's first word (few), then check the others word by word.
    row, phrase, at = np.nonzero(passage[:, None, :windows] == phrases[:, :, :1])
    match = np.ones(len(row), dtype=bool)
    for j in range(1, q):
        match &= passage[row, at + j] == phrases[row, phrase, j]
    present = np.zeros(phrases.shape[:2], dtype=bool)
    present[row[match], phrase[match]] = True
    return present


def _distinct_positions(rng, n, q, k):
    """``k`` samples per row of ``q`` distinct positions in range(n), in random order (like
    random.sample): the j-th one is a uniform pick among the n - j positions not yet taken."""
    pos = (rng.random(k, q) * (n - np.arange(q))).astype(np.int64)
    for j in range(1, q):
        taken = np.sort(pos[:, :, :j], axis=2)
        pick = pos[:, :, j]  # a view: the updates below land in pos
        for i in range(j):  # skip over the taken positions, smallest first
            pick += pick >= taken[:, :, i]
    return pos
