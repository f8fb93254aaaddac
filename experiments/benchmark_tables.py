"""Markdown tables for the benchmark results that are written as JSON only.

Reads ``benchmarks/results/generation.json``, ``eval_throughput.json`` and
``eval_throughput_framings.json`` (written by ``benchmarks/generation.py`` and
``benchmarks/eval_throughput.py``) and writes one Markdown table per file under ``--out``, which the
documentation site includes (docs/results.md). It runs no model and measures nothing: rerun it after
a benchmark has rewritten its JSON.

    python experiments/benchmark_tables.py
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from cookbook_datasets.atomic_files import atomic_write_text

ROOT = Path(__file__).resolve().parents[1]


def _rate(x: float) -> str:
    return f"{x:,.0f}"


def generation_table(report: dict) -> str:
    lines = [f"Rows per second on one core (num_proc={report['machine'].get('num_proc', 1)}), "
             f"{report['num_examples']:,} train rows per template, best of {report['repeats']}.", "",
             "| template | in memory /s | Parquet end to end /s |", "|---|---:|---:|"]
    for name, t in sorted(report["templates"].items()):
        lines.append(f"| `{name}` | {_rate(t['in_memory_per_s'])} | {_rate(t['parquet_end_to_end_per_s'])} |")
    lines += ["", f"| reasoning-gym ({report['rg_num_examples']:,} rows) | in memory /s |", "|---|---:|"]
    for name, t in report["reasoning_gym"].items():
        lines.append(f"| {name} | {_rate(t['in_memory_per_s'])} |")
    s = report["summary"]
    met = "met" if s["meets_target"] else "**missed**"
    lines += ["", f"Median template end to end to Parquet: **{_rate(s['median_template_parquet_per_s'])}/s** "
                  f"(in memory: {_rate(s['median_template_in_memory_per_s'])}/s); median reasoning-gym in memory: "
                  f"{_rate(s['median_reasoning_gym_in_memory_per_s'])}/s: **{s['ratio_parquet_vs_rg']:.1f}x** "
                  f"(target {s['target_ratio']}x: {met})."]
    return "\n".join(lines) + "\n"


def eval_throughput_table(report: dict) -> str:
    lines = [f"Model `{report['model']}`, batch {report['batch_size']} vs one call per example, "
             f"{report['torch_threads']} threads, the same examples.", "",
             "| scoring | task | examples | one at a time /s | batched /s | speed-up | same predictions |",
             "|---|---|---:|---:|---:|---:|---|"]
    for key, t in report["tasks"].items():
        same = t.get("same_predictions")
        if same is None and "max_abs_loglik_difference" in t:
            same = f"log-likelihoods within {t['max_abs_loglik_difference']:.1e}"
        elif same is not None:
            same = f"{same:.0%}"
        lines.append(f"| {key.split(':')[0]} | {t['task']} | {t['examples']} | {t['one_at_a_time_per_s']:.2f} | "
                     f"{t['batched_per_s']:.2f} | {t['speedup']:.1f}x | {same} |")
    return "\n".join(lines) + "\n"


def framings_throughput_table(report: dict) -> str:
    lines = [f"Model `{report['model']}` ({report['dtype']}, {report['device']}), batch {report['batch_size']}: "
             "the harness vs a plain per-row loop (one `model.generate` per row, one forward pass per "
             "(row, label)), the same examples.", "",
             "| framing | task | examples | per-row loop /s | harness /s | speed-up | target |",
             "|---|---|---:|---:|---:|---:|---|"]
    for t in report["tasks"].values():
        met = "met" if t["speedup"] >= 3 else "**missed**"
        lines.append(f"| `{t['framing']}` | {t['task']} | {t['examples']} | {t['one_at_a_time_per_s']:.2f} | "
                     f"{t['batched_per_s']:.2f} | **{t['speedup']:.1f}x** | >= 3x: {met} |")
    return "\n".join(lines) + "\n"


TABLES = {
    "generation.json": ("generation.md", generation_table),
    "eval_throughput.json": ("eval_throughput.md", eval_throughput_table),
    "eval_throughput_framings.json": ("eval_throughput_framings.md", framings_throughput_table),
}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--results", default=str(ROOT / "benchmarks" / "results"), help="the benchmarks' JSON files")
    p.add_argument("--out", default=str(ROOT / "experiments" / "results" / "benchmarks"), help="Markdown goes here")
    args = p.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for src, (dst, render) in TABLES.items():
        path = Path(args.results) / src
        if not path.is_file():
            print(f"skipped {src}: no {path}")
            continue
        atomic_write_text(out / dst, render(json.loads(path.read_text())))
        print(f"wrote {out / dst}")


if __name__ == "__main__":
    main()
