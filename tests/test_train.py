"""`train`: TRL SFT with LoRA (default) or full fine-tuning, resumable, with a run card."""

import json

import pytest

from cookbook_datasets.cli import main
from cookbook_datasets.data_spec import DataSpec, load_training_data
from cookbook_datasets.eval import EvalConfig, evaluate_model
from cookbook_datasets.models import load_model
from cookbook_datasets.trainers import TrainConfig, train

DATA = [{"path": "cookbook", "name": "reverse_words", "num_examples": 32, "num_eval_examples": 4}]


def _config(tmp_path, **kw):
    base = dict(model="tiny-random", datasets=DATA, output_dir=str(tmp_path / "run"), max_steps=2,
                per_device_train_batch_size=4, eval_steps=1, logging_steps=1, max_length=128)
    base.update(kw)
    return TrainConfig(**base)


def test_lora_training_saves_an_adapter_that_reloads_and_evaluates(tiny_model, tmp_path):
    card = train(_config(tmp_path))
    run = tmp_path / "run"
    assert (run / "adapter_config.json").exists() and (run / "adapter_model.safetensors").exists()
    saved = json.loads((run / "run_card.json").read_text())
    assert saved["global_step"] == 2 and saved["config"]["use_lora"] is True
    assert saved["data"][0]["recipe"]["template"] == "reverse_words"  # the data's own recipe
    assert any("loss" in h for h in saved["curve"]) and any("eval_loss" in h for h in saved["curve"])
    assert (run / "training_curve.png").stat().st_size > 0 and "eval_loss" in card["final_metrics"]

    model, _ = load_model("tiny-random", adapter=str(run))
    assert type(model).__name__ == "PeftModelForCausalLM"
    results = evaluate_model(EvalConfig(model="tiny-random", adapter=str(run), tasks=["reverse_words"], limit=4))
    assert 0.0 <= results["tasks"]["reverse_words"]["metrics"]["template_alignment"] <= 1.0


def test_training_resumes_from_the_last_checkpoint(tiny_model, tmp_path):
    train(_config(tmp_path, max_steps=2))
    card = train(_config(tmp_path, max_steps=3))
    assert card["resumed_from"].endswith("checkpoint-2") and card["global_step"] == 3


def test_full_fine_tuning_and_merge(tiny_model, tmp_path):
    train(_config(tmp_path, use_lora=False, max_steps=1, eval_split=None))
    assert (tmp_path / "run" / "config.json").exists() and not (tmp_path / "run" / "adapter_config.json").exists()
    train(_config(tmp_path, output_dir=str(tmp_path / "lora"), max_steps=1, merge=True, eval_split=None))
    merged, _ = load_model(str(tmp_path / "lora" / "merged"))
    assert type(merged).__name__ == "LlamaForCausalLM"


def test_yaml_recipes_and_overrides(tmp_path):
    config = TrainConfig.from_yaml("lora_cpu", model="tiny-random", max_steps=3)
    assert config.model == "tiny-random" and config.max_steps == 3 and config.lora_r == 16
    (tmp_path / "bad.yaml").write_text("model: tiny-random\nlearnig_rate: 0.1\n")
    with pytest.raises(ValueError, match="unknown field 'learnig_rate'"):
        TrainConfig.from_yaml(tmp_path / "bad.yaml")
    with pytest.raises(FileNotFoundError, match="bundled configs: .*lora_cpu"):
        TrainConfig.from_yaml("nope")


def test_cli_options_override_the_yaml_recipe(tiny_model, tmp_path):
    assert main(["train", "--config", "lora_cpu", "--model", "tiny-random", "--out", str(tmp_path / "y"),
                 "--max-steps", "1", "--batch-size", "4", "--no-eval"]) == 0
    card = json.loads((tmp_path / "y" / "run_card.json").read_text())
    assert card["config"]["eval_split"] is None and card["config"]["lora_r"] == 16  # from the YAML
    assert card["global_step"] == 1 and "eval_loss" not in card["final_metrics"]


@pytest.mark.parametrize("kw, message", [({"lora_r": 0}, "lora_r"), ({"learning_rate": -1.0}, "learning_rate"),
                                         ({"max_steps": -1, "num_train_epochs": 0}, "max_steps")])
def test_bad_hyper_parameters_are_named(kw, message, tmp_path):
    with pytest.raises(ValueError, match=message):
        _config(tmp_path, **kw)


def test_data_without_the_row_schema_is_refused(tmp_path):
    (tmp_path / "d.jsonl").write_text('{"text": "hello"}\n')
    with pytest.raises(ValueError, match="no column 'prompt'"):
        load_training_data([DataSpec(path="json", params={"data_files": str(tmp_path / "d.jsonl")})])


def test_cli_train(tiny_model, tmp_path, capsys):
    assert main(["train", "--model", "tiny-random", "--dataset", "cookbook", "--dataset-config", "nli",
                 "--dataset-param", "num_examples=16", "--out", str(tmp_path / "cli"), "--max-steps", "1",
                 "--batch-size", "4", "--no-eval"]) == 0
    assert "1 steps" in capsys.readouterr().out
    assert (tmp_path / "cli" / "adapter_config.json").exists()
