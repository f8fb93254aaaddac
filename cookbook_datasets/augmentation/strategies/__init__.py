"""The three augmentation strategies, one file each, registered by name."""

from __future__ import annotations

import difflib

from .answer_aug import AnswerAugmentation
from .base import Outcome, Step, TaskContext
from .new_question import NewQuestion
from .rephrase import QuestionRephrase

STRATEGY_CLASSES = {cls.name: cls for cls in (AnswerAugmentation, QuestionRephrase, NewQuestion)}


def list_strategies() -> list[str]:
    return list(STRATEGY_CLASSES)


def get_strategy(name: str):
    if name not in STRATEGY_CLASSES:
        close = difflib.get_close_matches(str(name), STRATEGY_CLASSES, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ValueError(f"unknown augmentation strategy {name!r}{hint}; available: {', '.join(STRATEGY_CLASSES)}")
    return STRATEGY_CLASSES[name]()


__all__ = ["AnswerAugmentation", "NewQuestion", "Outcome", "QuestionRephrase", "STRATEGY_CLASSES", "Step",
           "TaskContext", "get_strategy", "list_strategies"]
