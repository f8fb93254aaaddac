"""`mix learn`'s guard: per task, a proxy fine-tune of the learned mixture vs the untuned model on the
task's judge rows (the judge half of its fit rows, auto's split), by the rule every method shares.

Most tests set the answers (the untuned model's and the proxy run's) so each decides the outcome; one
runs the tiny random model end to end.
"""

import importlib
import logging

import pytest
from test_mix_learn import _choice_task, _nli_task

from cookbook_datasets.cli import main
from cookbook_datasets.mixing import MixLearnConfig, learn, read_mix
from cookbook_datasets.mixing.methods.auto import split_fit_rows
from cookbook_datasets.tasks import load_task, split_fit_eval

FIT, EVAL = 40, 10  # 20 judge rows a task


@pytest.fixture
def tasks(tmp_path):
    return [_nli_task(tmp_path / "toy_nli.json"), _choice_task(tmp_path / "toy_choice.jsonl")]


def _right(task, inst):
    return [inst.gold, inst.gold] if task.kind == "multiple_choice" else inst.answer


def _wrong(task, inst):
    if task.kind == "multiple_choice":
        other = (inst.gold + 1) % len(inst.choices)
        return [other, other]
    return next(label for label in task.labels if label != inst.answer)


@pytest.fixture
def answers(monkeypatch):
    """``answers(untuned={task: right?}, tuned={task: right?})``: the untuned model and every proxy
    fine-tune answer each task's fit rows all right or all wrong; returns the proxy runs' weights."""
    learner = importlib.import_module("cookbook_datasets.mixing.learner")

    def install(untuned: dict, tuned: dict) -> list:
        runs = []

        def answer(rows, right):
            return {t: [(_right if right[t] else _wrong)(task, inst) for inst in task.instances]
                    for t, task in rows.items()}

        monkeypatch.setattr(learner, "answer_tasks", lambda model, adapter, rows, cache, config: answer(rows, untuned))

        def run_answers(weights, components, fit, config, work):
            runs.append(dict(weights))
            return answer(fit, tuned)

        monkeypatch.setattr(learner, "run_answers", run_answers)
        return runs

    return install


def _args(tasks, out, *extra):
    return ["mix", "learn", "--tasks", *map(str, tasks), "--templates", "nli", "multiple_choice_qa", "--model",
            "tiny-random", "--fit-size", str(FIT), "--eval-size", str(EVAL), "--num-examples", "40",
            "--min-validation-rows", "10", "--out", str(out), *extra]


def test_the_guard_names_the_tasks_where_the_untuned_model_is_kept(tasks, tmp_path, answers, capsys, caplog):
    runs = answers(untuned={"toy_nli": True, "toy_choice": False}, tuned={"toy_nli": False, "toy_choice": True})
    out = tmp_path / "mix"
    with caplog.at_level(logging.WARNING):
        assert main(_args(tasks, out)) == 0
    mix = read_mix(out / "mix.json")
    g = mix["guard"]
    assert runs == [mix["weights"]]  # one proxy fine-tune: of the learned mixture (rules trains no other)
    nli, choice = g["tasks"]["toy_nli"], g["tasks"]["toy_choice"]
    assert (nli["kept"], nli["untuned"], nli["tuned"], nli["rows"]) == ("untuned", 1.0, 0.0, 20)
    assert nli["verdict"] == "lower"
    assert (choice["kept"], choice["untuned"], choice["tuned"], choice["diff"]) == ("tuned", 0.0, 1.0, 1.0)
    assert g["untuned_tasks"] == ["toy_nli"] and not g["untuned_for_every_task"]
    assert g["average"]["untuned"] == 0.5 and g["average"]["tuned"] == 0.5 and g["average"]["rows"] == 40
    # the judge rows are auto's judge half of each task's fit rows (one seeded split for every method)
    fit = split_fit_eval(load_task(tasks[0]), FIT, EVAL)[0]
    judge = split_fit_rows({"toy_nli": fit}, seed=0)[1]["toy_nli"]
    assert g["judge_rows"]["toy_nli"] == [fit.ids[i] for i in judge]
    report = (out / "report.md").read_text()
    assert "## Guard: tuned vs untuned on the judge rows" in report
    assert "For these tasks keep the untuned model: toy_nli" in report and "| toy_nli | 20 | 1.000 | 0.000 |" in report
    printed = capsys.readouterr().out
    assert "Guard (keep-best): for these tasks keep the untuned model: toy_nli" in printed
    assert "Train on it:" in printed  # the mixture helps toy_choice
    assert "for these tasks keep the untuned model: toy_nli" in caplog.text


def test_when_the_untuned_model_is_kept_for_every_task_the_next_step_is_not_to_train(tasks, tmp_path, answers, capsys):
    answers(untuned={"toy_nli": True, "toy_choice": True}, tuned={"toy_nli": False, "toy_choice": False})
    out = tmp_path / "mix"
    assert main(_args(tasks, out)) == 0
    g = read_mix(out / "mix.json")["guard"]
    assert g["untuned_tasks"] == ["toy_nli", "toy_choice"] and g["untuned_for_every_task"]
    printed = capsys.readouterr().out
    assert "Next step: do not train on this mixture" in printed and "Train on it:" not in printed
    assert "do not train on this mixture" in (out / "report.md").read_text()


def test_guard_off_names_no_task_and_warns_where_the_mixture_is_not_better(tasks, tmp_path, answers, caplog):
    answers(untuned={"toy_nli": True, "toy_choice": False}, tuned={"toy_nli": False, "toy_choice": True})
    with caplog.at_level(logging.WARNING):
        mix = learn(MixLearnConfig(tasks=[str(t) for t in tasks], out=str(tmp_path / "m"), model="tiny-random",
                                   templates=["nli", "multiple_choice_qa"], fit_size=FIT, eval_size=EVAL,
                                   num_examples=40, min_validation_rows=10, guard="off"))
    g = mix["guard"]
    assert g["untuned_tasks"] == [] and g["tasks"]["toy_nli"]["kept"] == "tuned"
    assert "guard='off'" in caplog.text and "toy_nli" in caplog.text
    assert "Warning (guard off): the tuned model is not better on toy_nli" in (tmp_path / "m" / "report.md").read_text()


def test_a_task_with_too_few_judge_rows_gets_no_choice(tasks, tmp_path, answers, capsys):
    runs = answers(untuned={"toy_nli": True, "toy_choice": True}, tuned={"toy_nli": False, "toy_choice": False})
    out = tmp_path / "mix"
    assert main(_args(tasks, out, "--min-validation-rows", "25")) == 0
    g = read_mix(out / "mix.json")["guard"]
    assert g["chose"] is False and runs == []  # nothing to choose on: no proxy fine-tune either
    assert g["tasks"]["toy_nli"] == {"chose": False, "rows": 20, "reason": (
        "20 judge rows, fewer than the 25 the guard chooses on (min_validation_rows; raise fit_size): no choice "
        "for this task")}
    printed = capsys.readouterr().out
    assert "no choice" in printed and "Train on it:" in printed


def test_auto_is_guarded_on_its_own_judge_rows(tasks, tmp_path, answers):
    answers(untuned={"toy_nli": False, "toy_choice": False}, tuned={"toy_nli": True, "toy_choice": True})
    mix = learn(MixLearnConfig(tasks=[str(t) for t in tasks], out=str(tmp_path / "a"), model="tiny-random",
                               templates=["nli", "multiple_choice_qa"], method="auto",
                               method_params={"candidates": "uniform,rules"}, fit_size=FIT, eval_size=EVAL,
                               num_examples=40, min_validation_rows=10))
    assert mix["guard"]["judge_rows"] == mix["auto"]["judge_rows"]
    assert mix["guard"]["untuned_tasks"] == [] and all(r["kept"] == "tuned" for r in mix["guard"]["tasks"].values())


def test_without_the_model_the_guard_makes_no_choice_and_says_so(tasks, tmp_path, capsys):
    out = tmp_path / "mix"
    assert main(["mix", "learn", "--tasks", *map(str, tasks), "--templates", "nli", "--no-model", "--fit-size", "20",
                 "--eval-size", "5", "--num-examples", "20", "--out", str(out)]) == 0
    g = read_mix(out / "mix.json")["guard"]
    assert g["chose"] is False and g["tasks"] == {} and "no model" in g["reason"]
    assert "Guard (keep-best): no model" in capsys.readouterr().out
    assert "No choice (keep-best): no model" in (out / "report.md").read_text()


def test_an_unknown_guard_mode_is_named(tasks, tmp_path):
    with pytest.raises(ValueError, match="keep-best"):
        MixLearnConfig(tasks=[str(tasks[0])], out=str(tmp_path), guard="best")
    with pytest.raises(ValueError, match="min_validation_rows"):
        MixLearnConfig(tasks=[str(tasks[0])], out=str(tmp_path), min_validation_rows=0)


def test_with_the_tiny_model_the_guards_proxy_run_is_trained_once_and_reused(tasks, tmp_path, tiny_model,
                                                                             monkeypatch):
    learner = importlib.import_module("cookbook_datasets.mixing.learner")
    trained, real = [], learner.train_mixture

    def counting(weights, *a, **kw):
        trained.append(dict(weights))
        return real(weights, *a, **kw)

    monkeypatch.setattr(learner, "train_mixture", counting)
    config = MixLearnConfig(tasks=[str(t) for t in tasks], out=str(tmp_path / "m"), templates=["nli"],
                            model="tiny-random", fit_size=8, eval_size=4, proxy_steps=1, proxy_rows=16, batch_size=4,
                            num_examples=20, min_validation_rows=2)
    mix = learn(config)
    g = mix["guard"]
    assert trained == [mix["weights"]] and g["chose"] is True
    assert all(r["chose"] and r["rows"] == 4 and r["kept"] in ("tuned", "untuned") for r in g["tasks"].values())
    assert all(r["kept"] == ("tuned" if r["tuned"] > r["untuned"] else "untuned") for r in g["tasks"].values())
    again = learn(config)
    assert len(trained) == 1 and again["guard"]["tasks"] == g["tasks"]  # cached by recipe, like every proxy run
