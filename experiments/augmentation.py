"""Budgeted augmentation (arXiv 2409.19759) on a checkable task: which strategy wins at which budget ratio?

Task: one-step arithmetic word problems, generated procedurally here ("Mia has 17 pens. Mia buys 5
more. How many pens does Mia have now?" -> "17 + 5 = 22.\n#### 22"; half of them give items away),
GSM8K's answer format at a size the default model can learn on a 2-core CPU. Two-step problems were
tried first: the few-shot teacher solved 5-8% of them and the zero-shot student none, too little to
see anything. Seeds and held-out instances come from disjoint hashed random streams; the answer is
checked exactly (the final number).

Teacher and student. The teacher is the default model (SmolLM2-135M-Instruct) served over HTTP by a
real ``transformers serve`` that this script starts (offline) and stops; it answers with seed
demonstrations in context (``num_demonstrations``), as every strategy asks it. The student is the
same 135M model, LoRA-tuned on each augmented set with one recipe and scored zero-shot (the bare
question, as it was trained). No larger model exists offline here, so the teacher's edge over the
student is in-context demonstrations, not size; the script measures both on the held-out
instances and reports the gap (``teacher_vs_student``) rather than assuming it. ``tiny-random`` as
the student would be untrainable noise, and a student equal to the untuned teacher is the only
honest pairing with the one real model available. Point ``--teacher`` at another model directory
(or ``--teacher-url`` at any OpenAI-compatible server) for a stronger teacher.

Verification (``--verify gold``, the default here): the teacher answers a third of the problems
right, so answers are kept only when they match the seed's gold answer (answer augmentation,
rephrase: no extra query) or a second, independent teacher answer (new question: one more query,
charged). Unverified answer augmentation at Q = 64 (|S| = 4) scored 0.13, below the seeds alone.

Grid: ``--seed-sizes`` × ``--budgets`` × the 3 strategies, plus a seed-only arm per seed size
(Q = 0). Budgets over the same seed set share one response cache, so a larger budget pays only for
what the smaller ones did not ask. Writes ``augmentation.{json,md,png}`` under ``--out``: score vs
budget ratio per strategy, the BR at which new questions overtake answer augmentation (first grid
point, and the crossing of fitted a + b·ln Q curves; the paper: ~16 to 51), what the recommender
(paper switch points) would have chosen vs the best arm in each cell, the throughput of 8
concurrent requests vs 1 at a time against the same server (one run), and the query cost of a
fully cached re-run (target 0).

Every strategy (and the seed set alone) is compared with answer augmentation in each grid cell on
the same held-out instances: paired-bootstrap 95% intervals per cell and on the average over cells.

Resumable: a cell finished with the same settings is kept (``<out>/arms/<cell>.json``); a killed
cell replays its queries from the cache and resumes training from its checkpoints. Run it under the machine's CPU lock:

    flock /tmp/cookbook_cpu.lock python experiments/augmentation.py --out experiments/results/augmentation
    flock /tmp/cookbook_cpu.lock python experiments/augmentation.py --seed-sizes 4 --budgets 4 8 --max-steps 2 \\
        --eval-limit 4 --throughput-queries 4 --out runs/aug_smoke/results --work runs/aug_smoke   # a smoke run
"""

from __future__ import annotations

import gc
import json
import logging
import os
import socket
import subprocess
import time
from pathlib import Path

import numpy as np
from common import Arms, experiment_parser, interval_section, paired_table, plot_intervals, settings, write_report

STRATEGIES = ("answer_aug", "rephrase", "new_question")
NAMES = ("Mia", "Noah", "Ava", "Liam", "Zoe", "Omar", "Lena", "Ravi", "Ines", "Theo")
ITEMS = ("pens", "apples", "stamps", "marbles", "books", "cookies", "shells", "cards")
SPLITS = {"seed": 1, "test": 2}
# options that change no cell's result (the grid's extent, the throughput probe, the serving mode)
NOT_IN_CELL_RECIPE = ("out", "work", "seed_sizes", "budgets", "strategies", "throughput_queries",
                      "no_continuous_batching")


# -- the task ----------------------------------------------------------------------------------------
def problem(split: str, index: int, seed: int = 0) -> dict:
    """One word problem; its randomness is hashed from (seed, split, index), so splits never overlap."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, SPLITS[split], index]))
    name, item = NAMES[rng.integers(len(NAMES))], ITEMS[rng.integers(len(ITEMS))]
    a, b = int(rng.integers(2, 30)), int(rng.integers(2, 30))
    if rng.random() < 0.5:
        question = f"{name} has {a} {item}. {name} buys {b} more. How many {item} does {name} have now?"
        final, answer = a + b, f"{a} + {b} = {a + b}.\n#### {a + b}"
    else:
        a, b = max(a, b), min(a, b)
        question = f"{name} has {a} {item}. {name} gives {b} away. How many {item} does {name} have now?"
        final, answer = a - b, f"{a} - {b} = {a - b}.\n#### {a - b}"
    return {"question": question, "answer": answer, "final": str(final)}


def task_split(split: str, n: int, seed: int = 0) -> list[dict]:
    return [problem(split, i, seed) for i in range(n)]


def seed_set(n: int, seed: int = 0) -> list[dict]:
    """The first ``n`` seed problems as the augmentation pipeline takes them (seed_index, question, answer)."""
    from cookbook_datasets.augmentation import load_seed_set

    return load_seed_set(task_split("seed", n, seed))


# -- the teacher server --------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """``transformers serve MODEL_DIR`` on a free port, offline; stopped on exit."""

    def __init__(self, model_dir: str, log: Path, continuous_batching: bool):
        import requests

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/v1"
        cmd = ["transformers", "serve", model_dir, "--port", str(self.port)]
        if continuous_batching:
            cmd.append("--continuous-batching")
        log.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(log, "a")
        self.proc = subprocess.Popen(cmd, stdout=self._log, stderr=subprocess.STDOUT,
                                     env={**os.environ, "HF_HUB_OFFLINE": "1"})
        for _ in range(600):
            if self.proc.poll() is not None:
                raise RuntimeError(f"transformers serve exited with {self.proc.returncode}; see {log}")
            try:
                if requests.get(f"http://127.0.0.1:{self.port}/health", timeout=1).ok:
                    break
            except requests.ConnectionError:
                time.sleep(0.5)
        else:
            self.close()
            raise RuntimeError(f"transformers serve did not become healthy in 300 s; see {log}")
        logging.info("teacher served at %s (%s)", self.url, " ".join(cmd))

    def close(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self._log.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


# -- scoring -------------------------------------------------------------------------------------------
def correct(texts: list[str], gold: list[dict]) -> list[float]:
    """1.0 per answer whose final number is the gold one, else 0.0."""
    from cookbook_datasets.augmentation import get_checker

    checker = get_checker("final_number")
    return [float(checker.matches(checker.extract(t), g["final"])) for t, g in zip(texts, gold)]


def accuracy(texts: list[str], gold: list[dict]) -> float:
    return sum(correct(texts, gold)) / max(len(gold), 1)


def student_answers(model: str, adapter, test: list[dict], max_new_tokens: int, dtype) -> list[str]:
    from cookbook_datasets.cpu import release_memory
    from cookbook_datasets.generation import load_engine

    engine = load_engine(model, adapter=adapter, dtype=dtype, batch_size=16, progress=False)
    with engine:
        outs = engine.generate([[{"role": "user", "content": p["question"]}] for p in test], temperature=0,
                               max_new_tokens=max_new_tokens)
    del engine
    gc.collect()
    release_memory()
    return [o.texts[0] for o in outs]


def score_student(model: str, adapter, test: list[dict], max_new_tokens: int, dtype) -> float:
    return accuracy(student_answers(model, adapter, test, max_new_tokens, dtype), test)


def score_teacher(engine, seeds: list[dict], test: list[dict], max_new_tokens: int, demos: int) -> float:
    """The teacher as the strategies ask it: seed demonstrations in context, then the question."""
    from cookbook_datasets.augmentation import AugmentationConfig
    from cookbook_datasets.augmentation.pipeline import task_context
    from cookbook_datasets.augmentation.strategies.base import answer_messages

    ctx = task_context(seeds, AugmentationConfig(num_demonstrations=demos))
    outs = engine.generate([answer_messages(ctx, p["question"]) for p in test], temperature=0,
                           max_new_tokens=max_new_tokens)
    return accuracy([o.texts[0] for o in outs], test)


# -- one cell --------------------------------------------------------------------------------------------
def run_cell(size: int, strategy: str, budget: int, engine, args, seeds: list[dict], test: list[dict]) -> dict:
    import datasets

    from cookbook_datasets.augmentation import AugmentationConfig, run_augmentation, to_dataset, to_rows
    from cookbook_datasets.hub_layout import write_hub_layout
    from cookbook_datasets.trainers import TrainConfig, train

    cell = Path(args.work) / f"s{size}" / f"{strategy}_q{budget}"
    start = time.time()
    if budget:
        config = AugmentationConfig(strategy=strategy, budget=budget, max_new_tokens=args.max_new_tokens,
                                    num_demonstrations=args.num_demonstrations, seed=args.seed, verify=args.verify)
        rows, summary = run_augmentation(seeds, engine, config, cell / "augment",
                                         cache_path=Path(args.work) / f"s{size}" / "cache.jsonl")
    else:  # the seed set alone
        config = AugmentationConfig(budget=1)
        rows, summary = to_rows([], seeds, config, engine.model), {"kept": 0, "dropped": {}, "ledger": {}}
    augment_seconds = time.time() - start
    data = cell / "data"
    if not data.exists():
        write_hub_layout({"train": datasets.DatasetDict({"train": to_dataset(rows)})}, data,
                         recipes={"train": {"cell": [size, strategy, budget]}})
    model_dir = cell / "model"
    train_args = {"max_steps": args.max_steps} if args.max_steps else {"num_train_epochs": args.epochs}
    card_path = model_dir / "run_card.json"
    if card_path.exists():
        card = json.loads(card_path.read_text())
    else:
        card = train(TrainConfig(model=args.student, datasets=[{"path": str(data), "name": "train"}],
                                 output_dir=str(model_dir), eval_split=None, learning_rate=args.lr,
                                 per_device_train_batch_size=args.batch_size, seed=args.seed, **train_args))
    texts = student_answers(args.student, str(model_dir), test, args.max_new_tokens, args.dtype)
    return {"seed_size": size, "strategy": strategy, "budget": budget, "budget_ratio": budget / size,
            "score": accuracy(texts, test), "row_scores": {str(i): x for i, x in enumerate(correct(texts, test))},
            "rows": len(rows), "kept": summary["kept"], "dropped": summary["dropped"],
            "ledger": summary["ledger"], "augment_seconds": round(augment_seconds, 1),
            "train_steps": card.get("global_step"), "train_seconds": card.get("train_seconds")}


# -- throughput and the cached re-run ---------------------------------------------------------------------
def throughput(url: str, model: str, args) -> dict:
    """The same prompts against the same server: 8 requests in flight vs one at a time (greedy, so both
    runs generate the same tokens)."""
    from cookbook_datasets.generation.openai_backend import OpenAIEngine

    prompts = [[{"role": "user", "content": p["question"]}] for p in task_split("test", args.throughput_queries,
                                                                                args.seed + 1)]
    out = {"queries": len(prompts), "max_new_tokens": args.max_new_tokens}
    for label, concurrency in (("one_at_a_time", 1), ("concurrent_8", 8)):
        engine = OpenAIEngine(model, base_url=url, concurrency=concurrency, progress=False, timeout=600)
        start = time.time()
        outs = engine.generate(prompts, temperature=0, max_new_tokens=args.max_new_tokens)
        seconds = time.time() - start
        tokens = sum(o.completion_tokens or 0 for o in outs)
        out[label] = {"seconds": round(seconds, 2), "queries_per_s": round(len(prompts) / seconds, 3),
                      "completion_tokens_per_s": round(tokens / seconds, 2), "completion_tokens": tokens}
        engine.close()
    out["speedup"] = round(out["one_at_a_time"]["seconds"] / out["concurrent_8"]["seconds"], 2)
    return out


def cached_rerun(engine, seeds: list[dict], size: int, strategy: str, budget: int, args) -> dict:
    """The largest cell's augmentation again, from a fresh work directory over the same cache."""
    from cookbook_datasets.augmentation import AugmentationConfig, run_augmentation

    config = AugmentationConfig(strategy=strategy, budget=budget, max_new_tokens=args.max_new_tokens,
                                num_demonstrations=args.num_demonstrations, seed=args.seed, verify=args.verify)
    work = Path(args.work) / f"s{size}" / f"rerun_{strategy}_q{budget}"
    import shutil

    shutil.rmtree(work, ignore_errors=True)
    start = time.time()
    _, summary = run_augmentation(seeds, engine, config, work, cache_path=Path(args.work) / f"s{size}" / "cache.jsonl")
    return {"cell": [size, strategy, budget], "new_queries": summary["ledger"]["new_queries"],
            "cache_hits": summary["ledger"]["cache_hits"], "seconds": round(time.time() - start, 2)}


# -- report --------------------------------------------------------------------------------------------------
def analyse(results: dict) -> dict:
    from cookbook_datasets.augmentation.recommender import crossing, fit_log_curve, recommend_from_paper

    cells = [c for c in results["cells"].values() if c["budget"]]
    out = {"switch": {}, "recommender": []}
    for size in sorted({c["seed_size"] for c in cells}):
        mine = [c for c in cells if c["seed_size"] == size]
        by = {s: sorted((c["budget"], c["score"]) for c in mine if c["strategy"] == s) for s in STRATEGIES}
        first = next((q for (q, nq), (_, aa) in zip(by["new_question"], by["answer_aug"]) if nq > aa), None)
        entry = {"first_budget_new_question_ahead": first, "first_br": first / size if first else None}
        try:
            q = crossing(fit_log_curve(by["answer_aug"]), fit_log_curve(by["new_question"]))
            entry.update(fitted_crossing_budget=round(q, 2) if q else None,
                         fitted_crossing_br=round(q / size, 3) if q else None)
        except (ValueError, OverflowError):
            entry.update(fitted_crossing_budget=None, fitted_crossing_br=None)
        out["switch"][str(size)] = entry
        for budget in sorted({c["budget"] for c in mine}):
            arms = {c["strategy"]: c["score"] for c in mine if c["budget"] == budget}
            rec = recommend_from_paper(size, budget)
            best = max(arms.values())
            out["recommender"].append({"seed_size": size, "budget": budget, "br": budget / size,
                                       "recommended": rec.strategy, "split": rec.split,
                                       "best": sorted(s for s, v in arms.items() if v == best),
                                       "recommended_score": arms.get(rec.strategy), "best_score": best})
    return out


def markdown(results: dict, analysis: dict) -> str:
    lines = ["# Budgeted augmentation: score vs budget per strategy", "",
             f"Task: one-step arithmetic word problems (exact final number). Teacher: {results['setup']['teacher']} "
             f"over HTTP (`transformers serve`), few-shot; student: {results['setup']['student']} LoRA, zero-shot. "
             f"Held-out instances: {results['setup']['eval_limit']}.", ""]
    tv = results.get("teacher_vs_student")
    if tv:
        lines += [f"Teacher (few-shot) accuracy {tv['teacher']:.3f} vs untuned student (zero-shot) {tv['student']:.3f} "
                  f"on the held-out instances.", ""]
    lines += ["| seed size | budget Q | BR | strategy | accuracy | rows | kept | queries used | dropped |",
              "|---|---|---|---|---|---|---|---|---|"]
    for c in sorted(results["cells"].values(), key=lambda c: (c["seed_size"], c["budget"], c["strategy"])):
        used = c["ledger"].get("used_total", 0)
        lines.append(f"| {c['seed_size']} | {c['budget']} | {c['budget_ratio']:.1f} | {c['strategy']} | "
                     f"{c['score']:.3f} | {c['rows']} | {c['kept']} | {used} | {json.dumps(c['dropped'])} |")
    lines += ["", "## Where new questions overtake answer augmentation (paper: BR ≈ 16 to 51)", "",
              "| seed size | first grid BR with new_question ahead | fitted crossing BR |", "|---|---|---|"]
    for size, e in analysis["switch"].items():
        lines.append(f"| {size} | {e['first_br'] if e['first_br'] is not None else 'none in the grid'} | "
                     f"{e['fitted_crossing_br'] if e['fitted_crossing_br'] is not None else 'n/a'} |")
    lines += ["", "## The recommender (paper switch points) vs the best arm", "",
              "| seed size | Q | BR | recommended | best arm(s) | recommended score | best score |", "|---|---|---|---|---|---|---|"]
    for r in analysis["recommender"]:
        rs = "n/a" if r["recommended_score"] is None else f"{r['recommended_score']:.3f}"
        lines.append(f"| {r['seed_size']} | {r['budget']} | {r['br']:.1f} | {r['recommended']} | {', '.join(r['best'])} "
                     f"| {rs} | {r['best_score']:.3f} |")
    tp = results.get("throughput")
    if tp:
        lines += ["", "## Throughput against the same server (one run)", "",
                  f"{tp['queries']} greedy queries, at most {tp['max_new_tokens']} new tokens: one at a time "
                  f"{tp['one_at_a_time']['seconds']} s ({tp['one_at_a_time']['queries_per_s']} queries/s), 8 concurrent "
                  f"{tp['concurrent_8']['seconds']} s ({tp['concurrent_8']['queries_per_s']} queries/s): "
                  f"**{tp['speedup']}x** (target >= 3x)."]
    rr = results.get("cached_rerun")
    if rr:
        lines += ["", f"Fully cached re-run of cell {rr['cell']}: **{rr['new_queries']} new queries** "
                      f"({rr['cache_hits']} from the cache, {rr['seconds']} s; target 0)."]
    return "\n".join(lines) + "\n"


def plot(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = sorted({c["seed_size"] for c in results["cells"].values()})
    fig, axes = plt.subplots(1, len(sizes), figsize=(5 * len(sizes), 4), squeeze=False)
    for ax, size in zip(axes[0], sizes):
        mine = [c for c in results["cells"].values() if c["seed_size"] == size]
        base = [c["score"] for c in mine if c["strategy"] == "seed_only"]
        for strategy in STRATEGIES:
            pts = sorted((c["budget_ratio"], c["score"]) for c in mine if c["strategy"] == strategy)
            if pts:
                ax.plot(*zip(*pts), marker="o", label=strategy)
        if base:
            ax.axhline(base[0], color="grey", linestyle="--", label="seeds only")
        ax.set_xscale("log", base=2)
        ax.set_xlabel("budget ratio BR = Q / |S|")
        ax.set_ylabel("held-out accuracy")
        ax.set_title(f"|S| = {size}")
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def comparison(results: dict):
    """Each strategy and the seed set alone vs answer augmentation, per grid cell (|S|, Q), on the same
    held-out instances (the seed-only arm is one run per seed size, in every cell of that size)."""
    cells = results["cells"].values()
    grid = sorted({(c["seed_size"], c["budget"]) for c in cells if c["budget"]})
    rows = {(c["seed_size"], c["strategy"], c["budget"]): c.get("row_scores") for c in cells}
    arms = {s: {f"|S|={size} Q={q}": rows.get((size, s, 0 if s == "seed_only" else q)) for size, q in grid}
            for s in ("answer_aug", "seed_only", *STRATEGIES[1:])}
    return paired_table(arms, baseline="answer_aug")


def save(results: dict, out: Path) -> None:
    analysis = analyse(results)
    paired = comparison(results)
    table = markdown(results, analysis) + "\n" + interval_section(
        paired, "Paired differences vs answer augmentation (same held-out instances)",
        "Exact final number per instance; seed_only is the seed set alone at that |S|.")
    write_report(out, "augmentation", {**results, "analysis": analysis,
                                       "comparison": paired.to_dict() if paired else None}, table,
                 {"augmentation.png": lambda path: plot(results, path) if results["cells"] else None,
                  "augmentation_intervals.png": plot_intervals(paired, "Strategies vs answer augmentation")})


def main() -> None:
    p = experiment_parser(__doc__, "augmentation", model=False)
    p.add_argument("--teacher", default="smollm2-135m", help="model spec served by transformers serve")
    p.add_argument("--teacher-url", default=None, help="use this OpenAI-compatible server instead of starting one")
    p.add_argument("--teacher-model", default=None, help="with --teacher-url: the served model's name")
    p.add_argument("--no-continuous-batching", action="store_true", help="serve without --continuous-batching")
    p.add_argument("--student", default="smollm2-135m")
    p.add_argument("--seed-sizes", type=int, nargs="+", default=[4, 16])
    p.add_argument("--budgets", type=int, nargs="+", default=[16, 32, 64, 128])
    p.add_argument("--strategies", nargs="+", default=list(STRATEGIES))
    p.add_argument("--max-new-tokens", type=int, default=64, help="per teacher answer and per scored answer")
    p.add_argument("--num-demonstrations", type=int, default=4,
                   help="seed demonstrations in each teacher prompt (4: the teacher solves ~65%% vs ~15%% zero-shot)")
    p.add_argument("--verify", choices=["gold", "none"], default="gold",
                   help="gold: keep answers that match the seed's (answer_aug, rephrase; no query) or a second answer "
                        "(new_question; one query). The 135M teacher is right about a third of the time: unverified "
                        "answer augmentation at Q=64 scored 0.13, below the seeds alone (0.17)")
    p.add_argument("--epochs", type=float, default=3.0, help="training epochs (the paper: 3)")
    p.add_argument("--max-steps", type=int, default=0, help="> 0: this many training steps instead of epochs")
    p.add_argument("--lr", type=float, default=5e-4)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--eval-limit", type=int, default=100, help="held-out instances scored")
    p.add_argument("--throughput-queries", type=int, default=32)
    args = p.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    out = Path(args.out)
    arms = Arms(out / "arms")
    recipe = settings(args, exclude=NOT_IN_CELL_RECIPE)
    results = {"setup": settings(args), "cells": {}}
    test = task_split("test", args.eval_limit, args.seed)

    from cookbook_datasets.augmentation.teacher import load_teacher_engine
    from cookbook_datasets.models import resolve_model_path

    server = None
    if args.teacher_url:
        url, served = args.teacher_url, args.teacher_model
    else:
        served = resolve_model_path(args.teacher)
        server = Server(served, Path(args.work) / "server.log", not args.no_continuous_batching)
        url = server.url
    try:
        engine = load_teacher_engine(url, model=served, concurrency=8, progress=False, timeout=600)
        size = max(args.seed_sizes)
        results["teacher_vs_student"] = arms.run("teacher_vs_student", {**recipe, "seed_size": size}, lambda: {
            "teacher": score_teacher(engine, seed_set(size, args.seed), test, args.max_new_tokens,
                                     args.num_demonstrations),
            "student": score_student(args.student, None, test, args.max_new_tokens, args.dtype)})
        save(results, out)
        for size in args.seed_sizes:
            seeds = seed_set(size, args.seed)
            for strategy, budget in [("seed_only", 0)] + [(s, q) for q in sorted(args.budgets) for s in args.strategies]:
                key = f"{size}/{strategy}/{budget}"

                def cell():
                    logging.info("cell %s", key)
                    return run_cell(size, strategy, budget, engine, args, seeds, test)

                results["cells"][key] = arms.run(f"cell_{size}_{strategy}_{budget}", {**recipe, "cell": key}, cell)
                save(results, out)
        results["throughput"] = arms.run("throughput", {**recipe, "queries": args.throughput_queries,
                                                        "continuous_batching": not args.no_continuous_batching},
                                         lambda: throughput(url, engine.model, args))
        save(results, out)
        size, budget = max(args.seed_sizes), max(args.budgets)
        results["cached_rerun"] = cached_rerun(engine, seed_set(size, args.seed), size, args.strategies[0],
                                               budget, args)
        save(results, out)
        engine.close()
    finally:
        if server is not None:
            server.close()
    print((out / "augmentation.md").read_text())


if __name__ == "__main__":
    main()
