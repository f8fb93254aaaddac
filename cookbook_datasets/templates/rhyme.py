"""Rhyme (the Cookbook paper's poetry template): pick the option that rhymes with the line's last word."""

from dataclasses import dataclass

from . import register
from .base import Template, join, param
from ..vocab import get_vocabulary


@register
@dataclass
class Rhyme(Template):
    name = "rhyme"
    family = "selection"
    description = "Pick the option that rhymes with (shares the last two letters of) the line's last word."
    instructions = (
        "Which option rhymes with the last word of the line? Two words rhyme here when they end in "
        "the same two letters. Exactly one option does; reply with it.",
        "Continue the poem: choose the option whose last two letters match the last two letters of "
        "the line's final word, and write that word.",
        "Find the rhyme. Look at the final word of the line and pick the option ending with the same "
        "two letters.",
        "Pick the word from the options that rhymes with the end of the line, meaning its final two "
        "letters are the same as those of the line's last word.",
    )

    line_length: int = param(6, "Tokens in the line, its last word (the one to rhyme) included.",
                             range=(1, 256))
    num_options: int = param(4, "Number of options.", range=(2, 10))

    def generate(self, rng):
        vocab = get_vocabulary(self.vocab)
        words = vocab.words
        for _ in range(1000):
            target = words[int(rng.random() * len(words))]
            rhymes = vocab.rhymes(target)
            if len(rhymes) > 1:
                break
        else:
            raise ValueError(f"template {self.name!r}: vocab {self.vocab!r} has too few rhyming words")
        answer = target
        while answer == target:
            answer = rhymes[int(rng.random() * len(rhymes))]
        ending, options = target[-2:], [answer]
        while len(options) < self.num_options:
            w = words[int(rng.random() * len(words))]
            if w[-2:] != ending and w not in options:
                options.append(w)
        rng.shuffle(options)
        return {"line": self.draw(rng, self.line_length - 1) + [target], "options": options}

    def rule(self, inputs):
        target = inputs["line"][-1]
        return next(o for o in inputs["options"] if o != target and o[-2:] == target[-2:])

    def render(self, inputs):
        return f"Line: {join(inputs['line'])}\nOptions: {', '.join(inputs['options'])}"
