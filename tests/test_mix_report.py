"""The mixture report (mixing/report.py) says, per task, whether the model reads it on the fit rows."""

from cookbook_datasets.mixing.report import reads_lines


def mix(base, runs, chance=0.5, n=100):
    return {"signals": {"tasks": ["t", "gen"], "chance": {"t": chance, "gen": 0.0}, "base_scores": {"t": base, "gen": 0.3},
                        "runs": [{"weights": {"a": 1.0}, "scores": {"t": r, "gen": 0.4}} for r in runs]},
            "fit_rows": {"t": list(range(n)), "gen": list(range(n))}}


def test_a_task_nothing_lifts_clearly_above_chance_is_named_as_not_read():
    text = "\n".join(reads_lines(mix(base=0.1, runs=[0.5, 0.55])))  # 0.55 is within 2 standard errors of 0.5
    assert "| t | 0.500 | 0.100 | 0.550 | **no** |" in text
    assert "Not clearly above chance: t." in text
    assert "gen" not in text  # a generation task has no chance to beat: it is not listed


def test_a_task_the_model_or_a_run_reads_is_not_flagged():
    text = "\n".join(reads_lines(mix(base=0.4, runs=[0.75])))
    assert "| t | 0.500 | 0.400 | 0.750 | yes |" in text and "Not clearly above chance" not in text
    assert reads_lines({"signals": {"tasks": ["t"], "chance": {"t": 0.5}}}) == []  # no model scores: no section
