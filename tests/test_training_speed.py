"""Training speed levers: each one is a choice the user can make, and none changes what is learned."""

import json

import sys

import pytest
import torch
from peft import LoraConfig
from trl import SFTConfig, SFTTrainer

from cookbook_datasets import cpu
from cookbook_datasets.data_spec import DataSpec, load_training_data
from cookbook_datasets.trainers import TrainConfig, train
from cookbook_datasets.trainers.compact_loss import CompactLossSFTTrainer
from cookbook_datasets.trainers.sft import resolve_attn_implementation

DATA = [{"path": "cookbook", "name": "sort_words", "num_examples": 16, "num_eval_examples": 4}]


def _trainer(cls, model, tokenizer, tmp_path, **args):
    data = load_training_data([DataSpec.from_dict(d) for d in DATA])
    config = SFTConfig(output_dir=str(tmp_path / cls.__name__), per_device_train_batch_size=8, report_to="none",
                       use_cpu=True, max_length=256, bf16=False, activation_checkpointing=True, **args)
    return cls(model=model, args=config, train_dataset=data, processing_class=tokenizer,
               peft_config=LoraConfig(r=8, target_modules="all-linear", task_type="CAUSAL_LM"))


def _batch(trainer):
    return trainer._prepare_inputs(next(iter(trainer.get_train_dataloader())))


@pytest.mark.parametrize("accumulated", [None, 57])
def test_the_compact_loss_and_its_gradients_equal_trls(tiny_model, tmp_path, accumulated):
    from cookbook_datasets.models import load_model

    losses, grads = [], []
    for cls in (SFTTrainer, CompactLossSFTTrainer):
        model, tokenizer = load_model("tiny-random")
        torch.manual_seed(0)
        trainer = _trainer(cls, model, tokenizer, tmp_path)
        trainer.model.train()
        inputs = _batch(trainer)
        loss = trainer.compute_loss(trainer.model, inputs, num_items_in_batch=accumulated)
        loss.backward()
        losses.append(loss.item())
        grads.append(torch.cat([p.grad.flatten() for p in trainer.model.parameters() if p.grad is not None]))
        metrics = {k: v[-1] for k, v in trainer._metrics["train"].items()}
        assert set(metrics) >= {"entropy", "mean_token_accuracy", "num_tokens"}
        if cls is SFTTrainer:
            reference = metrics
        else:
            assert metrics["entropy"] == pytest.approx(reference["entropy"], rel=1e-4)
            assert metrics["mean_token_accuracy"] == pytest.approx(reference["mean_token_accuracy"])
            assert metrics["num_tokens"] == reference["num_tokens"]
    assert losses[1] == pytest.approx(losses[0], rel=1e-5)
    assert torch.allclose(grads[1], grads[0], rtol=1e-4, atol=1e-7)


def test_the_compact_loss_hands_unusual_requests_to_trl(tiny_model, tmp_path):
    from cookbook_datasets.models import load_model

    model, tokenizer = load_model("tiny-random")
    trainer = _trainer(CompactLossSFTTrainer, model, tokenizer, tmp_path, loss_type="dft")
    assert not trainer._compact_path_applies(trainer.model, return_outputs=False)
    model, tokenizer = load_model("tiny-random")  # a fresh model: the first trainer put LoRA layers into that one
    trainer = _trainer(CompactLossSFTTrainer, model, tokenizer, tmp_path)
    assert trainer._compact_path_applies(trainer.model, return_outputs=False)
    assert not trainer._compact_path_applies(trainer.model, return_outputs=True)  # callers wanting logits


def test_bf16_training_on_cpu_records_its_settings(tiny_model, tmp_path):
    card = train(TrainConfig(model="tiny-random", datasets=DATA, output_dir=str(tmp_path / "run"), max_steps=2,
                             per_device_train_batch_size=4, eval_steps=2, precision="bf16", group_by_length=True))
    assert card["runtime"] == {"device": "cpu", "precision": "bf16", "attn_implementation": "eager",
                               "loss_positions_only": True, "allocator_tuned": card["runtime"]["allocator_tuned"],
                               "frozen_weights_bf16": True}  # LoRA's frozen linear weights: cast once
    saved = json.loads((tmp_path / "run" / "run_card.json").read_text())
    assert saved["config"]["precision"] == "bf16" and saved["config"]["group_by_length"] is True
    assert torch.isfinite(torch.tensor(card["final_metrics"]["eval_loss"]))


def test_the_before_settings_still_train(tiny_model, tmp_path):
    card = train(TrainConfig(model="tiny-random", datasets=DATA, output_dir=str(tmp_path / "run"), max_steps=1,
                             per_device_train_batch_size=4, eval_split=None, precision="fp32",
                             attn_implementation="sdpa", loss_positions_only=False, lora_dropout=0.05,
                             tune_allocator=False))
    assert card["runtime"]["precision"] == "fp32" and card["runtime"]["attn_implementation"] == "sdpa"
    assert card["runtime"]["loss_positions_only"] is False


@pytest.mark.parametrize("has_bf16, expected", [(True, "bf16"), (False, "fp32")])
def test_auto_precision_follows_the_cpu(monkeypatch, has_bf16, expected):
    monkeypatch.setattr(cpu, "cpu_has_fast_bf16", lambda: has_bf16)
    assert cpu.resolve_precision("auto", "cpu") == expected
    assert cpu.resolve_precision("fp32", "cpu") == "fp32" and cpu.resolve_precision("bf16", "cpu") == "bf16"


def test_attention_is_eager_on_cpu_unless_chosen():
    assert resolve_attn_implementation("auto", "cpu") == "eager"
    assert resolve_attn_implementation("auto", "cuda") is None  # the model's default (SDPA)
    assert resolve_attn_implementation("sdpa", "cpu") == "sdpa"


@pytest.mark.parametrize("kw, message", [({"precision": "fp16x"}, "precision must be one of"),
                                         ({"attn_implementation": "fast"}, "attn_implementation must be one of")])
def test_bad_speed_settings_are_named(kw, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig(model="tiny-random", datasets=DATA, **kw)
    with pytest.raises(ValueError, match="precision must be one of"):
        cpu.resolve_precision("half", "cpu")


def test_the_allocator_setting_is_idempotent_and_can_be_turned_off(monkeypatch):
    first = cpu.tune_allocator()
    assert cpu.tune_allocator() == first  # a second call changes nothing
    monkeypatch.setattr(cpu, "_allocator_tuned", False)
    monkeypatch.setenv("COOKBOOK_TUNE_ALLOCATOR", "0")
    assert cpu.tune_allocator() is False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc allocator")
def test_freed_memory_goes_back_to_the_kernel_when_asked():
    import numpy as np

    def rss_mib():
        return int(open("/proc/self/status").read().split("VmRSS:")[1].split()[0]) // 1024

    if not cpu.tune_allocator():
        pytest.skip("no glibc mallopt here")
    blocks = [np.ones(2 * 10**6) for _ in range(40)]  # 640 MB the tuned heap keeps once freed
    del blocks
    held = rss_mib()
    assert cpu.release_memory()
    assert rss_mib() < held - 400


def test_cli_speed_options(tiny_model, tmp_path):
    from cookbook_datasets.cli import main

    assert main(["train", "--model", "tiny-random", "--dataset", "cookbook", "--dataset-config", "sort_words",
                 "--dataset-param", "num_examples=8", "--out", str(tmp_path / "cli"), "--max-steps", "1",
                 "--batch-size", "4", "--no-eval", "--precision", "fp32", "--attn-implementation", "sdpa",
                 "--full-lm-head", "--lora-dropout", "0.1"]) == 0
    card = json.loads((tmp_path / "cli" / "run_card.json").read_text())
    assert card["config"]["lora_dropout"] == 0.1 and card["runtime"]["loss_positions_only"] is False
    assert card["runtime"]["precision"] == "fp32" and card["runtime"]["attn_implementation"] == "sdpa"


def test_frozen_weights_stored_in_bf16_give_the_same_autocast_step(tiny_model):
    from peft import get_peft_model

    from cookbook_datasets.models import load_model
    from cookbook_datasets.trainers.frozen_weights import store_frozen_linear_weights

    ids = torch.randint(0, 49152, (2, 12))
    results = []
    for cast in (False, True):
        model, _ = load_model("tiny-random")
        torch.manual_seed(0)
        model = get_peft_model(model, LoraConfig(r=4, target_modules="all-linear", init_lora_weights=False,
                                                 task_type="CAUSAL_LM"))
        if cast:
            assert store_frozen_linear_weights(model) == 14  # 7 linear layers x 2 blocks
            assert model.get_base_model().model.embed_tokens.weight.dtype == torch.float32
        with torch.autocast("cpu", dtype=torch.bfloat16):
            loss = model(input_ids=ids, labels=ids).loss
        loss.backward()
        results.append((loss.item(), [p.grad.clone() for p in model.parameters() if p.requires_grad]))
    assert results[0][0] == results[1][0]
    assert all(torch.equal(a, b) for a, b in zip(results[0][1], results[1][1]))
