"""GPU throughput on one device (written for the lent H200): fine-tuning, sampling, scoring, K-center.

Parts, each with a time budget (a part stops early and says how much it did): on an H200 about 3
minutes for ceiling + kcenter and 3 for the rest (benchmarks/gpu_check.sh runs them in two calls), each saved to the JSON as soon as it finishes (a failed part records
its error and the others still run):

- ``ceiling``: dense 8192^3 matrix products, bf16 and fp32 (IEEE, no TF32), TFLOP/s.
- ``kcenter``: ``kcenter_greedy_torch`` selecting 10k of 10M x 576 float32 Gaussian embeddings on
  the GPU (576 is the default model's hidden size), against the plain one-center-per-step update
  (``block_size=1``) over the first picks; the picks of both must agree. A 1k-pick probe runs first
  and the 10k run only when the probe says it fits the budget.
- ``sft_lora`` / ``sft_full``: ``cookbook_datasets.trainers.train`` (TRL ``SFTTrainer``, bf16) on
  rows of three Cookbook templates (~95 tokens), batch 64: median seconds per step after warm-up,
  tokens/s (real tokens, TRL's ``num_tokens``), and the share of 790 TFLOP/s (the H200's dense
  bf16 rate as measured on such a machine here) the step reaches, with FLOPs estimated as
    full: 6 * params * tokens;
    LoRA: (4 * frozen params + 6 * LoRA params) * tokens (forward 2, input gradients through the
          frozen weights 2, no weight gradients for them; LoRA weights forward and backward 6).
  Both overcount the LM head (the project's trainer runs it on completion positions only) and
  leave out attention scores (~3% at these lengths): a rough share, stated as such.
- ``generation``: the engine (``TransformersEngine``, n=8 samples per prompt, temperature 0.7,
  top-k 40, 64 new tokens, 64 template prompts) vs a plain per-prompt ``model.generate`` loop
  (``num_return_sequences=8``) and vs ``model.generate`` on left-padded batches of as many rows
  as the engine's; sampled tokens/s (every generated token, end-of-sequence included).
- ``eval``: the harness's scoring (``eval.lm.loglikelihoods``, 4 choices per row) and greedy
  generation (``eval.lm.generate``, 32 new tokens) in rows/s at batch 16 (the default) and 64.

    python benchmarks/gpu_bench.py --out $OUT/gpu_bench.json           # on the GPU
    python benchmarks/gpu_bench.py --smoke --out /tmp/gpu_bench.json   # CPU check: tiny sizes, tiny-random
    python benchmarks/gpu_bench.py --only kcenter ceiling --out ...    # some parts
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import platform
import statistics
import sys
import tempfile
import time
import traceback
from importlib import metadata
from pathlib import Path

from cookbook_datasets.atomic_files import atomic_json, atomic_write_text

PEAK_BF16_TFLOPS = 790.0  # H200 dense bf16, 8192^3 products measured on such a machine here (769-798)
TEMPLATES = ("reverse_words", "sort_words", "dedupe_words")
PARTS = ("ceiling", "kcenter", "sft_lora", "sft_full", "generation", "eval")

SIZES = {
    "full": {
        "model": "smollm2-135m",
        "ceiling": {"n": 8192, "reps": 10},
        "kcenter": {"rows": 10_000_000, "dims": 576, "k": 10_000, "probe": 1_000, "reference": 300,
                    "block_bytes": 4 * 2**30, "budget_s": 150},
        "sft": {"batch": 64, "warmup": 3, "steps": 10, "budget_s": 30},
        "generation": {"prompts": 64, "n": 8, "max_new_tokens": 64, "batch_size": 256, "budget_s": 20},
        "eval": {"rows": 256, "batch_sizes": [16, 64], "max_new_tokens": 32, "budget_s": 10},
    },
    "smoke": {
        "model": "tiny-random",
        "ceiling": {"n": 256, "reps": 3},
        "kcenter": {"rows": 20_000, "dims": 32, "k": 60, "probe": 20, "reference": 10,
                    "block_bytes": 64 * 2**20, "budget_s": 20},
        "sft": {"batch": 4, "warmup": 1, "steps": 2, "budget_s": 20},
        "generation": {"prompts": 4, "n": 2, "max_new_tokens": 8, "batch_size": 4, "budget_s": 10},
        "eval": {"rows": 8, "batch_sizes": [4], "max_new_tokens": 8, "budget_s": 10},
    },
}


def _sync(device: str) -> None:
    import torch

    if device == "cuda":
        torch.cuda.synchronize()


def _free() -> None:
    import torch

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def _template_rows(count: int, split: str = "train") -> list[dict]:
    from cookbook_datasets import load_dataset

    per = math.ceil(count / len(TEMPLATES))
    rows = []
    for name in TEMPLATES:
        rows += list(load_dataset("cookbook", name=name, num_examples=per, split=split))
    return rows[:count]


# ---------------------------------------------------------------- parts

def part_ceiling(size: dict, device: str, model: str) -> dict:
    import torch

    out = {}
    for name, dtype, reps in (("bf16", torch.bfloat16, size["reps"]), ("fp32", torch.float32, max(2, size["reps"] // 3))):
        n = size["n"]
        a, b = torch.randn(n, n, dtype=dtype, device=device), torch.randn(n, n, dtype=dtype, device=device)
        for _ in range(3):
            a @ b
        _sync(device)
        start = time.perf_counter()
        for _ in range(reps):
            a @ b
        _sync(device)
        out[f"{name}_tflops"] = round(2 * n ** 3 * reps / (time.perf_counter() - start) / 1e12, 3)
        del a, b
    out["float32_matmul_precision"] = torch.get_float32_matmul_precision()
    out["n"] = size["n"]
    return out


def part_kcenter(size: dict, device: str, model: str) -> dict:
    import torch

    from cookbook_datasets.selection.kcenter_torch import kcenter_greedy_torch

    rows, dims, k = size["rows"], size["dims"], size["k"]
    generator = torch.Generator(device=device).manual_seed(0)
    start = time.perf_counter()
    x = torch.randn(rows, dims, device=device, generator=generator)
    _sync(device)
    out = {"rows": rows, "dims": dims, "k": k, "dtype": "float32", "data": "standard Gaussian",
           "float32_matmul_precision": torch.get_float32_matmul_precision(),
           "make_embeddings_seconds": round(time.perf_counter() - start, 2), "block_bytes": size["block_bytes"]}

    def timed(picks: int, **kw):
        _sync(device)
        t = time.perf_counter()
        result = kcenter_greedy_torch(x, picks, block_bytes=size["block_bytes"], **kw)
        _sync(device)
        return result, time.perf_counter() - t

    probe, probe_s = timed(size["probe"])
    out["probe"] = {"k": size["probe"], "seconds": round(probe_s, 2), "picks_per_second": round(size["probe"] / probe_s, 1)}
    reference, reference_s = timed(size["reference"], block_size=1)
    out["reference_one_center_per_step"] = {
        "k": size["reference"], "seconds": round(reference_s, 2),
        "picks_per_second": round(size["reference"] / reference_s, 1),
        "same_picks_as_blocked": reference.tolist() == probe[:size["reference"]].tolist()}
    predicted = probe_s * k / size["probe"]
    out["predicted_seconds_for_k"] = round(predicted, 1)
    if predicted <= size["budget_s"]:
        picks, seconds = timed(k)
        out["selected"] = {"k": k, "seconds": round(seconds, 2), "picks_per_second": round(k / seconds, 1),
                           "probe_is_its_prefix": picks[:size["probe"]].tolist() == probe.tolist()}
        if device == "cuda":
            out["selected"]["peak_memory_gib"] = round(torch.cuda.max_memory_allocated() / 2**30, 2)
    else:
        out["selected"] = {"skipped": f"the probe predicts {predicted:.0f} s, over the {size['budget_s']} s budget"}
    if device == "cpu":  # the smoke run: the CPU path's picks, for the record
        from cookbook_datasets.selection import kcenter_greedy

        out["cpu_path_same_picks"] = kcenter_greedy(x.numpy(), size["probe"]).tolist() == probe.tolist()
    return out


def part_sft(size: dict, device: str, model: str, use_lora: bool) -> dict:
    import torch
    from transformers import TrainerCallback

    from cookbook_datasets.trainers import TrainConfig, train

    ends: list[float] = []
    counts: dict = {}

    class StepClock(TrainerCallback):
        deadline = None

        def on_train_begin(self, args, state, control, model=None, **kw):
            params = list(model.parameters())
            counts["params"] = sum(p.numel() for p in params)
            counts["trainable"] = sum(p.numel() for p in params if p.requires_grad)
            self.deadline = time.perf_counter() + size["budget_s"]

        def on_step_end(self, args, state, control, **kw):
            _sync(device)
            ends.append(time.perf_counter())
            if time.perf_counter() > self.deadline and len(ends) > size["warmup"] + 1:
                control.should_training_stop = True

    batch, warmup = size["batch"], size["warmup"]
    steps = warmup + size["steps"]
    per_template = math.ceil(batch * steps / len(TEMPLATES))
    with tempfile.TemporaryDirectory(prefix="gpu-bench-sft-") as out_dir:
        config = TrainConfig(model=model, datasets=[{"path": "cookbook", "name": t, "num_examples": per_template}
                                                    for t in TEMPLATES],
                             output_dir=out_dir, use_lora=use_lora, max_steps=steps, per_device_train_batch_size=batch,
                             learning_rate=2e-4 if use_lora else 4e-5, eval_split=None, logging_steps=1,
                             eval_steps=10**6, resume=False)
        card = train(config, callbacks=[StepClock()])
    timed = len(ends) - warmup
    step_times = [b - a for a, b in zip(ends[warmup - 1:], ends[warmup:])]
    tokens = [h["num_tokens"] for h in card["curve"] if "num_tokens" in h]
    tokens_per_step = (tokens[len(ends) - 1] - tokens[warmup - 1]) / timed if len(tokens) >= len(ends) else None
    seconds = statistics.median(step_times)
    params, trainable = counts["params"], counts["trainable"]
    if use_lora:
        flop_per_token, formula = 4 * (params - trainable) + 6 * trainable, "(4*frozen + 6*lora) params per token"
    else:
        flop_per_token, formula = 6 * params, "6 * params per token"
    out = {"batch": batch, "warmup_steps": warmup, "timed_steps": timed, "step_times": [round(t, 4) for t in step_times],
           "seconds_per_step": round(seconds, 4), "tokens_per_step": tokens_per_step, "params": params,
           "trainable_params": trainable, "flop_estimate": formula, "runtime": card["runtime"],
           "losses": [round(h["loss"], 4) for h in card["curve"] if "loss" in h]}
    if tokens_per_step:
        tflops = flop_per_token * tokens_per_step / seconds / 1e12
        out.update(tokens_per_second=round(tokens_per_step / seconds, 1), tflops=round(tflops, 2),
                   share_of_790_tflops=round(tflops / PEAK_BF16_TFLOPS, 4))
    if device == "cuda":
        out["peak_memory_gib"] = round(torch.cuda.max_memory_allocated() / 2**30, 2)
    return out


def _counted(rows: list[list[int]], eos: set) -> list[int]:
    """Sampled tokens per row: up to and including the first end-of-sequence token."""
    lengths = []
    for row in rows:
        stop = next((i for i, t in enumerate(row) if t in eos), None)
        lengths.append(len(row) if stop is None else stop + 1)
    return lengths


def part_generation(size: dict, device: str, model: str) -> dict:
    import torch

    from cookbook_datasets.generation import SamplingParams, TransformersEngine
    from cookbook_datasets.generation.transformers_backend import eos_ids
    from cookbook_datasets.models import load_model

    lm, tokenizer = load_model(model, device=device)
    prompts = [r["prompt"] for r in _template_rows(size["prompts"])]
    n, max_new, batch = size["n"], size["max_new_tokens"], size["batch_size"]
    params = SamplingParams(n=n, temperature=0.7, top_k=40, max_new_tokens=max_new, seed=0)
    eos = eos_ids(lm, tokenizer)
    per_batch = max(1, batch // n)
    out = {"prompts": len(prompts), "n": n, "max_new_tokens": max_new, "rows_per_batch": per_batch * n,
           "dtype": str(lm.dtype), "temperature": 0.7, "top_k": 40}

    def run(name, step):  # step(prompts of one batch) -> sampled token counts; stops at the budget
        deadline = time.perf_counter() + size["budget_s"]
        step(prompts[:1])  # warm-up
        _sync(device)
        lengths, done, start = [], 0, time.perf_counter()
        for i in range(0, len(prompts), per_batch):
            lengths += step(prompts[i:i + per_batch])
            done = min(len(prompts), i + per_batch)
            if time.perf_counter() > deadline:
                break
        _sync(device)
        seconds = time.perf_counter() - start
        out[name] = {"prompts_done": done, "samples": len(lengths), "sampled_tokens": sum(lengths),
                     "seconds": round(seconds, 2), "tokens_per_second": round(sum(lengths) / seconds, 1),
                     "mean_tokens_per_sample": round(sum(lengths) / max(1, len(lengths)), 1)}

    engine = TransformersEngine(lm, tokenizer, batch_size=per_batch * n, progress=False)
    run("engine", lambda ps: [c.num_tokens for o in engine.generate(ps, params) for c in o.completions])

    sample_kw = dict(do_sample=True, temperature=0.7, top_k=40, top_p=1.0, num_return_sequences=n,
                     max_new_tokens=max_new, pad_token_id=tokenizer.pad_token_id)

    @torch.inference_mode()
    def loop(ps):  # one model.generate per prompt
        lengths = []
        for p in ps:
            ids = tokenizer.apply_chat_template(p, add_generation_prompt=True, return_tensors="pt", return_dict=True)
            ids = {k: v.to(lm.device) for k, v in ids.items()}
            new = lm.generate(**ids, **sample_kw)[:, ids["input_ids"].shape[1]:]
            lengths += _counted(new.tolist(), eos)
        return lengths

    @torch.inference_mode()
    def batched(ps):  # one model.generate per batch of left-padded prompts
        texts = [tokenizer.apply_chat_template(p, tokenize=False, add_generation_prompt=True) for p in ps]
        side, tokenizer.padding_side = tokenizer.padding_side, "left"
        try:
            ids = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False).to(lm.device)
        finally:
            tokenizer.padding_side = side
        new = lm.generate(**ids, **sample_kw)[:, ids["input_ids"].shape[1]:]
        return _counted(new.tolist(), eos)

    torch.manual_seed(0)
    run("generate_loop", loop)
    run("generate_batched", batched)
    for ref in ("generate_loop", "generate_batched"):
        out[f"engine_speedup_over_{ref}"] = round(out["engine"]["tokens_per_second"] / out[ref]["tokens_per_second"], 2)
    return out


def part_eval(size: dict, device: str, model: str) -> dict:
    from cookbook_datasets.eval.lm import generate, loglikelihoods
    from cookbook_datasets.models import load_model

    lm, tokenizer = load_model(model, device=device)
    rows = _template_rows(size["rows"])
    prompts = [r["prompt"] for r in rows]
    answers = [r["completion"][0]["content"] for r in rows]
    contexts = [tokenizer.apply_chat_template(p, tokenize=False, add_generation_prompt=True) for p in prompts]
    requests = [(c, answers[(i + j) % len(answers)]) for i, c in enumerate(contexts) for j in range(4)]
    out = {"rows": len(rows), "choices_per_row": 4, "max_new_tokens": size["max_new_tokens"], "dtype": str(lm.dtype)}
    loglikelihoods(lm, tokenizer, requests[:8], batch_size=2)  # warm-up
    generate(lm, tokenizer, prompts[:2], max_new_tokens=4, batch_size=2)
    for batch in size["batch_sizes"]:
        for name, fn, per in (
                ("loglikelihood", lambda r: loglikelihoods(lm, tokenizer, requests[4 * r[0]:4 * r[1]], batch_size=batch), 4),
                ("greedy", lambda r: generate(lm, tokenizer, prompts[r[0]:r[1]], max_new_tokens=size["max_new_tokens"],
                                              batch_size=batch), 1)):
            deadline = time.perf_counter() + size["budget_s"]
            _sync(device)
            start, done = time.perf_counter(), 0
            chunk = max(batch, 64)
            while done < len(rows) and time.perf_counter() < deadline:
                fn((done, min(len(rows), done + chunk)))
                done = min(len(rows), done + chunk)
            _sync(device)
            seconds = time.perf_counter() - start
            out[f"{name}_batch_{batch}"] = {"rows": done, "seconds": round(seconds, 2),
                                            "rows_per_second": round(done / seconds, 2)}
    return out


RUNNERS = {
    "ceiling": part_ceiling,
    "kcenter": part_kcenter,
    "sft_lora": lambda size, device, model: part_sft(size, device, model, use_lora=True),
    "sft_full": lambda size, device, model: part_sft(size, device, model, use_lora=False),
    "generation": part_generation,
    "eval": part_eval,
}


# ---------------------------------------------------------------- report

def _versions() -> dict:
    out = {}
    for name in ("torch", "transformers", "trl", "peft", "accelerate", "datasets", "evaluate", "cookbook-datasets"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def _machine(device: str) -> dict:
    import torch

    out = {"python": platform.python_version(), "cpu_count": os.cpu_count(), "device": device, **_versions()}
    if device == "cuda":
        props = torch.cuda.get_device_properties(0)
        out.update(gpu=props.name, gpu_memory_gib=round(props.total_memory / 2**30, 1),
                   multiprocessors=props.multi_processor_count, cuda=torch.version.cuda)
    return out


def report(results: dict) -> str:
    p = results["parts"]
    m = results["machine"]
    lines = [f"# GPU benchmark ({m.get('gpu', m['device'])}, torch {m['torch']}, transformers {m['transformers']}, "
             f"trl {m['trl']})", ""]
    if "error" not in p.get("ceiling", {"error": 1}):
        c = p["ceiling"]
        lines += [f"Ceiling: bf16 {c['bf16_tflops']} TFLOP/s, fp32 {c['fp32_tflops']} TFLOP/s ({c['n']}^3 products).", ""]
    sft = [(k, v) for k, v in p.items() if k.startswith("sft") and "error" not in v]
    if sft:
        lines += ["| fine-tuning | batch | s/step | tokens/s | TFLOP/s (estimate) | share of 790 | peak GiB |",
                  "|---|---:|---:|---:|---:|---:|---:|"]
        for k, v in sft:
            lines.append(f"| {k[4:]} | {v['batch']} | {v['seconds_per_step']:.3f} | {v.get('tokens_per_second', 0):.0f} | "
                         f"{v.get('tflops', 0):.1f} | {v.get('share_of_790_tflops', 0):.1%} | {v.get('peak_memory_gib', '')} |")
        lines.append("")
    g = p.get("generation", {})
    if "engine" in g:
        lines += ["| sampling | tokens/s | samples | mean tokens |", "|---|---:|---:|---:|"]
        for k in ("engine", "generate_loop", "generate_batched"):
            lines.append(f"| {k} | {g[k]['tokens_per_second']:.0f} | {g[k]['samples']} | {g[k]['mean_tokens_per_sample']} |")
        lines += ["", f"Engine speed-up: {g['engine_speedup_over_generate_loop']}x over the per-prompt loop, "
                      f"{g['engine_speedup_over_generate_batched']}x over batched generate.", ""]
    e = p.get("eval", {})
    if "rows" in e and "error" not in e:
        lines += ["| evaluation | rows/s |", "|---|---:|"]
        lines += [f"| {k} | {v['rows_per_second']} |" for k, v in e.items() if isinstance(v, dict)]
        lines.append("")
    kc = p.get("kcenter", {})
    if "probe" in kc:
        sel = kc["selected"]
        lines += [f"K-center, {kc['k']} of {kc['rows']:,} x {kc['dims']} on {m['device']}: "
                  + (f"{sel['seconds']} s ({sel['picks_per_second']} picks/s)" if "seconds" in sel else sel["skipped"])
                  + f"; one center per step: {kc['reference_one_center_per_step']['picks_per_second']} picks/s "
                  f"(same picks: {kc['reference_one_center_per_step']['same_picks_as_blocked']}).", ""]
    failed = [k for k, v in p.items() if "error" in v]
    if failed:
        lines.append("Failed parts: " + ", ".join(failed))
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, help="JSON results (a Markdown summary is written next to it)")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes and the tiny-random model (checks the script on CPU)")
    parser.add_argument("--only", nargs="+", choices=PARTS, default=None, help="run only these parts")
    parser.add_argument("--model", default=None, help="model spec (default: smollm2-135m; tiny-random with --smoke)")
    args = parser.parse_args(argv)

    import torch

    device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cpu" and not args.smoke:
        raise SystemExit("no CUDA device: this benchmark is for a GPU (use --smoke to check the script on CPU)")
    sizes = SIZES["smoke" if args.smoke else "full"]
    model = args.model or sizes["model"]
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    results = {"settings": {"smoke": args.smoke, "model": model, **{k: v for k, v in sizes.items() if k != "model"}},
               "machine": _machine(device), "peak_bf16_tflops": PEAK_BF16_TFLOPS, "parts": {}}
    for name in PARTS:
        if args.only and name not in args.only:
            continue
        size = sizes["sft" if name.startswith("sft") else name]
        print(f"== {name}", flush=True)
        start = time.perf_counter()
        try:
            result = RUNNERS[name](size, device, model)
        except Exception as e:  # record it and go on: one run on the device has to bring back what it can
            traceback.print_exc()
            result = {"error": f"{type(e).__name__}: {e}", "traceback": traceback.format_exc()[-3000:]}
        result["part_seconds"] = round(time.perf_counter() - start, 1)
        results["parts"][name] = result
        _free()
        atomic_json(out, results, sort_keys=False)
        print(json.dumps({k: v for k, v in result.items() if k != "traceback"}, default=str)[:1500], flush=True)
    table = report(results)
    atomic_write_text(out.with_suffix(".md"), table)
    print(table)
    print(f"wrote {out} and {out.with_suffix('.md')}")
    return 1 if any("error" in v for v in results["parts"].values()) else 0


if __name__ == "__main__":
    sys.exit(main())
