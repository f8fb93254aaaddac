"""Evaluation throughput: batched vs one example at a time, measured side by side in one run.

Four scorings, each on the same examples both ways:

- ``generation``: NIV2 files, 2-shot, greedy decoding; ``lm.generate`` one prompt per call vs in
  batches of ``--batch-size`` (which also reads the task's shared prompt prefix once).
- ``mc_loglik``: multiple choice by log-likelihood; ``lm.loglikelihoods`` one request per call vs
  batched (each question's context read once for all its choices).
- ``mc_generate``: multiple choice with the options listed (``A. ...``), a greedy answer parsed as a
  letter or an option's text: the harness's framing (``EvalConfig(mc_framing="generate")``) vs a
  plain loop, one ``model.generate`` per row.
- ``cls_rank``: classification by the log-likelihood of each label after the prompt, argmax: the
  harness's framing (``EvalConfig(cls_framing="rank")``, the prompt read once per row) vs a plain
  loop, one forward pass per (row, label).

The report gives examples/s for both, the speed-up (target >= 3x for the new framings) and whether
the two agree (same predictions; log-likelihoods within 1e-3).

    python benchmarks/eval_throughput.py --out benchmarks/results/eval_throughput.json
    python benchmarks/eval_throughput.py --only mc_generate cls_rank --limit 4 --out /tmp/t.json  # a quick check
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import torch

from cookbook_datasets.atomic_files import atomic_json
from cookbook_datasets.eval.framings import score_task
from cookbook_datasets.eval.lm import generate, loglikelihoods
from cookbook_datasets.eval.option_answers import parse_option
from cookbook_datasets.eval.prompts import chat_prompt, chat_prompts, loglik_requests, max_new_tokens, options_prompt
from cookbook_datasets.models import load_model
from cookbook_datasets.tasks import load_task

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
SECTIONS = ("generation", "mc_loglik", "mc_generate", "cls_rank")


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


# -- the plain per-row loops (the reference) -------------------------------------------------------
@torch.inference_mode()
def mc_generate_per_row(model, tokenizer, task, rows) -> list:
    """One ``model.generate`` per row on the listed-options prompt; the parsed choice index, or the
    reply's text when it names no option (as the harness records it)."""
    out = []
    for inst in rows:
        enc = tokenizer.apply_chat_template(options_prompt(task, inst), add_generation_prompt=True,
                                            return_tensors="pt", return_dict=True).to(model.device)
        ids = model.generate(**enc, max_new_tokens=max_new_tokens(task), do_sample=False,
                             pad_token_id=tokenizer.pad_token_id or tokenizer.eos_token_id)
        reply = tokenizer.decode(ids[0, enc["input_ids"].shape[1]:], skip_special_tokens=True).strip()
        picked = parse_option(reply, inst.choices)
        out.append(picked if picked is not None else reply)
    return out


@torch.inference_mode()
def cls_rank_per_row(model, tokenizer, task, rows, num_shots: int) -> tuple[list, list]:
    """One forward pass per (row, label) over prompt + label; each label's summed log-probability,
    argmax (ties: the first label). Returns (predicted labels, per-row {label: log-likelihood})."""
    predictions, scores = [], []
    for inst in rows:
        context = tokenizer.apply_chat_template(chat_prompt(task, inst, num_shots), tokenize=False,
                                                add_generation_prompt=True)
        ctx = tokenizer(context, add_special_tokens=False)["input_ids"]
        row = {}
        for label in task.labels:
            cont = tokenizer(label, add_special_tokens=False)["input_ids"]
            ids = torch.tensor([ctx + cont], device=model.device)
            logprobs = torch.log_softmax(model(input_ids=ids).logits[0, len(ctx) - 1:-1].float(), dim=-1)
            row[label] = logprobs.gather(1, torch.tensor(cont, device=model.device)[:, None]).sum().item()
        predictions.append(max(task.labels, key=lambda k: (row[k], -task.labels.index(k))))
        scores.append(row)
    return predictions, scores


# -- sections --------------------------------------------------------------------------------------
def bench_generation(model, tokenizer, path: str, n: int, args) -> dict:
    task = load_task(path).sample(n, seed=0)
    prompts = chat_prompts(task, 2, task.labelled)
    budget = max_new_tokens(task)
    one, t_one = timed(lambda: [generate(model, tokenizer, [p], max_new_tokens=budget)[0] for p in prompts])
    many, t_many = timed(lambda: generate(model, tokenizer, prompts, max_new_tokens=budget,
                                          batch_size=args.batch_size))
    n = len(prompts)
    return {"task": task.name, "kind": task.kind, "examples": n, "max_new_tokens": budget,
            "one_at_a_time_per_s": n / t_one, "batched_per_s": n / t_many, "speedup": t_one / t_many,
            "same_predictions": sum(a == b for a, b in zip(one, many)) / n}


def bench_mc_loglik(model, tokenizer, path: str, n: int, args) -> dict:
    task = load_task(path).sample(n, seed=0)
    requests = [pair for req in loglik_requests(task, task.labelled) for pair in req]
    one, t_one = timed(lambda: [loglikelihoods(model, tokenizer, [r])[0] for r in requests])
    many, t_many = timed(lambda: loglikelihoods(model, tokenizer, requests, batch_size=args.batch_size))
    n = len(task.labelled)
    return {"task": task.name, "examples": n, "requests": len(requests),
            "one_at_a_time_per_s": n / t_one, "batched_per_s": n / t_many, "speedup": t_one / t_many,
            "max_abs_loglik_difference": max(abs(a - b) for a, b in zip(one, many))}


def bench_mc_generate(model, tokenizer, path: str, n: int, args) -> dict:
    task = load_task(path).sample(n, seed=0)
    rows = task.labelled
    one, t_one = timed(lambda: mc_generate_per_row(model, tokenizer, task, rows))
    many, t_many = timed(lambda: score_task(model, tokenizer, task, "generate", batch_size=args.batch_size))
    n = len(rows)
    return {"task": task.name, "framing": "generate", "examples": n, "max_new_tokens": max_new_tokens(task),
            "one_at_a_time_per_s": n / t_one, "batched_per_s": n / t_many, "speedup": t_one / t_many,
            "same_predictions": sum(a == b for a, b in zip(one, many.predictions)) / n,
            "accuracy": sum(many.per_row["acc"]) / n, "no_option": sum(many.per_row["no_option"]) / n}


def bench_cls_rank(model, tokenizer, path: str, n: int, args) -> dict:
    task = load_task(path).sample(n, seed=0)
    rows = task.labelled
    (one, one_ll), t_one = timed(lambda: cls_rank_per_row(model, tokenizer, task, rows, num_shots=2))
    many, t_many = timed(lambda: score_task(model, tokenizer, task, "rank", batch_size=args.batch_size,
                                            num_samples=len(rows), num_shots=2))
    n = len(rows)
    ll_diff = max(abs(mine[k] - s["loglikelihoods"][k]) for mine, s in zip(one_ll, many.samples) for k in mine)
    return {"task": task.name, "framing": "rank", "examples": n, "labels": len(task.labels),
            "requests": n * len(task.labels), "one_at_a_time_per_s": n / t_one, "batched_per_s": n / t_many,
            "speedup": t_one / t_many, "same_predictions": sum(a == b for a, b in zip(one, many.predictions)) / n,
            "max_abs_loglik_difference": ll_diff}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="smollm2-135m")
    parser.add_argument("--generation-task", nargs="+", default=[
        str(SHARED / "niv2/dev/task199_mnli_classification.json"),  # short answers: prompt-bound
        str(SHARED / "niv2/dev/task1195_disflqa_disfluent_to_fluent_conversion.json"),  # long answers
    ])
    parser.add_argument("--mc-task", default=str(SHARED / "gpt4all/dev/arc_easy.jsonl"))
    parser.add_argument("--cls-task", default=str(SHARED / "niv2/dev/task199_mnli_classification.json"),
                        help="a classification task for the rank framing")
    parser.add_argument("--num-generation", type=int, default=32)
    parser.add_argument("--num-mc", type=int, default=48, help="multiple-choice examples (loglik and generate)")
    parser.add_argument("--num-cls", type=int, default=32, help="classification examples (rank)")
    parser.add_argument("--limit", type=int, default=None, help="cap every section at this many examples (a quick check)")
    parser.add_argument("--only", nargs="+", choices=SECTIONS, default=list(SECTIONS), help="sections to run")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--dtype", default=None, help="model dtype (default: the loader's)")
    parser.add_argument("--out", default="benchmarks/results/eval_throughput.json")
    args = parser.parse_args(argv)
    if args.limit is not None and args.limit < 1:
        parser.error(f"--limit must be a positive integer (got {args.limit})")
    cap = (lambda n: min(n, args.limit)) if args.limit else (lambda n: n)

    model, tokenizer = load_model(args.model, dtype=args.dtype)
    # warm-up so that one-time costs (allocations, kernels) are not charged to the first run
    generate(model, tokenizer, [[{"role": "user", "content": "Say hi."}]] * 2, max_new_tokens=4, batch_size=2)

    report = {"model": args.model, "batch_size": args.batch_size, "torch_threads": torch.get_num_threads(),
              "device": str(model.device), "dtype": str(model.dtype), "limit": args.limit,
              "machine": {"cpu_count": os.cpu_count(), "python": platform.python_version(),
                          "torch": torch.__version__,
                          "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None}, "tasks": {}}
    if "generation" in args.only:
        for path in args.generation_task:
            r = bench_generation(model, tokenizer, path, cap(args.num_generation), args)
            report["tasks"][f"generation:{r['task']}"] = r
    if "mc_loglik" in args.only:
        r = bench_mc_loglik(model, tokenizer, args.mc_task, cap(args.num_mc), args)
        report["tasks"][f"multiple_choice:{r['task']}"] = r
    if "mc_generate" in args.only:
        r = bench_mc_generate(model, tokenizer, args.mc_task, cap(args.num_mc), args)
        report["tasks"][f"mc_generate:{r['task']}"] = r
    if "cls_rank" in args.only:
        r = bench_cls_rank(model, tokenizer, args.cls_task, cap(args.num_cls), args)
        report["tasks"][f"cls_rank:{r['task']}"] = r
    out = atomic_json(args.out, report)
    print(f"model {args.model}, batch {args.batch_size}, {report['torch_threads']} torch threads, {report['device']}\n")
    print("| scoring | task | examples | one at a time /s | batched /s | speed-up | agree |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for kind, r in report["tasks"].items():
        agree = (f"{r['same_predictions']:.0%}" if "same_predictions" in r
                 else f"Δll {r['max_abs_loglik_difference']:.1e}")
        print(f"| {kind.split(':')[0]} | {r['task']} | {r['examples']} | {r['one_at_a_time_per_s']:.2f} | "
              f"{r['batched_per_s']:.2f} | {r['speedup']:.1f}x | {agree} |")
    print(f"\nwrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
