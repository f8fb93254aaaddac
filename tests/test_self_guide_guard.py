"""SELF-GUIDE never ends worse than where the user started: the probe, the guard and data that cannot teach.

The guard puts the untuned model beside the tuned epochs on real validation rows (the tuned one is
kept only when its mean there is higher; ``guard="off"`` keeps it with a warning); the job refuses
to train on classification pairs that cannot teach the task unless told to. Synthesis is scripted
(the engine interface answering by rule); training and scoring run the tiny random model.
"""

import dataclasses
import json
import logging
import re

import pytest

from cookbook_datasets.generation import Engine, GenerationOutput
from cookbook_datasets.generation.params import Completion
from cookbook_datasets.self_guide import SelfGuideConfig, run_self_guide
from cookbook_datasets.self_guide.guard import UnteachableDataError, label_check
from cookbook_datasets.self_guide.validation import plan_validation
from cookbook_datasets.tasks import Instance, Task, define_task

COPY_TASK = {"Definition": ["Repeat the input words."],
             "Positive Examples": [{"input": "red green blue", "output": "red green blue"},
                                   {"input": "one two three four", "output": "one two three four"}],
             "Instances": [{"input": f"w{i} v{i}", "output": [f"w{i} v{i}"]} for i in range(12)]}
LOOSE = {"annotation": "generate", "length_std": None, "consistency_threshold": 0.1, "prompts_per_round": 4, "input_max_new_tokens": 10,
         "annotation_max_new_tokens": 6, "annotation_samples": 3}
QUICK = {"model": "tiny-random", "num_train_epochs": 2, "per_device_train_batch_size": 4}


class ScriptedEngine(Engine):
    """The engine interface answering by rule: ``write(messages, params, prompt_index, sample)``."""

    name = "scripted"

    def __init__(self, write):
        self.write = write

    def _generate(self, prompts, params, *, desc):
        return [GenerationOutput([Completion(self.write(p, params, i, s), "stop") for s in range(params.n)])
                for i, p in enumerate(prompts)]


def asks_for_input(messages) -> bool:
    ask = messages[-1]["content"]
    return ask.startswith("Write a new input") or "Inputs written before" in ask


def copy_writer(messages, params, i, sample):
    return f"w{params.seed % 1000} v{i}" if asks_for_input(messages) else messages[-1]["content"]


def yes_writer(messages, params, i, sample):
    """Unique inputs, every one answered 'yes': a label set of two, one label used."""
    return f"Premise: item {params.seed % 100000} {i}. Hypothesis: it is." if asks_for_input(messages) else "yes"


def scripted(monkeypatch, write):
    import cookbook_datasets.generation as generation

    monkeypatch.setattr(generation, "load_engine", lambda *a, **k: ScriptedEngine(write))


def copy_task_file(tmp_path):
    path = tmp_path / "task9_copy.json"
    path.write_text(json.dumps(COPY_TASK))
    return path


# -- the real rows the method may read ------------------------------------------------------------
def test_the_default_validation_part_is_the_instances_beside_the_scored_ones_and_chooses_from_min_rows(tmp_path):
    task = Task(name="t", instruction="Repeat.", instances=[Instance.make(f"x{i}", [f"x{i}"]) for i in range(30)])
    parts = plan_validation(task, 12, 3, min_rows=5)
    assert parts.origin == "auto" and len(parts.validation) == 18 and parts.probe_only is None
    assert not set(parts.validation.ids) & set(parts.scored_ids)
    assert parts.scored_ids == task.sample(12, 3).ids  # the scored rows do not move
    few = plan_validation(task, 12, 3, min_rows=20)  # 18 rows: too few to choose with, the probe reads them
    assert few.validation is None and few.probe_only.ids == parts.validation.ids
    assert few.to_dict()["ids"]["probe_only"] == parts.validation.ids and few.picks_on == "synthetic validation split"
    assert plan_validation(task, 12, 3, val_instances=0, min_rows=5).readable is None
    assert plan_validation(task, 30, 3, min_rows=5).readable is None  # nothing left beside the scored rows
    # the user's own rows, read as the task is; a scored input among them is refused
    path = tmp_path / "val.json"
    path.write_text(json.dumps({"Definition": ["Repeat."], "Positive Examples": [],
                                "Instances": [{"input": f"y{i}", "output": [f"y{i}"]} for i in range(6)]}))
    own = plan_validation(task, 12, 3, validation_data=str(path), min_rows=5)
    assert own.origin == "validation_data"
    assert [i.input for i in own.validation.instances] == [f"y{i}" for i in range(6)]
    assert own.to_dict()["validation_source"] == str(path) and own.scored_ids == parts.scored_ids
    scored_input = task.select(parts.scored_ids[:1]).instances[0].input
    path.write_text(json.dumps({"Definition": ["Repeat."], "Positive Examples": [],
                                "Instances": [{"input": scored_input, "output": [scored_input]}]}))
    with pytest.raises(ValueError, match="1 of its 1 rows repeat an input of the 12 scored rows"):
        plan_validation(task, 12, 3, validation_data=str(path), min_rows=5)


def test_a_users_validation_file_with_labels_outside_the_tasks_set_is_refused_naming_them(tmp_path):
    task = Task(name="nli", instruction="Entailed? yes or no.", kind="classification", labels=["yes", "no"],
                instances=[Instance.make(f"p{i}", ["yes" if i % 2 else "no"]) for i in range(30)])
    path = tmp_path / "val.csv"
    path.write_text("input,output\nq1,YES\nq2,no\nq3,maybe\nq4,unsure\n")
    with pytest.raises(ValueError, match=r"val.csv'.*2 of its 4 labelled rows have a label outside the task's label set "
                                         r"\['yes', 'no'\] \(found \['maybe', 'unsure'\]"):
        plan_validation(task, 12, 3, validation_data=str(path), min_rows=2)
    path.write_text("input,output\nq1,YES\nq2,no\n")  # compared as the metric compares: 'YES' is 'yes'
    assert len(plan_validation(task, 12, 3, validation_data=str(path), min_rows=2).validation) == 2


# -- the guard ------------------------------------------------------------------------------------
def test_the_guard_returns_the_untuned_model_when_the_tuned_one_is_not_better_and_off_keeps_it_with_a_warning(
        tmp_path, tiny_model, monkeypatch, caplog):
    scripted(monkeypatch, copy_writer)
    out = tmp_path / "run"
    # a learning rate of 1e-12 learns nothing: the tuned model answers as the untuned one, so it is not better
    config = SelfGuideConfig(num_examples=6, **LOOSE, **QUICK, learning_rate=1e-12, eval_limit=2,
                             min_validation_rows=3)
    with caplog.at_level(logging.WARNING, logger="cookbook_datasets.self_guide"):
        report = run_self_guide(copy_task_file(tmp_path), out, config)
    split, guard = report["split"], report["guard"]
    assert split["sizes"] == {"scored": 2, "validation": 10} and not set(split["ids"]["validation"]) & set(
        split["ids"]["scored"])
    assert split["validation_from"] == "the task's instances beside the scored ones (default)"
    assert report["training"]["validation"] == "real validation instances"  # the epoch too is picked on them
    assert guard["chose"] and guard["kept"] == "untuned" and guard["rows"] == 10 and guard["mode"] == "keep-best"
    assert guard["diff"] == 0 and (guard["low"], guard["high"]) == (0, 0) and guard["tuned_better"] is False
    # the result is the untuned model: no adapter is presented; it stays on disk, reported as not kept
    assert report["kept"] == "untuned" and "adapter" not in report and "tuned" not in report
    assert report["tuned_not_kept"] == str(out / "adapter") and (out / "adapter" / "adapter_model.safetensors").exists()
    assert report["scores"]["self_guide"]["same_as"] == "prompting" and report["gain"] == 0
    assert "the untuned model is the result (guard='keep-best')" in caplog.text
    # the probe: the untuned model's answers on the same rows, taken before training
    assert (out / "guard" / "untuned.json").stat().st_mtime_ns < (out / "training.json").stat().st_mtime_ns
    probe = report["probe"]["tasks"]["task9_copy"]
    assert probe["ids"] == split["ids"]["validation"] and probe["verdict"] == "cannot tell"  # generation: no chance
    md = (out / "report.md").read_text()
    assert md.index("## Does the untuned model read the task? (real validation instances)") < md.index("| stage |")
    assert ("tuned - untuned +0.000 [+0.000, +0.000] (paired bootstrap 95%, no difference). The tuned model is not "
            "better: **the untuned model is the result**") in md
    assert "| self_guide (the untuned model: the guard kept it) | 2 |" in md
    # guard="off": the same training (reused), the tuned model kept, with a warning
    trained = (out / "model" / "run_card.json").stat().st_mtime_ns
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="cookbook_datasets.self_guide"):
        off = run_self_guide(copy_task_file(tmp_path), out, dataclasses.replace(config, guard="off"))
    assert (out / "model" / "run_card.json").stat().st_mtime_ns == trained
    assert off["kept"] == "tuned" and off["adapter"] == str(out / "adapter") and "tuned_not_kept" not in off
    assert off["guard"]["mode"] == "off" and off["guard"]["diff"] == 0
    assert "is not better than the untuned one" in caplog.text and "guard='off'" in caplog.text
    assert json.loads((out / "eval" / "self_guide.json").read_text())["adapter"] == str(out / "adapter")
    assert "**Warning**: the tuned model is not better than the untuned one and is kept because guard='off'" in (
        out / "report.md").read_text()


def test_the_guard_keeps_a_tuned_model_that_is_better_on_the_users_validation_rows(tmp_path, tiny_model, monkeypatch):
    from cookbook_datasets.eval import harness

    scripted(monkeypatch, copy_writer)
    real_run_task = harness.run_task

    def run_task(model, tokenizer, task, *a, **k):  # on the validation rows, the tuned model is right, the untuned not
        result = real_run_task(model, tokenizer, task, *a, **k)
        if task.split_info and task.split_info.get("part") == "validation":
            value = 1.0 if hasattr(model, "peft_config") else 0.0
            result["metrics"]["rougeL"] = value
            for row in result["rows"]:
                row["score"] = value
        return result

    monkeypatch.setattr(harness, "run_task", run_task)
    out = tmp_path / "run"
    own = tmp_path / "my_validation.json"  # the user's own rows, read as the task is
    own.write_text(json.dumps({"Definition": ["Repeat the input words."], "Positive Examples": [],
                               "Instances": [{"input": f"z{i} q{i}", "output": [f"z{i} q{i}"]} for i in range(4)]}))
    report = run_self_guide(copy_task_file(tmp_path), out, SelfGuideConfig(
        num_examples=6, **LOOSE, **QUICK, eval_limit=2, min_validation_rows=3, validation_data=str(own)))
    split = report["split"]
    assert split["validation_from"] == "validation_data" and split["validation_source"] == str(own)
    assert split["sizes"] == {"scored": 2, "validation": 4}
    assert report["training"]["validation_ids"] == split["ids"]["validation"] == report["probe"]["tasks"][
        "task9_copy"]["ids"]
    guard = report["guard"]
    assert guard["kept"] == "tuned" and guard["tuned"] == 1.0 and guard["untuned"] == 0.0
    assert (guard["diff"], guard["low"], guard["high"], guard["verdict"]) == (1.0, 1.0, 1.0, "higher")
    assert report["kept"] == "tuned" and report["adapter"] == str(out / "adapter")
    assert "The tuned model is better: kept." in (out / "report.md").read_text()


def test_too_few_validation_rows_make_no_guard_choice_and_the_report_says_so(tmp_path, tiny_model, monkeypatch,
                                                                              caplog):
    scripted(monkeypatch, copy_writer)
    out = tmp_path / "run"
    with caplog.at_level(logging.WARNING, logger="cookbook_datasets.self_guide"):
        report = run_self_guide(copy_task_file(tmp_path), out, SelfGuideConfig(
            num_examples=6, **LOOSE, **QUICK, eval_limit=2, evaluate=False))  # 10 rows left, 20 needed
    guard = report["guard"]
    assert not guard["chose"] and guard["kept"] == "tuned" and guard["rows"] == 10
    assert report["adapter"] == str(out / "adapter")
    assert report["split"]["ids"].get("validation") is None and len(report["split"]["ids"]["probe_only"]) == 10
    assert report["training"]["validation"] == "synthetic validation split"
    assert "probe" in report  # the probe still reads them
    reason = ("the task has 10 labelled instances beside the scored ones, fewer than the 20 the guard chooses on "
              "(min_validation_rows)")
    assert reason in caplog.text
    md = (out / "report.md").read_text()
    assert f"Guard (keep-best): no choice: {reason}" in md and "the tuned model is kept, unguarded" in md
    assert "10 read by the probe only (fewer than min_validation_rows)" in md


def test_an_unknown_guard_and_conflicting_validation_sources_are_clear_errors(tmp_path, capsys):
    from cookbook_datasets.cli import main

    with pytest.raises(ValueError, match=r"unknown guard \(--guard\) mode 'of' \(did you mean 'off'\?\); guard "
                                         "takes: keep-best, off"):
        SelfGuideConfig(guard="of")
    with pytest.raises(SystemExit) as exited:  # the option lists its choices
        main(["self-guide", str(copy_task_file(tmp_path)), "--out", str(tmp_path / "o"), "--guard", "never"])
    assert exited.value.code == 2
    assert "invalid choice: 'never'" in capsys.readouterr().err
    with pytest.raises(ValueError, match="validation_data .* or val_instances .*, not both"):
        SelfGuideConfig(validation_data="v.csv", val_instances=5)
    with pytest.raises(ValueError, match=r"max_label_share \(--max-label-share\) must be a number in \(0, 1\]"):
        SelfGuideConfig(max_label_share=0)
    assert not (tmp_path / "o").exists()


# -- synthetic data that cannot teach ----------------------------------------------------------------
def test_label_check_names_unused_labels_and_a_label_above_the_share():
    task = define_task(instruction="Yes or no?", labels=["yes", "no"], name="yn",
                       examples=[{"input": "a", "output": "yes"}, {"input": "b", "output": "no"}])
    balanced = {"labels_before_balancing": {"yes": 9, "no": 3}, "labels_kept": {"yes": 3, "no": 3}}
    fine = label_check(task, balanced, 0.8)
    assert fine["teachable"] and fine["top_share"] == 0.5
    unbalanced = {"labels_before_balancing": {"yes": 9, "no": 1}, "labels_kept": {"yes": 9, "no": 1}}
    skewed = label_check(task, unbalanced, 0.8)
    assert skewed["problems"] == ["the label 'yes' holds 90% of the kept pairs, more than max_label_share=0.8"]
    assert label_check(task, unbalanced, 0.95)["teachable"]
    # data written before labels_kept was recorded: the balancing counts, every label listed
    old = label_check(task, {"labels_before_balancing": {"yes": 4, "no": 0},
                             "balancing": {"per_label_after": {"yes": 2}}}, 0.8)
    assert old["labels_kept"] == {"yes": 2, "no": 0} and "never use the label(s) ['no']" in old["problems"][0]
    assert label_check(Task(name="g", instruction="Repeat.", instances=[Instance.make("a", ["a"])]), {}, 0.8) is None


def test_a_one_label_synthetic_set_is_refused_with_its_counts_and_trained_with_the_override(
        tmp_path, tiny_model, monkeypatch, caplog, capsys):
    from cookbook_datasets.cli import main

    scripted(monkeypatch, yes_writer)
    task = tmp_path / "yn.json"
    examples = [{"input": "Premise: a dog runs. Hypothesis: an animal moves.", "output": "yes"},
                {"input": "Premise: it is dark. Hypothesis: the sun is up.", "output": "no"}]
    task.write_text(json.dumps({"instruction": "Does the premise entail the hypothesis? Answer yes or no.",
                                "labels": ["yes", "no"], "examples": examples}))
    out = tmp_path / "run"
    args = ["self-guide", str(task), "--out", str(out), "--model", "tiny-random", "--no-eval", "--num-examples", "4",
            "--max-rounds", "2", "--epochs", "1", "--batch-size", "4"]
    args += [f"--param={k}={json.dumps(v)}" for k, v in LOOSE.items()]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert ("SELF-GUIDE for yn: the synthetic pairs cannot teach the task: the kept pairs never use the label(s) "
            "['no']") in err
    assert "pairs per label before balancing: yes 8, no 0; kept: yes 2, no 0" in err
    assert "allow_unteachable_data=True (--allow-unteachable-data)" in err
    # nothing half-written: the pairs are on disk, nothing was trained, no report
    assert (out / "data" / "recipe.json").exists() and not (out / "model").exists()
    assert not (out / "report.json").exists()
    with pytest.raises(UnteachableDataError):  # the same from Python; the pairs are reused
        run_self_guide(task, out, SelfGuideConfig(num_examples=4, max_rounds=2, evaluate=False, **LOOSE, **QUICK))

    def no_engine(*a, **k):
        raise AssertionError("the pairs on disk are resumed, not made again")

    import cookbook_datasets.generation as generation

    monkeypatch.setattr(generation, "load_engine", no_engine)
    with caplog.at_level(logging.WARNING, logger="cookbook_datasets.self_guide"):
        assert main([*args, "--allow-unteachable-data"]) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["labels"]["labels_kept"] == {"yes": 2, "no": 0} and not report["labels"]["teachable"]
    assert report["training"]["epochs"] == 1 and (out / "adapter" / "adapter_model.safetensors").exists()
    assert "trained anyway (allow_unteachable_data)" in caplog.text
    md = (out / "report.md").read_text()
    assert "Pairs per label: before balancing yes 8, no 0; kept yes 2, no 0" in md
    assert re.search(r"\*\*Warning\*\*: the synthetic pairs cannot teach the task: .*; trained anyway", md)
    assert "No probe: no labelled real rows" in md  # a task without instances: nothing to probe or guard on
