"""The three augmentation strategies, one file each, registered by name."""

from __future__ import annotations

from ...registry import Registry
from .answer_aug import AnswerAugmentation
from .base import Outcome, Step, TaskContext
from .new_question import NewQuestion
from .rephrase import QuestionRephrase

STRATEGY_CLASSES = Registry("augmentation strategy", [(cls.name, cls) for cls in (AnswerAugmentation, QuestionRephrase,
                                                                                  NewQuestion)], listed="available")


def list_strategies() -> list[str]:
    return list(STRATEGY_CLASSES)


def get_strategy(name: str):
    return STRATEGY_CLASSES.get(name)()


__all__ = ["AnswerAugmentation", "NewQuestion", "Outcome", "QuestionRephrase", "STRATEGY_CLASSES", "Step",
           "TaskContext", "get_strategy", "list_strategies"]
