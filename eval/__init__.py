"""Evaluation: local `evaluate` metric modules and the task harness
(installed as ``cookbook_datasets.eval``)."""

from .compare import Comparison, RowMismatchError, compare, compare_rows, plot_comparison
from .harness import EvalConfig, evaluate_model
from .metrics import METRICS, load_metric
from .tasks import TaskFormatError, load_tasks

__all__ = ["Comparison", "EvalConfig", "METRICS", "RowMismatchError", "TaskFormatError", "compare", "compare_rows",
           "evaluate_model", "load_metric", "load_tasks", "plot_comparison"]
