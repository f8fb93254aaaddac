"""The DiverseEvol round loop: subsets per round, resuming, outputs, bad input, and its guard (the untuned
model beside the last round's, on rows beside the scored ones)."""

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


def test_rounds_grow_the_subset_and_write_a_config_per_round(tiny_model, tmp_path):
    import datasets

    config = _config(tmp_path, _pool(tmp_path))
    report = run_diverse_evol(config)
    assert [r["size"] for r in report["rounds"]] == [4, 7, 10]
    state = json.loads((tmp_path / "out" / "state.json").read_text())
    picked = [i for r in state["rounds"] for i in r["new_indices"]]
    assert len(set(picked)) == 10
    last = datasets.load_dataset(str(tmp_path / "out" / "data"), "round_2", split="train")  # plain datasets
    assert sorted(json.loads(m)["pool_index"] for m in last["meta"]) == sorted(picked)
    assert {json.loads(m)["selection_round"] for m in last["meta"]} == {0, 1, 2}
    assert json.loads(last["meta"][0])["i"] == picked[0]  # the pool's own meta is kept
    card = (tmp_path / "out" / "data" / "README.md").read_text()
    assert "kcenter" in card and "tiny-random" in card
    for r in range(3):
        assert (tmp_path / "out" / "rounds" / f"round_{r}" / "model" / "adapter_config.json").exists()
    assert all(r["covering_radius"] > 0 and r["vendi_score"] >= 1 for r in report["rounds"])
    assert report["rounds"][2]["covering_radius"] <= report["rounds"][0]["covering_radius"]
    for name in ("report.json", "report.md", "report.png"):
        assert (tmp_path / "out" / name).exists()


def test_a_killed_run_resumes_at_its_round_with_the_same_subsets(tiny_model, tmp_path, monkeypatch):
    import cookbook_datasets.trainers.diverse_evol as loop

    pool = _pool(tmp_path)
    real_train, calls = loop.train, []

    def dies_in_round_1(config, **kw):
        calls.append(config.output_dir)
        if "round_1" in config.output_dir:
            raise KeyboardInterrupt  # killed while training round 1
        return real_train(config, **kw)

    monkeypatch.setattr(loop, "train", dies_in_round_1)
    with pytest.raises(KeyboardInterrupt):
        run_diverse_evol(_config(tmp_path, pool, strategy="random"))
    before = json.loads((tmp_path / "out" / "state.json").read_text())["rounds"]
    assert len(before) == 2 and "train_seconds" not in before[1]  # round 1 was selected, not trained

    monkeypatch.setattr(loop, "train", lambda config, **kw: (calls.append(config.output_dir), real_train(config))[1])
    calls.clear()
    run_diverse_evol(_config(tmp_path, pool, strategy="random"))
    after = json.loads((tmp_path / "out" / "state.json").read_text())["rounds"]
    assert [c.rsplit("/", 2)[-2] for c in calls] == ["round_1", "round_2"]  # round 0 was not redone
    assert after[1]["new_indices"] == before[1]["new_indices"]
    calls.clear()
    run_diverse_evol(_config(tmp_path, pool, strategy="random"))  # finished: nothing to do
    assert calls == []


def test_a_run_with_only_its_state_and_scores_kept_trains_the_model_it_still_needs_again(tiny_model, tmp_path):
    import shutil

    pool = _pool(tmp_path)
    run_diverse_evol(_config(tmp_path, pool, rounds=1))
    out = tmp_path / "out"
    finished = json.loads((out / "state.json").read_text())
    # what a fresh checkout holds of a run stopped after round 0: state.json and the scores
    state = {**finished, "rounds": finished["rounds"][:1]}
    (out / "state.json").write_text(json.dumps(state))
    shutil.rmtree(out / "data")
    shutil.rmtree(out / "rounds" / "round_1")
    shutil.rmtree(out / "rounds" / "round_0" / "model")
    shutil.rmtree(tmp_path / "features")

    report = run_diverse_evol(_config(tmp_path, pool, rounds=1))
    again = json.loads((out / "state.json").read_text())["rounds"]
    assert again[1]["new_indices"] == finished["rounds"][1]["new_indices"]  # round 0's model, rebuilt
    assert again[0]["train_seconds"] == finished["rounds"][0]["train_seconds"]  # its cost is the first run's
    assert again[0]["retrain_seconds"] > 0
    assert (out / "rounds" / "round_0" / "model" / "run_card.json").exists() and len(report["rounds"]) == 2

    shutil.rmtree(out / "rounds" / "round_0" / "model")  # no longer needed by anything: left alone
    run_diverse_evol(_config(tmp_path, pool, rounds=1))
    assert not (out / "rounds" / "round_0" / "model").exists()


def test_a_run_resumed_where_auto_precision_resolves_otherwise_keeps_its_first_precision(
        tiny_model, tmp_path, monkeypatch):
    import cookbook_datasets.cpu as cpu
    import cookbook_datasets.trainers.diverse_evol as loop

    pool = _pool(tmp_path)
    real_train = loop.train

    def dies_in_round_1(config, **kw):
        if "round_1" in config.output_dir:
            raise KeyboardInterrupt
        return real_train(config, **kw)

    auto = {"max_steps": 1, "per_device_train_batch_size": 4, "precision": "auto", "logging_steps": 1}
    monkeypatch.setattr(cpu, "cpu_has_fast_bf16", lambda: False)  # the first machine: "auto" is fp32
    monkeypatch.setattr(loop, "train", dies_in_round_1)
    with pytest.raises(KeyboardInterrupt):
        run_diverse_evol(_config(tmp_path, pool, rounds=1, strategy="random", train=auto))
    monkeypatch.setattr(cpu, "cpu_has_fast_bf16", lambda: True)  # resumed where "auto" would be bf16
    monkeypatch.setattr(loop, "train", real_train)
    run_diverse_evol(_config(tmp_path, pool, rounds=1, strategy="random", train=auto))
    out = tmp_path / "out"
    assert [r["precision"] for r in json.loads((out / "state.json").read_text())["rounds"]] == ["fp32", "fp32"]
    card = json.loads((out / "rounds" / "round_1" / "model" / "run_card.json").read_text())
    assert card["runtime"]["precision"] == "fp32"


def test_the_same_output_directory_refuses_another_recipe(tiny_model, tmp_path):
    pool = _pool(tmp_path)
    run_diverse_evol(_config(tmp_path, pool, rounds=0, diversity=False))
    with pytest.raises(ValueError, match="different recipe.*k0"):
        run_diverse_evol(_config(tmp_path, pool, rounds=0, k0=5, diversity=False))


@pytest.mark.parametrize("kw,message", [
    ({"k0": 20, "per_round": 5, "rounds": 1}, r"20 \+ 1 x 5 = 25 rows, but the pool has only 24"),
    ({"strategy": "kcentre"}, r"unknown selection strategy 'kcentre'.*valid strategies"),
    ({"k0": 0}, "k0 must be a positive integer"),
    ({"train": {"output_dir": "x"}}, "train may not set 'output_dir'"),
])
def test_bad_settings_fail_before_anything_is_written(tmp_path, kw, message):
    with pytest.raises(ValueError, match=message):
        run_diverse_evol(_config(tmp_path, _pool(tmp_path), **kw))
    assert not (tmp_path / "out").exists()


def test_a_pool_without_a_completion_column_is_named(tmp_path):
    pool = _pool(tmp_path, columns=("prompt", "source"))
    with pytest.raises(ValueError, match="has no column 'completion'"):
        run_diverse_evol(_config(tmp_path, pool))
    assert not (tmp_path / "out").exists()


def test_an_empty_pool_is_an_error(tmp_path):
    with pytest.raises(ValueError, match="is empty"):
        run_diverse_evol(_config(tmp_path, _pool(tmp_path, n=0)))


def test_cookbook_select_runs_the_loop(tiny_model, tmp_path, capsys):
    from cookbook_datasets.cli import main

    pool = _pool(tmp_path)
    rc = main(["select", "parquet", "--pool-param", f"data_files={pool}", "--model", "tiny-random",
               "--k0", "4", "--per-round", "2", "--rounds", "1", "--max-steps", "1", "--batch-size", "4",
               "--strategy", "least_confidence", "--out", str(tmp_path / "sel"), "--no-diversity"])
    assert rc == 0
    out = capsys.readouterr().out
    assert "| 1 | 6 |" in out and "round_1" in out
    assert main(["select", "parquet", "--pool-param", f"data_files={pool}", "--strategy", "nope",
                 "--out", str(tmp_path / "bad")]) == 2
    assert "valid strategies" in capsys.readouterr().err


# The guard.

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


def test_the_probe_reads_the_validation_rows_before_round_0_trains(tiny_model, tmp_path, monkeypatch):
    """The untuned model answers the guard's rows before any round trains (the guard reuses those
    answers): the report starts with the probe's verdict per task."""
    from cookbook_datasets.eval.probe import VERDICTS
    from cookbook_datasets.trainers import diverse_evol

    order = []
    real_score, real_train = diverse_evol._score_guard_rows, diverse_evol.train
    monkeypatch.setattr(diverse_evol, "_score_guard_rows", lambda config, tasks, adapter, path: order.append(
        "tuned" if adapter else "untuned") or real_score(config, tasks, adapter, path))
    monkeypatch.setattr(diverse_evol, "train", lambda config: order.append("train") or real_train(config))
    report = run_diverse_evol(_guarded(tmp_path))
    assert order == ["untuned", "train", "untuned", "tuned"]  # the second untuned call reads its cached file
    probe = report["probe"]["task9_copy"]
    assert probe["rows"] == 8 and probe["verdict"] in VERDICTS
    out = tmp_path / "out"
    assert json.loads((out / "guard" / "probe.json").read_text())["tasks"]["task9_copy"]["n"] == 8
    md = (out / "report.md").read_text()
    assert md.index("Does the model read each task?") < md.index("## Rounds") < md.index("| round |")
