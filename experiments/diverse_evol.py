"""Does the model's own K-center choice beat random rows, and can 10% of a pool match all of it?

A multi-task pool from the NIV2 dev tasks in ../shared/data/niv2/dev: per task, a seeded shuffle of
its instances gives ``--pool-per-task`` pool rows; the other instances are written as a task file,
of which a seeded ``--eval-per-task`` are scored after every round (the file keeps them all, so a
task's label set is read from all of them); pool rows (prompt = the task's definition as the system
message + the instance input; completion = its first reference output). No scored instance is in
the pool, and nothing is chosen by looking at the scored instances.

Arms, each the project's DiverseEvol loop with the same round-0 rows, training recipe and scoring:
- ``kcenter``: greedy K-center in the previous round's model's embedding space (DiverseEvol);
- ``random``: uniform random rows;
- ``least_confidence``: the rows whose responses the previous model is least sure about;
- ``full``: one training run on the whole pool, same recipe.
Reported per round: the mean main metric over tasks (exact match for classification, ROUGE-L for
generation), the covering radius and Vendi score of the subset in the base model's space, and the
seconds spent embedding, selecting, training and scoring.

The last round of every arm (and the full pool) is compared with ``random`` on the same scored
instances: paired-bootstrap 95% intervals per task and on the task average.

Resumable: an arm finished with the same settings is kept (``<out>/arms/<arm>.json``, so a fresh
checkout does not redo it); the others resume at their round (the loop's state.json), training
from its checkpoints, scoring from its results file. Heavy steps hold /tmp/cookbook_cpu.lock so runs sharing the machine
do not distort each other's timings.

    python experiments/diverse_evol.py --out experiments/results/diverse_evol
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np
from common import SHARED as DATA
from common import Arms, eval_rows, experiment_parser, interval_section, paired_table, plot_intervals, settings, \
    write_report

from cookbook_datasets.cpu import cpu_lock

SHARED = DATA / "niv2" / "dev"
ARMS = ("kcenter", "random", "full", "least_confidence")


def build_data(args, work: Path) -> tuple[Path, list[str]]:
    """The pool (Hub layout) and the held-out task files; written once, then reused."""
    import datasets

    from cookbook_datasets.hub_layout import write_hub_layout

    pool_dir, task_dir = work / "pool", work / "tasks"
    files = sorted(p for p in SHARED.glob("*.json") if p.stem not in args.skip_tasks)
    if pool_dir.exists() and task_dir.exists():
        return pool_dir, sorted(str(p) for p in task_dir.glob("*.json"))
    task_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    for path in files:
        task = json.loads(path.read_text())
        definition = task["Definition"][0] if isinstance(task["Definition"], list) else task["Definition"]
        rng = np.random.default_rng(np.random.SeedSequence([args.seed, *path.stem.encode()]))
        order = rng.permutation(len(task["Instances"]))
        pool = [task["Instances"][i] for i in order[:args.pool_per_task]]
        held = [task["Instances"][i] for i in sorted(order[args.pool_per_task:])]
        held_task = {k: v for k, v in task.items() if k != "Instances"} | {"Instances": held}
        (task_dir / path.name).write_text(json.dumps(held_task))
        for inst in pool:
            output = inst["output"][0] if isinstance(inst["output"], list) else inst["output"]
            rows.append({"prompt": [{"role": "system", "content": definition},
                                    {"role": "user", "content": inst["input"]}],
                         "completion": [{"role": "assistant", "content": output}],
                         "source": path.stem, "meta": json.dumps({"task": path.stem, "id": inst.get("id")})})
    ds = datasets.Dataset.from_list(rows)
    write_hub_layout({"default": datasets.DatasetDict({"train": ds})}, pool_dir,
                     {"pool": {"tasks": [p.stem for p in files], "per_task": args.pool_per_task, "seed": args.seed}},
                     pretty_name="NIV2 dev pool", description="Instances of the NIV2 dev tasks as prompt/completion rows.")
    return pool_dir, sorted(str(p) for p in task_dir.glob("*.json"))


def train_fields(args) -> dict:
    return {"num_train_epochs": args.epochs, "learning_rate": args.lr, "per_device_train_batch_size": 8,
            "max_length": args.max_length}


def run_arm(arm: str, args, work: Path, pool_dir: Path, tasks: list[str]) -> dict:
    from cookbook_datasets.trainers import DiverseEvolConfig, run_diverse_evol

    config = DiverseEvolConfig(
        pool=str(pool_dir), output_dir=str(work / arm), strategy=arm, k0=args.k0, per_round=args.per_round,
        rounds=args.rounds, model=args.model, train=train_fields(args), eval_tasks=tasks, eval_limit=args.eval_per_task, eval_num_shots=0,
        seed=args.seed, max_length=args.max_length, dtype=args.dtype, embed_batch_size=16)
    share_round_0(config, work)
    with cpu_lock():
        report = run_diverse_evol(config)
    # the last round's per-row scores, for the paired table
    report["row_scores"] = eval_rows(work / arm / "rounds" / f"round_{args.rounds}" / "eval.json")
    return report


def share_round_0(config, work: Path) -> None:
    """Round 0 (the same seeded random rows, trained and scored the same way) is identical in every
    arm: copy a finished one instead of training and scoring it again."""
    import shutil

    out = Path(config.output_dir)
    if (out / "state.json").exists():
        return
    for other in ARMS:
        state_path = work / other / "state.json"
        if other == config.strategy or not state_path.exists():
            continue
        state = json.loads(state_path.read_text())
        first = state["rounds"][0] if state["rounds"] else {}
        if "score" not in first or "train_seconds" not in first:
            continue
        if {**state["recipe"], "strategy": config.strategy} != config.recipe():
            continue
        shutil.copytree(work / other / "rounds" / "round_0", out / "rounds" / "round_0")
        state["recipe"], state["rounds"] = config.recipe(), [first]
        (out / "state.json").write_text(json.dumps(state, indent=2))
        return


def run_full(args, work: Path, pool_dir: Path, tasks: list[str]) -> dict:
    """One training run on the whole pool, same recipe, same scoring."""
    from cookbook_datasets.eval.harness import EvalConfig, evaluate_model, main_metric
    from cookbook_datasets.trainers import TrainConfig, train

    out = work / "full"
    card_path = out / "model" / "run_card.json"
    with cpu_lock():
        if not card_path.exists():
            train(TrainConfig(model=args.model, datasets=[{"path": str(pool_dir)}], output_dir=str(out / "model"),
                              eval_split=None, seed=args.seed, **train_fields(args)))
        card = json.loads(card_path.read_text())
        start = time.time()
        results = evaluate_model(EvalConfig(model=args.model, adapter=str(out / "model"), tasks=tasks, num_shots=0,
                                            limit=args.eval_per_task, seed=args.seed, dtype=args.dtype), out=out / "eval.json")
    scores = {name: main_metric(res)[1] for name, res in results["tasks"].items()}
    return {"size": card["train_rows"], "train_seconds": card["train_seconds"], "scores": scores,
            "score": float(np.mean(list(scores.values()))), "eval_seconds": round(time.time() - start, 1),
            "row_scores": eval_rows(out / "eval.json")}


def comparison(results: dict, args):
    """Every arm's last round (and the full pool) vs random's last round, on the same scored rows."""
    arms = ["random"] + [a for a in args.arms if a != "random"]
    return paired_table({a: results[a].get("row_scores") for a in arms if a in results}, baseline="random")


def summarise(results: dict, args, pool_size: int) -> tuple[str, dict]:
    arms = [a for a in args.arms if a in results and a != "full"]
    sizes = [r["size"] for r in results[arms[0]]["rounds"]] if arms else []
    lines = ["# DiverseEvol on a NIV2 dev pool\n",
             f"Pool: {pool_size} rows ({args.pool_per_task} per task, {len(results.get('tasks', []))} tasks); "
             f"scored on {args.eval_per_task} held-out instances per task, 0-shot; model `{args.model}`, LoRA, "
             f"{args.epochs:g} epochs per round, lr {args.lr:g}.\n",
             "Mean main metric over tasks (exact match / ROUGE-L):\n",
             "| rows | % of pool | " + " | ".join(arms) + (" | full pool |" if "full" in results else " |"),
             "|---:|---:|" + "---:|" * (len(arms) + ("full" in results))]
    for i, size in enumerate(sizes):
        cells = [f"{results[a]['rounds'][i].get('score', float('nan')):.4f}" if i < len(results[a]["rounds"])
                 else "" for a in arms]
        full = [""] if "full" in results else []  # the full pool is its own row below
        lines.append(f"| {size} | {100 * size / pool_size:.1f} | " + " | ".join(cells + full) + " |")
    if "full" in results:
        lines.append(f"| {results['full']['size']} | 100.0 | " + " | ".join("" for _ in arms)
                     + f" | {results['full']['score']:.4f} |")
    lines += ["", "Cost per arm (seconds: embedding + selection, training, scoring, over all rounds):", "",
              "| arm | select | train | score |", "|---|---:|---:|---:|"]
    cost = {}
    for a in arms:
        rounds = results[a]["rounds"]
        cost[a] = {k: round(sum(r.get(k, 0) or 0 for r in rounds), 1)
                   for k in ("select_seconds", "train_seconds", "eval_seconds")}
        lines.append(f"| {a} | {cost[a]['select_seconds']} | {cost[a]['train_seconds']} | {cost[a]['eval_seconds']} |")
    if "full" in results:
        f = results["full"]
        cost["full"] = {"select_seconds": 0, "train_seconds": f["train_seconds"], "eval_seconds": f["eval_seconds"]}
        lines.append(f"| full | 0 | {f['train_seconds']} | {f['eval_seconds']} |")
    if arms and any("covering_radius" in r for r in results[arms[0]]["rounds"]):
        lines += ["", "Covering radius of the subset in the base model's embedding space (lower covers better):", "",
                  "| rows | " + " | ".join(arms) + " |", "|---:|" + "---:|" * len(arms)]
        for i, size in enumerate(sizes):
            lines.append(f"| {size} | " + " | ".join(
                f"{results[a]['rounds'][i].get('covering_radius', float('nan')):.3f}" if i < len(results[a]["rounds"])
                else "" for a in arms) + " |")
    lines += ["", "![scores per round](diverse_evol.png)"]
    return "\n".join(lines) + "\n", cost


def plot(results: dict, args, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    for arm in args.arms:
        if arm == "full" or arm not in results:
            continue
        rounds = results[arm]["rounds"]
        axes[0].plot([r["size"] for r in rounds if "score" in r], [r["score"] for r in rounds if "score" in r],
                     marker="o", label=arm)
        axes[1].plot([r["size"] for r in rounds if "covering_radius" in r],
                     [r["covering_radius"] for r in rounds if "covering_radius" in r], marker="o", label=arm)
    if "full" in results:
        axes[0].axhline(results["full"]["score"], color="grey", linestyle="--",
                        label=f"full pool ({results['full']['size']} rows)")
    axes[0].set(xlabel="training rows", ylabel="mean score over tasks", title="held-out task score")
    axes[1].set(xlabel="training rows", ylabel="covering radius", title="coverage (base model space)")
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    p = experiment_parser(__doc__, "diverse_evol")
    p.add_argument("--arms", nargs="+", default=list(ARMS), choices=ARMS)
    p.add_argument("--pool-per-task", type=int, default=100)
    p.add_argument("--eval-per-task", type=int, default=12)
    p.add_argument("--skip-tasks", nargs="*", default=["task121_zest_text_modification"],
                   help="tasks left out (task121 has 127 instances and a 1,400-character definition)")
    p.add_argument("--k0", type=int, default=30)
    p.add_argument("--per-round", type=int, default=30)
    p.add_argument("--rounds", type=int, default=4)
    p.add_argument("--epochs", type=float, default=2.0)
    p.add_argument("--lr", type=float, default=2e-4)
    p.add_argument("--max-length", type=int, default=384)
    args = p.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    out, work = Path(args.out), Path(args.work)
    out.mkdir(parents=True, exist_ok=True)
    work.mkdir(parents=True, exist_ok=True)
    pool_dir, tasks = build_data(args, work)
    import datasets

    pool_size = len(datasets.load_dataset(str(pool_dir), split="train"))
    results = {"settings": vars(args), "pool_size": pool_size, "tasks": [Path(t).stem for t in tasks]}
    recipe = settings(args, exclude=("out", "work", "arms"))
    arms = Arms(out / "arms")

    def write() -> None:
        table, cost = summarise(results, args, pool_size)
        results["cost"] = cost
        paired = comparison(results, args)
        results["comparison"] = paired.to_dict() if paired else None
        size = args.k0 + args.rounds * args.per_round
        table += "\n" + interval_section(paired, f"Paired differences vs random ({size} rows; full: the whole pool)",
                                         "Main metric per scored instance, the last round of each arm.")
        write_report(out, "diverse_evol", results, table, {
            "diverse_evol.png": lambda path: plot(results, args, path),
            "diverse_evol_intervals.png": plot_intervals(paired, "DiverseEvol arms vs random (last round)")})
        print(table, flush=True)

    for arm in args.arms:
        results[arm] = arms.run(arm, {**recipe, "arm": arm}, lambda: (
            run_full(args, work, pool_dir, tasks) if arm == "full" else run_arm(arm, args, work, pool_dir, tasks)))
        write()
    write()  # also when every arm was already finished (the tables follow the current code)


if __name__ == "__main__":
    main()
