"""Ground-truth checkers: pull the final answer out of a text, and say whether two answers agree.

A checker is an object with ``extract(text) -> str | None`` (None: no answer found, so the text
does not parse) and ``matches(a, b) -> bool``. Register a new one with ``CHECKERS.add(name, cls)``.
"""

from __future__ import annotations

import re
from typing import Optional, Sequence

from ..registry import Registry

_NUMBER = re.compile(r"-?\$?\d[\d,]*(?:\.\d+)?")
_MARKER = re.compile(r"####\s*(.+)")


def _number(text: str) -> Optional[str]:
    """A number as a canonical string ('1,200.50' -> '1200.5')."""
    text = text.replace("$", "").replace(",", "").strip()
    try:
        value = float(text)
    except ValueError:
        return None
    return str(int(value)) if value == int(value) else repr(value)


class FinalNumber:
    """GSM8K style: the number after the last ``####``, else the last number in the text."""

    name = "final_number"
    reasoning_marker = "####"

    def extract(self, text: str) -> Optional[str]:
        marked = _MARKER.findall(text or "")
        if marked:
            found = _NUMBER.findall(marked[-1])
            return _number(found[0]) if found else None
        found = _NUMBER.findall(text or "")
        return _number(found[-1]) if found else None

    def matches(self, a: Optional[str], b: Optional[str]) -> bool:
        return a is not None and b is not None and _number(a) == _number(b)


class Exact:
    """The whole answer (after ``####`` when there is one), compared case- and space-insensitively."""

    name = "exact"
    reasoning_marker = "####"

    def extract(self, text: str) -> Optional[str]:
        marked = _MARKER.findall(text or "")
        answer = marked[-1] if marked else (text or "")
        answer = " ".join(answer.split()).strip(" .")
        return answer or None

    def matches(self, a: Optional[str], b: Optional[str]) -> bool:
        return a is not None and b is not None and a.lower() == b.lower()


class NoChecker:
    """No ground truth: any non-empty text is an answer; nothing can be verified."""

    name = "none"
    reasoning_marker = None

    def extract(self, text: str) -> Optional[str]:
        text = (text or "").strip()
        return text or None

    def matches(self, a, b) -> bool:
        return True


CHECKERS = Registry("checker", [(c.name, c) for c in (FinalNumber, Exact, NoChecker)], listed="available")


def get_checker(name: str):
    return CHECKERS.get(name)()


def detect_checker(answers: Sequence[str]) -> str:
    """``final_number`` when every seed answer ends in '#### <number>' or is a number, else ``exact``
    when they are short (a label, an entity), else ``none``."""
    answers = [a.strip() for a in answers]
    if answers and all(re.search(r"####\s*-?\$?\d", a) or _number(a) is not None for a in answers):
        return "final_number"
    if answers and all(len(a.split()) <= 5 for a in answers):
        return "exact"
    return "none"


def has_reasoning(answers: Sequence[str]) -> bool:
    """Whether the task's answers carry reasoning before a '#### answer' line (GSM8K style)."""
    return bool(answers) and sum("####" in a and a.split("####")[0].strip() != "" for a in answers) > len(answers) / 2
