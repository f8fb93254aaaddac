"""Specification of the template contract, checked for every registered template.

A template draws JSON-serialisable inputs from random tokens, its pure ``rule`` recomputes the
output from those inputs alone, and ``sample`` prefixes the rendered inputs with one of its
instruction phrasings. Items are seeded by (seed, template, split, index), so an index always
gives the same sample, and different indices practically never give the same prompt.
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from dataclasses import fields

import pytest

from cookbook_datasets.templates import (
    FAMILIES,
    UnknownTemplateError,
    get_template,
    get_template_class,
    list_templates,
)

N = 2000
TEMPLATES = list_templates()

# Templates answering with a label, and the labels they use. Any template whose outputs are a
# handful of strings is treated as a label template (see test_labels_are_balanced).
LABEL_SETS = {
    "entity_matching": {"yes", "no"},
    "nli": {"entailment", "neutral", "contradiction"},
    "paraphrase_detection": {"yes", "no"},
    "yes_no_qa": {"yes", "no"},
}


@functools.lru_cache(maxsize=None)
def samples(name: str):
    return get_template(name).sample_rows(range(N))


def range_params(name: str):
    return [(f.name, f.metadata["range"]) for f in fields(get_template_class(name))
            if "range" in f.metadata]


# -- the registry ------------------------------------------------------------------------------
def test_at_least_16_templates_cover_every_family():
    assert len(TEMPLATES) >= 16
    assert {get_template_class(n).family for n in TEMPLATES} == set(FAMILIES)
    for family in FAMILIES:
        assert list_templates(family), family


def test_unknown_name_lists_the_valid_names():
    with pytest.raises(UnknownTemplateError) as err:
        get_template("nonexistent_name")
    assert isinstance(err.value, ValueError)
    for name in TEMPLATES:
        assert name in str(err.value)


def test_misspelt_name_suggests_the_close_one():
    with pytest.raises(ValueError, match=r"Did you mean 'document_qa'\?"):
        get_template("documnt_qa")


def test_unknown_parameter_is_rejected():
    with pytest.raises(ValueError, match="no_such_param"):
        get_template("document_qa", no_such_param=1)


# -- every template ---------------------------------------------------------------------------
@pytest.mark.parametrize("name", TEMPLATES)
def test_metadata(name):
    cls = get_template_class(name)
    assert cls.name == name
    assert cls.family in FAMILIES
    assert cls.description and "\n" not in cls.description
    assert 3 <= len(cls.instructions) <= 5
    assert len(set(cls.instructions)) == len(cls.instructions)


@pytest.mark.parametrize("name", TEMPLATES)
def test_rule_recomputes_the_output_from_json_inputs(name):
    template = get_template(name)
    for row in samples(name):  # inputs and output come back from the row's JSON meta
        assert template.rule(row["inputs"]) == row["output"]
        assert row["completion"] == template.format_output(row["output"])
        assert isinstance(row["output"], (str, int, list))


@pytest.mark.parametrize("name", TEMPLATES)
def test_prompt_is_an_instruction_then_the_rendered_inputs(name):
    cls = get_template_class(name)
    instructions = get_template(name).instruction_texts()  # the patterns, with default words
    seen = set()
    for row in samples(name)[:200]:
        instruction, body = row["prompt"].split("\n\n", 1)
        assert instruction in instructions
        if not cls.vectorized():  # vectorised templates render with render_batch only
            assert body == get_template(name).render(row["inputs"])
        seen.add(instruction)
    assert len(seen) == len(cls.instructions)


@pytest.mark.parametrize("name", TEMPLATES)
def test_same_index_same_sample_and_prompts_distinct(name):
    drawn = samples(name)
    for i in (0, 1, 7, N - 1):
        assert get_template(name).sample_rows([i]) == [drawn[i]]
    assert get_template(name).sample_rows(range(1500, 1510)) == drawn[1500:1510]  # batch-independent
    assert len({s["prompt"] for s in drawn}) == N


@pytest.mark.parametrize("name", TEMPLATES)
def test_labels_are_balanced(name):
    outputs = [s["completion"] for s in samples(name)]
    counts = Counter(outputs)
    is_label = all(isinstance(s["output"], str) for s in samples(name)) and len(counts) <= 4
    assert is_label == (name in LABEL_SETS)
    if not is_label:
        return
    assert set(counts) == LABEL_SETS[name]
    for label, count in counts.items():
        assert count >= 0.2 * N, (label, count)


@pytest.mark.parametrize("name", TEMPLATES)
def test_range_parameters_reject_values_outside_their_range(name):
    for param, (lo, hi) in range_params(name):
        for bad in (lo - 1, hi + 1):
            with pytest.raises(ValueError, match=re.escape(repr(param))):
                get_template(name, **{param: bad})


@pytest.mark.parametrize("name, params, named", [
    ("document_qa", {"doc_length": 8, "question_length": 5, "answer_length": 4},
     ["question_length", "answer_length", "doc_length"]),
    ("multiple_choice_qa", {"question_length": 4, "option_length": 5},
     ["option_length", "question_length"]),
    ("entity_disambiguation", {"context_length": 4, "description_length": 4},
     ["description_length", "context_length"]),
    ("shared_words", {"first_length": 3, "max_shared": 4}, ["max_shared", "first_length"]),
    ("nli", {"premise_length": 3, "hypothesis_length": 4}, ["hypothesis_length", "premise_length"]),
    ("yes_no_qa", {"passage_length": 3, "phrase_length": 4}, ["phrase_length", "passage_length"]),
    ("continuation_choice", {"context_length": 4, "tail_length": 5},
     ["tail_length", "context_length"]),
    ("fill_blank", {"sentence_length": 5, "max_count": 3}, ["max_count", "sentence_length"]),
    ("keyword_extraction", {"doc_length": 20, "top_k": 3, "max_count": 5},
     ["top_k", "max_count", "doc_length"]),
    ("count_word", {"length": 4, "max_count": 5}, ["max_count", "length"]),
    ("reverse_words", {"min_length": 9, "max_length": 8}, ["min_length", "max_length"]),
    ("sort_words", {"min_length": 9, "max_length": 8}, ["min_length", "max_length"]),
    ("dedupe_words", {"min_length": 9, "max_length": 8}, ["min_length", "max_length"]),
    ("position_lookup", {"min_length": 9, "max_length": 8}, ["min_length", "max_length"]),
])
def test_inconsistent_parameters_are_rejected_by_name(name, params, named):
    with pytest.raises(ValueError) as err:
        get_template(name, **params)
    for param in named:
        assert param in str(err.value)


@pytest.mark.parametrize("name", TEMPLATES)
def test_non_default_parameters_still_satisfy_the_rule(name):
    """The smallest valid value of every range parameter (others at default, where consistent)."""
    for param, (lo, _) in range_params(name):
        try:
            template = get_template(name, **{param: lo})
        except ValueError:
            continue  # inconsistent with another parameter's default
        for row in template.sample_rows(range(50), seed=1, split=param):
            assert template.rule(row["inputs"]) == row["output"]


# -- hand-checked rules -----------------------------------------------------------------------
def rule(name, **inputs):
    return get_template(name).rule(inputs)


def test_shared_words_rule():
    assert rule("shared_words", first="b a c a d".split(), second="d x a y".split()) == ["a", "d"]
    assert rule("shared_words", first="a b".split(), second="c d".split()) == []
    assert rule("shared_words", first="z z y".split(), second="y z".split()) == ["z", "y"]


def test_nli_rule():
    premise = "a b c d e".split()
    assert rule("nli", premise=premise, hypothesis=["c", "a"]) == "entailment"
    assert rule("nli", premise=premise, hypothesis=["c", "x"]) == "neutral"
    assert rule("nli", premise=premise, hypothesis=["x", "y"]) == "contradiction"


def test_keyword_extraction_rule():
    doc = "q b a b c a d b a e c".split()  # b: 3, a: 3 (b first), c: 2, others 1
    assert rule("keyword_extraction", document=doc, top_k=2) == ["b", "a"]
    assert rule("keyword_extraction", document=doc, top_k=3) == ["b", "a", "c"]
    assert rule("keyword_extraction", document=doc, top_k=4) == ["b", "a", "c", "q"]


def test_count_word_rule():
    assert rule("count_word", sequence="a b a c a".split(), target="a") == 3
    assert rule("count_word", sequence="a b a c a".split(), target="z") == 0


def test_fill_blank_rule():
    sentence = "x a _ b a y b a".split()  # a: 3, b: 2
    assert rule("fill_blank", sentence=sentence, options=["b", "a"]) == "a"
    assert rule("fill_blank", sentence="x _ y q".split(), options=["q", "z"]) == "q"


def test_entity_matching_rule():
    # Jaccard 2 / 4 = 50%.
    a, b = "p q r".split(), "q r s".split()
    assert rule("entity_matching", record_a=a, record_b=b, threshold=50) == "yes"
    assert rule("entity_matching", record_a=a, record_b=b, threshold=51) == "no"


def test_yes_no_qa_rule():
    passage = "a b c d e".split()
    assert rule("yes_no_qa", passage=passage, phrase=["b", "c", "d"]) == "yes"
    assert rule("yes_no_qa", passage=passage, phrase=["b", "d"]) == "no"
    assert rule("yes_no_qa", passage=passage, phrase=["c", "b"]) == "no"


def test_paraphrase_detection_rule():
    assert rule("paraphrase_detection", first="a b a c".split(), second="c a b a".split()) == "yes"
    assert rule("paraphrase_detection", first="a b a c".split(), second="c a b b".split()) == "no"
    assert rule("paraphrase_detection", first="a b a c".split(), second="c a b".split()) == "no"


def test_entity_disambiguation_rule():
    context = "m x y z w".split()
    assert rule("entity_disambiguation", context=context, mention="m", names=["n1", "n2"],
                descriptions=[["x", "q"], ["y", "z"]]) == "n2"


def test_continuation_choice_rule():
    # Only the last 2 context words (d, e) count: the second ending wins despite sharing fewer
    # context words overall.
    assert rule("continuation_choice", context="a b c d e".split(), tail_length=2,
                endings=[["a", "b", "c"], ["e", "x", "y"]]) == ["e", "x", "y"]


def test_transform_rules():
    seq = "d b a b c".split()
    assert rule("reverse_words", sequence=seq) == "c b a b d".split()
    assert rule("sort_words", sequence=seq) == "a b b c d".split()
    assert rule("dedupe_words", sequence=seq) == "d b a c".split()


def test_position_lookup_rule():
    assert rule("position_lookup", sequence="a b c".split(), position=1) == "a"
    assert rule("position_lookup", sequence="a b c".split(), position=3) == "c"


def test_rhyme_rule():
    assert rule("rhyme", line="kabo lime tosa".split(), options=["pomi", "ruza", "lesa"]) == "lesa"


def test_list_outputs_are_joined_with_spaces():
    template = get_template("reverse_words")
    assert template.format_output(["a", "b"]) == "a b"
    assert get_template("count_word").format_output(3) == "3"
