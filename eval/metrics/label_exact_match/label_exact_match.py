"""Label exact match: SELF-GUIDE style scoring of classification outputs.

A generative model asked to classify rarely answers with the bare label; it
writes "The answer is entailment." or "Not neutral, but contradiction".  This
metric first *extracts* a label from the free-form output and then checks it
against the acceptable answers.

Normalisation
    ``normalise(s)`` = lower-case, collapse every run of whitespace to one
    space, strip leading/trailing whitespace.  It is applied to the labels, the
    references and the extracted label.

Label set
    The ``labels`` compute keyword (a list of str: the task's label set).  When
    it is not given, the label set is the set of every string that occurs in
    any example's ``references``.  Labels are normalised and de-duplicated;
    empty labels are ignored.

Extraction (per prediction)
    Every occurrence of every label in the lower-cased prediction is found as
    a *whole-word* match: the label must not be preceded or followed by a word
    character (``\\w``, i.e. letter, digit or underscore), so "neutral" is found
    in "Neutral." and "(neutral)" but not in "neutrality".  Whitespace inside a
    label matches any run of whitespace in the prediction.  Among all matches
    the one that *ends last* in the prediction wins ("the last label
    mentioned"); when several matches end at the same position the longest one
    wins, so with labels {"entailment", "not entailment"} the output "... not
    entailment" yields "not entailment".  When no label occurs, nothing is
    extracted and the example is scored wrong.

Score
    ``exact_match`` = mean over examples of 1 if the extracted label is among
    the example's normalised ``references`` else 0.  (evaluate 0.4.6 itself
    rejects an empty batch for this module, whose features come in two forms.)
"""

import re

import evaluate

from cookbook_datasets.eval.metrics import mean_score, reference_lists, text_features


_DESCRIPTION = __doc__

_CITATION = """\
@inproceedings{zhao2024selfguide,
  title={{SELF-GUIDE}: Better Task-Specific Instruction Following via Self-Synthetic Finetuning},
  author={Zhao, Chenyang and Jia, Xueying and Viswanathan, Vijay and Wu, Tongshuang and Neubig, Graham},
  booktitle={First Conference on Language Modeling},
  year={2024}
}
"""

_KWARGS_DESCRIPTION = """
Args:
    predictions (`list` of `str`): the model outputs, free-form text.
    references (`list` of `list` of `str`): the acceptable answers of each
        example (a single `str` per example is accepted too).
    labels (`list` of `str`, optional): the task's label set, searched for in
        each prediction.  Defaults to all strings found in `references`.
    per_row (`bool`, optional): also return ``per_row = {"exact_match": [0 or 1
        per example]}`` (for standard errors and paired comparisons).
Returns:
    exact_match (`float`): share of examples whose extracted label is an
        acceptable answer, in [0, 1].
Examples:
    >>> metric = evaluate.load("eval/metrics/label_exact_match")
    >>> metric.compute(
    ...     predictions=["The answer is entailment.", "Not neutral but contradiction"],
    ...     references=[["entailment"], ["neutral"]],
    ...     labels=["entailment", "neutral", "contradiction"],
    ... )
    {'exact_match': 0.5}
"""


def normalise(text):
    """Lower-case, collapse whitespace, strip."""
    return " ".join(str(text).lower().split())


def _label_pattern(label):
    body = r"\s+".join(re.escape(part) for part in label.split(" "))
    return re.compile(r"(?<!\w)" + body + r"(?!\w)")


def extract_label(prediction, labels):
    """Return the normalised label mentioned last in ``prediction``, or None.

    ``labels`` must already be normalised.  Matches are compared by end
    position, then by length (longer wins at the same end position).
    """
    text = str(prediction).lower()
    best = None  # (end, length, label)
    for label in labels:
        for match in _label_pattern(label).finditer(text):
            key = (match.end(), match.end() - match.start(), label)
            if best is None or key[:2] > best[:2]:
                best = key
    return None if best is None else best[2]


def _label_set(labels, references):
    if labels is None:
        labels = [ref for refs in references for ref in refs]
    if isinstance(labels, str):
        raise TypeError("labels must be a list of str, not a str")
    seen = []
    for label in labels:
        norm = normalise(label)
        if norm and norm not in seen:
            seen.append(norm)
    return seen


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class LabelExactMatch(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=text_features(),
            reference_urls=["https://arxiv.org/abs/2407.12874"],
        )

    def _compute(self, predictions, references, labels=None, per_row=False):
        refs = reference_lists(references)
        label_set = _label_set(labels, refs)
        scores = []
        for prediction, example_refs in zip(predictions, refs):
            extracted = extract_label(prediction, label_set)
            scores.append(float(extracted is not None and extracted in {normalise(r) for r in example_refs}))
        return mean_score("exact_match", scores, per_row)
