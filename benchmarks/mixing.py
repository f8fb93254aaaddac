"""Speed of the mixture builder: interleaving should cost little.

One run, one process (``num_proc=1``), side by side:

* **mixture**: ``Mixture(weights=..., num_examples=N)`` built end to end (``download_and_prepare``
  into a fresh cache: draws, every component's rows, Arrow writing); rows/s of the train split.
* **each component alone**: the ``cookbook`` builder of that template with the same N rows, built
  the same way. Target: mixture rows/s >= 0.8 x the slowest component's.
* **interleave_datasets over materialised parts**: the parts built first (each with the rows the
  mixture takes from it), then ``datasets.interleave_datasets(parts, probabilities, seed)`` and
  ``flatten_indices()`` to materialise the result; reported with and without building the parts.

Writes ``benchmarks/results/mixing.{json,md}``:

    flock /tmp/cookbook_cpu.lock python benchmarks/mixing.py [--num-examples 200000]

``--online``: the cost of ``mix learn --method online``'s updates. Two LoRA runs of the same
steps on the same live mixture (LiveMixture, same seed and weights), side by side in one process:
one plain, one with the OnlineMixingCallback (task losses every ``--update-every`` steps on
``--probe-rows`` rows of each task, in one forward pass; the weights it sets change the later rows,
so the second run's rows differ from the first's only by component, not in kind). Reported: seconds
per step of each, the callback's own seconds and their share of the run (target <= 15% at the
default ``update_every``). Tasks: ``--tasks`` files (their fit rows) or, by default, the rows of two
templates' test splits. Writes ``benchmarks/results/mixing_online.{json,md}``:

    flock /tmp/cookbook_cpu.lock python benchmarks/mixing.py --online [--model smollm2-135m] [--steps 40]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from collections import Counter
from pathlib import Path

WEIGHTS = {"nli": 2.0, "shared_words": 1.0, "multiple_choice_qa": 1.0, "keyword_extraction": 1.0}


def _build(builder_cls, **kwargs) -> tuple[float, object]:
    with tempfile.TemporaryDirectory() as cache:
        start = time.perf_counter()
        builder = builder_cls(cache_dir=cache, num_eval_examples=1, **kwargs)
        builder.download_and_prepare(num_proc=1)
        ds = builder.as_dataset("train")
        seconds = time.perf_counter() - start
        sources = Counter(ds["source"]) if "source" in ds.column_names else None
        return seconds, sources


ONLINE_COMPONENTS = {"nli": {"template": "nli"}, "shared_words": {"template": "shared_words"}}


def _online_tasks(args) -> dict:
    """task -> prompt/completion rows the callback measures the loss on."""
    from cookbook_datasets import load_dataset
    from cookbook_datasets.mixing.task_loss import generate_framing_rows
    from cookbook_datasets.tasks import load_task, split_fit_eval

    if args.tasks:
        out = {}
        for path in args.tasks:
            fit, _ = split_fit_eval(load_task(path), fit_size=max(args.probe_rows, 8), eval_size=1, seed=0)
            out[fit.name] = generate_framing_rows(fit, args.probe_rows)
        return out
    out = {}
    for name in ONLINE_COMPONENTS:
        test = load_dataset("cookbook", name, num_examples=args.probe_rows, num_eval_examples=args.probe_rows,
                            seed=1, split="test")
        out[f"{name}_test"] = [{"prompt": r["prompt"], "completion": r["completion"]} for r in test]
    return out


def _online_run(args, tasks, out_dir, with_callback: bool) -> dict:
    import time as _time

    from cookbook_datasets.loading import load_builder
    from cookbook_datasets.mixing.live_mixture import LiveMixture
    from cookbook_datasets.mixing.methods.online import OnlineMixer
    from cookbook_datasets.mixing.online_run import OnlineMixingCallback
    from cookbook_datasets.mixing.schedule import WeightSchedule
    from cookbook_datasets.trainers import TrainConfig, train

    mixer = OnlineMixer(list(ONLINE_COMPONENTS), list(tasks))
    first = mixer.sampling_weights()
    builder = load_builder("mixture", "mixture", weights=first, components=ONLINE_COMPONENTS, seed=0, num_examples=1)
    live = LiveMixture(builder, WeightSchedule.constant(first), chunk=args.batch_size)
    callbacks = [OnlineMixingCallback(live, tasks, mixer, args.update_every, out_dir)] if with_callback else []
    config = TrainConfig(model=args.model, datasets=[], output_dir=str(out_dir / "adapter"), max_steps=args.steps,
                         per_device_train_batch_size=args.batch_size, learning_rate=5e-4, eval_split=None,
                         eval_steps=args.steps, save_total_limit=1, resume=False, seed=0, max_length=512)
    start = _time.perf_counter()
    card = train(config, callbacks=callbacks, train_dataset=live.dataset())
    wall = _time.perf_counter() - start
    result = {"train_seconds": card["train_seconds"], "wall_seconds": round(wall, 2),
              "seconds_per_step": round(card["train_seconds"] / args.steps, 3)}
    if with_callback:
        cb = callbacks[0]
        result.update(update_seconds=round(cb.update_seconds, 3), updates=len(cb.trajectory),
                      seconds_per_update=round(cb.update_seconds / len(cb.trajectory), 3),
                      final_weights=mixer.current())
    return result


def online_main(args) -> None:
    import datasets

    datasets.disable_progress_bars()
    tasks = _online_tasks(args)
    with tempfile.TemporaryDirectory() as tmp:
        warm = argparse.Namespace(**{**vars(args), "steps": 2, "update_every": 1})
        _online_run(warm, tasks, Path(tmp) / "warm", with_callback=True)  # imports, model load, kernels
        plain = _online_run(args, tasks, Path(tmp) / "plain", with_callback=False)
        online = _online_run(args, tasks, Path(tmp) / "online", with_callback=True)
    share = online["update_seconds"] / online["train_seconds"]
    overhead = online["train_seconds"] / plain["train_seconds"] - 1
    result = {"model": args.model, "steps": args.steps, "batch_size": args.batch_size,
              "update_every": args.update_every, "probe_rows_per_task": args.probe_rows, "tasks": list(tasks),
              "cpu_count": os.cpu_count(), "plain": plain, "online": online,
              "update_share_of_online_run": round(share, 4), "online_vs_plain_overhead": round(overhead, 4)}
    out = Path(args.out + "_online")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(result, indent=2))
    md = [f"# Online mixture: the updates' cost ({args.model}, {args.steps} steps of {args.batch_size} rows, "
          f"update_every {args.update_every}, {len(tasks)} tasks x {args.probe_rows} rows, {os.cpu_count()} cores)", "",
          "| run | train seconds | s/step | update seconds |", "|---|---:|---:|---:|",
          f"| plain (no callback) | {plain['train_seconds']} | {plain['seconds_per_step']} | |",
          f"| online callback | {online['train_seconds']} | {online['seconds_per_step']} | "
          f"{online['update_seconds']} ({online['updates']} updates) |", "",
          f"Updates: **{share:.1%}** of the online run (target <= 15%); online vs plain wall time: {overhead:+.1%}."]
    out.with_suffix(".md").write_text("\n".join(md) + "\n")
    print("\n".join(md))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--num-examples", type=int, default=200_000)
    p.add_argument("--out", default="benchmarks/results/mixing")
    p.add_argument("--online", action="store_true", help="benchmark the online mixture's updates instead")
    p.add_argument("--model", default="smollm2-135m", help="--online: the model trained")
    p.add_argument("--steps", type=int, default=40, help="--online: steps of each run")
    p.add_argument("--batch-size", type=int, default=8, help="--online: rows per step")
    p.add_argument("--update-every", type=int, default=20, help="--online: steps between updates (the default)")
    p.add_argument("--probe-rows", type=int, default=4, help="--online: rows per task the loss is measured on")
    p.add_argument("--tasks", nargs="*", default=None, help="--online: task files (default: template rows)")
    args = p.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if args.online:
        online_main(args)
        return
    import datasets

    from cookbook_datasets.builders import Cookbook, Mixture

    datasets.disable_progress_bars()
    n = args.num_examples
    _build(Mixture, weights=WEIGHTS, num_examples=1000)  # warm-up: imports, vocabularies
    mix_seconds, counts = _build(Mixture, weights=WEIGHTS, num_examples=n, seed=0)
    alone = {}
    for name in WEIGHTS:
        seconds, _ = _build(Cookbook, config_name=name, num_examples=n, seed=0)
        alone[name] = {"seconds": round(seconds, 3), "rows_per_s": round(n / seconds)}
    slowest = min(alone, key=lambda k: alone[k]["rows_per_s"])

    # datasets.interleave_datasets over the parts, each built with the rows the mixture draws from it
    with tempfile.TemporaryDirectory() as cache:
        start = time.perf_counter()
        parts = []
        for name in WEIGHTS:
            b = Cookbook(config_name=name, num_examples=counts[name], num_eval_examples=1, seed=0, cache_dir=cache)
            b.download_and_prepare(num_proc=1)
            parts.append(b.as_dataset("train"))
        build_parts = time.perf_counter() - start
        total = sum(WEIGHTS.values())
        start = time.perf_counter()
        mixed = datasets.interleave_datasets(parts, probabilities=[w / total for w in WEIGHTS.values()], seed=0,
                                             stopping_strategy="first_exhausted")
        mixed = mixed.flatten_indices()
        interleave = time.perf_counter() - start
    result = {
        "num_examples": n, "weights": WEIGHTS, "cpu_count": os.cpu_count(), "python": platform.python_version(),
        "datasets": datasets.__version__,
        "mixture": {"seconds": round(mix_seconds, 3), "rows_per_s": round(n / mix_seconds), "rows_by_source": counts},
        "alone": alone, "slowest_component": slowest,
        "ratio_vs_slowest": round((n / mix_seconds) / alone[slowest]["rows_per_s"], 3),
        "interleave_datasets": {"build_parts_seconds": round(build_parts, 3), "interleave_seconds": round(interleave, 3),
                                "rows": len(mixed), "rows_per_s_interleave_only": round(len(mixed) / interleave),
                                "rows_per_s_with_parts": round(len(mixed) / (build_parts + interleave))},
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(result, indent=2))
    il = result["interleave_datasets"]
    md = [f"# Mixture builder speed ({n:,} rows, num_proc=1, {os.cpu_count()} cores)", "",
          "| what | seconds | rows/s |", "|---|---:|---:|",
          f"| mixture builder ({', '.join(f'{k}:{v:g}' for k, v in WEIGHTS.items())}) | {result['mixture']['seconds']} | "
          f"{result['mixture']['rows_per_s']:,} |"]
    md += [f"| {k} alone | {v['seconds']} | {v['rows_per_s']:,} |" for k, v in alone.items()]
    md += [f"| interleave_datasets: building the parts | {il['build_parts_seconds']} | |",
           f"| interleave_datasets + flatten_indices on built parts | {il['interleave_seconds']} | "
           f"{il['rows_per_s_interleave_only']:,} |",
           f"| parts + interleave_datasets | {il['build_parts_seconds'] + il['interleave_seconds']:.3f} | "
           f"{il['rows_per_s_with_parts']:,} |", "",
           f"Mixture vs its slowest component alone ({slowest}): **{result['ratio_vs_slowest']}x** (target >= 0.8)."]
    out.with_suffix(".md").write_text("\n".join(md) + "\n")
    print("\n".join(md))


if __name__ == "__main__":
    main()
