"""Training and scoring throughput: the project's paths, a plain PyTorch loop, and the FLOP ceiling.

Measured side by side in one run, on the same data:
- ``train`` (TRL ``SFTTrainer`` through ``cookbook_datasets.trainers.train``) on template rows of
  ~95 tokens, batch 8, LoRA r=16 all-linear, and full fine-tuning: seconds per step, steps/s,
  trained tokens/s; with the settings from before this benchmark existed ("before": fp32, SDPA,
  LM head on every position, LoRA dropout 0.05, default allocator) and with today's defaults;
- the same step written as a plain PyTorch loop (forward, backward, clipping, fused AdamW) over
  the same batches: the floor of what the trainer stack adds;
- every lever alone: today's defaults with one setting put back as it was (and torch.compile, which
  is not a default, measured on the plain loop with ``--only "plain lora compiled"``);
- the ceiling: the dense matmul FLOP rate of this CPU (fp32, bf16) and the step's FLOP count
  (``torch.utils.flop_counter``), so each path's share of the ceiling is stated;
- evaluation: log-likelihood scoring (multiple choice) and greedy generation in rows/s, the
  harness (batched) vs a plain per-row loop, fp32 and bf16 weights, with their FLOP rates.

Each arm runs in its own process (allocator settings are process-wide) and is saved as soon as it
finishes, so a killed run resumes with the arms it had not done.

    python benchmarks/training.py --out results/training.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from cookbook_datasets.atomic_files import atomic_json, atomic_write_text

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
TEMPLATES = ("reverse_words", "sort_words", "dedupe_words")  # ~95 tokens, ~19 labelled, pseudo-words
BATCH = 8

BEFORE = {"precision": "fp32", "attn_implementation": "sdpa", "loss_positions_only": False, "lora_dropout": 0.05,
          "tune_allocator": False}
# today's defaults with one lever put back as it was
LEVERS = {
    "bf16 autocast": {"precision": "fp32"},
    "eager attention": {"attn_implementation": "sdpa"},
    "LM head on loss positions only": {"loss_positions_only": False},
    "no LoRA dropout": {"lora_dropout": 0.05},
    "allocator keeps freed memory": {"tune_allocator": False},
    "frozen LoRA weights stored in bf16": {"dtype": "float32"},
}


def arms() -> dict[str, dict]:
    out = {"ceiling": {"kind": "ceiling"}, "flops": {"kind": "flops"},
           "train lora before": {"kind": "train", "settings": BEFORE},
           "train lora": {"kind": "train", "settings": {}},
           "plain lora": {"kind": "plain", "settings": {}},
           "plain lora before": {"kind": "plain", "settings": BEFORE},
           "train full before": {"kind": "train", "settings": {**BEFORE, "use_lora": False}},
           "train full": {"kind": "train", "settings": {"use_lora": False}},
           "plain full": {"kind": "plain", "settings": {"use_lora": False}},
           "train lora group_by_length": {"kind": "train", "settings": {"group_by_length": True}}}
    # 10 minutes of compilation on 2 cores before the first step: run it on request only
    out["plain lora compiled"] = {"kind": "plain", "settings": {"compile": True}, "opt_in": True}
    for i, (lever, undo) in enumerate(LEVERS.items()):
        out[f"lever: {lever}"] = {"kind": "train", "settings": undo, "lever": lever}
        if i % 3 == 2:  # today's defaults again between the levers: steps vary by 10-20% over a run
            out[f"train lora #{i // 3 + 2}"] = {"kind": "train", "settings": {}}
    for dtype in ("fp32", "bf16"):
        out[f"eval mc {dtype}"] = {"kind": "eval_mc", "dtype": dtype}
        out[f"eval generation {dtype}"] = {"kind": "eval_gen", "dtype": dtype}
    return out


# ---------------------------------------------------------------- shared pieces (run in the arm process)

def _data_specs(rows: int) -> list[dict]:
    return [{"path": "cookbook", "name": n, "num_examples": rows} for n in TEMPLATES]


def _resolved(settings: dict) -> dict:
    """Today's TrainConfig defaults updated with ``settings`` (what the plain loop mirrors)."""
    from cookbook_datasets.trainers import TrainConfig

    base = TrainConfig(datasets=_data_specs(8))
    keys = ("precision", "attn_implementation", "loss_positions_only", "lora_dropout", "tune_allocator", "use_lora",
            "lora_r", "lora_alpha", "learning_rate", "dtype")
    return {k: settings.get(k, getattr(base, k)) for k in keys}


def _batches(tokenizer, steps: int, seed: int = 0):
    """Right-padded batches with completion-only labels, as TRL's collator builds them."""
    import random

    import torch

    from cookbook_datasets.data_spec import DataSpec, load_training_data

    data = load_training_data([DataSpec.from_dict(d) for d in _data_specs(BATCH * steps)], seed=seed)
    rows = []
    for row in data.select(range(BATCH * steps)):
        prompt = tokenizer.apply_chat_template(row["prompt"], tokenize=False, add_generation_prompt=True)
        full = tokenizer.apply_chat_template(row["prompt"] + row["completion"], tokenize=False)
        p_ids, ids = tokenizer(prompt)["input_ids"], tokenizer(full)["input_ids"]
        rows.append((ids, len(p_ids)))
    random.Random(seed).shuffle(rows)
    for b in range(steps):
        chunk = rows[b * BATCH:(b + 1) * BATCH]
        width = max(len(ids) for ids, _ in chunk)
        input_ids = torch.full((len(chunk), width), tokenizer.pad_token_id)
        mask = torch.zeros((len(chunk), width), dtype=torch.long)
        labels = torch.full((len(chunk), width), -100)
        for j, (ids, start) in enumerate(chunk):
            input_ids[j, :len(ids)] = torch.tensor(ids)
            mask[j, :len(ids)] = 1
            labels[j, start:len(ids)] = torch.tensor(ids[start:])
        yield input_ids, mask, labels


def _prepare_model(s: dict):
    """The model as ``train`` prepares it: attention kernel, LoRA (or all weights trainable)."""
    from peft import LoraConfig, get_peft_model

    from cookbook_datasets.cpu import resolve_precision, tune_allocator
    from cookbook_datasets.models import load_model
    from cookbook_datasets.trainers.frozen_weights import frozen_weights_go_bf16, store_frozen_linear_weights
    from cookbook_datasets.trainers.sft import resolve_attn_implementation

    if s["tune_allocator"]:
        tune_allocator()
    model, tokenizer = load_model("smollm2-135m", device="cpu")
    attn = resolve_attn_implementation(s["attn_implementation"], "cpu")
    if attn:
        model.set_attn_implementation(attn)
    if s["use_lora"]:
        model = get_peft_model(model, LoraConfig(r=s["lora_r"], lora_alpha=s["lora_alpha"], lora_dropout=s["lora_dropout"],
                                                 target_modules="all-linear", task_type="CAUSAL_LM"))
    precision = resolve_precision(s["precision"], "cpu")
    if frozen_weights_go_bf16(s["use_lora"], precision, "cpu", s["dtype"]):
        import torch

        store_frozen_linear_weights(model, torch.bfloat16)
    model.train()
    return model, tokenizer, precision


def _loss(model, s, input_ids, mask, labels):
    import torch
    import torch.nn.functional as F

    lm = model.get_base_model() if hasattr(model, "get_base_model") else model
    if not s["loss_positions_only"]:
        return model(input_ids=input_ids, attention_mask=mask, labels=labels).loss
    hidden = lm.model(input_ids=input_ids, attention_mask=mask).last_hidden_state[:, :-1]
    targets = labels[:, 1:]
    keep = targets != -100
    return F.cross_entropy(lm.lm_head(hidden[keep]).float(), targets[keep])


# ---------------------------------------------------------------- arms

def run_ceiling(args) -> dict:
    import torch

    out = {}
    for name, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
        best = 0.0
        for n in (1024, 2048, 3072):
            a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
            for _ in range(2):
                a @ b
            reps, start = 0, time.perf_counter()
            while time.perf_counter() - start < 2.0:
                a @ b
                reps += 1
            best = max(best, 2 * n ** 3 * reps / (time.perf_counter() - start))
        out[f"{name}_gflops"] = best / 1e9
    return out


def run_flops(args, batches: int = 4) -> dict:
    """FLOPs of one step per real (unpadded) token, counted over a few batches: each arm's FLOPs per
    step are this times its own tokens per step (its batches have the same length distribution)."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    out = {}
    for label, settings in (("lora", {}), ("lora before", BEFORE), ("full", {"use_lora": False})):
        s = _resolved(settings)
        model, tokenizer, precision = _prepare_model(s)
        counter, tokens, labelled = FlopCounterMode(display=False), 0, 0
        with counter:
            for input_ids, mask, labels in _batches(tokenizer, batches):
                with torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16"):
                    loss = _loss(model, s, input_ids, mask, labels)
                loss.backward()
                tokens += int(mask.sum())
                labelled += int((labels != -100).sum())
        out[label] = {"gflop_per_token": counter.get_total_flops() / 1e9 / tokens, "batches": batches,
                      "real_tokens_per_batch": tokens / batches, "labelled_tokens_per_batch": labelled / batches}
        del model
    return out


def run_train(args, settings: dict) -> dict:
    from transformers import TrainerCallback

    from cookbook_datasets.trainers import TrainConfig, train

    ends: list[float] = []
    cpu: list[os.times_result] = []

    class StepClock(TrainerCallback):
        def on_step_end(self, a, state, control, **kw):
            ends.append(time.perf_counter())
            cpu.append(os.times())

    steps = args.warmup + args.steps
    out_dir = tempfile.mkdtemp(prefix="bench-train-")
    config = TrainConfig(model="smollm2-135m", datasets=_data_specs(BATCH * steps), output_dir=out_dir,
                         max_steps=steps, per_device_train_batch_size=BATCH, eval_split=None, logging_steps=1,
                         learning_rate=1e-3 if settings.get("use_lora", True) else 5e-5, resume=False,
                         **settings)
    card = train(config, callbacks=[StepClock()])
    step_times = [b - a for a, b in zip(ends[args.warmup - 1:], ends[args.warmup:])]
    tokens = [h["num_tokens"] for h in card["curve"] if "num_tokens" in h]
    per_step_tokens = (tokens[-1] - tokens[args.warmup - 1]) / args.steps if len(tokens) >= steps else None
    sys_time = (cpu[-1].system - cpu[args.warmup - 1].system) / args.steps
    return {"step_times": step_times, "seconds_per_step": statistics.median(step_times),
            "system_seconds_per_step": sys_time, "tokens_per_step": per_step_tokens, "runtime": card["runtime"]}


def run_plain(args, settings: dict) -> dict:
    import torch

    s = _resolved(settings)
    model, tokenizer, precision = _prepare_model(s)
    if settings.get("compile"):
        backbone = (model.get_base_model() if s["use_lora"] else model).model
        backbone.forward = torch.compile(backbone.forward, dynamic=True)
    params = [p for p in model.parameters() if p.requires_grad]
    lr = 1e-3 if s["use_lora"] else 5e-5
    optimizer = torch.optim.AdamW(params, lr=lr, fused=True)
    times, tokens, first = [], [], None
    batches = _batches(tokenizer, args.warmup + args.steps)
    for i in range(args.warmup + args.steps):
        start = time.perf_counter()
        input_ids, mask, labels = next(batches)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16"):
            loss = _loss(model, s, input_ids, mask, labels)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        loss.item()
        first = first or time.perf_counter() - start
        if i >= args.warmup:
            times.append(time.perf_counter() - start)
            tokens.append(int(mask.sum()))
    return {"step_times": times, "seconds_per_step": statistics.median(times), "first_step_seconds": first,
            "tokens_per_step": sum(tokens) / len(tokens), "runtime": {**s, "precision": precision}}


def _eval_model(dtype: str):
    from cookbook_datasets.models import load_model

    return load_model("smollm2-135m", device="cpu", dtype=dtype)


def _timed_and_counted(fn):
    from torch.utils.flop_counter import FlopCounterMode

    start = time.perf_counter()
    result = fn()
    seconds = time.perf_counter() - start
    counter = FlopCounterMode(display=False)
    with counter:
        fn()
    return result, seconds, counter.get_total_flops() / 1e9


def run_eval_mc(args, dtype: str) -> dict:
    import torch

    from cookbook_datasets.eval.lm import loglikelihoods
    from cookbook_datasets.eval.prompts import loglik_requests
    from cookbook_datasets.tasks import load_tasks

    model, tokenizer = _eval_model(dtype)
    (task,) = load_tasks([str(SHARED / "gpt4all/dev/arc_easy.jsonl")], limit=args.eval_rows)
    requests = [pair for req in loglik_requests(task) for pair in req]
    loglikelihoods(model, tokenizer, requests[:4])  # warm-up
    batched, t_batched, gflop = _timed_and_counted(lambda: loglikelihoods(model, tokenizer, requests))

    @torch.inference_mode()
    def plain():  # one forward of context + continuation per request
        scores = []
        for context, continuation in requests:
            ctx = tokenizer(context, add_special_tokens=False)["input_ids"]
            cont = tokenizer(continuation, add_special_tokens=False)["input_ids"]
            logits = model(input_ids=torch.tensor([ctx + cont])).logits[0, len(ctx) - 1:-1].float()
            scores.append(torch.log_softmax(logits, -1).gather(1, torch.tensor(cont)[:, None]).sum().item())
        return scores

    one, t_plain, plain_gflop = _timed_and_counted(plain)
    n = len(task)
    return {"rows": n, "requests": len(requests), "harness_rows_per_s": n / t_batched, "plain_rows_per_s": n / t_plain,
            "harness_gflops": gflop / t_batched, "plain_gflops": plain_gflop / t_plain,
            "max_abs_loglik_difference": max(abs(a - b) for a, b in zip(one, batched))}


def run_eval_gen(args, dtype: str) -> dict:
    import torch

    from cookbook_datasets.eval.lm import generate
    from cookbook_datasets.eval.prompts import chat_prompts, max_new_tokens
    from cookbook_datasets.tasks import load_tasks

    model, tokenizer = _eval_model(dtype)
    (task,) = load_tasks([str(SHARED / "niv2/dev/task199_mnli_classification.json")], limit=args.eval_rows)
    prompts = chat_prompts(task)
    generate(model, tokenizer, prompts[:2], max_new_tokens=4, batch_size=2)  # warm-up
    batched, t_batched, gflop = _timed_and_counted(
        lambda: generate(model, tokenizer, prompts, max_new_tokens=max_new_tokens(task)))

    @torch.inference_mode()
    def plain():  # transformers' generate, one prompt at a time
        outs = []
        for messages in prompts:
            ids = tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt",
                                                return_dict=True)
            new = model.generate(**ids, max_new_tokens=max_new_tokens(task), do_sample=False)
            outs.append(tokenizer.decode(new[0, ids["input_ids"].shape[1]:], skip_special_tokens=True).strip())
        return outs

    one, t_plain, plain_gflop = _timed_and_counted(plain)
    n = len(prompts)
    return {"rows": n, "harness_rows_per_s": n / t_batched, "plain_rows_per_s": n / t_plain,
            "harness_gflops": gflop / t_batched, "plain_gflops": plain_gflop / t_plain,
            "same_predictions": sum(a == b for a, b in zip(one, batched)) / n}


def run_arm(args, spec: dict) -> dict:
    kind = spec["kind"]
    if kind == "ceiling":
        return run_ceiling(args)
    if kind == "flops":
        return run_flops(args)
    if kind == "train":
        return run_train(args, spec["settings"])
    if kind == "plain":
        return run_plain(args, spec["settings"])
    if kind == "eval_mc":
        return run_eval_mc(args, spec["dtype"])
    return run_eval_gen(args, spec["dtype"])


# ---------------------------------------------------------------- report

def report(results: dict) -> str:
    r = results["arms"]
    ceiling = r.get("ceiling", {})
    flops = r.get("flops", {})
    lines = [f"Step: batch {BATCH} of {', '.join(TEMPLATES)} rows (pseudo-words), default model, "
             f"{results['settings']['steps']} timed steps after {results['settings']['warmup']} warm-up, median.",
             f"Ceiling (dense matmul): fp32 {ceiling.get('fp32_gflops', 0):.0f} GFLOP/s, "
             f"bf16 {ceiling.get('bf16_gflops', 0):.0f} GFLOP/s.", "",
             "| path | precision | s/step | steps/s | tokens/s | GFLOP/step | GFLOP/s | share of ceiling | vs before |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for name in ("train lora before", "plain lora before", "train lora", "plain lora", "plain lora compiled",
                 "train full before", "train full", "plain full", "train lora group_by_length"):
        if name not in r:
            continue
        a = r[name]
        precision = a["runtime"]["precision"]
        full = "full" in name
        before = "before" in name
        per_token = flops.get("full" if full else ("lora before" if before else "lora"), {}).get("gflop_per_token")
        gflop = per_token * a["tokens_per_step"] if per_token and a["tokens_per_step"] else None
        rate = gflop / a["seconds_per_step"] if gflop else None
        ref = r.get("train full before" if full else "train lora before")
        peak = ceiling.get(f"{precision}_gflops")
        lines.append(
            f"| {name} | {precision} | {a['seconds_per_step']:.2f} | {1 / a['seconds_per_step']:.2f} | "
            f"{(a['tokens_per_step'] or 0) / a['seconds_per_step']:.0f} | {gflop or 0:.0f} | {rate or 0:.0f} | "
            f"{(rate / peak if rate and peak else 0):.0%} | "
            f"{(ref['seconds_per_step'] / a['seconds_per_step'] if ref else 0):.2f}x |")
    if "train lora" in r and "plain lora" in r:
        overhead = r["train lora"]["seconds_per_step"] / r["plain lora"]["seconds_per_step"] - 1  # measured adjacently
        lines += ["", f"Trainer over the plain loop (LoRA, today's defaults): {overhead:+.0%}."]
    if "plain lora compiled" in r:
        c = r["plain lora compiled"]
        lines += [f"torch.compile (plain loop): first step {c['first_step_seconds']:.0f} s (compilation), then "
                  f"{c['seconds_per_step']:.2f} s/step."]
    levers = [(k, v) for k, v in r.items() if k.startswith("lever: ")]
    repeats = [v["seconds_per_step"] for k, v in r.items() if k.split(" #")[0] == "train lora"]
    if levers and repeats:
        now = statistics.median(repeats)
        sys_now = [v["system_seconds_per_step"] for k, v in r.items()
                   if k.split(" #")[0] == "train lora" and "system_seconds_per_step" in v]
        lines += ["", f"Today's defaults measured {len(repeats)} times in the run: "
                      + ", ".join(f"{x:.2f}" for x in repeats) + f" s/step (median {now:.2f})"
                      + (f"; kernel (system) time {statistics.median(sys_now):.2f} s/step." if sys_now else "."),
                  "", "| lever (today's defaults, this one put back) | s/step without it | with it (median) | saves "
                      "| system s/step without it |", "|---|---:|---:|---:|---:|"]
        for k, v in levers:
            sys_t = v.get("system_seconds_per_step")
            lines.append(f"| {k[7:]} | {v['seconds_per_step']:.2f} | {now:.2f} | "
                         f"{1 - now / v['seconds_per_step']:.0%} | {'' if sys_t is None else f'{sys_t:.2f}'} |")
    evals = [(k, v) for k, v in r.items() if k.startswith("eval ")]
    if evals:
        lines += ["", "| evaluation | rows | harness rows/s | plain loop rows/s | harness GFLOP/s | "
                      "share of ceiling | agreement |", "|---|---:|---:|---:|---:|---:|---:|"]
        for k, v in evals:
            peak = ceiling.get(f"{k.split()[-1]}_gflops")
            agree = (f"{v['same_predictions']:.0%} same text" if "same_predictions" in v
                     else f"max |Δ loglik| {v['max_abs_loglik_difference']:.1e}")
            lines.append(f"| {k[5:]} | {v['rows']} | {v['harness_rows_per_s']:.2f} | {v['plain_rows_per_s']:.2f} | "
                         f"{v['harness_gflops']:.0f} | {(v['harness_gflops'] / peak if peak else 0):.0%} | {agree} |")
    return "\n".join(lines) + "\n"


def plot(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [(k.replace("lever: ", "without: "), v["seconds_per_step"])
            for k, v in results["arms"].items() if "seconds_per_step" in v]
    fig, ax = plt.subplots(figsize=(8, 0.4 * len(rows) + 1.2))
    ax.barh([k for k, _ in rows][::-1], [v for _, v in rows][::-1], color="tab:blue")
    ax.set_xlabel("seconds per step (batch 8, lower is better)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="results/training.json")
    parser.add_argument("--steps", type=int, default=8, help="timed steps per training arm")
    parser.add_argument("--warmup", type=int, default=2, help="untimed first steps per training arm")
    parser.add_argument("--eval-rows", type=int, default=32)
    parser.add_argument("--only", nargs="*", default=None, help="run only these arms")
    parser.add_argument("--arm", default=None, help=argparse.SUPPRESS)  # internal: run one arm, print JSON
    parser.add_argument("--arm-out", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    all_arms = arms()
    if args.arm:
        result = run_arm(args, all_arms[args.arm])
        Path(args.arm_out).write_text(json.dumps(result))
        return 0

    import torch

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    settings = {"steps": args.steps, "warmup": args.warmup, "eval_rows": args.eval_rows, "batch": BATCH}
    results = json.loads(out.read_text()) if out.exists() else {}
    if results.get("settings") != settings:
        results = {"settings": settings, "arms": {}}
    results["machine"] = {"cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(),
                          "python": platform.python_version(), "torch": torch.__version__,
                          "processor": platform.processor() or platform.machine()}
    for name, spec in all_arms.items():
        if name in results["arms"] or (args.only and name not in args.only) or (
                spec.get("opt_in") and not (args.only and name in args.only)):
            continue
        if spec["kind"].startswith("eval") and not SHARED.is_dir():
            print(f"skip {name}: {SHARED} is absent")
            continue
        print(f"running {name} ...", flush=True)
        with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as f:
            arm_out = f.name
        cmd = [sys.executable, __file__, "--arm", name, "--arm-out", arm_out, "--steps", str(args.steps),
               "--warmup", str(args.warmup), "--eval-rows", str(args.eval_rows)]
        proc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        if proc.returncode != 0:
            print(proc.stderr[-3000:], file=sys.stderr)
            raise SystemExit(f"arm {name!r} failed")
        results["arms"][name] = json.loads(Path(arm_out).read_text())
        os.unlink(arm_out)
        atomic_json(out, results, sort_keys=False)
    table = report(results)
    atomic_write_text(out.with_suffix(".md"), table)
    plot(results, out.with_suffix(".png"))
    print(table)
    print(f"wrote {out}, {out.with_suffix('.md')}, {out.with_suffix('.png')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
