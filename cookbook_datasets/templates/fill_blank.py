"""Fill in the blank (cf. WinoGrande): the blank takes the option repeated more often in the sentence."""

from dataclasses import dataclass

from . import register
from .base import Template, join, param

BLANK = "_"


@register
@dataclass
class FillBlank(Template):
    name = "fill_blank"
    family = "selection"
    description = "Fill the blank with the option that occurs more often elsewhere in the sentence."
    instructions = (
        "Fill in the blank (_) with one of the two options: the right option is the one that occurs "
        "more often in the rest of the sentence. Reply with that option.",
        "Which option belongs in the blank? Count how many times each option appears elsewhere in "
        "the sentence and answer with the one that appears more.",
        "The sentence has a gap marked _. Of the two candidate words, choose the one the sentence "
        "already uses more times, and write it.",
        "Complete the sentence: the missing word is whichever option is repeated more often in the "
        "sentence itself. Output the option.",
    )

    sentence_length: int = param(14, "Tokens in the sentence, the blank included.", range=(3, 1024))
    max_count: int = param(3, "Most occurrences of the right option in the sentence.", range=(1, 512))

    def validate(self):
        if 2 * self.max_count > self.sentence_length:
            raise ValueError(
                f"template {self.name!r}: 2 * max_count must be at most sentence_length "
                f"(2 * {self.max_count} > {self.sentence_length})"
            )

    def generate(self, rng):
        need = self.sentence_length + 1
        if need > len(self.words):
            raise ValueError(f"template {self.name!r}: sentence_length + 1 ({need}) distinct words "
                             f"are needed; vocab {self.vocab!r} has {len(self.words)}")
        right, wrong = self.draw_distinct(rng, 2)
        hi = 1 + int(rng.random() * self.max_count)
        # The wrong option is often just one occurrence behind.
        lo = hi - 1 if rng.random() < 0.5 else int(rng.random() * hi)
        filler = self.draw_distinct(rng, self.sentence_length - 1 - hi - lo, (right, wrong))
        sentence = filler + [right] * hi + [wrong] * lo
        rng.shuffle(sentence)
        sentence.insert(int(rng.random() * (len(sentence) + 1)), BLANK)
        options = [right, wrong] if rng.random() < 0.5 else [wrong, right]
        return {"sentence": sentence, "options": options}

    def rule(self, inputs):
        a, b = inputs["options"]
        sentence = inputs["sentence"]
        return a if sentence.count(a) >= sentence.count(b) else b

    def render(self, inputs):
        a, b = inputs["options"]
        return f"Sentence: {join(inputs['sentence'])}\nOption 1: {a}\nOption 2: {b}"
