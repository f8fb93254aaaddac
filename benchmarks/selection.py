"""Subset-selection speed: greedy K-center at scale, the reference code's way, and embedding throughput.

Arms, each in its own process (peak memory is per process) and saved as soon as it finishes, so a
killed run resumes with the arms it had not done:
- ``kcenter N``: this project's K-center (running nearest-distance vector, candidate blocks scored
  by matrix products) picking 10k rows from N random 576-dimensional float32 embeddings
  (N = 50k, 200k, 1M), starting from no selected row;
- ``reference 50k``: the DiverseEvol reference code's algorithm, step for step (the full n x n
  distance matrix; at each step the minimum over the unselected x selected matrix, which is then
  copied without the picked row and with its column appended). Its step cost grows with the number
  selected; the first ``--reference-steps`` steps are timed and the rest extrapolated from a
  straight-line fit of step time vs selected count (marked ``extrapolated``), and its memory at 10k
  selected adds the two copies of that matrix a step holds;
- ``matrix + running min 50k``: the full n x n matrix, but the loop keeps a running minimum: what
  fixing only the loop gives, and the memory it still needs;
- ``embed``: pool rows per second through the default model (mean of the last hidden states),
  fp32 and bf16, on 256 NIV2 dev instances.
Peak memory is the process's peak resident memory *beyond* the embeddings themselves (the kernel's
high-water mark, reset once the input exists). Picks are checked equal between the arms at 50k.

    python benchmarks/selection.py --out results/selection.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "niv2" / "dev"
DIM, K = 576, 10_000


def arms(args) -> dict[str, dict]:
    out = {f"kcenter {n // 1000}k": {"kind": "kcenter", "n": n} for n in (50_000, 200_000, 1_000_000)}
    out["matrix + running min 50k"] = {"kind": "matrix_running_min", "n": 50_000}
    out["reference 50k"] = {"kind": "reference", "n": 50_000, "steps": args.reference_steps}
    out["embed fp32"] = {"kind": "embed", "dtype": "float32"}
    out["embed bf16"] = {"kind": "embed", "dtype": "bfloat16"}
    return out


# ---------------------------------------------------------------- run inside the arm's process

def _rss_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def _reset_peak() -> None:
    Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM (Linux >= 4.0)


def _embeddings(n: int):
    import numpy as np

    return np.random.default_rng(0).standard_normal((n, DIM), dtype=np.float32)


def _measure(fn):
    base = _rss_kib("VmRSS")
    _reset_peak()
    start = time.perf_counter()
    result = fn()
    seconds = time.perf_counter() - start
    extra_mib = (_rss_kib("VmHWM") - base) / 1024
    return result, seconds, extra_mib


def run_kcenter(spec: dict) -> dict:
    from cookbook_datasets.selection import kcenter_greedy

    x = _embeddings(spec["n"])
    picks, seconds, extra = _measure(lambda: kcenter_greedy(x, K))
    return {"seconds": seconds, "peak_extra_mib": extra, "picks_head": picks[:200].tolist(),
            "rows_per_second": spec["n"] * K / seconds}


def run_matrix_running_min(spec: dict) -> dict:
    import torch

    from cookbook_datasets.selection.kcenter import _farthest_from_mean, _sq_distances

    x = torch.from_numpy(_embeddings(spec["n"]))

    def select():
        norms = (x * x).sum(1)
        dist = _sq_distances(x, norms, x)  # the n x n matrix
        first = _farthest_from_mean(x, norms)
        picks, nearest = [first], dist[first].clone()
        nearest[first] = -1
        while len(picks) < K:
            best = int(torch.argmax(nearest))
            picks.append(best)
            torch.minimum(nearest, dist[best], out=nearest)
            nearest[best] = -1
        return picks

    picks, seconds, extra = _measure(select)
    return {"seconds": seconds, "peak_extra_mib": extra, "picks_head": picks[:200]}


def run_reference(spec: dict) -> dict:
    """The reference code's loop, step for step, timed for ``steps`` steps and extrapolated to K.

    Per step, as in DiverseEvol's ``kcenter_sampling.py``: the minimum over the (unselected x
    selected) distance matrix, the argmax, then that matrix copied without the picked row and with
    the picked column appended. Its cost grows linearly with the number selected, so the
    remaining steps are extrapolated from a straight-line fit of step time vs selected count.
    """
    import numpy as np
    import torch

    from cookbook_datasets.selection.kcenter import _farthest_from_mean, _sq_distances

    x = torch.from_numpy(_embeddings(spec["n"]))
    n = len(x)
    timings = {}

    def select():
        start = time.perf_counter()
        dist = _sq_distances(x, (x * x).sum(1), x).sqrt_()
        timings["matrix"] = time.perf_counter() - start
        first = _farthest_from_mean(x, (x * x).sum(1))
        labeled = torch.zeros(n, dtype=torch.bool)
        labeled[first] = True
        # unselected x selected (the reference indexes rows first, which copies (n - 1) x n floats
        # more; columns first gives the same matrix without that copy)
        mat = dist[:, labeled][~labeled]
        picks, steps = [first], []
        while len(picks) < min(K, spec["steps"]):
            t = time.perf_counter()
            q = int(mat.min(dim=1).values.argmax())
            best = int(torch.arange(n)[~labeled][q])
            labeled[best] = True
            keep = torch.ones(mat.shape[0], dtype=torch.bool)
            keep[q] = False
            mat = torch.cat((mat[keep], dist[~labeled, best][:, None]), dim=1)
            picks.append(best)
            steps.append((len(picks) - 1, time.perf_counter() - t))
        return picks, steps

    (picks, steps), seconds, extra = _measure(select)
    sizes, times = np.array([s for s, _ in steps], dtype=float), np.array([t for _, t in steps])
    slope, intercept = np.polyfit(sizes, times, 1)
    rest = np.arange(len(picks), K, dtype=float)
    loop_extrapolated = times.sum() + float(np.maximum(slope * rest + intercept, 0).sum())
    # the matrix at K selected: (n - K) x K more floats than now, held next to the n x n one
    return {"seconds": timings["matrix"] + loop_extrapolated, "matrix_seconds": timings["matrix"],
            "steps_timed": len(steps), "timed_seconds": seconds, "step_seconds_fit": [slope, intercept],
            "extrapolated": len(picks) < K, "peak_extra_mib": extra,
            "peak_extra_mib_at_k": extra + 2 * (n - K) * K * 4 / 2**20, "picks_head": picks[:200]}


def run_embed(spec: dict) -> dict:
    import datasets

    from cookbook_datasets.models import load_model
    from cookbook_datasets.selection import pool_features

    rows = []
    for path in sorted(SHARED.glob("*.json"))[:8]:
        task = json.loads(path.read_text())
        for inst in task["Instances"][:32]:
            out = inst["output"][0] if isinstance(inst["output"], list) else inst["output"]
            rows.append({"prompt": [{"role": "system", "content": task["Definition"][0]},
                                    {"role": "user", "content": inst["input"]}],
                         "completion": [{"role": "assistant", "content": out}]})
    ds = datasets.Dataset.from_list(rows)
    model, tokenizer = load_model("smollm2-135m", dtype=spec["dtype"])
    pool_features(model, tokenizer, ds.select(range(16)), token_stats=False)  # warm-up
    start = time.perf_counter()
    pool_features(model, tokenizer, ds, token_stats=False)
    seconds = time.perf_counter() - start
    lengths = [len(tokenizer.apply_chat_template(r["prompt"] + r["completion"], tokenize=True)["input_ids"])
               for r in rows]
    return {"rows": len(rows), "seconds": seconds, "rows_per_second": len(rows) / seconds,
            "mean_tokens": sum(lengths) / len(lengths)}


RUNNERS = {"kcenter": run_kcenter, "matrix_running_min": run_matrix_running_min, "reference": run_reference,
           "embed": run_embed}


# ---------------------------------------------------------------- driver

def report(results: dict, out: Path) -> None:
    lines = ["# Selection speed\n", f"{results['machine']}\n",
             f"Greedy K-center picking {K:,} rows from random {DIM}-dimensional float32 embeddings.\n",
             "| arm | rows | seconds | peak memory beyond the input (MiB) |", "|---|---:|---:|---:|"]
    order = {"kcenter": 0, "matrix_running_min": 1, "reference": 2}
    for name, r in sorted(results["arms"].items(), key=lambda kv: (order.get(kv[1]["spec"]["kind"], 3),
                                                                   kv[1]["spec"].get("n", 0))):
        if "n" in r["spec"]:
            note = " (extrapolated)" if r.get("extrapolated") else ""
            memory = r.get("peak_extra_mib_at_k", r["peak_extra_mib"])
            lines.append(f"| {name} | {r['spec']['n']:,} | {r['seconds']:.1f}{note} | {memory:,.0f}{note} |")
    fast, ref, mat = (results["arms"].get(k) for k in ("kcenter 50k", "reference 50k", "matrix + running min 50k"))
    if fast and ref:
        ref_memory = ref.get("peak_extra_mib_at_k", ref["peak_extra_mib"])
        lines += ["", f"At 50k: {ref['seconds'] / fast['seconds']:.0f}x faster and "
                      f"{ref_memory / max(fast['peak_extra_mib'], 1):.0f}x less memory than the reference "
                      f"code's algorithm"
                  + (f"; {mat['seconds'] / fast['seconds']:.1f}x faster and "
                     f"{mat['peak_extra_mib'] / max(fast['peak_extra_mib'], 1):.0f}x less memory than the full "
                     f"matrix with a running minimum." if mat else ".")]
    if "picks_equal_at_50k" in results:
        lines.append(f"\nSame picks at 50k (first 200 compared): {results['picks_equal_at_50k']}.")
    embeds = [(k, r) for k, r in results["arms"].items() if r["spec"]["kind"] == "embed"]
    if embeds:
        lines += ["", "Pool embedding through the default model (mean of the last hidden states):", "",
                  "| dtype | rows | mean tokens | rows/s |", "|---|---:|---:|---:|"]
        lines += [f"| {r['spec']['dtype']} | {r['rows']} | {r['mean_tokens']:.0f} | {r['rows_per_second']:.1f} |"
                  for _, r in embeds]
    out.with_suffix(".md").write_text("\n".join(lines) + "\n\n![selection](selection.png)\n")
    _plot(results, out.with_suffix(".png"))


def _plot(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    kc = [(r["spec"]["n"], r["seconds"]) for k, r in results["arms"].items() if r["spec"]["kind"] == "kcenter"]
    fig, ax = plt.subplots(figsize=(6, 3.8))
    if kc:
        ax.plot(*zip(*sorted(kc)), marker="o", label="this project's K-center")
    for key, label, marker in (("reference 50k", "reference code (n x n, min over selected)", "s"),
                               ("matrix + running min 50k", "n x n matrix + running min", "^")):
        if key in results["arms"]:
            r = results["arms"][key]
            ax.scatter([r["spec"]["n"]], [r["seconds"]], marker=marker, label=label, zorder=3)
    ax.set(xscale="log", yscale="log", xlabel="pool rows", ylabel="seconds to pick 10k rows")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default="benchmarks/results/selection.json")
    p.add_argument("--only", nargs="*", default=None, help="run only these arms")
    p.add_argument("--reference-steps", type=int, default=400, help="reference loop steps timed before extrapolating")
    p.add_argument("--arm", default=None, help=argparse.SUPPRESS)  # internal: run one arm, print JSON
    args = p.parse_args()
    all_arms = arms(args)
    if args.arm:
        spec = all_arms[args.arm]
        print("RESULT " + json.dumps({"spec": spec, **RUNNERS[spec["kind"]](spec)}))
        return
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    results = json.loads(out.read_text()) if out.exists() else {"arms": {}}
    results["machine"] = f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores"
    for name in args.only or list(all_arms):
        if name in results["arms"]:
            continue
        print(f"running {name} ...", flush=True)
        proc = subprocess.run([sys.executable, __file__, "--arm", name, "--reference-steps", str(args.reference_steps)],
                              capture_output=True, text=True, env={**os.environ, "HF_HUB_OFFLINE": "1"})
        line = next((x for x in proc.stdout.splitlines() if x.startswith("RESULT ")), None)
        if line is None:
            raise SystemExit(f"arm {name} failed:\n{proc.stderr[-3000:]}")
        results["arms"][name] = json.loads(line[len("RESULT "):])
        heads = [results["arms"][k]["picks_head"] for k in ("kcenter 50k", "matrix + running min 50k", "reference 50k")
                 if k in results["arms"]]
        if len(heads) > 1:
            results["picks_equal_at_50k"] = all(h[:len(heads[-1])] == heads[0][:len(h)] for h in heads)
        tmp = out.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(results, indent=2))
        os.replace(tmp, out)
        report(results, out)
        print(f"  {name}: {results['arms'][name].get('seconds', 0):.1f} s", flush=True)
    print(out.with_suffix(".md").read_text())


if __name__ == "__main__":
    main()
