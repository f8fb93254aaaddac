"""Specification of the local `evaluate` metric modules in eval/metrics/.

Every expected value below is worked out by hand in the comment next to it.
All four modules load offline (tests/conftest.py sets HF_HUB_OFFLINE and
HF_DATASETS_OFFLINE), through `load_metric(name)` or `evaluate.load(path)`.
"""

import json

import evaluate
import pytest

from cookbook_datasets.eval.metrics import METRICS, METRICS_DIR, load_metric, metric_path


@pytest.fixture(scope="module")
def exact_match():
    return load_metric("label_exact_match", keep_in_memory=True)


@pytest.fixture(scope="module")
def rouge_l():
    return load_metric("rouge_l", keep_in_memory=True)


@pytest.fixture(scope="module")
def mc_accuracy():
    return load_metric("mc_accuracy", keep_in_memory=True)


@pytest.fixture(scope="module")
def template_alignment():
    return load_metric("template_alignment", keep_in_memory=True)


NLI = ["entailment", "neutral", "contradiction"]


# --------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------


def test_metrics_tuple_names_the_module_directories():
    assert METRICS == ("label_exact_match", "rouge_l", "mc_accuracy", "template_alignment")
    for name in METRICS:
        assert metric_path(name) == METRICS_DIR / name
        assert (METRICS_DIR / name / f"{name}.py").is_file()


@pytest.mark.parametrize("name", METRICS)
def test_load_metric_returns_an_evaluation_module(name):
    metric = load_metric(name, keep_in_memory=True)
    assert isinstance(metric, evaluate.EvaluationModule)
    assert metric.name == name
    assert metric.description.strip()


def test_evaluate_load_accepts_the_directory_path(cache_dir):
    # The default (on-disk, not keep_in_memory) mode, with a throw-away cache.
    metric = evaluate.load(str(METRICS_DIR / "template_alignment"), cache_dir=cache_dir)
    assert metric.compute(predictions=["Yes."], references=["yes"]) == {
        "template_alignment": 1.0,
        "num_agree": 1,
        "num_total": 1,
    }


def test_unknown_name_lists_available_metrics_and_a_close_match():
    with pytest.raises(ValueError) as info:
        load_metric("rouge-l")
    message = str(info.value)
    assert "Did you mean 'rouge_l'?" in message
    for name in METRICS:
        assert name in message


def test_unknown_name_without_close_match_still_lists_metrics():
    with pytest.raises(ValueError, match="Available metrics: label_exact_match, rouge_l") as info:
        load_metric("bleu")
    assert "Did you mean" not in str(info.value)


# --------------------------------------------------------------------------
# label_exact_match
# --------------------------------------------------------------------------


def em(metric, prediction, reference, labels=NLI):
    refs = reference if isinstance(reference, list) else [reference]
    return metric.compute(predictions=[prediction], references=[refs], labels=labels)["exact_match"]


def test_label_found_inside_a_sentence(exact_match):
    assert em(exact_match, "The answer is entailment.", "entailment") == 1.0


def test_label_match_is_case_insensitive(exact_match):
    assert em(exact_match, "NEUTRAL", "neutral") == 1.0
    assert em(exact_match, "neutral", "Neutral") == 1.0


def test_last_label_mentioned_wins(exact_match):
    # neutral ends at 11, contradiction at 29: contradiction is extracted.
    assert em(exact_match, "not neutral but contradiction", "contradiction") == 1.0
    assert em(exact_match, "not neutral but contradiction", "neutral") == 0.0


def test_longer_label_wins_at_the_same_end_position(exact_match):
    labels = ["entailment", "not entailment"]
    # "entailment" and "not entailment" both end at the last character.
    assert em(exact_match, "The relation is not entailment.", "not entailment", labels) == 1.0
    assert em(exact_match, "The relation is not entailment.", "entailment", labels) == 0.0
    # Whitespace inside a label matches any run of whitespace.
    assert em(exact_match, "It is not\n  entailment", "not entailment", labels) == 1.0
    # Without the "not", the short label is the only match.
    assert em(exact_match, "The relation is entailment.", "entailment", labels) == 1.0


def test_no_label_mentioned_is_wrong(exact_match):
    assert em(exact_match, "I cannot tell from the text.", "neutral") == 0.0
    assert em(exact_match, "", "neutral") == 0.0


def test_labels_match_whole_words_only(exact_match):
    assert em(exact_match, "Its neutrality is clear", "neutral") == 0.0
    assert em(exact_match, "I know", "no", ["yes", "no"]) == 0.0
    assert em(exact_match, "(neutral)", "neutral") == 1.0


def test_any_acceptable_reference_counts(exact_match):
    assert em(exact_match, "Label: pos", ["positive", "pos"], ["positive", "pos", "negative"]) == 1.0


def test_label_set_defaults_to_all_reference_strings(exact_match):
    # Label set = {positive, negative}; the last one mentioned is extracted.
    result = exact_match.compute(
        predictions=["It is positive.", "Not positive, rather negative", "unclear"],
        references=[["positive"], ["positive"], ["negative"]],
    )
    assert result == {"exact_match": pytest.approx(1 / 3)}


def test_exact_match_is_the_mean_over_examples(exact_match):
    result = exact_match.compute(
        predictions=[
            "The answer is entailment.",  # entailment: right
            "neutral",  # neutral: right
            "not neutral but contradiction",  # contradiction: wrong
            "no idea",  # nothing: wrong
        ],
        references=[["entailment"], ["neutral"], ["neutral"], ["contradiction"]],
        labels=NLI,
    )
    assert result == {"exact_match": 0.5}


def test_a_single_string_reference_per_example_is_accepted(exact_match):
    result = exact_match.compute(
        predictions=["So: contradiction", "entailment"],
        references=["contradiction", "neutral"],
        labels=NLI,
    )
    assert result == {"exact_match": 0.5}


# --------------------------------------------------------------------------
# rouge_l
# --------------------------------------------------------------------------


def rl(metric, prediction, references):
    return metric.compute(predictions=[prediction], references=[references])["rougeL"]


def test_identical_texts_score_one(rouge_l):
    assert rl(rouge_l, "the cat sat on the mat", ["the cat sat on the mat"]) == 1.0


def test_case_and_punctuation_are_ignored(rouge_l):
    assert rl(rouge_l, "The cat sat.", ["the cat, sat"]) == 1.0
    # Punctuation splits words: "state-of-the-art" -> state of the art.
    assert rl(rouge_l, "state-of-the-art", ["State of the art!"]) == 1.0


def test_disjoint_texts_score_zero(rouge_l):
    assert rl(rouge_l, "apples and pears", ["quantum field theory"]) == 0.0


def test_empty_prediction_scores_zero(rouge_l):
    assert rl(rouge_l, "", ["the cat"]) == 0.0


def test_worked_lcs_example(rouge_l):
    # pred: the quick brown fox jumps       (5 tokens)
    # ref:  the brown dog jumps high today  (6 tokens)
    # LCS = "the brown jumps" = 3; P = 3/5, R = 3/6 = 1/2
    # F = 2 * 3/5 * 1/2 / (3/5 + 1/2) = (3/5) / (11/10) = 6/11
    score = rl(rouge_l, "the quick brown fox jumps", ["the brown dog jumps high today"])
    assert score == pytest.approx(6 / 11)


def test_lcs_is_a_subsequence_not_a_substring(rouge_l):
    # pred: a b c d (4), ref: a x b y c (5): LCS = a b c = 3
    # P = 3/4, R = 3/5, F = 2 * 9/20 / (27/20) = 2/3
    assert rl(rouge_l, "a b c d", ["a x b y c"]) == pytest.approx(2 / 3)


def test_best_reference_counts(rouge_l):
    refs = ["completely unrelated words", "the brown dog jumps high today"]
    assert rl(rouge_l, "the quick brown fox jumps", refs) == pytest.approx(6 / 11)
    assert rl(rouge_l, "the quick brown fox jumps", refs[::-1]) == pytest.approx(6 / 11)


def test_rouge_l_is_the_mean_over_examples(rouge_l):
    result = rouge_l.compute(
        predictions=["the cat sat", "apples and pears", "the quick brown fox jumps"],
        references=[["The cat sat."], ["quantum theory"], ["the brown dog jumps high today"]],
    )
    # (1 + 0 + 6/11) / 3 = 17/33
    assert result == {"rougeL": pytest.approx(17 / 33)}


def test_rouge_l_accepts_a_single_string_reference(rouge_l):
    result = rouge_l.compute(predictions=["a b c d"], references=["a x b y c"])
    assert result == {"rougeL": pytest.approx(2 / 3)}


# --------------------------------------------------------------------------
# mc_accuracy
# --------------------------------------------------------------------------


def test_acc_and_acc_norm_differ_when_length_matters(mc_accuracy):
    result = mc_accuracy.compute(
        loglikelihoods=[[-12.0, -4.0], [-3.0, -10.0]],
        label=[0, 0],
        choice_lengths=[[40, 4], [2, 40]],
    )
    # Example 1: gold is the long choice 0.  Raw argmax = 1 (-4 > -12): wrong;
    #   normalised -12/40 = -0.3 > -4/4 = -1: argmax 0, right.
    # Example 2: gold is the short choice 0.  Raw argmax = 0 (-3 > -10): right;
    #   normalised -3/2 = -1.5 < -10/40 = -0.25: argmax 1, wrong.
    assert result == {"acc": 0.5, "acc_norm": 0.5}
    first = mc_accuracy.compute(loglikelihoods=[[-12.0, -4.0]], label=[0], choice_lengths=[[40, 4]])
    assert first == {"acc": 0.0, "acc_norm": 1.0}
    second = mc_accuracy.compute(loglikelihoods=[[-3.0, -10.0]], label=[0], choice_lengths=[[2, 40]])
    assert second == {"acc": 1.0, "acc_norm": 0.0}


def test_acc_norm_counts_a_choice_without_its_delimiter(mc_accuracy, tmp_path):
    # lm-evaluation-harness divides by len(choice); the " " that joins a choice to its context is no
    # part of it. Choices "ab" and "abc" are scored as " ab" and " abc": lengths 2 and 3, not 3 and 4.
    from cookbook_datasets.eval.prompts import choice_lengths, loglik_requests
    from cookbook_datasets.tasks import load_multiple_choice

    path = tmp_path / "arc_easy.jsonl"
    path.write_text(json.dumps({"question": "Which?", "choices": ["ab", "abc"], "label": 1}))
    task = load_multiple_choice(path)
    assert [c for _, c in loglik_requests(task)[0]] == [" ab", " abc"]
    assert choice_lengths(task) == [[2, 3]]
    # Without the delimiter: -2/2 = -1.0 < -2.9/3 = -0.967, so choice 1 (gold) wins acc_norm;
    # counting it would give -2/3 = -0.667 > -2.9/4 = -0.725 and pick choice 0.
    result = mc_accuracy.compute(loglikelihoods=[[-2.0, -2.9]], label=[1], choice_lengths=choice_lengths(task))
    assert result == {"acc": 0.0, "acc_norm": 1.0}
    assert mc_accuracy.compute(loglikelihoods=[[-2.0, -2.9]], label=[1], choice_lengths=[[3, 4]])["acc_norm"] == 0.0
    # winogrande's partial scoring: the choices are the contexts with the blank filled in
    path = tmp_path / "winogrande.jsonl"
    path.write_text(json.dumps({"question": "Ann gave Bo a gift because _ was kind.", "choices": ["Ann", "Bo"],
                                "label": 0}))
    assert choice_lengths(load_multiple_choice(path)) == [[len("Ann gave Bo a gift because Ann"),
                                                           len("Ann gave Bo a gift because Bo")]]


def test_acc_norm_equals_acc_without_choice_lengths(mc_accuracy):
    result = mc_accuracy.compute(
        loglikelihoods=[[-12.0, -4.0], [-3.0, -10.0], [-1.0, -0.5, -2.0]],
        label=[0, 0, 1],
    )
    # argmaxes 1, 0, 1 against labels 0, 0, 1: 2 of 3 right.
    assert result == {"acc": pytest.approx(2 / 3), "acc_norm": pytest.approx(2 / 3)}


def test_ties_go_to_the_first_maximum(mc_accuracy):
    assert mc_accuracy.compute(loglikelihoods=[[-1.0, -1.0]], label=[0]) == {"acc": 1.0, "acc_norm": 1.0}
    assert mc_accuracy.compute(loglikelihoods=[[-1.0, -1.0]], label=[1]) == {"acc": 0.0, "acc_norm": 0.0}
    # Normalised tie: -2/2 == -4/4, so choice 0 wins acc_norm.
    result = mc_accuracy.compute(loglikelihoods=[[-2.0, -4.0]], label=[1], choice_lengths=[[2, 4]])
    assert result == {"acc": 0.0, "acc_norm": 0.0}


def test_incremental_add_and_add_batch(mc_accuracy):
    mc_accuracy.add(loglikelihoods=[-1.0, -2.0], label=0)  # no lengths: acc = acc_norm = 1
    mc_accuracy.add_batch(loglikelihoods=[[-12.0, -4.0]], label=[0], choice_lengths=[[40, 4]])  # 0, 1
    assert mc_accuracy.compute() == {"acc": 0.5, "acc_norm": 1.0}


def test_mc_accuracy_rejects_inconsistent_inputs(mc_accuracy):
    with pytest.raises(ValueError, match="out of range"):
        mc_accuracy.compute(loglikelihoods=[[-1.0, -2.0]], label=[2])
    with pytest.raises(ValueError, match="choice_lengths"):
        mc_accuracy.compute(loglikelihoods=[[-1.0, -2.0]], label=[0], choice_lengths=[[3]])


# --------------------------------------------------------------------------
# template_alignment
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "prediction, reference, agree",
    [
        ("yes", "yes", True),
        ("Yes.", "yes", True),  # case and trailing punctuation
        ("yes, because it is raining", "yes", True),  # reference then a non-word char
        ("Yes\nThe text says so.", "yes", True),  # reference is the first line
        ('"Positive"', "positive", True),  # surrounding quotes
        ("  The   Answer:  B ", "the answer: b", True),  # whitespace collapsed
        ("yesterday", "yes", False),  # reference followed by a word char
        ("yes_no", "yes", False),  # "_" is a word char
        ("no, yes", "yes", False),  # reference not at the start
        ("", "yes", False),
        ("", "...", True),  # both normalise to ""
        ("anything", "", False),  # an empty reference agrees only with an empty prediction
    ],
)
def test_template_alignment_cases(template_alignment, prediction, reference, agree):
    result = template_alignment.compute(predictions=[prediction], references=[reference])
    assert result == {
        "template_alignment": 1.0 if agree else 0.0,
        "num_agree": int(agree),
        "num_total": 1,
    }


def test_template_alignment_counts(template_alignment):
    result = template_alignment.compute(
        predictions=["Yes.", "yes, because ...", "yesterday", "No"],
        references=["yes", "yes", "yes", "yes"],
    )
    assert result == {"template_alignment": 0.5, "num_agree": 2, "num_total": 4}
