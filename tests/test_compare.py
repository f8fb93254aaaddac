"""Paired comparison of evaluation runs (eval/compare.py): rows paired by (task, id), intervals per
task and on the task average, refusal of runs on different rows, the Markdown table and the PNG."""

import json

import numpy as np
import pytest

from cookbook_datasets.eval import RowMismatchError, compare, compare_rows, plot_comparison
from cookbook_datasets.eval.compare import load_rows, rows_path


def write_run(path, per_task: dict, metric: str = "acc", framing: str = "loglik"):
    """An evaluate_model result (JSON) and its per-row records (``.rows.jsonl``) from {task: {id: score}}."""
    tasks = {t: {"kind": "multiple_choice", "num_examples": len(rows), "framing": framing,
                 "metrics": {metric: float(np.mean(list(rows.values())))}} for t, rows in per_task.items()}
    path.write_text(json.dumps({"model": "m", "adapter": None, "config": {}, "tasks": tasks}))
    with open(rows_path(path), "w") as f:
        for t, rows in per_task.items():
            for i, s in rows.items():
                f.write(json.dumps({"task": t, "id": i, "prediction": "x", "score": s, "framing": framing}) + "\n")
    return path


def rows(values, prefix="r"):
    return {f"{prefix}{k}": float(v) for k, v in enumerate(values)}


@pytest.fixture
def runs(tmp_path):
    rng = np.random.default_rng(0)
    a_piqa = rng.integers(0, 2, size=60)
    a_arc = rng.integers(0, 2, size=40)
    b_arc = a_arc.copy()
    b_arc[:20] = 1 - b_arc[:20]  # flips: some up, some down
    a = write_run(tmp_path / "base.json", {"piqa": rows(a_piqa), "arc": rows(a_arc)})
    b = write_run(tmp_path / "tuned.json", {"piqa": rows(a_piqa + 1), "arc": rows(b_arc)})
    return a, b


def test_rows_path_sits_beside_the_result(tmp_path):
    assert rows_path(tmp_path / "r.json") == tmp_path / "r.rows.jsonl"


def test_a_known_difference_is_recovered_per_task_and_on_the_average(runs):
    c = compare(runs, labels=["base", "tuned"])
    piqa, arc = c.tasks
    assert piqa.task == "piqa" and piqa.n == 60 and piqa.metric == "acc"
    d = piqa.differences["tuned"]
    assert (d.mean, d.low, d.high) == (1.0, 1.0, 1.0) and d.verdict == "higher"
    a_arc = np.array(list(load_rows(runs[0])[1]["arc"].values()))
    b_arc = np.array(list(load_rows(runs[1])[1]["arc"].values()))
    assert arc.differences["tuned"].mean == pytest.approx(float((b_arc - a_arc).mean()))
    base_scores = {arm.label: arm for arm in piqa.arms}
    assert base_scores["tuned"].score == pytest.approx(base_scores["base"].score + 1)
    avg = c.average.differences["tuned"]
    assert avg.mean == pytest.approx((1.0 + arc.differences["tuned"].mean) / 2)
    assert c.average.n == 100 and c.average.task == "task average"
    # the average's interval is piqa's zero-width shift plus half arc's spread
    width = arc.differences["tuned"].high - arc.differences["tuned"].low
    assert avg.high - avg.low == pytest.approx(width / 2, rel=0.15)


def test_zero_mean_difference_says_no_difference(tmp_path):
    a = np.tile([0.0, 1.0], 50)
    b = 1 - a  # every row flips, half up, half down
    c = compare([write_run(tmp_path / "a.json", {"t": rows(a)}), write_run(tmp_path / "b.json", {"t": rows(b)})])
    d = c.tasks[0].differences["b"]
    assert d.mean == 0 and d.low < 0 < d.high and d.verdict == "no difference"
    assert c.average is None  # one task: the average would repeat it
    assert "no difference" in str(c)


def test_rows_are_paired_by_id_not_by_file_order(tmp_path):
    a = write_run(tmp_path / "a.json", {"t": {"x": 0.0, "y": 1.0, "z": 0.0}})
    b = write_run(tmp_path / "b.json", {"t": {"z": 0.5, "x": 0.5, "y": 1.5}})
    d = compare([a, b]).tasks[0].differences["b"]
    assert (d.mean, d.low, d.high) == (0.5, 0.5, 0.5)


def test_runs_on_different_rows_are_refused(tmp_path):
    a = write_run(tmp_path / "a.json", {"t": rows([1, 0, 1, 1])})
    b = write_run(tmp_path / "b.json", {"t": {"r0": 1.0, "r1": 0.0, "q7": 1.0, "q8": 0.0}})
    with pytest.raises(RowMismatchError, match=r"task 't'.*4 ids differ \(2 only in 'b'.*2 only in 'a'"):
        compare([a, b])
    c = write_run(tmp_path / "c.json", {"t": rows([1, 0, 1, 1]), "u": rows([1])})
    with pytest.raises(RowMismatchError, match=r"different tasks.*'a' lacks \['u'\]"):
        compare([c, a])
    assert compare([c, a], tasks=["t"]).tasks[0].task == "t"  # ...unless restricted to the tasks they share


def test_a_run_without_rows_names_the_missing_file(tmp_path, runs):
    rows_path(runs[1]).unlink()
    with pytest.raises(FileNotFoundError, match=r"tuned\.rows\.jsonl: no per-row records"):
        compare(runs)
    with pytest.raises(FileNotFoundError, match="nothing.json"):
        compare([runs[0], tmp_path / "nothing.json"])


def test_a_named_baseline_is_subtracted_from_every_other_arm(tmp_path):
    base = rows([0, 0, 1, 1])
    paths = [write_run(tmp_path / f"{name}.json", {"t": {k: v + shift for k, v in base.items()}})
             for name, shift in (("one", 0.25), ("two", 0.0), ("three", 0.5))]
    c = compare(paths, baseline="two")
    assert c.baseline == "two"
    assert {k: d.mean for k, d in c.tasks[0].differences.items()} == {"one": 0.25, "three": 0.5}
    with pytest.raises(ValueError, match="baseline 'four' is not one of the arms"):
        compare(paths, baseline="four")


def test_the_same_file_twice_gets_distinct_labels(runs):
    c = compare([runs[0], runs[0]])
    assert c.labels == ["base", "base (2)"]
    assert c.tasks[0].differences["base (2)"].verdict == "no difference"


def test_markdown_shows_score_stderr_interval_and_mark(runs):
    c = compare(runs, labels=["base", "tuned"])
    md = c.to_markdown()
    assert md == str(c)  # what the CLI prints
    assert "| task | metric | n | base | tuned | Δ tuned − base [95%] |  |" in md
    piqa = next(line for line in md.splitlines() if line.startswith("| piqa"))
    base = c.tasks[0].arms[0]
    assert f"| {base.score:.3f} ± {base.stderr:.3f} |" in piqa
    assert "| **+1.000 [+1.000, +1.000]** | higher |" in piqa
    assert "piqa (loglik)" in piqa  # the framing scored in
    assert any(line.startswith("| **task average** | acc | 100 |") for line in md.splitlines())


def test_to_dict_is_json_ready(runs):
    data = json.loads(json.dumps(compare(runs).to_dict()))
    assert data["baseline"] == "base" and data["tasks"]["piqa"]["differences"]["tuned"]["low"] == 1.0
    assert data["average"]["differences"]["tuned"]["excludes_zero"] is True


def test_png_draws_the_comparison(runs, tmp_path):
    png = plot_comparison(compare(runs), tmp_path / "plots" / "c.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    plot_comparison(list(runs), tmp_path / "from_paths.png", labels=["a", "b"])  # paths still work
    assert (tmp_path / "from_paths.png").stat().st_size > 1000
    assert not list(tmp_path.glob(".*tmp*"))


def test_compare_rows_takes_scores_in_memory():
    c = compare_rows({"x": {"t": {1: 0.0, 2: 1.0}}, "y": {"t": {2: 1.0, 1: 1.0}}}, metrics={"t": "exact_match"})
    assert c.tasks[0].metric == "exact_match" and c.tasks[0].differences["y"].mean == 0.5
    with pytest.raises(ValueError, match="at least two arms"):
        compare_rows({"x": {"t": {1: 0.0}}})


def test_a_malformed_rows_file_names_the_line(tmp_path):
    a = write_run(tmp_path / "a.json", {"t": rows([1, 0])})
    with open(rows_path(a), "a") as f:
        f.write(json.dumps({"task": "t", "id": "r9"}) + "\n")
    with pytest.raises(ValueError, match=r"a\.rows\.jsonl, line 3: a row record needs"):
        load_rows(a)
    write_run(a, {"t": rows([1, 0])})
    with open(rows_path(a), "a") as f:
        f.write(json.dumps({"task": "t", "id": "r0", "score": 1}) + "\n")
    with pytest.raises(ValueError, match="row id 'r0' twice"):
        load_rows(a)


def test_two_evaluations_of_one_task_pair_row_by_row(tiny_model, tmp_path):
    from cookbook_datasets.eval import EvalConfig, evaluate_model

    task = tmp_path / "arc_easy.jsonl"
    task.write_text("\n".join(json.dumps({"id": f"q{i}", "question": f"q{i}", "choices": ["a", "bb", "ccc"],
                                          "label": i % 3}) for i in range(5)))
    model, tokenizer = tiny_model
    paths = []
    for framing in ("loglik", "generate"):
        out = tmp_path / f"{framing}.json"
        evaluate_model(EvalConfig(model="tiny-random", tasks=[str(task)], mc_framing=framing), out=out, model=model,
                       tokenizer=tokenizer)
        paths.append(out)
    c = compare(paths)
    line = c.tasks[0]
    assert line.n == 5 and [a.framing for a in line.arms] == ["loglik", "generate"]
    results = [json.loads(p.read_text())["tasks"]["arc_easy"]["metrics"] for p in paths]
    assert [a.score for a in line.arms] == pytest.approx([r["acc"] for r in results])
    assert [a.stderr for a in line.arms] == pytest.approx([r["acc_stderr"] for r in results])
    assert line.differences["generate"].mean == pytest.approx(results[1]["acc"] - results[0]["acc"])
    assert "arc_easy (loglik / generate)" in str(c)


def test_cli_compare_prints_the_table_against_a_named_baseline(runs, tmp_path, capsys):
    from cookbook_datasets.cli import main

    png = tmp_path / "c.png"
    assert main(["eval", "--compare", *map(str, runs), "--labels", "base", "tuned", "--baseline", "tuned",
                 "--plot", str(png)]) == 0
    printed = capsys.readouterr().out
    assert "Paired comparison vs **tuned**" in printed and "| Δ base − tuned [95%] |" in printed
    assert "| **-1.000 [-1.000, -1.000]** | lower |" in printed and png.exists()
