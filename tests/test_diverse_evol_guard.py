"""DiverseEvol's guard: the untuned model beside the last round's, on rows beside the scored ones."""

import json
import logging

import pytest

from cookbook_datasets.trainers import DiverseEvolConfig, run_diverse_evol

def _pool(tmp_path, n=24, columns=("prompt", "completion", "source", "meta")):
    import datasets

    rows = [{"prompt": [{"role": "user", "content": f"question {i}: " + "word " * (i % 6)}],
             "completion": [{"role": "assistant", "content": f"answer {i % 4}"}],
             "source": "toy", "meta": json.dumps({"i": i})} for i in range(n)]
    from cookbook_datasets.row_schema import row_features

    path = tmp_path / "pool.parquet"
    features = row_features()
    ds = datasets.Dataset.from_dict({c: [r[c] for r in rows] for c in features}, features=features)
    ds.select_columns(list(columns)).to_parquet(str(path))
    return path


def _config(tmp_path, pool, **kw):
    values = dict(pool="parquet", pool_params={"data_files": str(pool)}, output_dir=str(tmp_path / "out"),
                  model="tiny-random", k0=4, per_round=3, rounds=2, embed_batch_size=8, diversity=True,
                  features_cache_dir=str(tmp_path / "features"),
                  train={"max_steps": 1, "per_device_train_batch_size": 4, "precision": "fp32", "logging_steps": 1})
    values.update(kw)
    return DiverseEvolConfig(**values)


COPY_TASK = {"Definition": ["Repeat the input words."],
             "Positive Examples": [{"input": "red green blue", "output": "red green blue"}],
             "Instances": [{"id": f"copy-{i}", "input": f"w{i} v{i}", "output": [f"w{i} v{i}"]} for i in range(16)]}
NOTHING_LEARNT = {"max_steps": 1, "per_device_train_batch_size": 4, "precision": "fp32", "logging_steps": 1,
                  "learning_rate": 1e-12}


def _task(tmp_path):
    path = tmp_path / "task9_copy.json"
    path.write_text(json.dumps(COPY_TASK))
    return str(path)


def _guarded(tmp_path, **kw):
    values = dict(rounds=0, strategy="random", diversity=False, eval_tasks=[_task(tmp_path)], eval_limit=4,
                  min_validation_rows=6, validation_rows=8, train=NOTHING_LEARNT)
    values.update(kw)
    return _config(tmp_path, _pool(tmp_path), **values)


def test_the_untuned_model_is_the_result_when_training_learnt_nothing_and_off_keeps_the_tuned_with_a_warning(
        tiny_model, tmp_path, caplog):
    report = run_diverse_evol(_guarded(tmp_path))
    g = report["guard"]
    assert g["chose"] and g["kept"] == "untuned" and g["rows"] == 8 and not g["tuned_better"]
    assert g["tuned"] == pytest.approx(g["untuned"]) and {"diff", "low", "high", "verdict"} <= set(g)
    assert report["result"] == {"kept": "untuned", "model": "tiny-random", "adapter": None, "round": None}
    out = tmp_path / "out"
    scored = [json.loads(line)["id"] for line in (out / "rounds" / "round_0" / "eval.rows.jsonl").open()]
    validation = g["validation_ids"]["task9_copy"]
    assert len(scored) == 4 and len(validation) == 8 and not set(scored) & set(validation)
    assert (out / "rounds" / "round_0" / "model" / "adapter_config.json").exists()  # stays on disk
    assert json.loads((out / "report.json").read_text())["guard"]["kept"] == "untuned"
    md = (out / "report.md").read_text()
    assert "**the untuned model is the result**" in md and validation[0] in md

    with caplog.at_level(logging.WARNING):
        report = run_diverse_evol(_guarded(tmp_path, guard="off"))  # the same run: the guard is no part of the recipe
    assert report["guard"]["kept"] == "tuned" and report["result"]["round"] == 0
    assert report["result"]["adapter"].endswith("round_0/model")
    assert "guard='off'" in caplog.text
    assert "**Warning**: the tuned model is not better" in (out / "report.md").read_text()


def test_too_few_validation_rows_or_no_eval_tasks_make_no_guard_choice_and_the_report_says_so(tiny_model, tmp_path):
    report = run_diverse_evol(_guarded(tmp_path, eval_limit=12, min_validation_rows=20))
    g = report["guard"]
    assert not g["chose"] and g["kept"] == "tuned" and g["rows"] == 4 and "fewer than the 20" in g["reason"]
    assert report["result"]["kept"] == "tuned"
    assert "Guard (keep-best): no choice" in (tmp_path / "out" / "report.md").read_text()

    report = run_diverse_evol(_config(tmp_path, _pool(tmp_path), rounds=0, diversity=False,
                                      output_dir=str(tmp_path / "plain")))
    assert not report["guard"]["chose"] and "no eval_tasks" in report["guard"]["reason"]
    assert "no eval_tasks" in (tmp_path / "plain" / "report.md").read_text()


def test_an_unknown_guard_is_a_clear_error(tmp_path, capsys):
    from cookbook_datasets.cli import main

    with pytest.raises(ValueError, match="unknown guard.*'keep-bset'.*keep-best, off"):
        DiverseEvolConfig(pool="x", guard="keep-bset")
    with pytest.raises(SystemExit) as exited:  # the option lists its choices
        main(["select", "parquet", "--guard", "nope", "--out", str(tmp_path / "bad")])
    assert exited.value.code == 2
    assert "invalid choice: 'nope'" in capsys.readouterr().err
    assert not (tmp_path / "bad").exists()
