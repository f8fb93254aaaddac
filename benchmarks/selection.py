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
- ``embed fp32`` / ``embed bf16``: pool rows per second through the default model with a LoRA
  adapter (as every selection round after round 0 embeds), on NIV2 dev rows in the experiment's
  format (the task definition as system message, max 384 tokens; 8 of its tasks, 20 rows each).
  Three paths on the same rows, each over the whole pool twice, the second time in reverse order
  so that load from other processes hits them alike: ``previous`` (this
  module's copy of the embedding pass as it was before the speed-up: adapter unmerged, every row
  run whole, batches of 16 rows), ``merged`` (the same pass on the merged model: what the merge
  alone gives) and ``current`` (``pool_features`` on the merged model: shared prefixes run once,
  token-bounded batches); then ``current end to end`` (``cached_pool_features`` on an empty cache,
  loading and merging included) and ``cached`` (the same call again: every row read back). The
  largest difference and the lowest cosine similarity between ``previous`` and
  ``current`` embeddings, and whether K-center picks the same rows from both, are recorded.
Peak memory is the process's peak resident memory *beyond* the embeddings themselves (the kernel's
high-water mark, reset once the input exists). Picks are checked equal between the arms at 50k.

    python benchmarks/selection.py --out benchmarks/results/selection.json
    python benchmarks/selection.py --only "embed bf16" "embed fp32" --rerun
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

from cookbook_datasets.atomic_files import atomic_json

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "niv2" / "dev"
DIM, K = 576, 10_000


def arms(args) -> dict[str, dict]:
    out = {f"kcenter {n // 1000}k": {"kind": "kcenter", "n": n} for n in (50_000, 200_000, 1_000_000)}
    out["matrix + running min 50k"] = {"kind": "matrix_running_min", "n": 50_000}
    out["reference 50k"] = {"kind": "reference", "n": 50_000, "steps": args.reference_steps}
    out["embed bf16"] = {"kind": "embed", "dtype": "bfloat16", "rows_per_task": args.embed_rows_per_task}
    out["embed fp32"] = {"kind": "embed", "dtype": "float32", "rows_per_task": args.embed_rows_per_task}
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

    from cookbook_datasets.selection.kcenter import farthest_from_mean, sq_distances

    x = torch.from_numpy(_embeddings(spec["n"]))

    def select():
        norms = (x * x).sum(1)
        dist = sq_distances(x, norms, x)  # the n x n matrix
        first = farthest_from_mean(x, norms)
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

    from cookbook_datasets.selection.kcenter import farthest_from_mean, sq_distances

    x = torch.from_numpy(_embeddings(spec["n"]))
    n = len(x)
    timings = {}

    def select():
        start = time.perf_counter()
        dist = sq_distances(x, (x * x).sum(1), x).sqrt_()
        timings["matrix"] = time.perf_counter() - start
        first = farthest_from_mean(x, (x * x).sum(1))
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


EXPERIMENT_SKIPS = ("task121_zest_text_modification",)  # as experiments/diverse_evol.py


def _niv2_pool(rows_per_task: int, task_step: int = 2):
    """Rows of every ``task_step``-th experiment task (in name order): how many rows a task has sets
    how much a shared instruction saves, so a small pool takes fewer tasks rather than fewer rows
    per task (the experiment's pool has 100 a task, issue 20's 125 or more)."""
    import datasets

    rows = []
    paths = [p for p in sorted(SHARED.glob("*.json")) if p.stem not in EXPERIMENT_SKIPS]
    for path in paths[::task_step]:
        task = json.loads(path.read_text())
        for inst in task["Instances"][:rows_per_task]:
            out = inst["output"][0] if isinstance(inst["output"], list) else inst["output"]
            rows.append({"prompt": [{"role": "system", "content": task["Definition"][0]},
                                    {"role": "user", "content": inst["input"]}],
                         "completion": [{"role": "assistant", "content": out}], "source": path.stem})
    return datasets.Dataset.from_list(rows)


def _random_adapter(folder: Path) -> str:
    """A LoRA adapter as the round loop trains (r=16, all-linear), with small random weights."""
    import torch
    from peft import LoraConfig, get_peft_model

    from cookbook_datasets.models import load_model

    model, _ = load_model("smollm2-135m", dtype="float32")
    model = get_peft_model(model, LoraConfig(r=16, lora_alpha=32, target_modules="all-linear"))
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "lora_B" in name:
                param.copy_(torch.randn(param.shape, generator=gen) * 0.02)
    model.save_pretrained(folder)
    return str(folder)



def _previous_path():
    """``previous_pool_features``, defined with the imports it had."""
    import numpy as np
    import torch
    from tqdm.auto import tqdm

    from cookbook_datasets.selection.base import PoolFeatures
    from cookbook_datasets.selection.embeddings import encode_rows, require_rows

    def previous_pool_features(model, tokenizer, dataset, *, batch_size: int = 16, max_length: int = 512,
                               token_stats: bool = True, desc: str = "embedding pool") -> PoolFeatures:
        """The embedding pass as it was before the speed-up (cookbook_datasets/selection/embeddings.py at
        commit 401400e), kept verbatim as the benchmark's "before"."""
        require_rows(dataset)
        if len(dataset) == 0:
            raise ValueError("the pool is empty: nothing to embed")
        encoded = encode_rows(tokenizer, dataset, max_length)
        n = len(encoded)
        pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
        head = model.get_output_embeddings()
        # the decoder alone gives the last (normed) hidden states without keeping every layer's;
        # a PEFT model's LoRA layers sit inside it, so the adapter is applied all the same
        base = model.get_base_model() if hasattr(model, "get_base_model") else model
        decoder = base.get_decoder()
        device = model.device
        embeddings = None
        stats = {key: np.full(n, np.nan, dtype=np.float32) for key in ("max_prob", "margin", "entropy")}
        order = sorted(range(n), key=lambda i: -len(encoded[i][0]))
        for start in tqdm(range(0, n, batch_size), desc=desc, leave=False):
            idx = order[start:start + batch_size]
            width = max(len(encoded[i][0]) for i in idx)
            ids = torch.full((len(idx), width), pad, dtype=torch.long)
            mask = torch.zeros((len(idx), width), dtype=torch.long)
            for row, i in enumerate(idx):  # right padding: real tokens keep positions 0..len-1
                seq = encoded[i][0]
                ids[row, :len(seq)] = torch.tensor(seq)
                mask[row, :len(seq)] = 1
            hidden = decoder(input_ids=ids.to(device), attention_mask=mask.to(device), use_cache=False).last_hidden_state
            m = mask.to(device=device, dtype=hidden.dtype)[..., None]
            mean = ((hidden * m).sum(1) / m.sum(1)).float().cpu().numpy()
            if embeddings is None:
                embeddings = np.zeros((n, mean.shape[1]), dtype=np.float32)
            embeddings[idx] = mean
            if not token_stats:
                continue
            for row, i in enumerate(idx):
                seq, response = encoded[i]
                if response >= len(seq):
                    continue  # no response token left: no score
                # the logits at position t predict token t+1
                logits = head(hidden[row, response - 1 if response else 0:len(seq) - 1]).float()
                probs = torch.softmax(logits, -1)
                top2 = probs.topk(2, dim=-1).values
                stats["max_prob"][i] = top2[:, 0].mean().item()
                stats["margin"][i] = (top2[:, 0] - top2[:, 1]).mean().item()
                stats["entropy"][i] = -(probs * torch.log_softmax(logits, -1)).sum(-1).mean().item()
        if not token_stats:
            return PoolFeatures(embeddings=embeddings)
        return PoolFeatures(embeddings=embeddings, **stats)

    return torch.inference_mode()(previous_pool_features)


def run_embed(spec: dict) -> dict:
    import shutil
    import tempfile

    import numpy as np

    from cookbook_datasets.models import load_model
    from cookbook_datasets.selection import kcenter_greedy
    from cookbook_datasets.selection.embeddings import (
        cached_pool_features, encode_rows, load_for_features, pool_features, prefix_groups, row_keys,
    )

    previous_pool_features = _previous_path()
    pool = _niv2_pool(spec["rows_per_task"])
    work = Path(tempfile.mkdtemp(prefix="selection-bench-"))
    try:
        adapter = _random_adapter(work / "adapter")
        dtype, max_length = spec["dtype"], 384
        unmerged, tokenizer = load_model("smollm2-135m", adapter=adapter, dtype=dtype)
        merged, _ = load_for_features("smollm2-135m", adapter=adapter, dtype=dtype)
        previous_pool_features(unmerged, tokenizer, pool.select(range(8)), token_stats=False, max_length=max_length)
        seconds = {"previous": 0.0, "merged": 0.0, "current": 0.0}
        runs = {
            "previous": lambda: previous_pool_features(unmerged, tokenizer, pool, token_stats=False,
                                                       max_length=max_length).embeddings,
            "merged": lambda: previous_pool_features(merged, tokenizer, pool, token_stats=False,
                                                     max_length=max_length).embeddings,
            "current": lambda: pool_features(merged, tokenizer, pool, max_length=max_length).embeddings,
        }
        parts = {}
        for rep in range(2):  # the whole pool per pass; the second time in reverse order, so drift hits all
            for name in (list(runs) if rep == 0 else list(runs)[::-1]):
                start = time.perf_counter()
                parts.setdefault(name, runs[name]())
                seconds[name] += (time.perf_counter() - start) / 2
        for name in ("current end to end", "cached"):  # loading + merging included; then every row read back
            start = time.perf_counter()
            parts[name] = cached_pool_features("smollm2-135m", pool, adapter=adapter, dtype=dtype,
                                               max_length=max_length, cache_dir=work / "cache").embeddings
            seconds[name] = time.perf_counter() - start
    finally:
        shutil.rmtree(work, ignore_errors=True)
    before, after = parts["previous"], parts["current"]
    cosine = (before * after).sum(1) / (np.linalg.norm(before, axis=1) * np.linalg.norm(after, axis=1))
    encoded = [ids for ids, _ in encode_rows(tokenizer, pool, max_length)]
    tokens = sum(map(len, encoded))
    run_tokens = sum(sum(len(encoded[i]) - p for i in rows) + p for p, rows in prefix_groups(encoded))
    k = len(pool) // 10
    return {"rows": len(pool), "tasks": len(set(pool["source"])), "mean_tokens": tokens / len(pool),
            "tokens_run_after_sharing": run_tokens / tokens, "seconds": seconds,
            "rows_per_second": {k_: len(pool) / v for k_, v in seconds.items()},
            "speedup": seconds["previous"] / seconds["current"],
            "max_abs_diff": float(np.abs(before - after).max()), "max_abs_value": float(np.abs(before).max()),
            "min_cosine": float(cosine.min()),
            "cached_equals_stored": bool(np.array_equal(parts["cached"], parts["current end to end"])),
            "kcenter_same_picks": kcenter_greedy(before, k).tolist() == kcenter_greedy(after, k).tolist(),
            "kcenter_k": k, "row_keys_unique": len(set(row_keys(pool).tolist()))}


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
    embeds = [(k, r) for k, r in results["arms"].items() if r["spec"]["kind"] == "embed" and "speedup" in r]
    if embeds:
        lines += ["", "Pool embedding through the default model with a LoRA adapter (mean of the last hidden "
                      "states), pool rows/s on the same rows, measured in one run:", "",
                  "| dtype | rows | mean tokens | tokens run | previous | adapter merged | current | speed-up "
                  "| current, with loading | cached | max abs diff | min cosine | same K-center picks |",
                  "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
        for _, r in embeds:
            rps = r["rows_per_second"]
            lines.append(f"| {r['spec']['dtype']} | {r['rows']} | {r['mean_tokens']:.0f} | "
                         f"{100 * r['tokens_run_after_sharing']:.0f}% | {rps['previous']:.2f} | {rps['merged']:.2f} | "
                         f"{rps['current']:.2f} | {r['speedup']:.2f}x | {rps['current end to end']:.2f} | "
                         f"{rps['cached']:.0f} | "
                         f"{r['max_abs_diff']:.2g} (of {r['max_abs_value']:.3g}) | {r['min_cosine']:.6f} | "
                         f"{r['kcenter_same_picks']} (k={r['kcenter_k']}) |")
        lines += ["", "previous: the embedding pass before the speed-up (adapter unmerged, rows run whole); "
                      "adapter merged: the same pass on the merged model; current: merged, shared prefixes run "
                      "once, token-bounded batches; with loading: `cached_pool_features` on an empty row cache "
                      "(loading and merging the model included); cached: the same call again."]
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
    p.add_argument("--embed-rows-per-task", type=int, default=20,
                   help="NIV2 rows per task in the embed arms (8 tasks)")
    p.add_argument("--rerun", action="store_true", help="run the --only arms again even if results have them")
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
        if name in results["arms"] and not (args.rerun and args.only):
            continue
        print(f"running {name} ...", flush=True)
        proc = subprocess.run([sys.executable, __file__, "--arm", name, "--reference-steps", str(args.reference_steps),
                               "--embed-rows-per-task", str(args.embed_rows_per_task)],
                              capture_output=True, text=True, env={**os.environ, "HF_HUB_OFFLINE": "1"})
        line = next((x for x in proc.stdout.splitlines() if x.startswith("RESULT ")), None)
        if line is None:
            raise SystemExit(f"arm {name} failed:\n{proc.stderr[-3000:]}")
        results["arms"][name] = json.loads(line[len("RESULT "):])
        heads = [results["arms"][k]["picks_head"] for k in ("kcenter 50k", "matrix + running min 50k", "reference 50k")
                 if k in results["arms"]]
        if len(heads) > 1:
            results["picks_equal_at_50k"] = all(h[:len(heads[-1])] == heads[0][:len(h)] for h in heads)
        atomic_json(out, results, sort_keys=False)
        report(results, out)
        took = results["arms"][name].get("seconds", 0)
        print(f"  {name}: {sum(took.values()) if isinstance(took, dict) else took:.1f} s", flush=True)
    print(out.with_suffix(".md").read_text())


if __name__ == "__main__":
    main()
