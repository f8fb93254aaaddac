"""What a long job prints: one progress bar per stage, never a bar nested in another."""

from cookbook_datasets.cli import main

CURSOR_UP = "\x1b[A"  # how tqdm redraws a bar nested under another one


def _bars(stderr: str) -> set:
    """The names of the progress bars drawn on stderr."""
    return {line.split(":")[0].strip() for line in stderr.replace("\r", "\n").splitlines() if "%|" in line}


def test_generate_draws_one_bar_over_its_configs(tmp_path, capsys):
    assert main(["generate", "nli", "document_qa", "--mix", "--num-examples", "8", "--out", str(tmp_path / "out"),
                 "--show", "0"]) == 0
    err = capsys.readouterr().err
    assert _bars(err) == {"Generating configs"}, err
    assert "Creating parquet" not in err and "Generating train split" not in err


def test_training_with_evaluation_nests_no_bar(tiny_model, tmp_path, capsys):
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text("eval_steps: 1\n")  # evaluate inside the training loop, where the Trainer nests its bar
    assert main(["train", "--config", str(recipe), "--model", "tiny-random", "--dataset", "cookbook",
                 "--dataset-config", "nli", "--dataset-param", "num_examples=16", "--dataset-param",
                 "num_eval_examples=8", "--out", str(tmp_path / "run"), "--max-steps", "2", "--batch-size", "4"]) == 0
    err = capsys.readouterr().err
    assert "eval_loss" in (tmp_path / "run" / "run_card.json").read_text()
    assert CURSOR_UP not in err
