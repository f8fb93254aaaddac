"""Budgeted augmentation (arXiv 2409.19759): answer augmentation, question rephrase and new
questions from a teacher, under a query budget with an honest ledger, a response cache that makes
re-runs free, and a recommender for which strategy fits a budget ratio::

    from cookbook_datasets.augmentation import AugmentationConfig, load_seed_set, run_augmentation
    from cookbook_datasets.generation import load_engine

    seeds = load_seed_set("seed.jsonl")
    engine = load_engine("served-model", backend="openai", base_url="http://localhost:8000/v1")
    rows, summary = run_augmentation(seeds, engine, AugmentationConfig(strategy="new_question", budget=300),
                                     work_dir="runs/aug")
"""

from .cache import ResponseCache, cache_key
from .checkers import CHECKERS, detect_checker, get_checker
from .config import STRATEGIES, AugmentationConfig
from .job import augment_to_hub
from .ledger import BudgetExhausted, Ledger
from .pipeline import BudgetTooSmall, augment, recipe, run_augmentation, to_dataset, to_rows
from .recommender import Recommendation, load_curves, paper_switch_point, recommend
from .seed_data import SeedDataError, load_seed_set
from .strategies import get_strategy, list_strategies
from .teacher import Call, Teacher, TeacherError, load_teacher_engine

__all__ = ["AugmentationConfig", "BudgetExhausted", "BudgetTooSmall", "CHECKERS", "Call", "Ledger", "Recommendation",
           "ResponseCache", "STRATEGIES", "SeedDataError", "Teacher", "TeacherError", "augment", "augment_to_hub", "cache_key",
           "detect_checker", "get_checker", "get_strategy", "list_strategies", "load_curves", "load_seed_set", "load_teacher_engine",
           "paper_switch_point", "recipe", "recommend", "run_augmentation", "to_dataset", "to_rows"]
