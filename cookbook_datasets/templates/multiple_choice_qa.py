"""Multiple-choice QA: the correct option is the one sharing the most tokens with the question."""

from dataclasses import dataclass

from . import register
from .base import Template, argmax_first, join, lettered, overlap, param


@register
@dataclass
class MultipleChoiceQA(Template):
    name = "multiple_choice_qa"
    family = "selection"
    description = "Pick the option that shares the most words with the question."
    instructions = (
        "Answer the question by choosing one option. The right option is the one that has the most "
        "words in common with the question. Reply with the option's text.",
        "Which option fits the question best? Choose the option sharing the most words with it.",
        "Select the answer whose words overlap most with the question and write it out.",
    )

    question_length: int = param(12, "Tokens in the question.", range=(4, 256))
    option_length: int = param(4, "Tokens in each option.", range=(2, 32))
    num_options: int = param(4, "Number of options.", range=(2, 10))

    def validate(self):
        if self.option_length > self.question_length:
            raise ValueError(f"template {self.name!r}: option_length must be at most "
                             f"question_length ({self.option_length} > {self.question_length})")

    def generate(self, rng):
        question = self.draw_distinct(rng, self.question_length)
        # The correct option shares more question words than any distractor.
        best = 1 + int(rng.random() * self.option_length)
        options = []
        for i in range(self.num_options):
            shared = best if i == 0 else int(rng.random() * best)
            picked = rng.sample(question, shared)
            options.append(picked + self.draw_distinct(rng, self.option_length - shared, question))
        for o in options:
            rng.shuffle(o)
        rng.shuffle(options)
        return {"question": question, "options": options}

    def rule(self, inputs):
        scores = [overlap(o, inputs["question"]) for o in inputs["options"]]
        return inputs["options"][argmax_first(scores)]

    def render(self, inputs):
        return f"Question: {join(inputs['question'])}\nOptions:\n{lettered(inputs['options'])}"
