"""Local Hugging Face ``evaluate`` metric modules, loadable offline.

Each metric lives in ``<name>/<name>.py`` next to this file and can be loaded
either with :func:`load_metric` or directly with
``evaluate.load(str(metric_path(name)))``.  ``evaluate.load("accuracy")`` and
other Hub metrics need the network; these do not.  What several metric modules
share (:func:`text_features`, :func:`reference_lists`, :func:`mean_score`) is
here, imported by absolute name (``from cookbook_datasets.eval.metrics import
...``): ``evaluate.load`` copies a module alone, so it cannot import a sibling.

Metrics:
    label_exact_match   SELF-GUIDE classification scoring -> {"exact_match"}
    rouge_l             token-level ROUGE-L F-measure -> {"rougeL"}
    mc_accuracy         multiple-choice accuracy from log-likelihoods -> {"acc", "acc_norm"}
    template_alignment  agreement with a template rule -> {"template_alignment", "num_agree", "num_total"}
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from cookbook_datasets.registry import unknown_name_error

if TYPE_CHECKING:  # keep `import cookbook_datasets.eval.metrics` light
    import evaluate

METRICS_DIR = Path(__file__).resolve().parent

METRICS = (
    "label_exact_match",
    "rouge_l",
    "mc_accuracy",
    "template_alignment",
)

__all__ = ["METRICS", "METRICS_DIR", "load_metric", "mean_score", "metric_path", "reference_lists", "text_features"]


def metric_path(name: str) -> Path:
    """Directory of metric ``name`` (what ``evaluate.load`` takes).

    Raises ValueError for an unknown name, listing the available ones and the
    closest match.
    """
    if name not in METRICS:
        raise unknown_name_error("metric", name, METRICS, sentence=True, listed="available metrics")
    return METRICS_DIR / name


def load_metric(name: str, **kwargs: Any) -> "evaluate.EvaluationModule":
    """Load one of :data:`METRICS` by name, offline.

    ``kwargs`` go to ``evaluate.load`` (e.g. ``experiment_id``,
    ``keep_in_memory``, ``cache_dir``).
    """
    path = metric_path(name)
    import evaluate

    return evaluate.load(str(path), **kwargs)


def text_features() -> list:
    """The features of a metric that scores predicted strings against references given as one string
    or a list of strings per example (``evaluate.MetricInfo(features=...)``).

    The single-string form comes first: evaluate's str-vs-list guard does not recognise datasets>=4
    ``List`` features, so with the list form first a bare string would get through as characters.
    """
    import datasets

    return [
        datasets.Features({"predictions": datasets.Value("string"), "references": datasets.Value("string")}),
        datasets.Features({"predictions": datasets.Value("string"),
                           "references": datasets.Sequence(datasets.Value("string"))}),
    ]


def reference_lists(references) -> list[list]:
    """Each example's references as a list (a single string becomes a list of one)."""
    return [[r] if isinstance(r, str) else list(r) for r in references]


def mean_score(name: str, scores: list, per_row: bool = False) -> dict:
    """``{name: mean of scores}`` (0.0 for no scores); with ``per_row``, also ``{"per_row": {name: scores}}``."""
    result = {name: sum(scores) / len(scores) if scores else 0.0}
    if per_row:
        result["per_row"] = {name: scores}
    return result
