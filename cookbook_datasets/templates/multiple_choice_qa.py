"""Multiple-choice QA: the correct option is the one sharing the most tokens with the question."""

from dataclasses import dataclass

import numpy as np

from . import register
from .base import ANSWER_FORMATS, Template, argmax_first, overlap, param
from .columns import Tokens, TokensList
from .real_text import choice_texts, content_words
from .vector_ops import gather, lettered_pieces, subsets


@register
@dataclass
class MultipleChoiceQA(Template):
    name = "multiple_choice_qa"
    family = "selection"
    description = "Pick the option that shares the most words with the question."
    instructions = (
        "Answer the question by choosing one option. The right option is the one that has the most "
        "words in common with the question. Reply with the option's {answer}.",
        "Which option fits the question best? Choose the option sharing the most words with it.{reply}",
        "Select the answer whose words overlap most with the question and {write}.",
    )
    answer_formats = ANSWER_FORMATS
    options_key = "options"
    task_fields = ("question", "choices")

    question_length: int = param(12, "Tokens in the question.", range=(4, 256))
    option_length: int = param(4, "Tokens in each option.", range=(2, 32))
    num_options: int = param(4, "Number of options.", range=(2, 10))
    answer_format: str = param("text", "The completion: 'text' (the option's words), 'letter' "
                               "(A, B, ...) or 'number' (1, 2, ...; the options are numbered).")

    def validate(self):
        if self.option_length > self.question_length:
            raise ValueError(f"template {self.name!r}: option_length must be at most "
                             f"question_length ({self.option_length} > {self.question_length})")

    def generate_batch(self, rng):
        q, m, k = self.question_length, self.option_length, self.num_options
        # The question and every option's non-question words: all distinct, so an option's
        # overlap with the question is exactly the number of question words put into it.
        ids = rng.distinct(len(self.words), q + k * m)
        question, fresh = ids[:, :q], ids[:, q:].reshape(-1, k, m)
        # The correct option (option 0 before the shuffle) shares more question words than any
        # distractor: best in [1, m], the others in [0, best).
        best = rng.integers(1, m + 1)
        shared = np.concatenate([best[:, None], rng.integers(0, best, k - 1)], axis=1)
        # Each option draws its own random subset of the question (unused slots hold fresh words).
        picked = subsets(rng.random(k, m), q, shared)
        options = np.where(picked >= 0, gather(question, np.maximum(picked, 0)), fresh)
        options = gather(options, np.argsort(rng.random(k, m), axis=2, kind="stable"))
        answer = options[:, 0]
        options = options[np.arange(rng.n)[:, None], rng.permutation(k)]
        options = TokensList([Tokens(options[:, i]) for i in range(k)])
        return {"question": Tokens(question), "options": options}, Tokens(answer)

    def render_batch(self, text):
        labels = [self.choice_label(i) for i in range(self.num_options)]
        return ["Question: ", text["question"], "\nOptions:\n", *lettered_pieces(text["options"], labels)]

    def answer_phrases(self):
        return {"text": {"answer": "text", "reply": "", "write": "write it out"},
                "letter": {"answer": "letter", "reply": " Reply with its letter.",
                           "write": "give its letter"},
                "number": {"answer": "number", "reply": " Reply with its number.",
                           "write": "give its number"}}

    def rule(self, inputs):
        scores = [overlap(o, inputs["question"]) for o in inputs["options"]]
        return inputs["options"][argmax_first(scores)]

    def from_task_example(self, example):
        # Any number of choices (up to 10, the letters): the rule does not need num_options.
        question, choices = example.get("question"), choice_texts(example, ("choices",))
        if not isinstance(question, str) or choices is None or len(choices) > 10:
            return None
        return {"question": content_words(question), "options": [content_words(c) for c in choices]}
