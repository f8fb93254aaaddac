"""Evaluation: local `evaluate` metric modules and the task harness
(installed as ``cookbook_datasets.eval``)."""

from .harness import EvalConfig, compare, evaluate_model, plot_comparison
from .metrics import METRICS, load_metric
from .tasks import TaskFormatError, load_tasks

__all__ = ["EvalConfig", "METRICS", "TaskFormatError", "compare", "evaluate_model", "load_metric", "load_tasks",
           "plot_comparison"]
