"""One Task for every method: the loaders (good and malformed files), the kind, stable ids, the split."""

import json

import datasets
import pytest

from cookbook_datasets.tasks import (ColumnMapping, DatasetTask, Instance, Task, TaskFormatError, content_id,
                                     load_task, load_tasks, task_from_dataset)

NIV2 = {
    "Definition": ["Say whether the sentence is positive or negative."],
    "Positive Examples": [{"input": "I love it.", "output": "positive", "explanation": ""}],
    "Negative Examples": [],
    "Instances": [{"id": f"i{i}", "input": f"sentence {i}", "output": ["positive" if i % 2 else "negative"]}
                  for i in range(12)],
}


def _write(path, data):
    path.write_text(json.dumps(data) if not isinstance(data, str) else data)
    return path


# -- loaders ------------------------------------------------------------------------------------------
def test_niv2_file_gives_instruction_demonstrations_labels_and_its_own_ids(tmp_path):
    task = load_task(_write(tmp_path / "sentiment.json", NIV2))
    assert (task.name, task.kind, len(task)) == ("sentiment", "classification", 12)
    assert task.instruction == NIV2["Definition"][0] and task.labels == ["negative", "positive"]
    assert task.demonstrations[0].input == "I love it." and task.demonstrations[0].answer == "positive"
    assert task.ids[:2] == ["i0", "i1"] and task.instances[1].outputs == ("positive",)
    assert task.source == str(tmp_path / "sentiment.json")


def test_many_distinct_outputs_make_a_generation_task(tmp_path):
    data = dict(NIV2, Instances=[{"id": str(i), "input": f"copy {i}", "output": [f"copy {i}"]} for i in range(11)])
    assert load_task(_write(tmp_path / "copy.json", data)).kind == "generation"
    assert load_task(_write(tmp_path / "copy.json", data), kind="classification").labels[:2] == ["copy 0", "copy 1"]


def test_multiple_choice_jsonl(tmp_path):
    lines = [{"id": "q1", "question": "Which?", "choices": ["a", "b", "c"], "label": 2},
             {"question": "Who?", "choices": ["x", "y"], "label": 0}]
    path = _write(tmp_path / "arc_easy.jsonl", "\n".join(json.dumps(x) for x in lines) + "\n\n")
    task = load_task(path)
    assert task.kind == "multiple_choice" and task.labels is None
    first, second = task.instances
    assert (first.id, first.question, first.choices, first.gold, first.answer) == ("q1", "Which?", ("a", "b", "c"), 2, "c")
    assert second.id == content_id("Who?", (), ("x", "y"), 0)  # no id in the file: a hash of the content


def test_task_json_with_labelled_unlabelled_and_choice_instances(tmp_path):
    data = {"instruction": "Is it about sport?", "examples": [{"input": "A goal.", "output": "yes"}],
            "labels": ["yes", "no"],
            "instances": [{"id": "a", "input": "The match.", "output": "yes"}, {"input": "Rain."}]}
    task = load_task(_write(tmp_path / "sport.json", data))
    assert (task.kind, task.labels, task.ids[0]) == ("classification", ["yes", "no"], "a")
    assert [i.labelled for i in task.instances] == [True, False] and len(task.labelled) == 1
    gen = load_task(_write(tmp_path / "plain.json", {"instruction": "Summarise.", "examples": [
        {"input": "a long text", "output": "short"}]}))
    assert gen.kind == "generation" and len(gen) == 0 and gen.name == "plain"


def test_any_dataset_with_a_column_mapping(tmp_path):
    ds = datasets.Dataset.from_dict({"sentence": ["good", "bad", "fine", "awful"], "sid": ["s1", "s2", "s3", "s4"],
                                     "label": [1, 0, 1, 0]}).cast_column(
        "label", datasets.ClassLabel(names=["negative", "positive"]))
    task = task_from_dataset(ds, "sst", ColumnMapping(input_field="sentence", label_field="label", id_field="sid"),
                             instruction="Sentiment?", demonstrations=1)
    assert (task.kind, task.labels, task.ids) == ("classification", ["negative", "positive"], ["s2", "s3", "s4"])
    assert task.demonstrations[0].answer == "positive" and task.instances[0].outputs == ("negative",)
    mc = datasets.Dataset.from_dict({"q": ["Which?"], "opts": [["a", "b"]], "gold": [1]})
    mct = task_from_dataset(mc, "mc", input_field="q", choices_field="opts", label_field="gold")
    assert (mct.kind, mct.instances[0].gold) == ("multiple_choice", 1)
    # and from a local file, through load_task and the project's data resolver
    path = tmp_path / "rows.jsonl"
    path.write_text("\n".join(json.dumps({"text": t, "target": o}) for t, o in [("2+2", "4"), ("3+3", "6")]))
    task = load_task(str(path), dataset_task=DatasetTask(input_field="text", output_field="target",
                                                         dataset_split="train"))
    assert [i.outputs for i in task.instances] == [("4",), ("6",)]
    # a data file is read as a dataset even without a mapping: its columns input and output, unless named
    table = tmp_path / "rows.csv"
    table.write_text("input,output,other\n2+2,4,x\n3+3,6,y\n")
    assert [(i.input, i.outputs) for i in load_task(str(table)).instances] == [("2+2", ("4",)), ("3+3", ("6",))]
    first = load_task(str(table), dataset_task={"input_field": "other", "instruction": "Copy."}, demonstrations=1)
    assert first.instruction == "Copy." and first.demonstrations[0].input == "x" and first.ids == [first.instances[0].id]
    with pytest.raises(ValueError, match="unknown dataset_task key 'input'"):
        load_task(str(table), dataset_task={"input": "other"})


def test_a_column_that_is_not_there_is_named():
    ds = datasets.Dataset.from_dict({"text": ["a"]})
    with pytest.raises(TaskFormatError, match="no column 'sentence' for the input .*columns: text"):
        task_from_dataset(ds, "t", input_field="sentence")


@pytest.mark.parametrize("name, content, named", [
    ("t.json", "{not json", r"t.json: not valid JSON"),
    ("t.json", {"Definition": ["d"], "Positive Examples": []}, r"t.json: the task is missing the field 'Instances'"),
    ("t.json", dict(NIV2, Instances=[{"id": "1", "input": "x"}]), r"t.json: Instances\[0\] is missing the field 'output'"),
    ("t.json", dict(NIV2, Instances=[{"id": "1", "input": 3, "output": "a"}]),
     r"t.json: Instances\[0\]: the field 'input' must be a string"),
    ("t.json", dict(NIV2, Instances=[{"id": "1", "input": "a", "output": []}]),
     r"t.json: Instances\[0\]: the field 'output' must be a string or a non-empty list"),
    ("t.json", dict(NIV2, Instances=[{"id": "1", "input": "a", "output": "x"}, {"id": "1", "input": "b", "output": "y"}]),
     r"t.json.*instances\[1\] and instances\[0\] share the id '1'"),
    ("t.json", {"instruction": "x", "examples": [{"input": "only input"}]},
     r"t.json: examples\[0\] is missing the field 'output'"),
    ("t.json", {"instruction": "x", "examples": [], "instances": [{"output": "y"}]},
     r"t.json: instances\[0\] is missing the field 'input'"),
    ("t.json", {"instruction": "x", "examples": [], "kind": "regression"}, r"t.json: the field 'kind' must be one of"),
    ("t.json", {"instruction": "x", "examples": [], "instrution": "typo"}, r"t.json: unknown field 'instrution'"),
    ("t.json", {"something": 1}, r"t.json: not a task file"),
    ("t.jsonl", '{"question": "q", "choices": ["a", "b"], "label": 0}\n{"question": "q", "choices": ["a"], "label": 0}',
     r"t.jsonl: line 2: the field 'choices' must be a list of at least 2"),
    ("t.jsonl", '{"question": "q", "choices": ["a", "b"], "label": 2}', r"t.jsonl: line 1: the field 'label' must be an index"),
    ("t.jsonl", '{"question": "q", "choices": ["a", "b"]}', r"t.jsonl: line 1 is missing the field 'label'"),
    ("t.jsonl", '{oops', r"t.jsonl: line 1 is not valid JSON"),
    ("t.tsv", "a\tb", r"t.tsv: task files are .json .* data files \(.csv, .parquet, .arrow\)"),
    ("t.csv", "a,b", r"t.csv holds no rows"),
    ("t.csv", "a,b\n1,2", r"t.csv, split train.*no column 'input' .*columns: a, b.*--input-field"),
])
def test_a_malformed_file_names_the_file_the_record_and_the_field(tmp_path, name, content, named):
    path = _write(tmp_path / name, content)
    with pytest.raises(TaskFormatError, match=named):
        load_task(path)


def test_specs_that_are_nothing_say_so(tmp_path):
    with pytest.raises(FileNotFoundError, match="neither a file, a directory nor a template name"):
        load_task(str(tmp_path / "nope.json"))
    with pytest.raises(ValueError, match="Valid templates"):
        load_task("reverse_wrds")


def test_a_directory_and_a_template_name(tmp_path):
    _write(tmp_path / "b.json", NIV2)
    _write(tmp_path / "a.jsonl", json.dumps({"question": "q", "choices": ["x", "y"], "label": 1}))
    tasks = load_tasks([str(tmp_path), "nli"], num_examples=3)
    assert [(t.name, t.kind) for t in tasks] == [("a", "multiple_choice"), ("b", "classification"),
                                                 ("nli", "generation")]
    assert tasks[2].template == "nli" and len(tasks[2]) == 3
    assert tasks[2].ids == load_task("nli", num_examples=3).ids  # same rows, same ids


def test_ids_are_stable_content_hashes_without_a_file_id():
    a = Instance.make("same", ["out"])
    assert a.id == Instance.make("same", ["out"]).id != Instance.make("same", ["other"]).id
    task = load_task_from_rows([{"input": "dup", "output": "x"}, {"input": "dup", "output": "x"}])
    assert task.ids == [task.ids[0], task.ids[0] + "#2"]  # identical rows stay distinct


def load_task_from_rows(rows):
    from cookbook_datasets.tasks import task_from_dict

    return task_from_dict({"instruction": "i", "examples": [], "instances": rows}, "rows", "rows")


def test_a_classification_task_needs_two_labels():
    with pytest.raises(TaskFormatError, match="at least 2 labels"):
        Task(name="t", kind="classification", instances=[Instance.make("a", ["only"])])


# -- the split ----------------------------------------------------------------------------------------
def _task(n=50):
    return Task(name="t", instances=[Instance.make(f"text {i}", [f"out {i}"], id=f"r{i}") for i in range(n)])


def test_split_parts_are_disjoint_sized_and_recorded():
    task = _task(50)
    parts = task.split(fit=10, dev=5, test=0.5, seed=3)
    assert {k: len(v) for k, v in parts.items()} == {"fit": 10, "dev": 5, "test": 25}
    ids = parts.ids
    assert not set(ids["fit"]) & set(ids["dev"]) and not set(ids["fit"]) & set(ids["test"])
    assert not set(ids["dev"]) & set(ids["test"])
    assert parts["test"].split_info == {"part": "test", "seed": 3, "sizes": {"fit": 10, "dev": 5, "test": 25},
                                        "of": 50, "of_ids_hash": task.ids_hash()}
    assert parts.to_dict()["ids"] == ids
    order = {i: k for k, i in enumerate(task.ids)}  # each part keeps the task's order
    assert all(sorted(p, key=order.get) == p for p in ids.values())


def test_split_is_deterministic_and_independent_of_the_input_order():
    task = _task(40)
    shuffled = Task(name="t", instances=task.instances[::-1])
    a, b, c = (t.split(fit=8, test=12, seed=1) for t in (task, task, shuffled))
    assert a.ids == b.ids
    assert {k: sorted(v) for k, v in a.ids.items()} == {k: sorted(v) for k, v in c.ids.items()}
    assert task.split(fit=8, test=12, seed=2).ids != a.ids
    # a later part growing leaves the earlier ones as they were
    assert task.split(fit=8, test=20, seed=1).ids["fit"] == a.ids["fit"]


def test_fractions_that_add_up_to_one_use_every_instance():
    parts = _task(11).split(fit=0.3, test=0.7)
    assert sum(len(p) for p in parts.parts.values()) == 11


@pytest.mark.parametrize("sizes, message", [
    ({"fit": 30, "test": 25}, r"task 't' has 50 instances; the split asks for 55 \(fit=30, test=25\)"),
    ({"fit": 1.5}, r"split part 'fit': a fraction must be in \(0, 1\]"),
    ({"fit": -1}, r"split part 'fit': a count must be >= 0"),
    ({"fit": "ten"}, r"split part 'fit': the size must be a count"),
    ({}, "name at least one part"),
])
def test_split_errors_name_what_is_wrong(sizes, message):
    with pytest.raises(ValueError, match=message):
        _task(50).split(**sizes)


def test_a_template_task_reads_its_validation_split_for_rows_that_choose_something():
    from cookbook_datasets.tasks.template import template_task

    test, val = template_task("reverse_words", num_examples=5), template_task("reverse_words", 5, split="validation")
    assert len(val) == 5 and "validation split" in val.source and "test split" in test.source
    assert set(val.ids).isdisjoint(test.ids)
    with pytest.raises(ValueError, match="'test' or 'validation' split"):
        template_task("reverse_words", 5, split="train")
