"""The main job, end to end on the tiny model: mix, fine-tune, compare."""

import json

from cookbook_datasets.cli import main


def test_demo_mixes_trains_and_compares(tiny_model, tmp_path, capsys):
    out = tmp_path / "demo"
    argv = ["demo", "--out", str(out), "--model", "tiny-random", "--templates", "nli", "reverse_words",
            "--max-steps", "2", "--eval-examples", "3"]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "| task | metric | n | base | tuned | Δ tuned − base [95%] |" in printed and "| nli" in printed
    assert (out / "comparison.png").stat().st_size > 0
    assert (out / "adapter" / "adapter_config.json").exists()
    tuned = json.loads((out / "eval_tuned.json").read_text())
    assert tuned["adapter"] == str(out / "adapter") and set(tuned["tasks"]) == {"nli", "reverse_words"}
    # a second run resumes: data, adapter and results are reused, nothing is redone
    assert main(argv) == 0
    assert json.loads((out / "summary.json").read_text())["train"]["global_step"] == 2
