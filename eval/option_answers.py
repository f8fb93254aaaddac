"""Which option a generated multiple-choice answer names: its letter, or an option's text.

A reply names option k when it starts with k's letter standing alone ("B", "B.", "(B)", "B) ...",
"Answer: B", "The answer is B"), or, failing that, when it holds option k's text (case, spacing
and surrounding punctuation ignored; whole words only). Where several options' texts occur, the
longer one wins ("red" within "dark red": "dark red"); two options named apart are ambiguous.
Anything else names no option: None, scored wrong and counted as ``no_option``.
"""

from __future__ import annotations

import re
from typing import Optional, Sequence

from .prompts import LETTERS

_PREFIX = re.compile(r"^\W*(?:the\s+)?(?:correct\s+|right\s+)?(?:answer|option|choice)(?:\s+is)?\s*[:\-]?\s*",
                     re.IGNORECASE)
_LETTER = re.compile(r"^\(?([A-Za-z])\)?(?=$|[.):,;!?]|\s)")
_WORDS = ("A", "I")  # capital letters that start an English sentence as words ("A man ...", "I think ...")


def _letter(text: str, letters: str) -> Optional[int]:
    prefix = _PREFIX.match(text)
    rest = text[prefix.end():] if prefix else text.lstrip(" *\"'")
    m = _LETTER.match(rest)
    if not m or m.group(1).upper() not in letters:
        return None
    after = rest[m.end():m.end() + 1]
    letter = m.group(1)
    if m.group(0).startswith("(") or after in ("", ".", ")", ":"):
        return letters.index(letter.upper())
    if letter.isupper() and letter not in _WORDS:  # "B is right", "C, because ..."
        return letters.index(letter)
    return None


def _norm(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s]", " ", str(text).lower()).split())


def parse_option(reply: str, choices: Sequence[str]) -> Optional[int]:
    """The index of the option ``reply`` names, or None."""
    text = str(reply).strip()
    index = _letter(text, LETTERS[:len(choices)])
    if index is not None:
        return index
    said = f" {_norm(text)} "
    found = {i: _norm(c) for i, c in enumerate(choices) if _norm(c) and f" {_norm(c)} " in said}
    # an option's text inside another found option's text ("red" in "dark red") is not named apart
    named = {i for i, t in found.items() if not any(j != i and t != u and f" {t} " in f" {u} " for j, u in found.items())}
    texts = {found[i] for i in named}
    return min(named) if len(texts) == 1 else None
