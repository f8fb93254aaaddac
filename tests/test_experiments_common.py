"""The experiments' shared module (experiments/common.py): arms resumed by recipe, reports written
atomically, paired tables over the arms that have rows; and the four scripts built on it."""

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

EXPERIMENTS = Path(__file__).resolve().parents[1] / "experiments"
sys.path.insert(0, str(EXPERIMENTS))
common = importlib.import_module("common")


def test_a_finished_arm_is_skipped_and_a_changed_recipe_reruns(tmp_path):
    arms = common.Arms(tmp_path / "arms")
    calls = []

    def run(value):
        def fn():
            calls.append(value)
            return {"score": value}
        return fn

    recipe = {"lr": 5e-4, "steps": 40, "arm": "rules"}
    assert arms.run("rules", recipe, run(0.5)) == {"score": 0.5}
    assert arms.run("rules", dict(reversed(list(recipe.items()))), run(0.9)) == {"score": 0.5}  # key order is no change
    assert calls == [0.5]
    assert arms.run("rules", {**recipe, "steps": 80}, run(0.7)) == {"score": 0.7}  # the recipe changed: run again
    assert calls == [0.5, 0.7]
    stored = json.loads(arms.path("rules").read_text())
    assert stored["recipe"]["steps"] == 80 and stored["recipe_hash"] == common.recipe_hash({**recipe, "steps": 80})
    assert arms.stored("rules", recipe) is None and arms.stored("rules", {**recipe, "steps": 80}) == {"score": 0.7}


def test_an_arm_that_fails_leaves_nothing_to_skip(tmp_path):
    arms = common.Arms(tmp_path)

    def boom():
        raise RuntimeError("killed")

    with pytest.raises(RuntimeError):
        arms.run("cell 4/answer_aug/16", {"a": 1}, boom)
    assert not arms.path("cell 4/answer_aug/16").exists()
    assert arms.path("cell 4/answer_aug/16").name == "cell_4_answer_aug_16.json"
    assert arms.run("cell 4/answer_aug/16", {"a": 1}, lambda: {"ok": True}) == {"ok": True}


def test_report_is_json_markdown_and_png(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    def draw(path):
        fig, ax = plt.subplots()
        ax.plot([0, 1], [0, 1])
        fig.savefig(path)
        plt.close(fig)

    written = common.write_report(tmp_path / "out", "exp", {"a": 1}, "| x |\n", {"exp.png": draw, "none.png": lambda p: None})
    assert json.loads((tmp_path / "out" / "exp.json").read_text()) == {"a": 1}
    assert (tmp_path / "out" / "exp.md").read_text() == "| x |\n"
    assert (tmp_path / "out" / "exp.png").read_bytes()[:4] == b"\x89PNG"
    assert set(written) == {"json", "md", "exp.png"}  # a plot that draws nothing writes no file
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["exp.json", "exp.md", "exp.png"]  # no temporaries


def test_paired_table_keeps_the_tasks_every_arm_has_rows_for():
    rows = {"r1": 0.0, "r2": 1.0, "r3": 0.0}
    up = {k: v + 1 for k, v in rows.items()}
    c = common.paired_table({"base": {"t": rows, "u": rows, "v": rows}, "tuned": {"t": up, "u": None, "v": up},
                             "empty": None}, baseline="base")
    assert [t.task for t in c.tasks] == ["t", "v"] and c.labels == ["base", "tuned"]
    assert c.average.differences["tuned"].mean == 1.0
    assert common.paired_table({"base": {"t": rows}, "tuned": {"u": up}}, baseline="base") is None
    assert common.paired_table({"base": {"t": rows}}, baseline="base") is None
    assert "No paired table" in common.interval_section(None, "vs base")
    assert "| t |" in common.interval_section(c, "vs base")


def test_eval_rows_reads_an_evaluation_and_tolerates_one_without_rows(tmp_path):
    result = tmp_path / "r.json"
    result.write_text(json.dumps({"tasks": {"t": {"metrics": {"acc": 0.5}}}}))
    assert common.eval_rows(result) is None
    (tmp_path / "r.rows.jsonl").write_text(json.dumps({"task": "t", "id": 3, "score": 1.0}) + "\n")
    assert common.eval_rows(result) == {"t": {3: 1.0}}
    assert common.eval_rows(result, "t") == {3: 1.0}
    with pytest.raises(ValueError, match="no task 'u'"):
        common.eval_rows(result, "u")


def test_experiment_parser_has_the_shared_options():
    args = common.experiment_parser("doc", "demo").parse_args([])
    assert (args.out, args.work, args.model, args.dtype, args.seed) == (
        "experiments/results/demo", "runs/demo", "smollm2-135m", "bfloat16", 0)
    assert common.settings(args) == {"model": "smollm2-135m", "dtype": "bfloat16", "seed": 0}
    assert not hasattr(common.experiment_parser("doc", "x", model=False).parse_args([]), "model")


@pytest.mark.parametrize("script", ["cookbook_mix", "self_guide", "augmentation", "diverse_evol"])
def test_each_experiment_script_shows_its_help(script):
    done = subprocess.run([sys.executable, str(EXPERIMENTS / f"{script}.py"), "--help"], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert "--out" in done.stdout and "--work" in done.stdout and "--seed" in done.stdout


def test_augmentation_compares_strategies_cell_by_cell(tmp_path):
    aug = importlib.import_module("augmentation")
    base = {str(i): float(i % 2) for i in range(20)}

    def cell(size, strategy, budget, shift):
        scores = {k: min(1.0, v + shift) for k, v in base.items()}
        return {"seed_size": size, "strategy": strategy, "budget": budget, "budget_ratio": budget / size,
                "score": sum(scores.values()) / 20, "row_scores": scores, "rows": 1, "kept": 0, "dropped": {},
                "ledger": {}}

    cells = [cell(4, "seed_only", 0, 0.0), cell(4, "answer_aug", 16, 0.0), cell(4, "new_question", 16, 1.0),
             cell(4, "rephrase", 16, 0.0), cell(4, "answer_aug", 32, 0.0), cell(4, "new_question", 32, 0.0),
             cell(4, "rephrase", 32, 0.0)]
    results = {"setup": {"teacher": "t", "student": "s", "eval_limit": 20},
               "cells": {f"{c['seed_size']}/{c['strategy']}/{c['budget']}": c for c in cells}}
    c = aug.comparison(results)
    assert c.baseline == "answer_aug" and [t.task for t in c.tasks] == ["|S|=4 Q=16", "|S|=4 Q=32"]
    assert c.tasks[0].differences["new_question"].verdict == "higher"  # half the rows go from 0 to 1
    assert c.tasks[1].differences["new_question"].verdict == "no difference"
    aug.save(results, tmp_path)
    md = (tmp_path / "augmentation.md").read_text()
    assert "Paired differences vs answer augmentation" in md and "| **task average** |" in md
    assert (tmp_path / "augmentation_intervals.png").exists() and (tmp_path / "augmentation.png").exists()
    assert json.loads((tmp_path / "augmentation.json").read_text())["comparison"]["baseline"] == "answer_aug"


def test_the_constant_answer_repeats_what_the_learning_rows_make_most_frequent_and_scores_it_by_the_task_metric():
    from cookbook_datasets.tasks import Instance, Task

    def cls(name, outputs):
        return Task(name=name, kind="classification", labels=["Yes.", "No."],
                    instances=[Instance.make(f"q{i}", [o], id=f"{name}{i}") for i, o in enumerate(outputs)])

    learn = cls("pool", ["No.", "No.", "Yes."])  # "No." is the pool's majority
    scored = cls("scored", ["No.", "Yes.", "No.", "No."])
    answer, rows = common.constant_answer(learn, scored)
    assert answer == "No." and rows == {"scored0": 1.0, "scored1": 0.0, "scored2": 1.0, "scored3": 1.0}

    def mc(name, golds):
        return Task(name=name, kind="multiple_choice",
                    instances=[Instance.make(f"q{i}", choices=["a", "b", "c"], gold=g, id=f"{name}{i}")
                               for i, g in enumerate(golds)])

    answer, rows = common.constant_answer(mc("fit", [2, 2, 0]), mc("held", [2, 1]))
    assert answer == 2 and rows == {"held0": 1.0, "held1": 0.0}
    generation = Task(name="gen", kind="generation", instances=[Instance.make("q", ["some text"], id="g")])
    assert common.constant_answer(generation, generation) is None  # no single answer to repeat


def test_machine_says_whether_bf16_is_native_and_a_missing_record_is_labelled_as_such():
    info = common.machine()
    assert set(info) == {"cpu", "cores", "bf16_native"} and info["cores"] == os.cpu_count()
    assert info["bf16_native"] in (True, False, None)
    assert common.machine_label({"cpu": "x", "cores": 2, "bf16_native": False}) == "2 cores, bf16 emulated"
    assert common.machine_label({"cpu": "x", "cores": 16, "bf16_native": True}) == "16 cores, bf16 native"
    assert common.machine_label(None) == "not recorded"
