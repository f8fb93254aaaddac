"""Budgeted augmentation (arXiv 2409.19759): answer augmentation, question rephrase and new
questions from a teacher, under a query budget with an honest ledger, a response cache that makes
re-runs free, and a recommender for which strategy fits a budget ratio::

    from cookbook_datasets.augmentation import AugmentationConfig, load_seed_set, run_augmentation
    from cookbook_datasets.generation import load_engine

    seeds = load_seed_set("seed.jsonl")
    engine = load_engine("served-model", backend="openai", base_url="http://localhost:8000/v1")
    rows, summary = run_augmentation(seeds, engine, AugmentationConfig(strategy="new_question", budget=300),
                                     work_dir="runs/aug")

Several servers of one model (round robin), on a Ray Data actor pool::

    endpoints = teacher_endpoints(["http://gpu0:8000/v1", "http://gpu1:8000/v1"])
    config = AugmentationConfig(budget=300, execution={"executor": "ray", "replicas": 8})
    rows, summary = run_augmentation(seeds, endpoints, config, work_dir="runs/aug")
"""

from ..lazy import lazy_exports

# The names load from their modules on first use (PEP 562), so the light ones (AugmentationConfig,
# which builds `cookbook augment`'s options) come without `datasets` and the teacher's client.
_LAZY = {
    "ResponseCache": ".cache", "cache_key": ".cache",
    "CHECKERS": ".checkers", "detect_checker": ".checkers", "get_checker": ".checkers",
    "STRATEGIES": ".config", "AugmentationConfig": ".config",
    "augment_to_hub": ".job",
    "BudgetExhausted": ".ledger", "Ledger": ".ledger",
    "BudgetTooSmall": ".pipeline", "augment": ".pipeline", "recipe": ".pipeline", "run_augmentation": ".pipeline",
    "to_dataset": ".pipeline", "to_rows": ".pipeline",
    "Recommendation": ".recommender", "load_curves": ".recommender", "paper_switch_point": ".recommender",
    "recommend": ".recommender",
    "SeedDataError": ".seed_data", "load_seed_set": ".seed_data",
    "get_strategy": ".strategies", "list_strategies": ".strategies",
    "Call": ".teacher", "Teacher": ".teacher", "TeacherError": ".teacher",
    "TeacherEndpoint": ".endpoints", "load_teacher_engine": ".endpoints", "teacher_endpoints": ".endpoints",
}

__getattr__, __dir__ = lazy_exports(__name__, _LAZY)


__all__ = ["AugmentationConfig", "BudgetExhausted", "BudgetTooSmall", "CHECKERS", "Call", "Ledger", "Recommendation",
           "ResponseCache", "STRATEGIES", "SeedDataError", "Teacher", "TeacherEndpoint", "TeacherError", "augment",
           "augment_to_hub", "cache_key", "detect_checker", "get_checker", "get_strategy", "list_strategies",
           "load_curves", "load_seed_set", "load_teacher_engine", "paper_switch_point", "recipe", "recommend",
           "run_augmentation", "teacher_endpoints", "to_dataset", "to_rows"]
