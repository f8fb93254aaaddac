"""Do the training speed levers change what is learned? The same data and steps, before vs now.

Two LoRA runs of the default model on the demo's template mixture (the model's own whole-word
tokens), identical but for the speed settings:
- ``before``: fp32, SDPA attention, LM head on every position, LoRA dropout 0.05, default allocator
  (the trainer as it was before ``benchmarks/training.py``);
- ``now``: today's defaults (bf16 autocast on CPUs with fast bf16, eager attention, LM head on the
  loss positions only, no LoRA dropout, allocator keeping freed memory).
Reported: seconds per step, the final validation loss (the trainer's, on the templates' validation
rows), and exact match on the templates' held-out test rows (another seed, scored in fp32 by the
same harness for both, so only the training differs). The rows that are scored chose nothing.

Resumable: training resumes from its checkpoints, scoring from its results file.

    python experiments/training_parity.py --out results/training_parity
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from cookbook_datasets.atomic_files import atomic_json
from cookbook_datasets.demo import DEMO_TEMPLATES

ARMS = {
    "before": {"precision": "fp32", "attn_implementation": "sdpa", "loss_positions_only": False,
               "lora_dropout": 0.05, "tune_allocator": False},
    "now": {},
}


def run_arm(name: str, args, out: Path) -> dict:
    """Train (in its own process: allocator settings are process-wide) and score one arm."""
    from cookbook_datasets.eval import EvalConfig, evaluate_model
    from cookbook_datasets.trainers import TrainConfig, train

    vocab = "tokenizer:smollm2-135m"
    rows = args.steps * args.batch_size // len(DEMO_TEMPLATES) + 1
    data = [{"path": "cookbook", "name": t, "num_examples": rows, "num_eval_examples": 32, "vocab": vocab}
            for t in DEMO_TEMPLATES]
    run_dir = out / name
    card_path = run_dir / "run_card.json"
    card = json.loads(card_path.read_text()) if card_path.exists() else {}
    if card.get("global_step") != args.steps:
        card = train(TrainConfig(model="smollm2-135m", datasets=data, output_dir=str(run_dir), max_steps=args.steps,
                                 per_device_train_batch_size=args.batch_size, learning_rate=1e-3,
                                 eval_steps=max(1, args.steps // 2), max_eval_examples=9 * 32, max_length=384, seed=args.seed,
                                 **ARMS[name]))
    scores = evaluate_model(EvalConfig(model="smollm2-135m", adapter=str(run_dir), tasks=list(DEMO_TEMPLATES),
                                       limit=args.eval_examples, seed=args.seed + 1000,
                                       template_params={"vocab": vocab}), out=out / f"eval_{name}.json")
    steps_run = card["global_step"] - (int(str(card["resumed_from"]).rsplit("-", 1)[-1]) if card["resumed_from"]
                                       else 0)
    return {
        "settings": ARMS[name], "runtime": card["runtime"],
        "seconds_per_step": card["final_metrics"]["train_runtime"] / max(1, steps_run),
        "eval_loss": card["final_metrics"]["eval_loss"],
        "curve": [(h["step"], h["loss"]) for h in card["curve"] if "loss" in h],
        "exact_match": {t: r["metrics"]["exact_match"] for t, r in scores["tasks"].items()},
    }


def report(results: dict) -> str:
    before, now = results["arms"]["before"], results["arms"]["now"]
    n = results["settings"]["eval_examples"]
    mean = lambda a: sum(a["exact_match"].values()) / len(a["exact_match"])  # noqa: E731
    lines = [f"{results['settings']['steps']} LoRA steps of {results['settings']['batch_size']} rows, the demo's "
             f"{len(DEMO_TEMPLATES)} templates; exact match on {n} held-out test rows per template.", "",
             "| | before | now |", "|---|---:|---:|",
             f"| precision | {before['runtime']['precision']} | {now['runtime']['precision']} |",
             f"| seconds per step (with evaluation and checkpoints) | {before['seconds_per_step']:.2f} | {now['seconds_per_step']:.2f} |",
             f"| final validation loss | {before['eval_loss']:.4f} | {now['eval_loss']:.4f} |",
             f"| mean exact match | {mean(before):.3f} | {mean(now):.3f} |"]
    lines += [f"| {t} | {before['exact_match'][t]:.3f} | {now['exact_match'][t]:.3f} |" for t in before["exact_match"]]
    rel = now["eval_loss"] / before["eval_loss"] - 1
    se = (mean(before) * (1 - mean(before)) / (n * len(before["exact_match"]))) ** 0.5
    lines += ["", f"Validation loss now vs before: {rel:+.1%}. Speed-up: "
                  f"{before['seconds_per_step'] / now['seconds_per_step']:.2f}x. Mean exact match difference: "
                  f"{mean(now) - mean(before):+.3f} (one standard error of a mean over these rows: {se:.3f})."]
    return "\n".join(lines) + "\n"


def plot(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.8))
    for name, arm in results["arms"].items():
        left.plot(*zip(*arm["curve"]), label=f"{name} ({arm['runtime']['precision']})")
    left.set_xlabel("step")
    left.set_ylabel("training loss")
    left.legend()
    tasks = list(results["arms"]["before"]["exact_match"])
    for k, (name, arm) in enumerate(results["arms"].items()):
        right.bar([i + 0.4 * k for i in range(len(tasks))], [arm["exact_match"][t] for t in tasks], 0.4, label=name)
    right.set_xticks([i + 0.2 for i in range(len(tasks))], tasks, rotation=45, ha="right", fontsize=8)
    right.set_ylabel("exact match (held-out test rows)")
    right.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="results/training_parity")
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--eval-examples", type=int, default=32, help="test rows scored per template")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--arm", choices=list(ARMS), default=None, help="run one arm in this process")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.arm:
        (out / f"{args.arm}.json").write_text(json.dumps(run_arm(args.arm, args, out), indent=2))
        return 0
    import subprocess

    settings = {k: getattr(args, k) for k in ("steps", "batch_size", "eval_examples", "seed")}
    results = {"settings": settings, "arms": {}}
    for name in ARMS:
        done = out / f"{name}.json"
        if not done.exists():
            print(f"running {name} ...", flush=True)
            subprocess.run([sys.executable, __file__, "--out", str(out), "--arm", name, "--steps", str(args.steps),
                            "--batch-size", str(args.batch_size), "--eval-examples", str(args.eval_examples),
                            "--seed", str(args.seed)], check=True)
        results["arms"][name] = json.loads(done.read_text())
    atomic_json(out / "parity.json", results, sort_keys=False)
    table = report(results)
    (out / "parity.md").write_text(table)
    plot(results, out / "parity.png")
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
