"""Field detection (tasks/fields.py) and code labels (tasks/label_codes.py) on formats written
for these tests: no task's markers are listed anywhere in the code."""

import json
import random

import pytest

from cookbook_datasets.cli import main
from cookbook_datasets.mixing import MixLearnConfig
from cookbook_datasets.mixing.signals import compute_signals
from cookbook_datasets.tasks import load_task, split_fit_eval
from cookbook_datasets.tasks.fields import FieldMappingError, detect_layout, normal_name, parse_field_map
from cookbook_datasets.tasks.label_codes import label_meanings

WORDS = ("amber basalt cobalt dune ember fjord glacier heron iris juniper kelp lagoon mesa nectar opal prairie "
         "quartz reef sable tundra").split()


def _pair(rng):
    """(premise, hypothesis, NLI role) whose role follows the word-overlap rule."""
    premise = rng.sample(WORDS, 7)
    role = rng.choice(["entailment", "neutral", "contradiction"])
    inside = {"entailment": 3, "neutral": 1, "contradiction": 0}[role]
    hyp = rng.sample(premise, inside) + rng.sample([w for w in WORDS if w not in premise], 3 - inside)
    return " ".join(premise) + ".", " ".join(hyp) + ".", role


# -- made-up formats: (input given premise p and hypothesis h, definition) ---------------------------
FORMATS = {
    "snake_case": (lambda p, h: f"Sentence_A: {p}\nSentence_B: {h}", "Decide how the two sentences relate."),
    "shouting": (lambda p, h: f"SENTENCE 1 : {p} SENTENCE 2 : {h}", "Classify the pair."),
    "glued_index": (lambda p, h: f"Text1: {p} Text2: {h}", "Label the texts."),
    "bracketed_index": (lambda p, h: f"Sentence (1): {p}\nSentence (2): {h}", "Relate the sentences."),
    "square_letters": (lambda p, h: f"Text [A]: {p} Text [B]: {h}", "Relate the texts."),
    "hash_index": (lambda p, h: f"Statement #1: {p} | Statement #2: {h}", "Compare the statements."),
    "definition_order": (lambda p, h: f"Alpha: {h}\nBeta: {p}",
                         "You get a hypothesis and a premise; say whether the premise supports it."),
    "plain_order": (lambda p, h: f"Claimant: {p}\n  rejoinder: {h}", "Does the rejoinder follow?"),
    "no_names_sep": (lambda p, h: f"{p} ||| {h}", "Two sentences, separated by '|||', are given."),
    "no_names_lines": (lambda p, h: f"{p}\n{h}", "The first line is a premise, the second a hypothesis."),
}


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_the_pair_is_found_in_formats_no_one_listed(fmt):
    make, definition = FORMATS[fmt]
    rng = random.Random(7)
    pairs = [_pair(rng) for _ in range(6)]
    texts = [make(p, h) for p, h, _ in pairs]
    layout = detect_layout(texts, definition)
    for text, (p, h, _) in zip(texts, pairs):
        example = layout.parse(text)
        assert (example["premise"], example["hypothesis"]) == (p, h), layout.describe()
        assert (example["sentence1"], example["sentence2"]) == (p, h)  # one example serves both kinds


def test_names_compare_by_their_normal_form_and_how_each_role_was_filled_is_recorded():
    assert normal_name("Sentence_A") == "sentence a" and normal_name("Text1") == "text 1"
    assert normal_name(" SENTENCE  2 ") == "sentence 2" and normal_name("hypo-thesis") == "hypo thesis"
    assert normal_name("Sentence (2)") == normal_name("Sentence [2]") == normal_name("Sentence #2") == "sentence 2"
    rng = random.Random(1)
    texts = [FORMATS["definition_order"][0](*_pair(rng)[:2]) for _ in range(4)]
    d = detect_layout(texts, FORMATS["definition_order"][1]).describe()
    assert d["fields"] == ["Alpha", "Beta"]
    assert d["roles"]["premise"] == "Beta" and d["how"]["premise"] == "definition order"
    d = detect_layout([FORMATS["shouting"][0]("a b.", "c d.")] * 3).describe()
    assert d["how"]["sentence1"] == "numbered names" and d["how"]["premise"] == "same text as sentence1"


def test_a_question_an_options_field_and_a_mid_line_colon():
    texts = [f"Story: {w} walked to the {w}s.\nAsk: Where did {w} walk?" for w in WORDS[:4]]
    layout = detect_layout(texts)
    e = layout.parse(texts[0])
    assert (e["passage"], e["question"]) == ("amber walked to the ambers.", "Where did amber walk?")
    assert layout.how["question"] == "values end with ?" and layout.how["passage"] == "the field beside the question"
    texts = [f"Given: {w} has a lamp. Pick one: (A) {w} owns a lamp (B) it snowed (C) nothing" for w in WORDS[:3]]
    e = detect_layout(texts).parse(texts[0])
    assert e["choices"] == ["amber owns a lamp", "it snowed", "nothing"] and e["question"] == "amber has a lamp."
    texts = [f"Part 1: we learned a hard truth: {w} left. Part 2: {w} stayed." for w in WORDS[:3]]
    e = detect_layout(texts).parse(texts[0])
    assert e["sentence1"] == "we learned a hard truth: amber left."  # "truth:" mid-line, lower case: text


def test_three_unexplained_fields_are_resolved_only_by_the_users_mapping():
    texts = [f"Origin: {a} {b} {c}\nRemark: filler words here\nTarget: {b} {c}" for a, b, c in
             zip(WORDS, WORDS[3:], WORDS[6:10])]
    guessed = detect_layout(texts, "Relate the texts.")
    assert "premise" not in guessed.roles and "--field" in guessed.notes[0]
    mapped = detect_layout(texts, "Relate the texts.", {"premise": "Origin", "hypothesis": "target"})
    e = mapped.parse(texts[0])
    assert (e["premise"], e["hypothesis"]) == ("amber dune glacier", "dune glacier")
    assert mapped.how == {"premise": "user", "hypothesis": "user"} and mapped.describe()["unassigned"] == ["Remark"]


def test_a_bad_mapping_names_the_role_or_the_field_and_what_is_allowed(tmp_path):
    with pytest.raises(FieldMappingError, match="unknown role 'premis'; roles are premise, hypothesis"):
        parse_field_map(["premis=Origin"])
    with pytest.raises(FieldMappingError, match="expected ROLE=NAME"):
        parse_field_map(["Origin"])
    with pytest.raises(FieldMappingError, match="no field 'Nope' in its inputs; fields found: Origin, Target"):
        detect_layout(["Origin: a b\nTarget: b"] * 2, field_map={"premise": "Nope"}, task="t")
    with pytest.raises(ValueError, match="unknown role 'topic'"):
        MixLearnConfig(tasks=["x.json"], out=str(tmp_path), fields={"topic": "Origin"})
    path = _task(tmp_path / "toy_origin.json", lambda p, h: f"Origin: {p}\nRemark: words\nTarget: {h}")
    assert main(["mix", "signals", "--tasks", str(path), "--no-model", "--templates", "nli", "--field",
                 "premise=Source", "--fit-size", "10", "--eval-size", "5", "--out", str(tmp_path / "s")]) == 2


def _task(path, make, n=40, labels=None, definition="Answer with the label.", demos=3, seed=3):
    rng = random.Random(seed)
    labels = labels or {"entailment": "entailment", "neutral": "neutral", "contradiction": "contradiction"}

    def item():
        p, h, role = _pair(rng)
        return {"input": make(p, h), "output": [labels[role]]}

    data = {"Definition": [definition], "Positive Examples": [{**item(), "output": item()["output"][0]}
                                                              for _ in range(demos)],
            "Instances": [{"id": str(i), **item()} for i in range(n)]}
    path.write_text(json.dumps(data))
    return path


def test_mix_signals_reaches_a_field_only_the_user_can_place_and_prints_the_fields(tmp_path, capsys):
    path = _task(tmp_path / "toy_origin.json", lambda p, h: f"Origin: {p}\nRemark: words\nTarget: {h}")
    args = ["mix", "signals", "--tasks", str(path), "--templates", "nli", "--no-model", "--fit-size", "20",
            "--eval-size", "5", "--out", str(tmp_path / "s")]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "No template maps to: toy_origin" in out and "--field ROLE=NAME" in out
    assert main(args + ["--field", "premise=Origin", "--field", "hypothesis=Target"]) == 0
    out = capsys.readouterr().out
    assert "No template maps to" not in out
    assert "premise = Origin (user); hypothesis = Target (user)" in out
    row = next(line for line in out.splitlines() if line.startswith("nli") and "toy_origin" in line)
    assert float(row.split()[2]) == 1.0  # the rule solves the task once it reads the right fields


# -- code labels ------------------------------------------------------------------------------------
NLI = ("entailment", "neutral", "contradiction")


def test_code_labels_take_their_roles_from_the_definition():
    d = "Reply '1' when the first text entails the second one, otherwise reply '0'."
    assert label_meanings(d, ["0", "1"], NLI) == {"1": ["entailment"], "0": ["neutral", "contradiction"]}
    assert label_meanings(d, ["0", "1"], ("yes", "no")) == {"1": ["yes"], "0": ["no"]}
    d = "Write P (supported), Q (opposed) or R (unrelated)."
    assert label_meanings(d, ["P", "Q", "R"], NLI) == {"P": ["entailment"], "Q": ["contradiction"],
                                                       "R": ["neutral"]}
    d = 'Output "2" if the texts contradict, "1" if they agree and "0" if neither holds.'
    assert label_meanings(d, ["0", "1", "2"], NLI) == {"2": ["contradiction"], "1": ["entailment"],
                                                       "0": ["neutral"]}
    assert label_meanings("Classify the pair.", ["0", "1"], NLI) == {}
    d = "Answer 'plus' or 'minus' if the note strengthens or weakens the claim, respectively."
    assert label_meanings(d, ["minus", "plus"], NLI) == {"plus": ["entailment"], "minus": ["contradiction"]}
    assert label_meanings(d, ["minus", "plus"], ("yes", "no")) == {"plus": ["yes"], "minus": ["no"]}
    d = "The texts agree, disagree or neither. Reply X or Y respectively."  # 3 meanings, 2 labels: no guess
    assert label_meanings(d, ["X", "Y"], NLI) == {}
    # the list names a code the label set lacks (E): its meaning still takes its place in the pairing
    d = ("Choose whether they agree (entailment)/disagree (contradiction), or if this cannot be determined "
         "(neutral). Answer E, C, and N respectively.")
    assert label_meanings(d, ["C", "N"], NLI) == {"C": ["contradiction"], "N": ["neutral"]}
    assert label_meanings(d, ["C", "N"], ("yes", "no")) == {}  # three items, two meanings: no guess
    assert label_meanings("They agree or disagree. Answer Y or Z respectively.", ["Y", "Z"], ("yes", "no")) == {
        "Y": ["yes"], "Z": ["no"]}


def test_without_labels_or_demonstrations_codes_still_map_to_the_templates_roles(tmp_path):
    codes = {"entailment": "P", "neutral": "R", "contradiction": "Q"}
    path = _task(tmp_path / "toy_codes.json", FORMATS["glued_index"][0], labels=codes, demos=0,
                 definition="Write P (supported), Q (opposed) or R (unrelated).")
    fit, _ = split_fit_eval(load_task(path), 30, 5)
    signals, _ = compute_signals({fit.name: fit}, ["nli"], use_labels=False)
    assert signals.components["nli[P/R/Q]"]["label_words"] == ["P", "R", "Q"]  # entailment, neutral, contradiction
    assert signals.label_codes["toy_codes"]["entailment/neutral/contradiction"]["Q"] == ["contradiction"]
    fit_signals, _ = compute_signals({fit.name: fit}, ["nli"], use_labels=True)
    assert fit_signals.rule_accuracy["nli[P/R/Q]"]["toy_codes"] == 1.0
    assert signals.fields["toy_codes"]["roles"]["premise"] == "Text1"
