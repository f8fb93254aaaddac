"""Generation throughput of the Cookbook templates, next to reasoning-gym's generators.

Usage::

    python benchmarks/generation.py --out results/generation.json
        [--num-examples N] [--templates a,b] [--rg-num-examples M] [--repeats R]

What is measured, all in one single-process run (``num_proc=1``, so every rate is *per core*;
``os.cpu_count()`` is recorded to show how much more a parallel build could get):

* For every template:

  - **in memory** -- rows/s of the builder's own ``Cookbook._generate_tables`` generator on one
    shard ``[(0, N)]``: ``item_rng`` + ``Template.sample`` + ``json.dumps`` of meta + the Arrow
    table of each batch, exactly the per-row work a build does, minus ``datasets``' writer. A
    warm-up batch runs first so one-time costs (vocabulary loading) are not counted.
  - **Parquet end to end** -- wall-clock of ``Cookbook(config_name=..., num_examples=N,
    num_eval_examples=1, cache_dir=tmp)`` plus ``download_and_prepare(file_format="parquet",
    output_dir=tmp, num_proc=1)``; rate = rows in the written Parquet files (N + 2) / seconds.
    This is what a user waits for (builder construction, split generation, writing, info).

* For a few comparable, simple reasoning-gym generators (in memory only): the time of
  ``[ds[i] for i in range(M)]`` -- reasoning-gym items are generated on access. Dataset
  construction is timed separately, as several of them read and tokenise a text file there.

Each measurement is the best of ``--repeats`` (default 2) runs, to reduce scheduling noise.
The summary compares the median template's Parquet rate with the median reasoning-gym
in-memory rate against a target ratio of 10. With ``--profile-top K`` (default 25) the
in-memory path of the slowest template is run under cProfile and its top entries reported.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import logging
import os
import platform
import pstats
import statistics
import sys
import tempfile
import time
import traceback
from importlib import metadata
from pathlib import Path
from typing import Any, Callable, NamedTuple, Optional

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import datasets  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402

from cookbook_datasets.atomic_files import atomic_write_text  # noqa: E402
from cookbook_datasets.builders import Cookbook  # noqa: E402
from cookbook_datasets.templates import list_templates  # noqa: E402

logger = logging.getLogger("benchmarks.generation")

TARGET_RATIO = 10
# Simple reasoning-gym generators comparable to the Cookbook templates (word/letter tasks and
# two tiny numeric ones); names missing from the installed version are skipped and reported.
RG_DATASETS = ("word_sorting", "letter_counting", "spell_backward", "word_sequence_reversal",
               "number_sorting", "basic_arithmetic")
_WARMUP_ROWS = 200


# -- timing helpers -------------------------------------------------------------------------------
class Run(NamedTuple):
    """One timed run: rows produced, wall-clock seconds and this process's CPU seconds."""

    rows: int
    wall: float
    cpu: float


class Stopwatch:
    """Wall-clock (``perf_counter``) and process CPU time (``process_time``, all threads) of a block.

    CPU time is recorded next to wall-clock because the 2 cores may be shared with other
    processes: a run slowed by contention shows wall >> cpu.
    """

    def __enter__(self):
        self._wall, self._cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc):
        self.wall = time.perf_counter() - self._wall
        self.cpu = time.process_time() - self._cpu
        return False


def best_of(repeats: int, fn: Callable[[], Run]) -> Run:
    """Run ``fn`` ``repeats`` times; keep the run with the shortest wall-clock."""
    return min((fn() for _ in range(max(1, repeats))), key=lambda r: r.wall)


def rate(rows: int, seconds: float) -> float:
    return rows / seconds if seconds > 0 else float("inf")


# -- Cookbook templates ---------------------------------------------------------------------------
def make_builder(name: str, num_examples: int, cache_dir: str) -> Cookbook:
    return Cookbook(config_name=name, num_examples=num_examples, num_eval_examples=1, cache_dir=cache_dir)


def drain_tables(builder: Cookbook, num_rows: int) -> tuple[int, Any]:
    """Run the builder's table generator over one shard ``[(0, num_rows)]``; rows and first table."""
    rows, first = 0, None
    for _, table in builder._generate_tables(shards=[(0, num_rows)], split="train"):
        rows += table.num_rows
        if first is None:
            first = table
    return rows, first


def time_in_memory(builder: Cookbook, num_rows: int) -> Run:
    with Stopwatch() as sw:
        rows, _ = drain_tables(builder, num_rows)
    return Run(rows, sw.wall, sw.cpu)


def mean_chars(table) -> dict[str, float]:
    """Mean characters of prompt and completion in one batch (to compare sample sizes)."""
    def text(value) -> str:  # chat format: a list of messages; text format: a string
        return value if isinstance(value, str) else "".join(m["content"] for m in value)

    rows = table.select(["prompt", "completion"]).to_pylist()
    return {col: statistics.fmean(len(text(r[col])) for r in rows) for col in ("prompt", "completion")}


def parquet_rows(directory: Path) -> int:
    return sum(pq.ParquetFile(p).metadata.num_rows for p in directory.rglob("*.parquet"))


def time_parquet(name: str, num_examples: int, workdir: Path) -> Run:
    """Builder construction + ``download_and_prepare`` to Parquet, in fresh directories."""
    run_dir = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=workdir))
    out_dir = run_dir / "out"
    with Stopwatch() as sw:
        builder = make_builder(name, num_examples, cache_dir=str(run_dir / "cache"))
        builder.download_and_prepare(output_dir=str(out_dir), file_format="parquet", num_proc=1)
    rows = parquet_rows(out_dir)
    expected = num_examples + 2  # train + validation (1) + test (1)
    if rows != expected:
        raise RuntimeError(f"{name}: {rows} rows written to Parquet, expected {expected}")
    return Run(rows, sw.wall, sw.cpu)


def bench_template(name: str, num_examples: int, repeats: int, workdir: Path) -> dict:
    builder = make_builder(name, num_examples, cache_dir=str(workdir / "in-memory-cache"))
    _, first = drain_tables(builder, _WARMUP_ROWS)  # vocabulary and other one-time costs
    mem = best_of(repeats, lambda: time_in_memory(builder, num_examples))
    if mem.rows != num_examples:
        raise RuntimeError(f"{name}: generated {mem.rows} rows, expected {num_examples}")
    pq_run = best_of(repeats, lambda: time_parquet(name, num_examples, workdir))
    return {
        "in_memory_per_s": rate(mem.rows, mem.wall),
        "in_memory_seconds": mem.wall,
        "in_memory_cpu_per_s": rate(mem.rows, mem.cpu),
        "parquet_end_to_end_per_s": rate(pq_run.rows, pq_run.wall),
        "parquet_end_to_end_seconds": pq_run.wall,
        "parquet_end_to_end_cpu_per_s": rate(pq_run.rows, pq_run.cpu),
        "parquet_rows": pq_run.rows,
        "mean_chars": mean_chars(first),
    }


def bench_templates(names: list[str], num_examples: int, repeats: int) -> dict[str, dict]:
    results = {}
    with tempfile.TemporaryDirectory(prefix="cookbook-bench-") as tmp:
        for name in names:
            t0 = time.perf_counter()
            try:
                results[name] = bench_template(name, num_examples, repeats, Path(tmp))
            except Exception as exc:  # templates are edited concurrently; report, don't abort
                logger.error("template %s failed: %s", name, exc)
                results[name] = {"error": "".join(traceback.format_exception_only(exc)).strip()}
                continue
            r = results[name]
            logger.info("%-24s in memory %9.0f/s  parquet %9.0f/s  (%.1fs)", name,
                        r["in_memory_per_s"], r["parquet_end_to_end_per_s"], time.perf_counter() - t0)
    return results


def profile_in_memory(name: str, num_rows: int, top: int) -> dict:
    """cProfile of the in-memory path of one template; the ``top`` entries by own time."""
    with tempfile.TemporaryDirectory(prefix="cookbook-profile-") as tmp:
        builder = make_builder(name, num_rows, cache_dir=tmp)
        drain_tables(builder, _WARMUP_ROWS)
        profiler = cProfile.Profile()
        profiler.enable()
        drain_tables(builder, num_rows)
        profiler.disable()
    stream = io.StringIO()
    stats = pstats.Stats(profiler, stream=stream)
    stats.strip_dirs().sort_stats("tottime").print_stats(top)
    lines = [ln for ln in stream.getvalue().splitlines() if ln.strip()]
    return {"template": name, "num_rows": num_rows, "sort": "tottime", "top": lines}


# -- reasoning-gym --------------------------------------------------------------------------------
def bench_reasoning_gym(names: tuple[str, ...], num_examples: int, repeats: int, seed: int = 0) -> dict:
    import reasoning_gym
    from reasoning_gym.factory import DATASETS

    results = {}
    for name in names:
        if name not in DATASETS:
            results[name] = {"error": "not registered in this reasoning_gym version"}
            continue

        def construct():
            with Stopwatch() as sw:
                ds = reasoning_gym.create_dataset(name, size=num_examples, seed=seed)
            return ds, sw.wall

        def access(ds) -> Run:
            with Stopwatch() as sw:
                items = [ds[i] for i in range(num_examples)]
            return Run(len(items), sw.wall, sw.cpu)

        # construction reads and tokenises a text file for the word tasks: timed on its own
        construct_s = min(construct()[1] for _ in range(max(1, repeats)))
        ds, _ = construct()
        items = [ds[i] for i in range(num_examples)]  # warm-up pass, also kept for mean_chars
        run = best_of(repeats, lambda: access(ds))
        results[name] = {
            "in_memory_per_s": rate(run.rows, run.wall),
            "in_memory_seconds": run.wall,
            "in_memory_cpu_per_s": rate(run.rows, run.cpu),
            "construct_seconds": construct_s,
            "in_memory_incl_construct_per_s": rate(run.rows, run.wall + construct_s),
            "mean_chars": {"prompt": statistics.fmean(len(it["question"]) for it in items),
                           "completion": statistics.fmean(len(str(it["answer"])) for it in items)},
        }
        logger.info("rg %-22s %9.0f/s (construct %.3fs)", name, results[name]["in_memory_per_s"], construct_s)
    return results


# -- report ---------------------------------------------------------------------------------------
def _version(dist: str) -> Optional[str]:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def load_average() -> Optional[list[float]]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except (AttributeError, OSError):
        return None


def machine_info(load_at_start: Optional[list[float]]) -> dict:
    import reasoning_gym

    return {
        "cpu_count": os.cpu_count(),
        # 1/5/15-minute load averages: above cpu_count, other processes competed for the cores
        "load_average_start": load_at_start,
        "load_average_end": load_average(),
        "num_proc": 1,
        "note": "single process (num_proc=1): every rate is per core",
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "packages": {
            "cookbook-datasets": _version("cookbook-datasets"),
            "datasets": datasets.__version__,
            "pyarrow": _version("pyarrow"),
            "reasoning_gym": _version("reasoning_gym") or _version("reasoning-gym"),
            # the module attribute of 0.1.25 is stale; recorded so the mismatch is visible
            "reasoning_gym.__version__": getattr(reasoning_gym, "__version__", None),
        },
    }


def _median(results: dict, key: str) -> Optional[float]:
    values = [r[key] for r in results.values() if key in r]
    return statistics.median(values) if values else None


def summarize(templates: dict, rg: dict) -> dict:
    parquet = _median(templates, "parquet_end_to_end_per_s")
    in_memory = _median(templates, "in_memory_per_s")
    rg_median = _median(rg, "in_memory_per_s")
    ratio = parquet / rg_median if parquet and rg_median else None
    parquet_cpu = _median(templates, "parquet_end_to_end_cpu_per_s")
    rg_cpu = _median(rg, "in_memory_cpu_per_s")
    ok = [n for n, r in templates.items() if "in_memory_per_s" in r]
    slowest = sorted(ok, key=lambda n: templates[n]["parquet_end_to_end_per_s"])[:3]
    return {
        "median_template_parquet_per_s": parquet,
        "median_template_in_memory_per_s": in_memory,
        "median_reasoning_gym_in_memory_per_s": rg_median,
        "ratio_parquet_vs_rg": ratio,
        "target_ratio": TARGET_RATIO,
        "meets_target": bool(ratio is not None and ratio >= TARGET_RATIO),
        # the same ratio on CPU time, insensitive to other processes sharing the cores
        "median_template_parquet_cpu_per_s": parquet_cpu,
        "median_reasoning_gym_in_memory_cpu_per_s": rg_cpu,
        "ratio_parquet_vs_rg_cpu": parquet_cpu / rg_cpu if parquet_cpu and rg_cpu else None,
        "slowest_templates_parquet": slowest,
        "failed_templates": sorted(n for n, r in templates.items() if "error" in r),
    }


def _fmt(value: Optional[float]) -> str:
    return "n/a" if value is None else f"{value:,.0f}"


def markdown(report: dict) -> str:
    lines = [f"Cookbook templates, N={report['num_examples']} rows, num_proc=1 "
             f"(per core; {report['machine']['cpu_count']} cores), best of {report['repeats']}", "",
             "| template | in memory /s | Parquet end-to-end /s |", "|---|---:|---:|"]
    for name, r in report["templates"].items():
        if "error" in r:
            lines.append(f"| {name} | error | {r['error'][:60]} |")
        else:
            lines.append(f"| {name} | {_fmt(r['in_memory_per_s'])} | {_fmt(r['parquet_end_to_end_per_s'])} |")
    lines += ["", f"reasoning-gym {report['machine']['packages']['reasoning_gym']}, M={report['rg_num_examples']} "
              "items, in memory", "",
              "| dataset | in memory /s | construct s | incl. construct /s |", "|---|---:|---:|---:|"]
    for name, r in report["reasoning_gym"].items():
        if "error" in r:
            lines.append(f"| {name} | {r['error']} | | |")
        else:
            lines.append(f"| {name} | {_fmt(r['in_memory_per_s'])} | {r['construct_seconds']:.3f} "
                         f"| {_fmt(r['in_memory_incl_construct_per_s'])} |")
    s = report["summary"]

    def times(x):
        return "n/a" if x is None else f"{x:.2f}x"

    ratio = times(s["ratio_parquet_vs_rg"])
    lines += ["", "| summary | value |", "|---|---:|",
              f"| median template Parquet end-to-end /s | {_fmt(s['median_template_parquet_per_s'])} |",
              f"| median template in memory /s | {_fmt(s['median_template_in_memory_per_s'])} |",
              f"| median reasoning-gym in memory /s | {_fmt(s['median_reasoning_gym_in_memory_per_s'])} |",
              f"| ratio Parquet vs reasoning-gym | {ratio} |",
              f"| target ratio | {s['target_ratio']}x |",
              f"| meets target | {s['meets_target']} |",
              f"| ratio on CPU time (Parquet vs reasoning-gym) | {times(s['ratio_parquet_vs_rg_cpu'])} |",
              f"| load average at start / end (1, 5, 15 min) | {report['machine']['load_average_start']} / "
              f"{report['machine']['load_average_end']} |",
              f"| slowest templates (Parquet) | {', '.join(s['slowest_templates_parquet'])} |"]
    if s["failed_templates"]:
        lines.append(f"| failed templates | {', '.join(s['failed_templates'])} |")
    return "\n".join(lines)


# -- main -----------------------------------------------------------------------------------------
def parse_args(argv: Optional[list[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, default=Path("results/generation.json"), help="JSON report path")
    p.add_argument("--num-examples", type=int, default=20_000, help="train rows per template (N)")
    p.add_argument("--templates", default=None, help="comma-separated template names (default: all)")
    p.add_argument("--rg-num-examples", type=int, default=5_000, help="items per reasoning-gym dataset (M)")
    p.add_argument("--repeats", type=int, default=2, help="runs per measurement; the best is kept")
    p.add_argument("--profile-top", type=int, default=25,
                   help="cProfile entries of the slowest template's in-memory path (0: no profile)")
    p.add_argument("--profile-rows", type=int, default=5_000, help="rows generated under cProfile")
    args = p.parse_args(argv)
    for flag in ("num_examples", "rg_num_examples", "repeats"):
        if getattr(args, flag) <= 0:
            p.error(f"--{flag.replace('_', '-')} must be positive")
    return args


def main(argv: Optional[list[str]] = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    datasets.disable_progress_bars()
    datasets.logging.set_verbosity_error()

    load_at_start = load_average()
    names = list_templates() if not args.templates else [n.strip() for n in args.templates.split(",") if n.strip()]
    templates = bench_templates(names, args.num_examples, args.repeats)
    rg = bench_reasoning_gym(RG_DATASETS, args.rg_num_examples, args.repeats)
    report = {
        "machine": machine_info(load_at_start),
        "num_examples": args.num_examples,
        "rg_num_examples": args.rg_num_examples,
        "repeats": args.repeats,
        "templates": templates,
        "reasoning_gym": rg,
        "summary": summarize(templates, rg),
    }
    ok = [n for n, r in templates.items() if "in_memory_per_s" in r]
    if args.profile_top > 0 and ok:
        slowest = min(ok, key=lambda n: templates[n]["in_memory_per_s"])
        report["profile"] = profile_in_memory(slowest, min(args.profile_rows, args.num_examples), args.profile_top)

    atomic_write_text(args.out, json.dumps(report, indent=2) + "\n")
    print(markdown(report))
    if "profile" in report:
        prof = report["profile"]
        print(f"\ncProfile of the slowest template's in-memory path ({prof['template']}, "
              f"{prof['num_rows']} rows, by own time):")
        print("\n".join(prof["top"]))
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
