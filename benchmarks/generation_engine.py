"""Sampling throughput: the generation engine vs a plain per-prompt ``model.generate`` loop.

The workload is SELF-GUIDE's output annotation: ``n=10`` samples for each of 32 real NIV2 2-shot
prompts of one task (definition as system message, two demonstrations as chat turns, then the
instance), default model, temperature 0.7, top-k 40, at most 48 new tokens. Both paths run with
the same model and settings in one run, fp32 and bf16 weights:

- ``generate loop``: for each prompt, ``model.generate(**ids, do_sample=True,
  num_return_sequences=10, ...)`` (transformers copies the prompt to 10 rows and prefills each);
- ``engine``: ``TransformersEngine.generate(prompts, SamplingParams(n=10, ...))``: the task's
  shared prefix read once, one prefill per prompt for its 10 samples, many prompts per batch,
  finished rows dropped from the batch.

Reported: sampled tokens per second (every generated token, end-of-sequence included, counted the
same way for both), samples per second, and the engine's speed-up over the loop at the same
precision. Each arm runs in its own process and is saved to the JSON as soon as it finishes, so a
killed run resumes with the arms it had not done. The load average before each arm is recorded:
other work on the machine distorts the figures.

    flock /tmp/cookbook_cpu.lock python benchmarks/generation_engine.py --out benchmarks/results/generation_engine.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

from arm_process import run_arm_process

from cookbook_datasets.atomic_files import atomic_json, atomic_write_text

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
DEFAULT_OUT = Path(__file__).resolve().parent / "results" / "generation_engine.json"
DTYPES = ("fp32", "bf16")


def arms() -> dict[str, dict]:
    out = {}
    for dtype in DTYPES:  # each pair adjacent in time, so that drifting load hits both alike
        out[f"generate loop {dtype}"] = {"kind": "loop", "dtype": dtype}
        out[f"engine {dtype}"] = {"kind": "engine", "dtype": dtype}
    return out


def _settings(args) -> dict:
    return {"model": "smollm2-135m", "task": args.task, "prompts": args.prompts, "num_shots": 2, "n": args.n,
            "temperature": args.temperature, "top_k": args.top_k, "top_p": 1.0,
            "max_new_tokens": args.max_new_tokens, "engine_batch_size": args.batch_size, "seed": 0}


# ---------------------------------------------------------------- one arm (in its own process)

def _prompts(args) -> list:
    from cookbook_datasets.eval.prompts import chat_prompts
    from cookbook_datasets.tasks import load_tasks

    (task,) = load_tasks([str(SHARED / "niv2" / "dev" / f"{args.task}.json")], limit=args.prompts, seed=0)
    return chat_prompts(task, num_shots=2)


def run_arm(args, spec: dict) -> dict:
    import torch

    from cookbook_datasets.generation import SamplingParams, TransformersEngine
    from cookbook_datasets.models import load_model

    model, tokenizer = load_model("smollm2-135m", dtype={"fp32": "float32", "bf16": "bfloat16"}[spec["dtype"]],
                                  device="cpu")
    prompts = _prompts(args)
    params = SamplingParams(n=args.n, temperature=args.temperature, top_k=args.top_k,
                            max_new_tokens=args.max_new_tokens, seed=0)
    eos = tokenizer.eos_token_id
    if spec["kind"] == "engine":
        engine = TransformersEngine(model, tokenizer, batch_size=args.batch_size, progress=False)
        engine.generate(prompts[:2], SamplingParams(n=2, temperature=1.0, max_new_tokens=4))  # warm-up
        start = time.perf_counter()
        outs = engine.generate(prompts, params)
        seconds = time.perf_counter() - start
        lengths = [c.num_tokens for o in outs for c in o.completions]
        finished = sum(c.finish_reason == "stop" for o in outs for c in o.completions)
        examples = outs[0].texts[:3]
    else:
        def one(prompt, **kw):
            ids = tokenizer.apply_chat_template(prompt, add_generation_prompt=True, return_tensors="pt",
                                                return_dict=True)
            return ids, model.generate(**ids, **kw)

        one(prompts[0], do_sample=True, max_new_tokens=4, num_return_sequences=2)  # warm-up
        torch.manual_seed(0)
        lengths, finished, examples = [], 0, []
        start = time.perf_counter()
        for prompt in prompts:
            ids, out = one(prompt, do_sample=True, temperature=args.temperature, top_k=args.top_k, top_p=1.0,
                           num_return_sequences=args.n, max_new_tokens=args.max_new_tokens)
            for row in out[:, ids["input_ids"].shape[1]:].tolist():
                k = row.index(eos) + 1 if eos in row else len(row)  # sampled tokens, the end-of-sequence one included
                lengths.append(k)
                finished += eos in row
                if len(examples) < 3:
                    examples.append(tokenizer.decode(row[:k], skip_special_tokens=True))
        seconds = time.perf_counter() - start
    tokens = sum(lengths)
    return {"seconds": round(seconds, 2), "samples": len(lengths), "sampled_tokens": tokens,
            "tokens_per_second": round(tokens / seconds, 2), "samples_per_second": round(len(lengths) / seconds, 3),
            "mean_tokens_per_sample": round(tokens / len(lengths), 2), "finished_before_max_tokens": finished,
            "examples": examples, "torch_threads": torch.get_num_threads()}


# ---------------------------------------------------------------- report

def speedups(results: dict) -> dict:
    r = results["arms"]
    out = {}
    for dtype in DTYPES:
        e, loop = r.get(f"engine {dtype}"), r.get(f"generate loop {dtype}")
        if e and loop:
            out[dtype] = round(e["tokens_per_second"] / loop["tokens_per_second"], 2)
    if "engine bf16" in r and "generate loop fp32" in r:
        out["bf16 engine vs fp32 loop"] = round(r["engine bf16"]["tokens_per_second"]
                                                / r["generate loop fp32"]["tokens_per_second"], 2)
    return out


def report(results: dict) -> str:
    s, r = results["settings"], results["arms"]
    lines = [f"Sampling {s['n']} completions for each of {s['prompts']} NIV2 {s['num_shots']}-shot prompts of "
             f"`{s['task']}`, {s['model']}, temperature {s['temperature']}, top-k {s['top_k']}, "
             f"at most {s['max_new_tokens']} new tokens; engine batch {s['engine_batch_size']} rows. "
             f"{results['machine']['cpu_count']} CPU cores, torch {results['machine']['torch']}.", "",
             "| path | weights | seconds | samples | sampled tokens | tokens/s | samples/s | engine speed-up | "
             "load avg before |", "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    ups = speedups(results)
    for name, a in r.items():
        dtype = name.split()[-1]
        up = f"{ups[dtype]:.1f}x" if name.startswith("engine") and dtype in ups else ""
        lines.append(f"| {' '.join(name.split()[:-1])} | {dtype} | {a['seconds']:.1f} | {a['samples']} | "
                     f"{a['sampled_tokens']} | {a['tokens_per_second']:.1f} | {a['samples_per_second']:.2f} | {up} | "
                     f"{a.get('load_before', 0):.2f} |")
    if "bf16 engine vs fp32 loop" in ups:
        lines += ["", f"Engine with bf16 weights vs the fp32 generate loop: {ups['bf16 engine vs fp32 loop']:.1f}x."]
    return "\n".join(lines) + "\n"


def plot(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(results["arms"])
    values = [results["arms"][k]["tokens_per_second"] for k in names]
    colors = ["tab:orange" if k.startswith("engine") else "tab:gray" for k in names]
    fig, ax = plt.subplots(figsize=(7, 0.5 * len(names) + 1.5))
    ax.barh(names[::-1], values[::-1], color=colors[::-1])
    for y, v in enumerate(values[::-1]):
        ax.text(v, y, f" {v:.0f}", va="center")
    s = results["settings"]
    ax.set_xlabel(f"sampled tokens/s (n={s['n']}, {s['prompts']} prompts, higher is better)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=str(DEFAULT_OUT), help="JSON report (.md and .png written next to it)")
    parser.add_argument("--task", default="task1557_jfleg_answer_generation", help="NIV2 dev task (file stem)")
    parser.add_argument("--prompts", type=int, default=32)
    parser.add_argument("--n", type=int, default=10)
    parser.add_argument("--temperature", type=float, default=0.7)
    parser.add_argument("--top-k", type=int, default=40)
    parser.add_argument("--max-new-tokens", type=int, default=48)
    parser.add_argument("--batch-size", type=int, default=80, help="engine rows (prompts x samples) per batch")
    parser.add_argument("--only", nargs="*", default=None, help="run only these arms")
    parser.add_argument("--arm", default=None, help=argparse.SUPPRESS)  # internal: run one arm, write JSON
    parser.add_argument("--arm-out", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    all_arms = arms()
    if args.arm:
        Path(args.arm_out).write_text(json.dumps(run_arm(args, all_arms[args.arm])))
        return 0
    if not (SHARED / "niv2" / "dev").is_dir():
        raise SystemExit(f"{SHARED / 'niv2' / 'dev'} is absent: the benchmark needs the NIV2 dev tasks")

    import torch

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    settings = _settings(args)
    results = json.loads(out.read_text()) if out.exists() else {}
    if results.get("settings") != settings:
        results = {"settings": settings, "arms": {}}
    results["machine"] = {"cpu_count": os.cpu_count(), "python": platform.python_version(), "torch": torch.__version__,
                          "processor": platform.processor() or platform.machine()}
    passthrough = ["--task", args.task, "--prompts", str(args.prompts), "--n", str(args.n), "--temperature",
                   str(args.temperature), "--top-k", str(args.top_k), "--max-new-tokens", str(args.max_new_tokens),
                   "--batch-size", str(args.batch_size)]
    for name in all_arms:
        if name in results["arms"] or (args.only and name not in args.only):
            continue
        print(f"running {name} ...", flush=True)
        results["arms"][name] = run_arm_process(__file__, name, passthrough)
        results["speedup"] = speedups(results)
        atomic_json(out, results, sort_keys=False)
        print(f"  {results['arms'][name]['tokens_per_second']:.1f} tokens/s", flush=True)
    table = report(results)
    atomic_write_text(out.with_suffix(".md"), table)
    plot(results, out.with_suffix(".png"))
    print(table)
    print(f"wrote {out}, {out.with_suffix('.md')}, {out.with_suffix('.png')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
