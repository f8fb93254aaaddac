"""Multiple-choice accuracy from per-choice log-likelihoods.

Each example gives the model's log-likelihood of every answer choice
(``loglikelihoods``, one float per choice), the index of the correct choice
(``label``) and, optionally, the character length of every choice
(``choice_lengths``).

Choice lengths follow lm-evaluation-harness: the characters of the choice's
own text, WITHOUT the delimiter that joins it to the context.  A choice
"Paris" scored as the continuation " Paris" has length 5, not 6
(lm-evaluation-harness computes ``len(choice)`` over the raw choices and
prepends its ``target_delimiter`` " " only to build the request).
``cookbook_datasets.eval.prompts.choice_lengths`` counts them so.

acc
    1 if ``argmax_i loglikelihoods[i] == label`` else 0, averaged over examples.
acc_norm
    Length-normalised, as lm-evaluation-harness's ``acc_norm``: 1 if
    ``argmax_i loglikelihoods[i] / choice_lengths[i] == label``, averaged.
    Where an example has no ``choice_lengths`` (the input omitted, or None for
    that example) its acc_norm term equals its acc term; so with no
    ``choice_lengths`` at all, acc_norm == acc.

Ties: the first maximal choice wins (like numpy.argmax).  Both scores are 0.0
for no examples.  Errors (ValueError): an example with no choices, a label
outside ``range(len(loglikelihoods))``, ``choice_lengths`` of a different
length than ``loglikelihoods``, or a choice length <= 0.
"""

import datasets
import evaluate


_DESCRIPTION = __doc__

_CITATION = """\
@software{eval-harness,
  author = {Gao, Leo and Tow, Jonathan and Abbasi, Baber and Biderman, Stella and Black, Sid and others},
  title = {A framework for few-shot language model evaluation},
  publisher = {Zenodo},
  url = {https://github.com/EleutherAI/lm-evaluation-harness},
}
"""

_KWARGS_DESCRIPTION = """
Args:
    loglikelihoods (`list` of `list` of `float`): per example, the
        log-likelihood of each choice.
    label (`list` of `int`): per example, the index of the correct choice.
    choice_lengths (`list` of `list` of `int`, optional): per example, the
        character length of each choice, without the leading delimiter
        (None for an example without).
    per_row (`bool`, optional): also return ``per_row = {"acc": [...],
        "acc_norm": [...], "prediction": [argmax index, ...]}``.
Returns:
    acc (`float`): accuracy of the raw argmax, in [0, 1].
    acc_norm (`float`): accuracy of the argmax of loglikelihood / length.
Examples:
    >>> metric = evaluate.load("eval/metrics/mc_accuracy")
    >>> metric.compute(loglikelihoods=[[-12.0, -4.0]], label=[0], choice_lengths=[[40, 4]])
    {'acc': 0.0, 'acc_norm': 1.0}
"""


def first_argmax(values):
    """Index of the first maximal value."""
    best = 0
    for i, value in enumerate(values):
        if value > values[best]:
            best = i
    return best


def score_example(loglikelihoods, label, choice_lengths=None):
    """Return (acc, acc_norm) for one example, each 0 or 1."""
    lls = [float(x) for x in loglikelihoods]
    if not lls:
        raise ValueError("an example has no choices (empty loglikelihoods)")
    if not 0 <= int(label) < len(lls):
        raise ValueError(f"label {label} is out of range for {len(lls)} choices")
    acc = int(first_argmax(lls) == label)
    if choice_lengths is None:
        return acc, acc
    if len(choice_lengths) != len(lls):
        raise ValueError(
            f"choice_lengths has {len(choice_lengths)} entries but loglikelihoods has {len(lls)}"
        )
    if any(length <= 0 for length in choice_lengths):
        raise ValueError(f"choice lengths must be positive, got {list(choice_lengths)}")
    normed = [ll / length for ll, length in zip(lls, choice_lengths)]
    return acc, int(first_argmax(normed) == label)


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class McAccuracy(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features(
                {
                    "loglikelihoods": datasets.Sequence(datasets.Value("float64")),
                    "label": datasets.Value("int64"),
                    "choice_lengths": datasets.Sequence(datasets.Value("int64")),
                }
            ),
            reference_urls=["https://github.com/EleutherAI/lm-evaluation-harness"],
        )

    # evaluate requires every feature to be passed; choice_lengths is optional,
    # so fill it with None (per example) when it is left out.
    def add_batch(self, *, predictions=None, references=None, **kwargs):
        """Add a batch of examples; choice_lengths may be left out."""
        if kwargs.get("choice_lengths") is None and kwargs.get("loglikelihoods") is not None:
            kwargs["choice_lengths"] = [None] * len(kwargs["loglikelihoods"])
        return super().add_batch(predictions=predictions, references=references, **kwargs)

    def add(self, *, prediction=None, reference=None, **kwargs):
        """Add one example; choice_lengths may be left out."""
        kwargs.setdefault("choice_lengths", None)
        return super().add(prediction=prediction, reference=reference, **kwargs)

    def compute(self, *, predictions=None, references=None, **kwargs):
        """Compute acc and acc_norm; choice_lengths may be left out.

        evaluate appends the inputs description below.
        """
        if kwargs.get("choice_lengths") is None and kwargs.get("loglikelihoods") is not None:
            kwargs["choice_lengths"] = [None] * len(kwargs["loglikelihoods"])
        return super().compute(predictions=predictions, references=references, **kwargs)

    def _compute(self, loglikelihoods, label, choice_lengths=None, per_row=False):
        if choice_lengths is None:
            choice_lengths = [None] * len(loglikelihoods)
        acc, acc_norm = [], []
        for lls, gold, lengths in zip(loglikelihoods, label, choice_lengths):
            a, a_norm = score_example(lls, gold, lengths)
            acc.append(float(a))
            acc_norm.append(float(a_norm))
        n = len(acc)
        result = {"acc": sum(acc) / n if n else 0.0, "acc_norm": sum(acc_norm) / n if n else 0.0}
        if per_row:
            result["per_row"] = {"acc": acc, "acc_norm": acc_norm,
                                 "prediction": [first_argmax([float(x) for x in lls]) for lls in loglikelihoods]}
        return result
