"""Evaluation throughput: batched vs one example at a time, measured side by side in one run.

For a generation task (NIV2 file, 2-shot, greedy decoding) and a multiple-choice task
(log-likelihood scoring), the same examples are scored one at a time (one call per example, as
a plain loop over the model would) and by the harness in batches of ``--batch-size`` (which also
computes the task's shared prompt prefix once). The report gives examples/s for both, the
speed-up, and whether the batched results agree with the one-at-a-time results (same greedy
text, log-likelihoods within 1e-3).

    python benchmarks/eval_throughput.py --out results/eval_throughput.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import torch

from cookbook_datasets.eval.lm import generate, loglikelihoods
from cookbook_datasets.eval.tasks import load_multiple_choice, load_niv2
from cookbook_datasets.models import load_model

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="smollm2-135m")
    parser.add_argument("--generation-task", nargs="+", default=[
        str(SHARED / "niv2/dev/task199_mnli_classification.json"),  # short answers: prompt-bound
        str(SHARED / "niv2/dev/task1195_disflqa_disfluent_to_fluent_conversion.json"),  # long answers
    ])
    parser.add_argument("--mc-task", default=str(SHARED / "gpt4all/dev/arc_easy.jsonl"))
    parser.add_argument("--num-generation", type=int, default=32)
    parser.add_argument("--num-mc", type=int, default=48)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--out", default="results/eval_throughput.json")
    args = parser.parse_args(argv)

    model, tokenizer = load_model(args.model)
    gen_tasks = [load_niv2(Path(p), limit=args.num_generation) for p in args.generation_task]
    mc_task = load_multiple_choice(Path(args.mc_task), limit=args.num_mc)
    mc_requests = [pair for req in mc_task.requests for pair in req]
    # warm-up so that one-time costs (allocations, kernels) are not charged to the first run
    generate(model, tokenizer, gen_tasks[0].prompts[:2], max_new_tokens=4, batch_size=2)

    report = {"model": args.model, "batch_size": args.batch_size, "torch_threads": torch.get_num_threads(),
              "machine": {"cpu_count": os.cpu_count(), "python": platform.python_version(),
                          "torch": torch.__version__}, "tasks": {}}
    for gen_task in gen_tasks:
        one, t_one = timed(lambda: [generate(model, tokenizer, [p], max_new_tokens=gen_task.max_new_tokens)[0]
                                    for p in gen_task.prompts])
        many, t_many = timed(lambda: generate(model, tokenizer, gen_task.prompts,
                                              max_new_tokens=gen_task.max_new_tokens, batch_size=args.batch_size))
        n = len(gen_task.prompts)
        report["tasks"][f"generation:{gen_task.name}"] = {
            "task": gen_task.name, "kind": gen_task.kind, "examples": n, "max_new_tokens": gen_task.max_new_tokens,
            "one_at_a_time_per_s": n / t_one, "batched_per_s": n / t_many, "speedup": t_one / t_many,
            "same_predictions": sum(a == b for a, b in zip(one, many)) / n,
        }
    one, t_one = timed(lambda: [loglikelihoods(model, tokenizer, [r])[0] for r in mc_requests])
    many, t_many = timed(lambda: loglikelihoods(model, tokenizer, mc_requests, batch_size=args.batch_size))
    n = len(mc_task.requests)
    report["tasks"][f"multiple_choice:{mc_task.name}"] = {
        "task": mc_task.name, "examples": n, "requests": len(mc_requests),
        "one_at_a_time_per_s": n / t_one, "batched_per_s": n / t_many, "speedup": t_one / t_many,
        "max_abs_loglik_difference": max(abs(a - b) for a, b in zip(one, many)),
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(json.dumps(report, indent=2))
    os.replace(tmp, out)
    print(f"model {args.model}, batch {args.batch_size}, {report['torch_threads']} torch threads\n")
    print("| scoring | task | examples | one at a time /s | batched /s | speed-up |")
    print("|---|---|---:|---:|---:|---:|")
    for kind, r in report["tasks"].items():
        print(f"| {kind.split(':')[0]} | {r['task']} | {r['examples']} | {r['one_at_a_time_per_s']:.2f} | "
              f"{r['batched_per_s']:.2f} | {r['speedup']:.1f}x |")
    print(f"\nwrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
