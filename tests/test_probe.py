"""`cookbook probe`: does the untuned model read each task? (eval/probe.py, cli/probe.py)

The verdict is tested on synthetic per-row scores (the statistics take scores, not a model); the
command end to end with the tiny random model on tiny task files."""

import importlib
import json

import numpy as np
import pytest

from cookbook_datasets.cli import main
from cookbook_datasets.eval.probe import (ProbeConfig, answer_scores, chance_level, constant_answer, constant_scores,
                                          probe, probe_answers, probe_lines, probe_task, rows_needed)
from cookbook_datasets.tasks import Instance, Task, load_task, split_fit_eval

LABELS = ["positive", "negative"]


def _cls_task(n, name="sentiment", every=3):
    """A classification task whose label is 'negative' on every ``every``-th row ('positive' is the majority)."""
    return Task(name, [Instance.make(f"sentence {i}", [LABELS[int(i % every == 0)]], id=str(i)) for i in range(n)],
                instruction="Positive or negative?", labels=LABELS)


def _mc_task(n, name="choice", gold=lambda i: i % 3):
    return Task(name, [Instance.make(f"q{i}", choices=["a", "b", "c"], gold=gold(i), id=str(i)) for i in range(n)])


def _gold_scores(task, right):
    """0/1 scores that are right on the rows where ``right(i)`` holds."""
    return [float(right(i)) for i in range(len(task.labelled))]


# -- the verdict, on per-row scores ------------------------------------------------------------------
def test_chance_is_a_uniform_guess_and_the_constant_answer_the_most_frequent_label():
    task = _cls_task(60)
    assert chance_level(task) == 0.5 and constant_answer(task) == "positive"
    assert np.mean(constant_scores(task, "positive")) == pytest.approx(40 / 60)
    mc = _mc_task(30, gold=lambda i: 1 if i % 2 else i % 3)  # position 1 (B) is the most frequent gold
    assert chance_level(mc) == pytest.approx(1 / 3) and constant_answer(mc) == 1
    generation = Task("copy", [Instance.make(f"x{i}", [f"y {i} z"], id=str(i)) for i in range(20)])
    assert generation.kind == "generation" and chance_level(generation) is None and constant_answer(generation) is None


def test_a_model_that_answers_one_label_everywhere_does_not_read_the_task():
    task = _cls_task(60)
    everywhere = constant_scores(task, "positive")  # what answering 'positive' on every row scores
    record = probe_task(task, {"generate": everywhere, "rank": everywhere})
    assert record["verdict"] == "does not"
    assert all(f["status"] == "at or below" and f["vs_constant"]["high"] <= 0 for f in record["framings"].values())
    minority = constant_scores(task, "negative")  # the other label everywhere: below the constant answer
    assert probe_task(task, {"generate": minority})["verdict"] == "does not"
    text = "\n".join(probe_lines({"tasks": {"sentiment": record}}))
    assert "| sentiment | 60 | generate (exact_match) |" in text and "**does not**" in text
    assert "Not read: sentiment" in text and "label prior, not the task" in text


def test_a_model_clearly_above_both_bars_in_one_framing_reads_the_task():
    task = _cls_task(60)
    right = _gold_scores(task, lambda i: i % 10 != 0)  # 54 of 60 right: far above 0.5 and the constant's 0.667
    wrong = [0.0] * 60  # the generate framing writes no label at all
    record = probe_task(task, {"generate": wrong, "rank": right})
    assert record["verdict"] == "reads it" and "rank" in record["why"]
    rank = record["framings"]["rank"]
    assert rank["low"] > 0.5 and rank["vs_constant"]["low"] > 0 and rank["status"] == "above"
    assert record["framings"]["generate"]["status"] == "at or below"


def test_few_rows_cannot_tell_and_say_how_many_would():
    task = _cls_task(60).take(range(8))  # 8 rows, 5 'positive'
    scores = [1.0] * 7 + [0.0]  # 7 of 8 right: above both bars, but 8 rows cannot show it
    record = probe_task(task, {"generate": scores})
    assert record["verdict"] == "cannot tell" and record["framings"]["generate"]["status"] == "unclear"
    needed = record["rows_needed"]
    assert needed > 8 and f"about {needed} fit rows would tell" in record["why"]
    assert "cannot tell with these rows (about" in "\n".join(probe_lines({"tasks": {"t": record}}))


def test_rows_needed_is_where_the_interval_half_width_reaches_the_gap():
    assert rows_needed(0.1, 0.5, 1.96, 20) == 97  # (1.96 * 0.5 / 0.1)^2 = 96.04
    assert rows_needed(0.5, 0.5, 1.96, 20) == 21  # never fewer than the rows that did not tell, + 1
    assert rows_needed(0.0, 0.5, 1.96, 20) is None  # no number of rows shows a gap of 0


def test_a_generation_task_gets_its_score_and_no_verdict():
    task = Task("copy", [Instance.make(f"x{i}", [f"y {i} z"], id=str(i)) for i in range(20)])
    record = probe_task(task, {"generate": [0.4] * 10 + [0.6] * 10})
    assert record["verdict"] == "cannot tell" and record["chance"] is None and record["metric"] == "rougeL"
    assert record["framings"]["generate"]["score"] == pytest.approx(0.5)
    assert "cannot tell (no chance level)" in "\n".join(probe_lines({"tasks": {"copy": record}}))


def test_answers_a_job_already_has_are_scored_per_framing():
    mc = _mc_task(6)
    scores = answer_scores(mc, [[0, 0], [1, None], [0, 2], [0, 0], [1, 1], [2, 0]])  # golds 0 1 2 0 1 2
    assert scores == {"loglik": [1.0, 1.0, 0.0, 1.0, 1.0, 1.0], "generate": [1.0, 0.0, 1.0, 1.0, 1.0, 0.0]}
    cls = _cls_task(6)  # golds: negative, positive x2, negative, positive x2
    assert answer_scores(cls, ["negative", "It is positive.", "no idea", "positive", "positive", "positive"]) == \
        {"generate": [1.0, 1.0, 0.0, 0.0, 1.0, 1.0]}
    report = probe_answers({"choice": mc}, {"choice": [[0, 0]] * 6}, model="m")
    assert set(report["tasks"]["choice"]["framings"]) == {"loglik", "generate"}
    with pytest.raises(ValueError, match="3 answers for 6 labelled rows"):
        answer_scores(cls, ["positive"] * 3)


# -- the probe and the command, with the tiny model -------------------------------------------------
def _write_tasks(tmp_path, n=14):
    tmp_path.mkdir(parents=True, exist_ok=True)
    niv2 = {"Definition": ["Say whether the sentence is positive or negative."],
            "Positive Examples": [{"input": "I love it.", "output": "positive", "explanation": ""},
                                  {"input": "Awful.", "output": "negative", "explanation": ""}],
            "Negative Examples": [],
            "Instances": [{"id": f"i{i}", "input": f"sentence {i}", "output": ["positive" if i % 3 else "negative"]}
                          for i in range(n)]}
    (tmp_path / "sentiment.json").write_text(json.dumps(niv2))
    # the gold is always the first option: the constant answer "A" is right on every row, so no model beats it
    rows = [{"id": str(i), "question": f"q{i}", "choices": ["a", "bb", "ccc"], "label": 0} for i in range(n)]
    (tmp_path / "always_a.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    return tmp_path


def test_cookbook_probe_prints_the_table_warns_and_resumes(tmp_path, tiny_model, capsys, monkeypatch):
    tasks = _write_tasks(tmp_path / "tasks")
    out = tmp_path / "probe"
    assert main(["probe", str(tasks / "sentiment.json"), str(tasks / "always_a.jsonl"), "--model", "tiny-random",
                 "--fit-size", "10", "--batch-size", "8", "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert "| sentiment | 10 | generate (exact_match) |" in captured.out and "rank (exact_match)" in captured.out
    assert "| always_a | 10 | loglik (acc) |" in captured.out and "A: 1.000" in captured.out
    assert "warning: tiny-random does not read always_a: training on it would teach the answer format or the label " \
           "prior, not the task" in captured.err
    report = json.loads((out / "probe.json").read_text())
    assert report["tasks"]["always_a"]["verdict"] == "does not"
    assert (out / "probe.md").read_text().startswith("# Does tiny-random read the task?")
    # the probe reads exactly the fit rows mix learn's split gives (same fit_size and seed), recorded by id
    fit, _ = split_fit_eval(load_task(tasks / "sentiment.json"), fit_size=10, eval_size=100, seed=0)
    assert report["tasks"]["sentiment"]["ids"] == fit.ids
    # a rerun finds every task done: the model is not loaded again
    models = importlib.import_module("cookbook_datasets.models")
    monkeypatch.setattr(models, "load_model", lambda *a, **k: pytest.fail("the model was loaded again"))
    again = probe(ProbeConfig(tasks=[str(tasks / "sentiment.json"), str(tasks / "always_a.jsonl")],
                              model="tiny-random", fit_size=10, out=str(out)))
    assert again["tasks"] == report["tasks"]


def test_the_python_api_takes_a_loaded_model_and_framings(tmp_path, tiny_model):
    tasks = _write_tasks(tmp_path)
    report = probe(ProbeConfig(tasks=[str(tasks / "sentiment.json")], model="tiny-random", fit_size=8,
                               framings=["rank"]), *tiny_model)
    record = report["tasks"]["sentiment"]
    assert list(record["framings"]) == ["rank"] and record["n"] == 8 and record["verdict"] in \
        ("reads it", "does not", "cannot tell")


@pytest.mark.parametrize("kwargs, message", [
    ({"framings": ["ranks"]}, "unknown framing 'ranks' .*did you mean 'rank'.*loglik, generate, rank"),
    ({"fit_size": 0}, r"fit_size must be an integer >= 1 \(got 0\)"),
    ({"batch_size": 0}, "batch_size must be an integer >= 1"),
    ({"tasks": []}, "tasks: give at least one task"),
    ({"dtype": "int8"}, "dtype must be one of"),
])
def test_bad_configs_name_the_field_and_what_is_allowed(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ProbeConfig(**{"tasks": ["x.json"], **kwargs})


def test_a_task_with_too_few_rows_or_no_such_framing_is_named_before_the_model_loads(tmp_path, capsys):
    tasks = _write_tasks(tmp_path, n=9)
    assert main(["probe", str(tasks / "sentiment.json"), "--model", "no-such-model", "--fit-size", "10"]) == 2
    err = capsys.readouterr().err
    assert "task 'sentiment'" in err and "has 9 labelled rows" in err and "at most 8" in err
    assert main(["probe", str(tasks / "always_a.jsonl"), "--model", "no-such-model", "--fit-size", "5",
                 "--framings", "rank"]) == 2
    assert "task 'always_a' (multiple_choice) has none of the framings ['rank']; its framings: loglik, generate" \
        in capsys.readouterr().err


def test_probe_is_exported_lazily():
    import cookbook_datasets
    from cookbook_datasets.mixing import MixLearnConfig

    assert cookbook_datasets.probe is probe
    # the probe's default fit rows are mix learn's: the rows its methods may read
    assert ProbeConfig(tasks=["x"]).fit_size == MixLearnConfig.__dataclass_fields__["fit_size"].default


def test_mix_learn_reports_the_probe_of_the_answers_it_already_has(tmp_path, tiny_model):
    from cookbook_datasets.mixing import MixLearnConfig, learn

    tasks = _write_tasks(tmp_path / "tasks", n=16)
    files = [str(tasks / "sentiment.json"), str(tasks / "always_a.jsonl")]
    mix = learn(MixLearnConfig(tasks=files, out=str(tmp_path / "mix"), templates=["multiple_choice_qa", "yes_no_qa"],
                               model="tiny-random", fit_size=10, eval_size=4, num_examples=20))
    probed = mix["probe"]["tasks"]
    assert probed["sentiment"]["ids"] == mix["fit_rows"]["sentiment"]  # the same fit rows, no other
    assert set(probed["always_a"]["framings"]) == {"loglik", "generate"} and probed["always_a"]["verdict"] == "does not"
    base = mix["signals"]["base_scores"]  # mix learn's score of the same answers: the mean over the framings
    assert base["always_a"] == pytest.approx(np.mean([f["score"] for f in probed["always_a"]["framings"].values()]))
    report = (tmp_path / "mix" / "report.md").read_text()
    assert report.index("## Does the untuned model read each task? (fit rows)") < report.index("| component | weight |")
    assert "Not read: always_a" in report and "clearly above chance |" not in report  # one section, not two


def test_the_interval_against_chance_is_wilsons_for_0_1_scores_and_normal_otherwise():
    from cookbook_datasets.eval.stats import mean_interval

    low, high = mean_interval([1.0] * 7 + [0.0])
    assert (round(low, 3), round(high, 3)) == (0.529, 0.978)  # Wilson's 95% interval of 7/8
    low, high = mean_interval([0.0] * 10)
    assert low == pytest.approx(0, abs=1e-12) and high == pytest.approx(0.278, abs=1e-3)  # 0/n keeps a width
    low, high = mean_interval([0.2, 0.4, 0.6, 0.8])
    assert (low + high) / 2 == pytest.approx(0.5) and high - low == pytest.approx(2 * 1.96 * 0.129099, rel=1e-3)
