"""On a CUDA device, with the default model: fine-tuning (LoRA and full) in bf16, the generation
engine's transformers backend, the evaluation harness against the CPU's fp32 results on the same
rows, and K-center on the GPU against the CPU path. Every test is skipped without CUDA.

On the lent GPU machine: ``bash benchmarks/gpu_check.sh`` (its header says how to call it).
Measured agreement figures go to the JUnit XML (``record_property``) as well as being asserted.
"""

import json
import math

import numpy as np
import pytest
import torch

from cookbook_datasets import load_dataset
from cookbook_datasets.eval import EvalConfig, evaluate_model
from cookbook_datasets.eval.lm import generate, loglikelihoods
from cookbook_datasets.generation import SamplingParams, TransformersEngine
from cookbook_datasets.models import load_model
from cookbook_datasets.selection import kcenter_greedy
from cookbook_datasets.selection.kcenter_torch import kcenter_greedy_torch
from cookbook_datasets.trainers import TrainConfig, train

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")]

MODEL = "smollm2-135m"
SYSTEM = {"role": "system", "content": "Answer the question in one short sentence. " * 4}
PROMPTS = [[SYSTEM, {"role": "user", "content": text}]
           for text in ("hi", "What is the capital of France?", "Name three colours, please.", "ok")]


def _load(device: str, dtype: str):
    try:
        return load_model(MODEL, device=device, dtype=dtype)
    except FileNotFoundError as e:  # the default model is not installed
        pytest.skip(str(e))


@pytest.fixture(scope="module")
def cuda_bf16():
    return _load("cuda", "bfloat16")  # what load_model picks on a GPU


@pytest.fixture(scope="module")
def cuda_fp32():
    return _load("cuda", "float32")


@pytest.fixture(scope="module")
def cpu_fp32():
    return _load("cpu", "float32")


@pytest.fixture(scope="module")
def eval_rows():
    """16 template rows: chat prompts, and 4 answer choices each (its own answer first)."""
    rows = load_dataset("cookbook", name="reverse_words", num_examples=16, split="train")
    prompts = [r["prompt"] for r in rows]
    answers = [r["completion"][0]["content"] for r in rows]
    return prompts, [[answers[(i + j) % len(answers)] for j in range(4)] for i in range(len(answers))]


# -- fine-tuning ----------------------------------------------------------------------------------
def _train(tmp_path, **kw):
    base = dict(model=MODEL, datasets=[{"path": "cookbook", "name": "reverse_words", "num_examples": 8}],
                output_dir=str(tmp_path / "run"), max_steps=6, per_device_train_batch_size=8, logging_steps=1,
                lr_scheduler_type="constant", warmup_ratio=0.0, eval_split=None, resume=False)
    base.update(kw)
    return train(TrainConfig(**base))


@pytest.mark.parametrize("use_lora, learning_rate", [(True, 1e-3), (False, 1e-4)], ids=["lora", "full"])
def test_sft_in_bf16_on_cuda_the_loss_on_one_batch_falls(use_lora, learning_rate, tmp_path, record_property):
    # 8 rows, batch 8: every step sees the same rows, so the loss must fall step after step
    card = _train(tmp_path, use_lora=use_lora, learning_rate=learning_rate)
    assert card["runtime"]["device"] == "cuda" and card["runtime"]["precision"] == "bf16"
    losses = [h["loss"] for h in card["curve"] if "loss" in h]
    record_property("losses", json.dumps(losses))
    assert len(losses) == 6 and all(math.isfinite(x) for x in losses)
    assert losses[-1] < 0.8 * losses[0], losses


def _changed_share(run_dir, prefix="model.layers."):
    """Share of the decoder layers' weights (all of which get gradients) that differ from the base."""
    from safetensors.torch import load_file

    base, _ = load_model(MODEL, device="cpu", dtype="float32")
    initial = base.state_dict()
    saved = {}
    for path in sorted(run_dir.glob("*.safetensors")):
        saved.update(load_file(str(path)))
    changed = total = 0
    for name, weight in saved.items():
        if name.startswith(prefix) and name.endswith(".weight"):
            changed += int((weight != initial[name].to(weight.dtype)).sum())
            total += weight.numel()
    assert total > 0, f"no {prefix}* weights saved in {run_dir}"
    return changed / total


def test_full_fine_tuning_on_cuda_keeps_the_updates(tmp_path, record_property):
    # At full_gpu.yaml's learning rate an AdamW update is ~4e-5 of a weight: in bf16 weights (8
    # significant bits) most such updates round away (checked on CPU: one step changed 7% of them),
    # so full fine-tuning needs fp32 weights under bf16 autocast. With fp32 weights every weight
    # that has a gradient moves.
    _train(tmp_path, use_lora=False, learning_rate=4e-5, max_steps=2)
    share = _changed_share(tmp_path / "run")
    record_property("changed_share", share)
    assert share > 0.9, f"only {share:.0%} of the decoder weights changed: updates lost to bf16 rounding"


# -- generation engine ----------------------------------------------------------------------------
SAMPLING = SamplingParams(n=4, temperature=1.0, top_k=50, max_new_tokens=16, seed=7)


def _engine(model_and_tokenizer, batch_size):
    model, tokenizer = model_and_tokenizer
    return TransformersEngine(model, tokenizer, batch_size=batch_size, progress=False)


def test_engine_on_cuda_gives_n_samples_per_prompt_with_token_counts(cuda_bf16):
    engine = _engine(cuda_bf16, 64)
    assert engine.model.device.type == "cuda"
    outs = engine.generate(PROMPTS, SAMPLING)
    assert len(outs) == len(PROMPTS) and all(len(o.completions) == 4 for o in outs)
    for out, ids in zip(outs, engine.encode(PROMPTS)):
        assert out.prompt_tokens == len(ids)
        assert out.completion_tokens == sum(c.num_tokens for c in out.completions)
        for c in out.completions:
            assert c.num_tokens == len(c.token_ids) <= 16
            assert c.finish_reason == ("length" if c.num_tokens == 16 else "stop")
    assert len({tuple(c.token_ids) for o in outs for c in o.completions}) > len(PROMPTS)  # samples differ


def test_engine_on_cuda_same_seed_same_batch_same_samples(cuda_bf16):
    engine = _engine(cuda_bf16, 64)
    first = [o.completions for o in engine.generate(PROMPTS, SAMPLING)]
    assert [o.completions for o in engine.generate(PROMPTS, SAMPLING)] == first
    assert [o.completions for o in engine.generate(PROMPTS, SAMPLING, seed=8)] != first


def _samples(engine):
    return [c.token_ids for o in engine.generate(PROMPTS, SAMPLING) for c in o.completions]


def test_engine_on_cuda_across_batch_sizes(cuda_fp32, cuda_bf16, record_property):
    # What to expect: a sample's random stream does not depend on its batch, but the logits do, by
    # rounding (other padding widths, other kernels). In fp32 that rounding (~1e-6) never moves a
    # sample across a token boundary, so the samples are identical, as on CPU. In bf16 (~4e-3) a
    # sample that meets a near-tie may go another way from there: at least 3/4 of them are the same
    # (bf16 on CPU: 16 of 16 the same at batch 64 and 4).
    assert _samples(_engine(cuda_fp32, 4)) == _samples(_engine(cuda_fp32, 64))
    small, large = _samples(_engine(cuda_bf16, 4)), _samples(_engine(cuda_bf16, 64))
    same = sum(a == b for a, b in zip(small, large)) / len(large)
    record_property("bf16_same_share_batch_4_vs_64", same)
    assert same >= 0.75, f"only {same:.0%} of the bf16 samples are the same at batch sizes 4 and 64"


# -- evaluation harness: CUDA against the CPU's fp32 ----------------------------------------------
def _requests(tokenizer, eval_rows):
    prompts, choices = eval_rows
    contexts = [tokenizer.apply_chat_template(p, tokenize=False, add_generation_prompt=True) for p in prompts]
    return [(context, choice) for context, row in zip(contexts, choices) for choice in row]


def _greedy_tokens(model_and_tokenizer, prompts, max_new_tokens=16):
    texts = generate(*model_and_tokenizer, prompts, max_new_tokens=max_new_tokens, batch_size=16)
    return [model_and_tokenizer[1](t, add_special_tokens=False)["input_ids"] for t in texts], texts


def _common_prefix(a, b):
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


def test_eval_on_cuda_fp32_equals_the_cpu(cuda_fp32, cpu_fp32, eval_rows, record_property):
    # Tolerance: 0.01 nats per request (fp32 sums of ~10-160 nats differ by ~1e-4 between devices),
    # and the same greedy text on every row.
    requests = _requests(cpu_fp32[1], eval_rows)
    cpu = loglikelihoods(*cpu_fp32, requests, batch_size=16)
    cuda = loglikelihoods(*cuda_fp32, requests, batch_size=16)
    diff = max(abs(a - b) for a, b in zip(cpu, cuda))
    record_property("fp32_max_abs_loglik_difference", diff)
    assert diff <= 0.01
    _, cpu_texts = _greedy_tokens(cpu_fp32, eval_rows[0])
    _, cuda_texts = _greedy_tokens(cuda_fp32, eval_rows[0])
    assert cuda_texts == cpu_texts


def test_eval_on_cuda_bf16_agrees_with_the_cpu_fp32(cuda_bf16, cpu_fp32, eval_rows, record_property):
    # Tolerances, from bf16 against fp32 on CPU with these rows (max 0.039 nats per continuation
    # token, the same choice on 16 of 16 rows, greedy texts the same for 81% of their tokens):
    # at most 0.1 nats per continuation token, the same choice on at least 15 of 16 rows, and the
    # greedy texts agree on at least half of their tokens on average (up to the first difference).
    tokenizer = cpu_fp32[1]
    requests = _requests(tokenizer, eval_rows)
    cpu = loglikelihoods(*cpu_fp32, requests, batch_size=16)
    cuda = loglikelihoods(*cuda_bf16, requests, batch_size=16)
    lengths = [len(tokenizer(c, add_special_tokens=False)["input_ids"]) for _, c in requests]
    per_token = max(abs(a - b) / n for a, b, n in zip(cpu, cuda, lengths))
    choices = [(int(np.argmax(cpu[i:i + 4])), int(np.argmax(cuda[i:i + 4]))) for i in range(0, len(cpu), 4)]
    same_choice = sum(a == b for a, b in choices)
    cpu_tokens, cpu_texts = _greedy_tokens(cpu_fp32, eval_rows[0])
    cuda_tokens, cuda_texts = _greedy_tokens(cuda_bf16, eval_rows[0])
    prefix = sum(_common_prefix(a, b) for a, b in zip(cpu_tokens, cuda_tokens)) / sum(map(len, cpu_tokens))
    record_property("bf16_max_abs_loglik_difference", max(abs(a - b) for a, b in zip(cpu, cuda)))
    record_property("bf16_max_abs_loglik_difference_per_token", per_token)
    record_property("bf16_same_choice", f"{same_choice}/{len(choices)}")
    record_property("bf16_greedy_same_text", f"{sum(a == b for a, b in zip(cpu_texts, cuda_texts))}/{len(cpu_texts)}")
    record_property("bf16_greedy_common_prefix_share", prefix)
    assert per_token <= 0.1
    assert same_choice >= len(choices) - 1
    assert prefix >= 0.5


def test_evaluate_model_runs_on_cuda(tmp_path):
    results = evaluate_model(EvalConfig(model=MODEL, tasks=["reverse_words"], limit=8), out=tmp_path / "r.json")
    metrics = results["tasks"]["reverse_words"]["metrics"]
    assert metrics and all(0.0 <= v <= 1.0 for v in metrics.values() if isinstance(v, float))


# -- K-center -------------------------------------------------------------------------------------
@pytest.fixture
def ieee_fp32():
    assert torch.get_float32_matmul_precision() == "highest", "TF32 is on: float32 distances would round differently"


@pytest.mark.parametrize("block_size", [1, 512])
@pytest.mark.parametrize("selected", [(), (5, 1234, 19_999)])
def test_kcenter_on_cuda_picks_what_the_cpu_path_picks(ieee_fp32, block_size, selected):
    x = np.random.default_rng(0).standard_normal((20_000, 64)).astype(np.float32)
    expected = kcenter_greedy(x, 200, selected)
    picks = kcenter_greedy_torch(torch.from_numpy(x).cuda(), 200, selected, block_size=block_size)
    assert picks.tolist() == expected.tolist()


def test_kcenter_on_cuda_breaks_ties_as_the_cpu_path(ieee_fp32):
    base = np.random.default_rng(1).integers(-3, 4, size=(500, 16)).astype(np.float32)
    x = np.concatenate([base, -base, base])  # exact distances, real ties, mean 0
    assert kcenter_greedy_torch(torch.from_numpy(x).cuda(), 100).tolist() == kcenter_greedy(x, 100).tolist()
