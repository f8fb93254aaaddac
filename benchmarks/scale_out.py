"""Scale-out: the same model calls locally and on Ray Data at 1 and 2 replicas, side by side.

Two workloads, each on the same rows in every arm, with the default model (fp32, as the jobs load it):

- ``embeddings``: DiverseEvol's pool features, ``cached_pool_features(model, pool, execution=...)``
  on an empty cache, over NIV2 dev rows in the experiment's format (the task definition as system
  message, the input as user message; every other dev task, ``--rows-per-task`` rows each);
- ``sampling``: SELF-GUIDE's output annotation, the engine's ``generate`` with ``n`` samples at the
  config's annotation settings (temperature 0.2, top-k 10, 16 new tokens for classification) over
  the annotation prompts (instruction, demonstrations as turns, the input) of ``--prompts`` instances
  of an NIV2 classification task; locally ``load_engine``, on Ray ``RayEngine`` (one call, its
  prompts split across the replicas).

Arms per workload: ``local`` (this project's local path, torch on 1 thread: what one replica of
1 CPU gets, so that the Ray overhead is measured like for like), ``local 2 threads`` (the local
path as a user runs it on this machine), ``ray 1`` and ``ray 2`` (replicas of 1 CPU each on a local
Ray cluster of ``--ray-cpus`` CPUs, started before the clock runs and recorded apart). Each arm
runs in its own process and times the whole step as a job runs it: model loading included (a
replica loads its model in its own process, which imports torch), the Ray cluster's start not.
Reported: seconds, rows (pool rows or prompts) per second, the Ray overhead at 1 replica as a
share of ``local`` (target <= 15%), the speed-up of 2 replicas over 1 (target >= 1.6x), and
whether the Ray arms' outputs are identical to the local arm's (a digest of the embeddings' bytes,
of the sampled token ids; ``local 2 threads`` may differ in the last float bits: 2 torch threads sum
in another order). Finished arms stay in the JSON, so a killed run resumes with the others; the CPU lock
(/tmp/cookbook_cpu.lock) is held while timing, and the load average before each arm recorded.

What a 2-core machine bounds: two replicas of 1 CPU each use both cores, so ``ray 2`` can at best
halve ``ray 1``; Ray's own processes (GCS, raylet, the Ray Data driver loop, the workers' start)
compete with the replicas for the same two cores, and each replica process imports torch and
loads the model inside the timed step. ``local 2 threads`` already uses both cores too, so ``ray 2``
beats it only by what one torch process fails to get from a second thread. Larger rows per
replica amortise the fixed cost (about the same per call whatever the size); a cluster of many
machines is what the Ray path is for.

    python benchmarks/scale_out.py                # ~10 minutes on 2 cores; benchmarks/results/scale_out.*
    python benchmarks/scale_out.py --smoke        # tiny random model, a handful of rows, under /tmp

On a GPU machine with vLLM (benchmarks/gpu_check.sh runs this): ``--backend vllm
--num-gpus-per-replica 0.5 --ray-cpus 4 --out DIR/scale_out_vllm.json`` runs the sampling arms
only (local vLLM, Ray 1 and 2 replicas; two replicas share the GPU, each engine at
``--vllm-memory``). vLLM seeds each request but does not promise bitwise equal samples across batch
shapes, so there the digests may differ between arms.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import logging
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

from arm_process import run_arm_process

from cookbook_datasets.atomic_files import atomic_json, atomic_write_text

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "niv2" / "dev"
DEFAULT_OUT = Path(__file__).resolve().parent / "results" / "scale_out.json"
SMOKE_OUT = Path(tempfile.gettempdir()) / "scale_out_smoke" / "scale_out.json"
WORKLOADS = ("embeddings", "sampling")
EXPERIMENT_SKIPS = ("task121_zest_text_modification",)  # as experiments/diverse_evol.py


def arms(backend: str = "transformers") -> dict[str, dict]:
    out = {}
    for workload in WORKLOADS:  # a workload's arms adjacent in time, so drifting load hits them alike
        if backend == "vllm" and workload != "sampling":
            continue  # vLLM samples; the pool embeddings are the transformers model's
        out[f"{workload} local"] = {"workload": workload, "executor": "local", "threads": 1}
        if backend == "transformers":
            out[f"{workload} local 2 threads"] = {"workload": workload, "executor": "local", "threads": 2}
        out[f"{workload} ray 1"] = {"workload": workload, "executor": "ray", "replicas": 1}
        out[f"{workload} ray 2"] = {"workload": workload, "executor": "ray", "replicas": 2}
    return out


def _settings(args) -> dict:
    from cookbook_datasets.models import DEFAULT_MODEL

    return {"model": "tiny-random" if args.smoke else DEFAULT_MODEL, "smoke": args.smoke,
            "rows_per_task": args.rows_per_task, "embed_batch_size": 16, "task": args.task, "prompts": args.prompts,
            "n": args.n, "temperature": 0.2, "top_k": 10, "max_new_tokens": args.max_new_tokens,
            "engine_batch_size": args.batch_size, "seed": 0, "ray_cpus": args.ray_cpus, "num_cpus_per_replica": 1.0,
            "backend": args.backend, "num_gpus_per_replica": args.num_gpus_per_replica,
            **({"vllm_options": vllm_options(args)} if args.backend == "vllm" else {})}


def vllm_options(args) -> dict:
    """vLLM's engine options in every arm: the same KV cache size locally and per replica (two
    replicas may share one GPU), eager mode (no CUDA graphs to capture at every replica's start)."""
    return {"gpu_memory_utilization": args.vllm_memory, "enforce_eager": True, "max_model_len": 2048}


# ---------------------------------------------------------------- the rows (the same in every arm)

def _pool(args):
    import datasets

    rows = []
    if args.smoke:  # rows sharing a system message, as a task's rows do
        for t in range(2):
            rows += [{"prompt": [{"role": "system", "content": f"Task {t}: answer the question briefly. " * 3},
                                 {"role": "user", "content": f"question {i} " * (1 + i % 4)}],
                      "completion": [{"role": "assistant", "content": f"answer {i}"}], "source": f"smoke{t}"}
                     for i in range(args.rows_per_task)]
        return datasets.Dataset.from_list(rows)
    paths = [p for p in sorted(SHARED.glob("*.json")) if p.stem not in EXPERIMENT_SKIPS]
    for path in paths[::2]:
        task = json.loads(path.read_text())
        for inst in task["Instances"][:args.rows_per_task]:
            out = inst["output"][0] if isinstance(inst["output"], list) else inst["output"]
            rows.append({"prompt": [{"role": "system", "content": task["Definition"][0]},
                                    {"role": "user", "content": inst["input"]}],
                         "completion": [{"role": "assistant", "content": out}], "source": path.stem})
    return datasets.Dataset.from_list(rows)


def _prompts(args) -> list:
    from cookbook_datasets.self_guide.annotation import annotation_prompt
    from cookbook_datasets.tasks import define_task, load_tasks, task_definition

    if args.smoke:
        examples = [{"input": "Premise: a dog runs. Hypothesis: it moves.", "output": "yes"},
                    {"input": "Premise: dark. Hypothesis: sunny.", "output": "no"}]
        task = define_task(instruction="Does the premise entail the hypothesis? Answer yes or no.",
                           labels=["yes", "no"], examples=examples)
        return [annotation_prompt(task, f"Premise: item {i} is here. Hypothesis: item {i} exists.")
                for i in range(args.prompts)]
    (real,) = load_tasks([str(SHARED / f"{args.task}.json")], limit=args.prompts, seed=0)
    task = task_definition(real)  # SELF-GUIDE's view: instruction, demonstrations, labels
    return [annotation_prompt(task, inst.input) for inst in real.instances]


# ---------------------------------------------------------------- one arm (in its own process)

def run_arm(args, spec: dict) -> dict:
    import torch

    from cookbook_datasets.executor import ExecutorConfig

    logging.getLogger("ray").setLevel(logging.ERROR)  # Ray Data's per-dataset INFO lines
    settings = _settings(args)
    model = settings["model"]
    execution, cluster_seconds = None, None
    if spec["executor"] == "ray":
        import ray

        start = time.perf_counter()
        ray.init(num_cpus=args.ray_cpus, include_dashboard=False, logging_level="ERROR", log_to_driver=False)
        cluster_seconds = round(time.perf_counter() - start, 2)
        execution = ExecutorConfig(executor="ray", replicas=spec["replicas"], num_cpus_per_replica=1.0,
                                   num_gpus_per_replica=args.num_gpus_per_replica)
    elif args.backend == "transformers" or spec["workload"] == "embeddings":
        torch.set_num_threads(spec["threads"])
    out = {"cluster_start_seconds": cluster_seconds, "driver_torch_threads": torch.get_num_threads()}
    if spec["workload"] == "embeddings":
        from cookbook_datasets.selection.embeddings import cached_pool_features

        pool = _pool(args)
        with tempfile.TemporaryDirectory(prefix="scale-out-cache-") as cache:
            start = time.perf_counter()
            features = cached_pool_features(model, pool, cache_dir=cache, batch_size=settings["embed_batch_size"],
                                            execution=execution)
            seconds = time.perf_counter() - start
        out.update(rows=len(pool), digest=hashlib.sha256(features.embeddings.tobytes()).hexdigest()[:16])
    else:
        from cookbook_datasets.generation import SamplingParams, load_engine
        from cookbook_datasets.generation.ray_engine import RayEngine

        prompts = _prompts(args)
        params = SamplingParams(n=args.n, temperature=settings["temperature"], top_k=settings["top_k"],
                                max_new_tokens=args.max_new_tokens, seed=settings["seed"])
        options = vllm_options(args) if args.backend == "vllm" else {"batch_size": args.batch_size}
        start = time.perf_counter()
        if execution is None:
            engine = load_engine(model, backend=args.backend, progress=False, **options)
            out["load_seconds"] = round(time.perf_counter() - start, 2)
        else:
            engine = RayEngine(model, backend=args.backend, execution=execution, **options)
        outputs = engine.generate(prompts, params)
        seconds = time.perf_counter() - start
        ids = [[c.token_ids for c in o.completions] for o in outputs]
        tokens = sum(c.num_tokens for o in outputs for c in o.completions)
        out.update(rows=len(prompts), samples=len(prompts) * args.n, sampled_tokens=tokens,
                   tokens_per_second=round(tokens / seconds, 2),
                   digest=hashlib.sha256(json.dumps(ids).encode()).hexdigest()[:16], example=outputs[0].texts[:3])
    if execution is not None:
        import ray

        ray.shutdown()
    out.update(seconds=round(seconds, 2), rows_per_second=round(out["rows"] / seconds, 3))
    return out


# ---------------------------------------------------------------- report

def summary(results: dict) -> dict:
    out = {}
    for workload in WORKLOADS:
        a = {k.split(" ", 1)[1]: v for k, v in results["arms"].items() if k.startswith(workload + " ")}
        s: dict = {}
        if "local" in a and "ray 1" in a:
            s["ray_overhead_1_replica_pct"] = round(100 * (a["ray 1"]["seconds"] / a["local"]["seconds"] - 1), 1)
        if "ray 1" in a and "ray 2" in a:
            s["speedup_2_over_1"] = round(a["ray 1"]["seconds"] / a["ray 2"]["seconds"], 2)
        if "local 2 threads" in a and "ray 2" in a:
            s["ray_2_over_local_2_threads"] = round(a["local 2 threads"]["seconds"] / a["ray 2"]["seconds"], 2)
        if "local" in a:
            # like for like: each Ray replica runs torch on 1 thread, as the local arm does; the local arm on 2
            # threads sums in another order, so its floats may differ in the last bits (reported apart)
            s["outputs_identical"] = all(v["digest"] == a["local"]["digest"] for k, v in a.items() if k.startswith("ray"))
            if "local 2 threads" in a:
                s["local_2_threads_identical"] = a["local 2 threads"]["digest"] == a["local"]["digest"]
        out[workload] = s
    return out


def report(results: dict) -> str:
    s, sums = results["settings"], summary(results)
    rows, task = (("made-up rows (smoke)", "a made-up task") if s["smoke"]
                  else (f"NIV2 dev rows ({s['rows_per_task']} a task)", f"`{s['task']}`"))
    where = (f"{results['machine']['cpu_count']} CPU cores, model `{s['model']}` (fp32)"
             if s["backend"] == "transformers" else f"{results['machine'].get('gpu') or 'a GPU'}, model `{s['model']}` on vLLM ({s['vllm_options']}), "
                  f"{s['num_gpus_per_replica']:g} GPU per replica")
    lines = [f"Scale-out on {where}. Embeddings: pool features of {rows}, batch {s['embed_batch_size']}. Sampling: "
             f"SELF-GUIDE annotation, n={s['n']} samples of at most {s['max_new_tokens']} tokens (temperature "
             f"{s['temperature']}, top-k {s['top_k']}) for {s['prompts']} prompts of {task}, engine batch "
             f"{s['engine_batch_size']} rows. Ray: local cluster of {s['ray_cpus']} CPUs, 1 CPU per replica; every "
             "arm's time includes loading the model, not the cluster's start.", "",
             "| workload | arm | seconds | rows | rows/s | vs local | outputs digest | load avg before |",
             "|---|---|---:|---:|---:|---:|---|---:|"]
    for name, a in results["arms"].items():
        workload, arm = name.split(" ", 1)
        local = results["arms"].get(f"{workload} local")
        ratio = f"{local['seconds'] / a['seconds']:.2f}x" if local else ""
        lines.append(f"| {workload} | {arm} | {a['seconds']:.1f} | {a['rows']} | {a['rows_per_second']:.2f} | "
                     f"{ratio} | `{a['digest']}` | {a.get('load_before', 0):.2f} |")
    lines.append("")
    for workload, w in sums.items():
        parts = []
        if "ray_overhead_1_replica_pct" in w:
            ok = "meets" if w["ray_overhead_1_replica_pct"] <= 15 else "misses"
            parts.append(f"Ray overhead at 1 replica {w['ray_overhead_1_replica_pct']:+.1f}% of local ({ok} <= 15%)")
        if "speedup_2_over_1" in w:
            ok = "meets" if w["speedup_2_over_1"] >= 1.6 else "misses"
            parts.append(f"2 replicas over 1: {w['speedup_2_over_1']:.2f}x ({ok} >= 1.6x)")
        if "ray_2_over_local_2_threads" in w:
            parts.append(f"2 replicas over local on 2 threads: {w['ray_2_over_local_2_threads']:.2f}x")
        if "outputs_identical" in w:
            parts.append("Ray's outputs identical to local's (1 and 2 replicas): " + ("yes" if w["outputs_identical"] else "NO"))
        if w.get("local_2_threads_identical") is False:
            parts.append("local on 2 threads differs in the last float bits (torch's summation order), as expected")
        if parts:
            lines.append(f"- {workload}: " + "; ".join(parts) + ".")
    return "\n".join(lines) + "\n"


def plot(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    workloads = [w for w in WORKLOADS if any(k.startswith(w + " ") for k in results["arms"])]
    fig, axes = plt.subplots(1, len(workloads), figsize=(5.5 * len(workloads), 3.2), squeeze=False)
    for ax, workload in zip(axes[0], workloads):
        a = {k.split(" ", 1)[1]: v for k, v in results["arms"].items() if k.startswith(workload + " ")}
        names = list(a)
        values = [a[k]["seconds"] for k in names]
        colors = ["tab:orange" if k.startswith("ray") else "tab:gray" for k in names]
        ax.barh(names[::-1], values[::-1], color=colors[::-1])
        for y, k in enumerate(names[::-1]):
            ax.text(a[k]["seconds"], y, f" {a[k]['seconds']:.0f} s, {a[k]['rows_per_second']:.2f} rows/s", va="center",
                    fontsize=8)
        ax.set_title(workload)
        ax.set_xlabel("seconds (lower is better)")
        ax.set_xlim(0, 1.45 * max(values, default=1))
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=None, help=f"JSON report (.md and .png next to it; default {DEFAULT_OUT}, "
                                                    f"with --smoke {SMOKE_OUT})")
    parser.add_argument("--smoke", action="store_true", help="tiny random model, a handful of rows, under /tmp")
    parser.add_argument("--rows-per-task", type=int, default=None, help="embeddings: rows of each of 8 NIV2 dev tasks "
                                                                        "(default 60; smoke: 6 of 2 made-up tasks)")
    parser.add_argument("--task", default="task190_snli_classification", help="sampling: NIV2 dev task (file stem)")
    parser.add_argument("--prompts", type=int, default=None, help="sampling: prompts (default 160; smoke 6)")
    parser.add_argument("--n", type=int, default=None, help="sampling: samples per prompt (default 10; smoke 3)")
    parser.add_argument("--max-new-tokens", type=int, default=None, help="sampling (default 16; smoke 8)")
    parser.add_argument("--batch-size", type=int, default=64,
                        help="sampling: engine rows (prompts x samples) per batch")
    parser.add_argument("--ray-cpus", type=int, default=2, help="CPUs of the local Ray cluster")
    parser.add_argument("--backend", default="transformers", choices=["transformers", "vllm"],
                        help="sampling's engine (vllm: a GPU machine; only the sampling arms run)")
    parser.add_argument("--num-gpus-per-replica", type=float, default=0.0, help="GPUs each Ray replica holds")
    parser.add_argument("--vllm-memory", type=float, default=0.4,
                        help="vllm: gpu_memory_utilization of each engine (two replicas may share a GPU)")
    parser.add_argument("--only", nargs="*", default=None, help="run only these arms")
    parser.add_argument("--arm", default=None, help=argparse.SUPPRESS)  # internal: run one arm, write JSON
    parser.add_argument("--arm-out", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    for name, full, smoke in (("rows_per_task", 60, 6), ("prompts", 160, 6), ("n", 10, 3), ("max_new_tokens", 16, 8)):
        if getattr(args, name) is None:
            setattr(args, name, smoke if args.smoke else full)
    all_arms = arms(args.backend)
    if args.arm:
        Path(args.arm_out).write_text(json.dumps(run_arm(args, all_arms[args.arm])))
        return 0
    if not args.smoke and not SHARED.is_dir():
        raise SystemExit(f"{SHARED} is absent: the benchmark needs the NIV2 dev tasks (or run --smoke)")

    import torch
    from cookbook_datasets.cpu import cpu_lock

    out = Path(args.out) if args.out else (SMOKE_OUT if args.smoke else DEFAULT_OUT)
    out.parent.mkdir(parents=True, exist_ok=True)
    settings = _settings(args)
    results = json.loads(out.read_text()) if out.exists() else {}
    if results.get("settings") != settings:
        results = {"settings": settings, "arms": {}}
    results["machine"] = {"cpu_count": os.cpu_count(), "python": platform.python_version(), "torch": torch.__version__,
                          "processor": platform.processor() or platform.machine(),
                          "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None}
    passthrough = ["--rows-per-task", str(args.rows_per_task), "--task", args.task, "--prompts", str(args.prompts),
                   "--n", str(args.n), "--max-new-tokens", str(args.max_new_tokens), "--batch-size",
                   str(args.batch_size), "--ray-cpus", str(args.ray_cpus), "--backend", args.backend,
                   "--num-gpus-per-replica", str(args.num_gpus_per_replica), "--vllm-memory", str(args.vllm_memory)]
    passthrough += ["--smoke"] if args.smoke else []
    with contextlib.nullcontext() if args.smoke else cpu_lock():  # a smoke run measures nothing: no waiting
        for name in all_arms:
            if name in results["arms"] or (args.only and name not in args.only):
                continue
            print(f"running {name} ...", flush=True)
            results["arms"][name] = run_arm_process(__file__, name, passthrough)
            results["summary"] = summary(results)
            atomic_json(out, results, sort_keys=False)
            a = results["arms"][name]
            print(f"  {a['seconds']:.1f} s, {a['rows_per_second']:.2f} rows/s", flush=True)
    results["summary"] = summary(results)
    atomic_json(out, results, sort_keys=False)
    table = report(results)
    atomic_write_text(out.with_suffix(".md"), table)
    plot(results, out.with_suffix(".png"))
    print(table)
    print(f"wrote {out}, {out.with_suffix('.md')}, {out.with_suffix('.png')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
