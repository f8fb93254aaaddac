"""Templates in a real task's language, and their rules on real task inputs.

Label templates take ``label_words`` (one word per role of ``label_roles``) and choice templates
``answer_format`` (text, letter or number); both change the completions and the instruction texts,
never the drawn inputs. ``from_task_example`` maps a real example (named text fields, as
``Task.field_examples`` reads them) into the rule's inputs and ``predict`` writes the rule's
answer as the template's completion would. The defaults reproduce the data made before these
parameters existed, byte for byte.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

import cookbook_datasets
from cookbook_datasets.cli import main
from cookbook_datasets.tasks import load_task_file, load_tasks
from cookbook_datasets.tasks.fields import detect_layout, split_options
from cookbook_datasets.templates import get_template, get_template_class, list_templates
from cookbook_datasets.templates.base import LETTERS
from cookbook_datasets.templates.real_text import STOPWORDS, content_words

LABEL_TEMPLATES = {
    "nli": ("entailment", "neutral", "contradiction"),
    "yes_no_qa": ("yes", "no"),
    "paraphrase_detection": ("yes", "no"),
    "entity_matching": ("yes", "no"),
}
CHOICE_TEMPLATES = {"multiple_choice_qa": "options", "continuation_choice": "endings", "fill_blank": "options"}
MAPPED = ("nli", "yes_no_qa", "paraphrase_detection", "entity_matching", "multiple_choice_qa",
          "continuation_choice", "shared_words")

# sha256 of json.dumps(template.sample_rows(range(1000), seed=3)) with default parameters,
# recorded before label_words / answer_format existed.
BEFORE_HASHES = {
    "continuation_choice": "eb7f04e6732d6de2387cc983ef4e5f22c9c196179a32684b6d284e9b502ffeb6",
    "entity_matching": "da71311af27cbbaf7460ac9e53f1f476ed89090cab48d89cd69e1e871f7e83ea",
    "fill_blank": "04d3bf858bf095017ac00a9abc25f9d2944de59ff2d887c46ad94f9319a65b6c",
    "multiple_choice_qa": "0529b1006b1334d390978dca5317c8b48c2dd4a77bbbaa939d17eaeaa92de8e6",
    "nli": "bde7b9a19f5707dfc46e8dfc96dd75432c7511fc7a54f0790ae0519a7aee95c3",
    "paraphrase_detection": "59168db6ad821db44308678727bfea68759993425bcc9dfc7d80722924ad088d",
    "shared_words": "0e82fa5c40ee731145b70d8870265248d3119e875c1aa4c913aa60d383c24a0a",
    "yes_no_qa": "5e3e6e76a6964559efa34055ccc5e93798c5722e3e072c1018334267ae340f8a",
}


def rows_hash(name):
    rows = get_template(name).sample_rows(range(1000), seed=3, split="train")
    return hashlib.sha256(json.dumps(rows).encode()).hexdigest()


# -- defaults ---------------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(set(LABEL_TEMPLATES) | set(CHOICE_TEMPLATES) | {"shared_words"}))
def test_defaults_reproduce_the_data_made_before(name):
    assert rows_hash(name) == BEFORE_HASHES[name]


def test_default_nli_rows_as_recorded():
    rows = get_template("nli").sample_rows(range(6), seed=0)
    assert [r["completion"] for r in rows] == ["contradiction", "neutral", "contradiction",
                                              "contradiction", "entailment", "contradiction"]
    assert rows[0]["prompt"].startswith("Does the premise support the hypothesis? Answer entailment "
                                        "if every word of the hypothesis appears in the premise, "
                                        "contradiction if none of them does, and neutral if only "
                                        "some do.\n\nPremise: ")


def test_default_multiple_choice_answers_with_the_option_text():
    row = get_template("multiple_choice_qa").sample_rows([0], seed=0)[0]
    assert row["prompt"].endswith("Options:\nA. repi dasu vepu zila\nB. toge love nona ziva\n"
                                  "C. tugo vedo mozo kira\nD. vipe dogo lema tura")
    assert row["completion"] == "tugo vedo mozo kira"


# -- label words -------------------------------------------------------------------------------
@pytest.mark.parametrize("name, roles", LABEL_TEMPLATES.items())
def test_label_roles_and_default_words(name, roles):
    cls = get_template_class(name)
    assert cls.label_roles == roles
    assert get_template(name).label_words == list(roles)


@pytest.mark.parametrize("name, words", [
    ("nli", ["1", "0", "0"]),
    ("nli", ["Entailment", "Neutral", "Contradiction"]),
    ("yes_no_qa", ["True", "False"]),
    ("paraphrase_detection", ["equivalent", "not equivalent"]),
    ("entity_matching", ["support", "undermine"]),
])
def test_label_words_change_completions_and_instructions_not_inputs(name, words):
    template, default = get_template(name, label_words=words), get_template(name)
    rows, default_rows = template.sample_rows(range(300)), default.sample_rows(range(300))
    roles = template.label_roles
    for row, before in zip(rows, default_rows):
        assert (row["inputs"], row["output"]) == (before["inputs"], before["output"])  # rule space
        assert row["completion"] == words[roles.index(row["output"])]
        assert row["completion"] == template.format_output(row["output"])
        instruction = row["prompt"].split("\n\n", 1)[0]
        assert instruction in template.instruction_texts()
        assert all(w in instruction for w in set(words))
    assert {r["completion"] for r in rows} == set(words)
    for text, default_text in zip(template.instruction_texts(), default.instruction_texts()):
        assert text != default_text


def test_two_way_nli_words_in_the_instruction():
    text = get_template("nli", label_words=["1", "0", "0"]).instruction_texts()[0]
    assert text == ("Does the premise support the hypothesis? Answer 1 if every word of the "
                    "hypothesis appears in the premise, 0 if none of them does, and 0 if only some do.")


@pytest.mark.parametrize("bad", [
    ["yes", "no"],                      # too few
    ["a", "b", "c", "d"],               # too many
    ["entailment", "", "no"],           # empty
    ["entailment", "two\nlines", "no"],  # line break
    ["entailment", " neutral", "no"],   # surrounding space
    ["entailment", 0, "no"],            # not a string
    "entailment neutral contradiction",  # not a list
])
def test_bad_label_words_are_rejected_with_the_allowed_form(bad):
    with pytest.raises(ValueError) as err:
        get_template("nli", label_words=bad)
    message = str(err.value)
    for part in ("'nli'", "'label_words'", "3", "'entailment'", "'neutral'", "'contradiction'"):
        assert part in message


def test_label_words_are_a_list_per_instance_and_in_the_recipe():
    a, b = get_template("nli"), get_template("nli", label_words=("yes", "maybe", "no"))
    a.label_words.append("x")  # a list default is never shared
    assert get_template("nli").label_words == ["entailment", "neutral", "contradiction"]
    assert b.params()["label_words"] == ["yes", "maybe", "no"]


def test_label_words_reach_the_builder_and_its_cache(cache_dir):
    kw = dict(num_examples=20, split="train", cache_dir=cache_dir)
    default = cookbook_datasets.load_dataset("cookbook", "nli", **kw)
    words = cookbook_datasets.load_dataset("cookbook", "nli", label_words=["yes", "maybe", "no"], **kw)
    assert default.cache_files[0]["filename"] != words.cache_files[0]["filename"]
    assert {r[0]["content"] for r in words["completion"]} <= {"yes", "maybe", "no"}
    assert json.loads(words.info.description)["params"]["label_words"] == ["yes", "maybe", "no"]
    assert [json.loads(m)["inputs"] for m in words["meta"]] == [json.loads(m)["inputs"] for m in default["meta"]]


def test_label_words_from_the_command_line(capsys):
    assert main(["templates", "show", "nli", "-n", "1", "--param", 'label_words=["1","0","0"]']) == 0
    out = capsys.readouterr().out
    assert "label_words = ['1', '0', '0']" in out
    assert "Answer 1 if every word" in out


# -- answer formats -----------------------------------------------------------------------------
@pytest.mark.parametrize("name, key, answer_format", [
    (name, key, answer_format) for name, key in CHOICE_TEMPLATES.items()
    for answer_format in get_template_class(name).answer_formats])
def test_answer_format_names_the_rules_choice(name, key, answer_format):
    template = get_template(name, answer_format=answer_format)
    default_rows = get_template(name).sample_rows(range(300))
    words = {"letter": "letter", "number": "number", "text": None}[answer_format]
    for row, before in zip(template.sample_rows(range(300)), default_rows):
        assert (row["inputs"], row["output"]) == (before["inputs"], before["output"])
        options, completion = row["inputs"][key], row["completion"]
        assert completion == template.format_output(row["output"], row["inputs"])
        if answer_format == "letter":
            assert options[LETTERS.index(completion)] == row["output"]
        elif answer_format == "number":
            assert options[int(completion) - 1] == row["output"]
            assert ("\n1. " in row["prompt"]) == (name != "fill_blank")  # numbered, not lettered
        else:
            assert completion == before["completion"]
        instruction = row["prompt"].split("\n\n", 1)[0]
        assert instruction in template.instruction_texts()
        if words:
            assert words in instruction


def test_letter_answers_need_the_options():
    template = get_template("multiple_choice_qa", answer_format="letter")
    with pytest.raises(ValueError, match="inputs"):
        template.format_output(["a", "b"])


@pytest.mark.parametrize("name, bad", [("multiple_choice_qa", "roman"), ("continuation_choice", "Letter"),
                                       ("fill_blank", "letter")])
def test_bad_answer_format_is_rejected_with_the_allowed_values(name, bad):
    with pytest.raises(ValueError) as err:
        get_template(name, answer_format=bad)
    message = str(err.value)
    assert repr(name) in message and "'answer_format'" in message and repr(bad) in message
    for allowed in get_template_class(name).answer_formats:
        assert repr(allowed) in message


# -- rules on real examples --------------------------------------------------------------------
def test_real_text_keeps_content_words_and_strips_one_suffix():
    assert content_words("The survival of the parasites; they survive!") == ["surviv", "parasit", "surviv"]
    assert content_words("Glasses, glass and the GLASS") == ["glass", "glass", "glass"]
    assert content_words("") == [] and content_words("the of and ...") == []


def test_nli_on_real_examples():
    nli = get_template("nli")
    assert nli.task_fields == ("premise", "hypothesis")
    assert nli.predict({"premise": "A dog runs in the park.", "hypothesis": "A dog runs."}) == "entailment"
    assert nli.predict({"premise": "A dog runs in the park.", "hypothesis": "A dog sleeps."}) == "neutral"
    assert nli.predict({"premise": "A dog runs in the park.", "hypothesis": "Cats sleep."}) == "contradiction"
    assert nli.from_task_example({"premise": "A dog runs.", "hypothesis": "Dogs run, dogs run."}) == {
        "premise": ["dog", "run"], "hypothesis": ["dog", "run"]}
    two_way = get_template("nli", label_words=["1", "0", "0"])
    assert two_way.predict({"premise": "A dog runs in the park.", "hypothesis": "The dog runs."}) == "1"
    assert two_way.predict({"premise": "", "hypothesis": "The dog runs."}) == "0"
    assert nli.predict({"premise": "A dog runs.", "hypothesis": "It is what it is."}) is None  # nothing to check
    assert nli.predict({"sentence1": "A dog runs.", "sentence2": "A dog."}) is None  # not its fields


def test_yes_no_qa_on_real_examples():
    qa = get_template("yes_no_qa", label_words=["Yes.", "No."])
    passage = "Paris is a large city on the Seine, the capital of France."
    assert qa.predict({"passage": passage, "question": "Is Paris a large city?"}) == "Yes."
    # All its words occur, but not side by side: the rule says no.
    assert qa.predict({"passage": passage, "question": "Is Paris the capital city?"}) == "No."
    assert qa.predict({"passage": passage, "question": "Is it?"}) is None


def test_multiple_choice_qa_on_real_examples():
    example = {"question": "Which gas do plants take in from the air?",
               "choices": ["oxygen", "water vapour", "the air plants take in", "carbon dioxide"]}
    assert get_template("multiple_choice_qa").predict(example) == "the air plants take in"  # real text
    assert get_template("multiple_choice_qa", answer_format="letter").predict(example) == "C"
    assert get_template("multiple_choice_qa", answer_format="number").predict(example) == "3"
    tie = {"question": "Nothing shared here", "choices": ["alpha", "beta"]}
    assert get_template("multiple_choice_qa", answer_format="letter").predict(tie) == "A"  # first on ties
    assert get_template("multiple_choice_qa").predict({"question": "q", "choices": ["only one"]}) is None


def test_continuation_choice_on_real_examples():
    example = {"context": "The chef slices onions. Then she heats the pan and adds oil",
               "choices": ["She fries the onions in the oil.", "He plays football."]}
    cont = get_template("continuation_choice", tail_length=3)  # tail: heat, pan, add, oil -> pan add oil
    assert cont.predict(example) == "She fries the onions in the oil."
    assert cont.predict({"context": example["context"], "endings": example["choices"]}) == example["choices"][0]
    assert get_template("continuation_choice", answer_format="number").predict(example) == "1"
    # Only the tail counts: "onions" lies before it.
    assert cont.predict({"context": "onions, then stir the pan with oil", "choices": ["onions", "oil"]}) == "oil"
    assert cont.from_task_example({"context": "", "choices": ["a b", "c"]})["tail_length"] == 0


def test_sentence_pair_templates_on_real_examples():
    para = get_template("paraphrase_detection")
    assert para.predict({"sentence1": "The cat sat on the mat.", "sentence2": "On the mat, cats sat."}) == "yes"
    assert para.predict({"sentence1": "The cat sat on the mat.", "sentence2": "The cat sat."}) == "no"
    match = get_template("entity_matching", threshold=50)
    assert match.predict({"sentence1": "red apple pie", "sentence2": "apple pie"}) == "yes"  # 2/3
    assert match.predict({"sentence1": "red apple pie", "sentence2": "green pear pie"}) == "no"  # 1/5
    shared = get_template("shared_words")
    example = {"sentence1": "Some parasites kill their host, but most do not.",
               "sentence2": "All parasites are harmful to their host."}
    assert shared.predict(example) == "parasites host"
    assert shared.predict({"sentence1": "Survival is hard.", "sentence2": "Animals survive."}) == "survival"
    assert shared.predict({"sentence1": "Cats nap.", "sentence2": "Dogs bark."}) == ""


@pytest.mark.parametrize("name", list_templates())
def test_only_mapped_templates_read_real_examples(name):
    template = get_template(name)
    example = {"premise": "a dog runs", "hypothesis": "a dog", "sentence1": "a dog", "sentence2": "dog",
               "passage": "a dog runs", "question": "dog runs", "context": "a dog runs",
               "choices": ["dog", "cat"]}
    assert (template.predict(example) is not None) == (name in MAPPED)
    assert bool(type(template).task_fields) == (name in MAPPED)


NASTY = ["", "   ", "the of and", "!!! ???", "a a a a", "dog dog cat", "Ünïcode wörds, 123 and_more",
         "x " * 300]


@pytest.mark.parametrize("name", MAPPED)
def test_rules_never_crash_on_real_text(name):
    template = get_template(name)
    for a in NASTY:
        for b in NASTY:
            example = {f: a for f in ("premise", "sentence1", "passage", "question", "context")}
            example.update(hypothesis=b, sentence2=b, choices=[a, b, "dog"])
            prediction = template.predict(example)
            assert prediction is None or isinstance(prediction, str)


def _real(tokens):
    return " ".join(tokens)


def _has_stopword(inputs):
    words = [w for v in inputs.values() if isinstance(v, list)
             for w in (v if v and isinstance(v[0], str) else [x for o in v for x in o])]
    return any(w in STOPWORDS for w in words)


def _nli(i):
    return {"premise": _real(i["premise"]), "hypothesis": _real(i["hypothesis"])}


def _question(i):
    return {"question": _real(i["question"]), "choices": [_real(o) for o in i["options"]]}


def _context(i):
    return {"context": _real(i["context"]), "choices": [_real(o) for o in i["endings"]]}


def _pair(a, b):
    return lambda i: {"sentence1": _real(i[a]), "sentence2": _real(i[b])}


@pytest.mark.parametrize("name, params, to_example", [
    ("nli", {}, _nli),
    ("nli", {"label_words": ["1", "0", "0"]}, _nli),
    ("multiple_choice_qa", {}, _question),
    ("multiple_choice_qa", {"answer_format": "letter"}, _question),
    ("multiple_choice_qa", {"answer_format": "number"}, _question),
    ("continuation_choice", {"answer_format": "letter"}, _context),
    ("yes_no_qa", {}, lambda i: {"passage": _real(i["passage"]), "question": _real(i["phrase"])}),
    ("entity_matching", {}, _pair("record_a", "record_b")),
    ("shared_words", {}, _pair("first", "second")),
])
def test_predict_on_generated_rows_written_as_text_agrees_with_the_completion(name, params, to_example):
    """A generated row's inputs, joined into text, read back as the same rule inputs (the pseudo
    vocabulary's few stopwords aside: "more", "same", "some")."""
    template = get_template(name, **params)
    checked = 0
    for row in template.sample_rows(range(300), seed=5):
        if _has_stopword(row["inputs"]):
            continue
        assert template.predict(to_example(row["inputs"])) == row["completion"]
        checked += 1
    assert checked > 250


# -- task files -----------------------------------------------------------------------------------
def parse_fields(text: str) -> dict:
    """The fields of one input on its own (the detection over this one text)."""
    return detect_layout([text]).parse(text)


def test_parse_fields_markers_and_aliases():
    f = parse_fields("Premise: A man sleeps. <sep> Hypothesis: A man is awake.")
    assert (f["premise"], f["hypothesis"]) == ("A man sleeps.", "A man is awake.")
    assert (f["sentence1"], f["sentence2"]) == ("A man sleeps.", "A man is awake.")
    f = parse_fields("Sentence 1: White dog running Sentence 2: The dog is dry.")
    assert (f["premise"], f["hypothesis"], f["sentence1"]) == ("White dog running", "The dog is dry.",
                                                               "White dog running")
    f = parse_fields("Sentence1: pesticides cause pollution. \nSentence2: pollution can harm animals.")
    assert (f["sentence1"], f["sentence2"]) == ("pesticides cause pollution.", "pollution can harm animals.")
    f = parse_fields("claim: Music should be banned.\n perspective: artists have a right to free speech")
    assert (f["premise"], f["hypothesis"]) == ("Music should be banned.", "artists have a right to free speech")
    f = parse_fields("Sentence: Jack played for an hour. \nQuestion: How long did Jack play?")
    assert (f["passage"], f["question"]) == ("Jack played for an hour.", "How long did Jack play?")
    f = parse_fields("Premise: PersonX naps\nHypothesis: PersonX is tired\nUpdate: PersonX ran a marathon.")
    assert f["update"] == "PersonX ran a marathon." and f["hypothesis"] == "PersonX is tired"
    f = parse_fields("Statement: Jon had a pistol. Choices:  1. Jon was armed.  2. Jon was unarmed. 3. It rained.")
    assert f["choices"] == ["Jon was armed.", "Jon was unarmed.", "It rained."]
    assert f["question"] == f["premise"] == "Jon had a pistol."
    f = parse_fields("Sentence 1: I remembered a significant fact: she left. Sentence 2: She stayed.")
    assert f["sentence1"] == "I remembered a significant fact: she left."  # mid-line lower case: text
    assert parse_fields("What do lobates run or uh feed on?") == {"text": "What do lobates run or uh feed on?"}
    assert parse_fields("Fact: nerves feel heat.") == {"fact": "nerves feel heat."}


def test_split_numbered_choices():
    assert split_options("1. a b 2. c 3) d") == ["a b", "c", "d"]
    assert split_options("1. rose from 6.4% to 4.0%. 2. fell") == ["rose from 6.4% to 4.0%.", "fell"]
    assert split_options("no numbers") == ["no numbers"]


def _niv2(path, instances, demos=None, definition="Decide."):
    data = {"Definition": [definition], "Positive Examples": demos or [], "Negative Examples": [],
            "Instances": instances}
    path.write_text(json.dumps(data))
    return path


NLI_INSTANCES = [
    {"id": str(i), "input": f"Premise: {p} <sep> Hypothesis: {h}", "output": [label]}
    for i, (p, h, label) in enumerate([
        ("A dog runs in the park.", "A dog runs.", "Entailment"),
        ("A dog runs in the park.", "A cat sleeps.", "Contradiction"),
        ("A dog runs in the park.", "A dog sleeps.", "Neutral"),
        ("Birds fly south.", "Birds fly.", "Entailment"),
    ])
]


def _fielded(path, limit=None, seed=0):
    """A task file as templates read it: loaded, cut to ``limit`` instances (seeded), its fields detected."""
    return load_task_file(Path(path)).sample(limit, seed).with_layout()


def test_load_niv2_task_examples(tmp_path):
    demos = [{"input": "Premise: Cats purr. <sep> Hypothesis: Cats purr loudly.", "output": "Neutral"}]
    path = _niv2(tmp_path / "task_nli.json", NLI_INSTANCES, demos, definition="Classify the pair.")
    task = _fielded(path)
    answers = [i.answer for i in task.labelled]
    assert (task.name, task.kind, len(task.field_examples)) == ("task_nli", "classification", 4)
    assert task.labels == ["Contradiction", "Entailment", "Neutral"]
    assert answers == ["Entailment", "Contradiction", "Neutral", "Entailment"]
    assert task.instruction == "Classify the pair." and not any("choices" in e for e in task.field_examples)
    assert [(task.layout.parse(d.input), d.answer) for d in task.demonstrations] == [
        (parse_fields(demos[0]["input"]), "Neutral")]
    nli = get_template("nli", label_words=["Entailment", "Neutral", "Contradiction"])
    assert [nli.predict(e) for e in task.field_examples] == answers
    # The same seeded subset as the evaluation harness.
    sub = _fielded(path, limit=2, seed=3)
    (scored,) = load_tasks([str(path)], limit=2, seed=3)
    assert [list(i.outputs) for i in sub.labelled] == [list(i.outputs) for i in scored.instances]
    assert len(sub.field_examples) == 2


def test_load_niv2_choices_and_generation(tmp_path):
    choices = [{"id": str(i), "input": f"Statement: Jon had a pistol {i}. Choices: 1. Jon was armed. "
                f"2. It rained. 3. Ann sang.", "output": ["1"]} for i in range(3)]
    task = _fielded(_niv2(tmp_path / "mc.json", choices))
    # the numbered answers index the parsed choices
    assert [(int(i.answer) - 1, len(e["choices"])) for i, e in zip(task.labelled, task.field_examples)] == [(0, 3)] * 3
    assert get_template("multiple_choice_qa", answer_format="number").predict(task.field_examples[0]) == "1"
    words = [{"id": str(i), "input": f"Sentence1: word{i} host. \nSentence2: host word{i}.",
              "output": [f"word{i}", "host"]} for i in range(12)]
    task = _fielded(_niv2(tmp_path / "overlap.json", words))
    assert task.kind == "generation" and task.labels is None
    assert list(task.labelled[0].outputs) == ["word0", "host"]
    assert get_template("shared_words").predict(task.field_examples[0]) == "word0 host"


def test_load_multiple_choice_task_examples(tmp_path):
    lines = {
        "arc_easy": {"question": "Which gas do plants take in?", "choices": ["oxygen", "gas"], "label": 1},
        "boolq": {"question": "Paris is big.\nQuestion: is paris big?", "choices": ["no", "yes"], "label": 1},
        "hellaswag": {"question": "Cooking: she heats oil", "choices": ["adds oil", "sings"], "label": 0},
    }
    for name, record in lines.items():
        (tmp_path / f"{name}.jsonl").write_text(json.dumps(record) + "\n\n")
    arc = _fielded(tmp_path / "arc_easy.jsonl")
    assert (arc.kind, [i.answer for i in arc.labelled], [i.gold for i in arc.labelled]) == (
        "multiple_choice", ["gas"], [1])
    assert arc.field_examples == [{"question": "Which gas do plants take in?", "choices": ["oxygen", "gas"]}]
    boolq = _fielded(tmp_path / "boolq.jsonl").field_examples[0]
    assert (boolq["passage"], boolq["question"]) == ("Paris is big.", "is paris big?")
    assert get_template("yes_no_qa").predict(boolq) == "yes"
    hellaswag = _fielded(tmp_path / "hellaswag.jsonl").field_examples[0]
    assert hellaswag["context"] == hellaswag["question"] == "Cooking: she heats oil"
    assert get_template("continuation_choice", answer_format="number").predict(hellaswag) == "1"


@pytest.mark.parametrize("content, suffix, named", [
    (None, ".json", "no such task file"),
    ("{not json", ".json", "not valid JSON"),
    (json.dumps({"Definition": ["d"], "Positive Examples": []}), ".json", "'Instances'"),
    (json.dumps({"Definition": ["d"], "Positive Examples": [], "Instances": [{"id": "1", "input": "x"}]}),
     ".json", "'output'"),
    (json.dumps({"Definition": ["d"], "Positive Examples": [], "Instances": []}), ".json", "'Instances'"),
    ('{"question": "q", "choices": ["a", "b"]}\n', ".jsonl", "'label'"),
    ('{"question": "q", "choices": ["a", "b"], "label": 0}\n{oops\n', ".jsonl", "line 2"),
    ("x", ".csv", ".json"),
])
def test_bad_task_files_name_the_file_and_the_field(tmp_path, content, suffix, named):
    path = tmp_path / f"task{suffix}"
    if content is not None:
        path.write_text(content)
    with pytest.raises(ValueError) as err:
        _fielded(path).field_examples
    assert str(path) in str(err.value) and named in str(err.value)


def test_label_words_as_a_tuple_or_a_list_share_one_cache_entry(tmp_path):
    from cookbook_datasets.builders import Cookbook

    a = Cookbook(config_name="nli", num_examples=10, label_words=("a", "b", "c"), cache_dir=str(tmp_path))
    b = Cookbook(config_name="nli", num_examples=10, label_words=["a", "b", "c"], cache_dir=str(tmp_path))
    assert a.cache_dir == b.cache_dir
