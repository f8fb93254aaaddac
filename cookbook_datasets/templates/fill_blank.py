"""Fill in the blank (cf. WinoGrande): the blank takes the option repeated more often in the sentence."""

import functools
from dataclasses import dataclass

import numpy as np
import pyarrow.compute as pc

from . import register
from .base import Template, param
from .columns import Formatter, Labels, Tokens
from ..vocab import get_vocabulary

BLANK = "_"


@register
@dataclass
class FillBlank(Template):
    name = "fill_blank"
    family = "selection"
    description = "Fill the blank with the option that occurs more often elsewhere in the sentence."
    instructions = (
        "Fill in the blank (_) with one of the two options: the right option is the one that occurs "
        "more often in the rest of the sentence. Reply with {that}.",
        "Which option belongs in the blank? Count how many times each option appears elsewhere in "
        "the sentence and answer with {the_one} that appears more.",
        "The sentence has a gap marked _. Of the two candidate words, choose the one the sentence "
        "already uses more times, and write {it}.",
        "Complete the sentence: the missing word is whichever option is repeated more often in the "
        "sentence itself. Output {the_option}.",
    )
    answer_formats = ("text", "number")  # the prompt numbers the options: no letters
    options_key = "options"

    sentence_length: int = param(14, "Tokens in the sentence, the blank included.", range=(3, 1024))
    max_count: int = param(3, "Most occurrences of the right option in the sentence.", range=(1, 512))
    answer_format: str = param("text", "The completion: 'text' (the option's word) or 'number' "
                               "(1 or 2).")

    def validate(self):
        if 2 * self.max_count > self.sentence_length:
            raise ValueError(
                f"template {self.name!r}: 2 * max_count must be at most sentence_length "
                f"(2 * {self.max_count} > {self.sentence_length})"
            )

    @property
    def formatter(self):
        # The blank is one more token after the vocabulary (id len(self.words)), so sentences
        # stay plain Tokens columns.
        return _formatter_with_blank(self.vocab)

    def generate_batch(self, rng):
        need = self.sentence_length + 1
        if need > len(self.words):
            raise ValueError(f"template {self.name!r}: sentence_length + 1 ({need}) distinct words "
                             f"are needed; vocab {self.vocab!r} has {len(self.words)}")
        n = self.sentence_length - 1  # words around the blank
        # right, wrong, then filler words (at most n - 1 of them: right occurs at least once);
        # all distinct, so the two options' counts are exactly hi and lo
        ids = rng.distinct(len(self.words), n + 1)
        right, wrong, filler = ids[:, :1], ids[:, 1:2], ids[:, 2:]
        hi = rng.integers(1, self.max_count + 1)[:, None]
        # The wrong option is often just one occurrence behind.
        close = rng.random()[:, None] < 0.5
        lo = np.where(close, hi - 1, rng.integers(0, hi[:, 0])[:, None])
        # hi times right, lo times wrong, then filler (filler[j - 1] at slot j >= hi + lo >= 1)
        slot = np.arange(n)
        words = np.where(slot < hi, right,
                         np.where(slot < hi + lo, wrong, filler[:, np.maximum(slot - 1, 0)]))
        words = rng.shuffle(words)
        # Insert the blank: slot j of the sentence reads word j before it, word j - 1 after it.
        blank_at = rng.integers(0, n + 1)[:, None]
        slot = np.arange(n + 1)
        sentence = np.where(slot < blank_at, words[:, np.minimum(slot, n - 1)],
                            np.where(slot == blank_at, len(self.words), words[:, np.maximum(slot - 1, 0)]))
        right_first = rng.random()[:, None] < 0.5
        options = np.where(right_first, np.hstack([right, wrong]), np.hstack([wrong, right]))
        answer = Labels(self.formatter.words, right[:, 0])  # one word (the Arrow vocabulary as labels)
        return {"sentence": Tokens(sentence), "options": Tokens(options)}, answer

    def render_batch(self, text):
        # the two options are single words: the space between them starts the second line
        options = pc.replace_substring(text["options"], " ", "\nOption 2: ", max_replacements=1)
        return ["Sentence: ", text["sentence"], "\nOption 1: ", options]

    def answer_phrases(self):
        return {"text": {"that": "that option", "the_one": "the one", "it": "it",
                         "the_option": "the option"},
                "number": {"that": "that option's number (1 or 2)",
                           "the_one": "the number of the one", "it": "its number",
                           "the_option": "the option's number"}}

    def rule(self, inputs):
        a, b = inputs["options"]
        sentence = inputs["sentence"]
        return a if sentence.count(a) >= sentence.count(b) else b



@functools.lru_cache(maxsize=16)
def _formatter_with_blank(vocab: str) -> Formatter:
    return Formatter(get_vocabulary(vocab).words + (BLANK,))
