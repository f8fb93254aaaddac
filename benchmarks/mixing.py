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


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--num-examples", type=int, default=200_000)
    p.add_argument("--out", default="benchmarks/results/mixing")
    args = p.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
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
