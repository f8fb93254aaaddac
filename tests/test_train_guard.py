"""`train` with `validation_data`: the guard keeps the trained model only when it beats the untuned one.

The untuned and the trained model answer the same labelled rows through the evaluation harness; the
tiny random model's scores are then set per model (the harness's ``run_task`` wrapped), so each
test decides the outcome while every file the guard writes is real.
"""

import json
import logging
from pathlib import Path

import pytest

from cookbook_datasets.cli import main
from cookbook_datasets.eval import harness
from cookbook_datasets.models import load_model
from cookbook_datasets.trainers import TrainConfig, train
from cookbook_datasets.trainers.sft import finished_run

DATA = [{"path": "cookbook", "name": "reverse_words", "num_examples": 16, "num_eval_examples": 4}]
COLUMNS = {"input_field": "pair", "output_field": "verdict", "id_field": "rid"}


@pytest.fixture
def verdicts(tmp_path):
    """The user's labelled rows: 10 rows of tests/data/verdicts.csv (labels E/N/C; columns rid, pair, verdict)."""
    import pandas as pd

    path = tmp_path / "verdicts.csv"
    pd.read_csv(Path(__file__).parent / "data" / "verdicts.csv").head(10).to_csv(path, index=False)
    return path


def _config(tmp_path, **kw):
    base = dict(model="tiny-random", datasets=DATA, output_dir=str(tmp_path / "run"), max_steps=1,
                per_device_train_batch_size=4, eval_split=None, logging_steps=1, max_length=128,
                validation_data=[str(tmp_path / "verdicts.csv")], validation_task=COLUMNS, validation_num_shots=0,
                min_validation_rows=8)
    base.update(kw)
    return TrainConfig(**base)


@pytest.fixture
def scores(monkeypatch):
    """``scores(untuned=a, tuned=b)``: every validation row scores a for the untuned model and b for
    the trained one; returns the list of which model answered, call by call."""
    def install(untuned: float, tuned: float) -> list:
        real, calls = harness.run_task, []

        def run_task(model, tokenizer, task, *args, **kwargs):
            which = "tuned" if type(model).__name__.startswith("Peft") else "untuned"
            calls.append(which)
            result = real(model, tokenizer, task, *args, **kwargs)
            for row in result["rows"]:
                row["score"] = tuned if which == "tuned" else untuned
            return result

        monkeypatch.setattr(harness, "run_task", run_task)
        return calls

    return install


def test_an_adapter_not_better_than_the_untuned_model_is_not_kept(tiny_model, tmp_path, verdicts, scores, capsys,
                                                                  caplog):
    calls = scores(untuned=1.0, tuned=0.0)
    out = tmp_path / "run"
    args = ["train", "--model", "tiny-random", "--dataset", "cookbook", "--dataset-config", "reverse_words",
            "--dataset-param", "num_examples=16", "--out", str(out), "--max-steps", "1", "--batch-size", "4",
            "--no-eval", "--max-length", "128", "--validation-data", str(verdicts), "--validation-num-shots", "0",
            "--min-validation-rows", "8",
            *[x for k, v in COLUMNS.items() for x in ("--validation-task", f"{k}={v}")]]
    with caplog.at_level(logging.WARNING):
        assert main(args) == 0
    printed = capsys.readouterr().out.splitlines()
    kept_line = next(line for line in printed if line.startswith("KEPT = UNTUNED"))
    assert "not_kept" in kept_line and not any(line.startswith("Wrote adapter") for line in printed)
    assert [r for r in caplog.records if "KEPT = UNTUNED" in r.getMessage()]  # one clear line in the log

    guard = json.loads((out / "guard.json").read_text())
    assert guard["chose"] and guard["kept"] == "untuned" and guard["rows"] == 10
    assert (guard["untuned"], guard["tuned"], guard["diff"]) == (1.0, 0.0, -1.0) and guard["verdict"] == "lower"
    assert guard["per_task"]["verdicts"]["rows"] == 10 and guard["per_task"]["verdicts"]["metric"] == "exact_match"
    assert len(guard["validation_ids"]["verdicts"]) == 10 and guard["validation_ids"]["verdicts"][0] == "v00"
    card = json.loads((out / "run_card.json").read_text())
    assert card["result"] == {"kept": "untuned", "model": "tiny-random", "adapter": None,
                              "not_kept": str(out / "not_kept")}
    assert card["guard"]["kept"] == "untuned" and "kept: **untuned**" in (out / "RUN_CARD.md").read_text()
    # the rejected adapter cannot be picked up by mistake: output_dir holds none; not_kept/ says why
    assert not (out / "adapter_config.json").exists() and (out / "not_kept" / "adapter_config.json").exists()
    assert "KEPT = UNTUNED" in (out / "not_kept" / "NOT_KEPT.md").read_text()
    with pytest.raises(ValueError, match="adapter_config.json"):
        load_model("tiny-random", adapter=str(out))
    assert (out / "guard" / "untuned.rows.jsonl").exists() and (out / "guard" / "tuned.rows.jsonl").exists()

    # the run is finished (its card is reused), and a rerun scores the untuned model no more
    config = TrainConfig(**card["config"])  # the command line's run, from its card
    assert calls.count("untuned") == 1 and finished_run(config)["result"]["kept"] == "untuned"
    again = train(config)
    assert calls.count("untuned") == 1 and calls.count("tuned") == 2
    assert again["result"]["kept"] == "untuned" and not (out / "adapter_config.json").exists()


def test_a_better_adapter_is_kept_where_it_was_trained(tiny_model, tmp_path, verdicts, scores):
    scores(untuned=0.0, tuned=1.0)
    (tmp_path / "run" / "not_kept").mkdir(parents=True)  # an earlier run's rejected adapter: this run decides
    card = train(_config(tmp_path))
    out = tmp_path / "run"
    assert card["guard"]["kept"] == "tuned" and card["guard"]["tuned_better"] is True
    assert card["result"] == {"kept": "tuned", "model": "tiny-random", "adapter": str(out)}
    assert (out / "adapter_config.json").exists() and not (out / "not_kept").exists()
    assert json.loads((out / "guard.json").read_text())["kept"] == "tuned"


def test_guard_off_keeps_an_adapter_that_is_not_better_and_warns(tiny_model, tmp_path, verdicts, scores, caplog):
    scores(untuned=0.5, tuned=0.5)  # a tie is not better
    with caplog.at_level(logging.WARNING):
        card = train(_config(tmp_path, guard="off"))
    assert card["guard"]["kept"] == "tuned" and card["guard"]["tuned_better"] is False
    assert (tmp_path / "run" / "adapter_config.json").exists()
    assert any("kept because guard='off'" in r.getMessage() for r in caplog.records)


def test_too_few_validation_rows_make_no_choice_and_say_how_many(tiny_model, tmp_path, verdicts, scores, caplog):
    calls = scores(untuned=1.0, tuned=0.0)
    with caplog.at_level(logging.WARNING):
        card = train(_config(tmp_path, min_validation_rows=50))
    guard = card["guard"]
    assert guard["chose"] is False and guard["kept"] == "tuned" and calls == []  # nothing scored
    assert "holds 10 labelled rows, fewer than the 50" in guard["reason"] and "no choice" in guard["reason"]
    assert (tmp_path / "run" / "adapter_config.json").exists()
    assert any("10 labelled rows" in r.getMessage() for r in caplog.records)


def test_validation_labels_outside_the_label_set_fail_before_training(tmp_path, verdicts):
    config = _config(tmp_path, validation_task={**COLUMNS, "label_set": ["E", "N"]})  # the file also holds C
    with pytest.raises(ValueError, match=r"label outside the task's label set \['E', 'N'\] \(found \['C'\]"):
        train(config)
    assert not (tmp_path / "run").exists()  # nothing half-written


def test_bad_guard_settings_are_named(tmp_path, capsys):
    with pytest.raises(ValueError, match="keep-best"):
        _config(tmp_path, guard="best")
    with pytest.raises(ValueError, match="input_fild"):
        _config(tmp_path, validation_task={"input_fild": "pair"})
    with pytest.raises(ValueError, match="give validation_data"):
        _config(tmp_path, validation_data=[], validation_task=COLUMNS)
    with pytest.raises(ValueError, match="min_validation_rows"):
        _config(tmp_path, min_validation_rows=0)
    with pytest.raises(SystemExit):
        main(["train", "--out", str(tmp_path / "x"), "--guard", "best"])
    assert "invalid choice: 'best'" in capsys.readouterr().err


def test_without_validation_data_the_run_card_is_as_before(tmp_path):
    config = _config(tmp_path, validation_data=[], validation_task={})
    assert not {"validation_data", "guard", "min_validation_rows"} & set(config.to_dict())
    assert {"guard", "validation_data"} <= set(_config(tmp_path).to_dict())


def test_the_probe_reads_the_validation_rows_before_training_and_warns(tiny_model, tmp_path, verdicts, scores,
                                                                       caplog, monkeypatch):
    """The untuned model answers the guard's rows once, before training: the probe's verdict per task is
    in the run card and RUN_CARD.md, and a task it does not read is named in the log before training."""
    from cookbook_datasets.trainers import sft

    calls = scores(untuned=0.0, tuned=1.0)  # every answer wrong: below the constant answer, the task is not read
    order = []
    real_scores = sft._guard_scores
    monkeypatch.setattr(sft, "_guard_scores", lambda config, tasks, which: order.append(which) or real_scores(
        config, tasks, which))
    import transformers

    real_train = transformers.Trainer.train
    monkeypatch.setattr(transformers.Trainer, "train", lambda self, *a, **k: order.append("train") or real_train(
        self, *a, **k))
    with caplog.at_level(logging.WARNING):
        card = train(_config(tmp_path))
    assert order == ["untuned", "train", "untuned", "tuned"]  # scored before training; after it, from its file
    assert calls.count("untuned") == 1
    assert card["probe"]["verdicts"]["verdict"] == "does not" and card["probe"]["verdicts"]["rows"] == 10
    warned = [r.getMessage() for r in caplog.records if "does not read the task" in r.getMessage()]
    assert warned and "verdicts" in warned[0] and "10 validation rows" in warned[0]
    out = tmp_path / "run"
    assert json.loads((out / "guard" / "probe.json").read_text())["tasks"]["verdicts"]["verdict"] == "does not"
    assert "Does the model read each task?" in (out / "RUN_CARD.md").read_text()
    assert card["guard"]["kept"] == "tuned"  # the probe warns; the guard decides
