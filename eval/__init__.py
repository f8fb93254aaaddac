"""Evaluation: local `evaluate` metric modules and the task harness
(installed as ``cookbook_datasets.eval``).

``harness.py`` scores a model on tasks (``cookbook_datasets.tasks``) and writes the results;
``prompts.py`` builds what a task is scored with; ``framings.py`` scores one task in one framing;
``agreement.py`` applies a task's metric to answers already given; ``lm.py`` runs the model;
``compare.py`` and ``stats.py`` compare runs row by row; ``probe.py`` asks whether the untuned model
reads a task at all (its fit rows against chance and the constant answer); ``guard.py`` is the
rule that keeps the untuned model when a tuned one is not better (SELF-GUIDE, DiverseEvol).
"""

from .compare import Comparison, RowMismatchError, compare, compare_rows, plot_comparison
from .harness import EvalConfig, evaluate_model
from .metrics import METRICS, load_metric
from .probe import ProbeConfig, probe, probe_lines

__all__ = ["Comparison", "EvalConfig", "METRICS", "ProbeConfig", "RowMismatchError", "compare", "compare_rows",
           "evaluate_model", "load_metric", "plot_comparison", "probe", "probe_lines"]
