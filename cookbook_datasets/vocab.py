"""Vocabularies of random tokens that templates draw from.

No human or model text enters the data: the default vocabulary is pseudo-words made of
consonant-vowel syllables; ``tokenizer:<spec>`` draws clean whole words from a tokenizer's
vocabulary so the random tokens are single tokens of the model being trained.
"""

from __future__ import annotations

import functools
import itertools
import logging
from dataclasses import dataclass

logger = logging.getLogger(__name__)

_CONSONANTS = "bdfgklmnprstvz"
_VOWELS = "aeiou"
MIN_VOCAB_SIZE = 200
VOCAB_FORMS = ("pseudo", "tokenizer:<model spec or path>")


@dataclass(frozen=True)
class Vocabulary:
    """An ordered tuple of distinct words."""

    spec: str
    words: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.words)


def _pseudo_words() -> tuple[str, ...]:
    syllables = [c + v for c, v in itertools.product(_CONSONANTS, _VOWELS)]
    return tuple(a + b for a, b in itertools.product(syllables, syllables))


def _tokenizer_words(model_spec: str) -> tuple[str, ...]:
    from .models import load_tokenizer

    tokenizer = load_tokenizer(model_spec)
    words = set()
    for token_id in range(len(tokenizer)):
        text = tokenizer.decode([token_id])
        # A clean whole word: starts a word (leading space), lower-case ASCII letters only.
        if text.startswith(" ") and 3 <= len(text) - 1 <= 12:
            word = text[1:]
            if word.isascii() and word.isalpha() and word.islower():
                words.add(word)
    return tuple(sorted(words))


def validate_vocab_spec(spec: str) -> None:
    if spec == "pseudo":
        return
    if spec.startswith("tokenizer:") and len(spec) > len("tokenizer:"):
        return
    raise ValueError(f"vocab must be one of {list(VOCAB_FORMS)} (got {spec!r})")


@functools.lru_cache(maxsize=16)
def get_vocabulary(spec: str = "pseudo") -> Vocabulary:
    """Resolve a vocabulary spec (``"pseudo"`` or ``"tokenizer:<model spec or path>"``)."""
    validate_vocab_spec(spec)
    if spec == "pseudo":
        words = _pseudo_words()
    else:
        words = _tokenizer_words(spec.split(":", 1)[1])
        logger.info("vocabulary %s: %d clean whole-word tokens", spec, len(words))
    if len(words) < MIN_VOCAB_SIZE:
        raise ValueError(
            f"vocab {spec!r} yields {len(words)} clean words; at least {MIN_VOCAB_SIZE} are needed"
        )
    return Vocabulary(spec=spec, words=words)
