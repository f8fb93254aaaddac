"""Real text as rule tokens: how a template's rule reads a real task example.

``content_words`` lower-cases the text, keeps runs of letters and digits, drops a small fixed
list of English function words (so that "the" or "of" do not make every pair of sentences
overlap) and strips one common suffix, so that "survival" and "survive" (both "surviv") or
"parasite" and "parasites" match. The stemmer is deliberately crude: one suffix from a short
list, and only when at least three letters remain; "running" and "run" do not match.
"""

from __future__ import annotations

import re
from typing import Optional, Sequence

STOPWORDS = frozenset("""
a about above after again against all also am an and any are as at be because been before being
below between both but by can could did do does doing down during each either else even ever few
for from further had has have having he her here hers herself him himself his how i if in into is
it its itself just let me more most my myself neither no nor not now of off on once only or other
our ours ourselves out over own per same shall she should so some such than that the their theirs
them themselves then there these they this those through to too under until up upon us very was
we were what when where whether which while who whom whose why will with within without would yet
you your yours yourself yourselves s t d ll m re ve don doesn didn isn aren wasn weren
""".split())

_WORD = re.compile(r"[^\W_]+")  # letters and digits (any script), no underscores
_SUFFIXES = ("ies", "ing", "ed", "es", "s", "al", "ly", "e", "y")
_MIN_STEM = 3


def stem(word: str) -> str:
    """``word`` without its first matching suffix of ``_SUFFIXES`` (at least 3 letters kept;
    a double "ss" keeps its last "s": "glass" stays, "glasses" gives "glass")."""
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= _MIN_STEM:
            if suffix == "s" and word.endswith("ss"):
                return word
            return word[:-len(suffix)]
    return word


def content_words(text: str) -> list[str]:
    """The stemmed content words of ``text``, in order, repeats kept."""
    return [stem(w) for w in _WORD.findall(text.lower()) if w not in STOPWORDS]


def distinct(words: Sequence[str]) -> list[str]:
    """``words`` without repeats, in first-occurrence order."""
    return list(dict.fromkeys(words))


def surface_forms(text: str) -> dict[str, str]:
    """Each stem of ``text`` mapped to the first lower-cased word that gave it."""
    out: dict[str, str] = {}
    for w in _WORD.findall(text.lower()):
        if w not in STOPWORDS:
            out.setdefault(stem(w), w)
    return out


def text_fields(example: dict, names: Sequence[str]) -> Optional[list[str]]:
    """The string values of ``names`` in ``example`` (None when one is missing or not a string)."""
    values = [example.get(n) for n in names]
    return values if all(isinstance(v, str) for v in values) else None


def choice_texts(example: dict, names: Sequence[str] = ("choices", "endings")) -> Optional[list[str]]:
    """The options of a multiple-choice example: a list of at least two strings, else None."""
    for name in names:
        value = example.get(name)
        if value is not None:
            if isinstance(value, list) and len(value) >= 2 and all(isinstance(v, str) for v in value):
                return value
            return None
    return None
