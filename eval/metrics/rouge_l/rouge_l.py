"""ROUGE-L F-measure on tokens, without the rouge_score dependency.

Tokenisation
    Lower-case the text, replace every character that is not a letter, digit
    or whitespace (i.e. punctuation, symbols and "_") by a space, then split on
    whitespace.  So "Don't stop!" -> ["don", "t", "stop"] and "state-of-the-art"
    -> ["state", "of", "the", "art"] (the same treatment as rouge_score's
    default tokenizer, but Unicode-aware and with no stemming).

Score of one prediction against one reference
    LCS = length of the longest common subsequence of the two token lists
    (dynamic programme, O(n*m));
    precision = LCS / len(prediction tokens), recall = LCS / len(reference
    tokens), F = 2 * P * R / (P + R) (beta = 1).  F is 0.0 when LCS is 0 or
    either side has no tokens.

Aggregate
    Per example the best F over its references; ``rougeL`` is the mean over
    examples, in [0, 1].  (evaluate 0.4.6 itself rejects an empty batch for
    this module, whose features come in two forms.)
"""

import re

import evaluate

from cookbook_datasets.eval.metrics import mean_score, reference_lists, text_features


_DESCRIPTION = __doc__

_CITATION = """\
@inproceedings{lin-2004-rouge,
  title = "{ROUGE}: A Package for Automatic Evaluation of Summaries",
  author = "Lin, Chin-Yew",
  booktitle = "Text Summarization Branches Out",
  year = "2004",
  publisher = "Association for Computational Linguistics",
  url = "https://aclanthology.org/W04-1013",
  pages = "74--81",
}
"""

_KWARGS_DESCRIPTION = """
Args:
    predictions (`list` of `str`): generated texts.
    references (`list` of `list` of `str`): the reference texts of each example
        (a single `str` per example is accepted too); the best one counts.
    per_row (`bool`, optional): also return ``per_row = {"rougeL": [best F per
        example]}``.
Returns:
    rougeL (`float`): mean over examples of the best ROUGE-L F-measure, in [0, 1].
Examples:
    >>> metric = evaluate.load("eval/metrics/rouge_l")
    >>> metric.compute(predictions=["the cat sat"], references=[["The cat sat."]])
    {'rougeL': 1.0}
"""

_NON_WORD = re.compile(r"[^\w\s]|_")


def tokenize(text):
    """Lower-case, punctuation/symbols/underscore -> space, split on whitespace."""
    return _NON_WORD.sub(" ", str(text).lower()).split()


def lcs_length(a, b):
    """Length of the longest common subsequence of two sequences (DP, O(n*m))."""
    if len(a) < len(b):
        a, b = b, a
    previous = [0] * (len(b) + 1)
    for x in a:
        current = [0]
        for j, y in enumerate(b):
            if x == y:
                current.append(previous[j] + 1)
            else:
                current.append(max(previous[j + 1], current[j]))
        previous = current
    return previous[-1]


def rouge_l_f(prediction, reference):
    """ROUGE-L F-measure (beta = 1) of two strings."""
    pred_tokens = tokenize(prediction)
    ref_tokens = tokenize(reference)
    if not pred_tokens or not ref_tokens:
        return 0.0
    lcs = lcs_length(pred_tokens, ref_tokens)
    if lcs == 0:
        return 0.0
    precision = lcs / len(pred_tokens)
    recall = lcs / len(ref_tokens)
    return 2 * precision * recall / (precision + recall)


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class RougeL(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=text_features(),
            reference_urls=["https://aclanthology.org/W04-1013"],
        )

    def _compute(self, predictions, references, per_row=False):
        scores = [max((rouge_l_f(prediction, ref) for ref in refs), default=0.0)
                  for prediction, refs in zip(predictions, reference_lists(references))]
        return mean_score("rougeL", scores, per_row)
