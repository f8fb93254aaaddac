"""Template alignment: how often model outputs agree with a template rule.

Each example pairs the model's generated text (``predictions``) with the
output a template rule formats for the same input (``references``).

Normalisation
    ``normalise(s)`` = lower-case; collapse every run of whitespace to one
    space; strip leading and trailing whitespace and punctuation (every
    character whose Unicode category is P*, which includes ASCII and curly
    quotes, brackets, '.', ',', '!', '?', ':', '-', ...), repeatedly, from both
    ends.  Inner punctuation is kept.

Agreement (per example), with p = normalise(prediction), r = normalise(reference)
    * p == r, or
    * p starts with r and the character right after r in p is not a word
      character (``\\w``: letter, digit, underscore).
    So for r = "yes": "Yes." and "yes, because ..." agree, "yesterday" and
    "no, yes" do not.  An empty r agrees only with an empty p.

Returns
    ``num_agree`` (examples that agree), ``num_total`` (examples) and
    ``template_alignment`` = num_agree / num_total (0.0 for no examples).
"""

import re
import unicodedata

import datasets
import evaluate

from cookbook_datasets.eval.metrics import mean_score


_DESCRIPTION = __doc__

_CITATION = ""

_KWARGS_DESCRIPTION = """
Args:
    predictions (`list` of `str`): the model's generated texts.
    references (`list` of `str`): the template rule's formatted output for the
        same inputs.
    per_row (`bool`, optional): also return ``per_row = {"template_alignment":
        [1.0 if the example agrees else 0.0, ...]}``.
Returns:
    template_alignment (`float`): share of examples that agree, in [0, 1].
    num_agree (`int`): number of examples that agree.
    num_total (`int`): number of examples.
Examples:
    >>> metric = evaluate.load("eval/metrics/template_alignment")
    >>> metric.compute(predictions=["Yes, because it rains.", "yesterday"], references=["yes", "yes"])
    {'template_alignment': 0.5, 'num_agree': 1, 'num_total': 2}
"""

_WORD_CHAR = re.compile(r"\w")


def _is_strippable(char):
    return char.isspace() or unicodedata.category(char).startswith("P")


def normalise(text):
    """Lower-case, collapse whitespace, strip surrounding punctuation/quotes."""
    text = " ".join(str(text).lower().split())
    start, end = 0, len(text)
    while start < end and _is_strippable(text[start]):
        start += 1
    while end > start and _is_strippable(text[end - 1]):
        end -= 1
    return text[start:end]


def agrees(prediction, reference):
    """True when the prediction agrees with the template rule's output."""
    p = normalise(prediction)
    r = normalise(reference)
    if p == r:
        return True
    if not r or not p.startswith(r):
        return False
    return _WORD_CHAR.match(p[len(r)]) is None


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class TemplateAlignment(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features(
                {
                    "predictions": datasets.Value("string"),
                    "references": datasets.Value("string"),
                }
            ),
        )

    def _compute(self, predictions, references, per_row=False):
        scores = [float(agrees(p, r)) for p, r in zip(predictions, references)]
        return {**mean_score("template_alignment", scores, per_row), "num_agree": int(sum(scores)),
                "num_total": len(scores)}
