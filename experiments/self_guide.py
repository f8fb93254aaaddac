"""SELF-GUIDE on real NIV2 dev tasks: does the model's own synthetic data beat prompting it?

For each task in ../shared/data/niv2/dev (``--tasks``; classification and generation), the
project's ``run_self_guide`` with the default model:
1. synthesis from the task's definition and its first 3 positive examples (never its instances),
   with the paper's settings except the size (``--num-examples`` pairs, at most ``--max-rounds``
   rounds, both sized to this 2-core CPU);
2. LoRA fine-tuning on the kept pairs, 3 epochs, the epoch that scores best on a validation split
   of the synthetic data kept;
3. scoring on ``--eval-limit`` real instances (a seeded subset) with the paper's metrics (exact match
   of the last label mentioned / ROUGE-L): 2-shot prompting vs the tuned model (0-shot, as it was
   trained), plus the paper's ablation: the same synthetic pairs in context instead (the 2 real
   demonstrations + ``--in-context`` synthetic pairs), and the tuned model given the same 2
   demonstrations as prompting.

``--calibrate-labels`` runs the variant whose annotation votes are calibrated against the model's
label prior (not in the paper; see ``SelfGuideConfig.calibrate_labels``), in separate directories.

Writes ``self_guide.{json,md,png}`` and ``self_guide_intervals.png`` under ``--out`` after every task:
each arm vs 2-shot prompting on the same instances, with paired-bootstrap 95% intervals per task
and on the task average. Resumable: a task finished with the same settings is kept
(``<out>/arms/<task>.json``); an unfinished one resumes inside ``run_self_guide`` (per-round
synthesis checkpoints, training checkpoints, per-task eval files). Each task holds
/tmp/cookbook_cpu.lock, so other experiments sharing the machine do not distort its timings.

    python experiments/self_guide.py --out experiments/results/self_guide
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from common import SHARED as DATA
from common import Arms, eval_rows, experiment_parser, interval_section, paired_table, plot_intervals, settings, \
    write_report

from cookbook_datasets.cpu import cpu_lock

SHARED = DATA / "niv2" / "dev"
# classification and generation alternate, so that a partial run still shows both kinds
TASKS = ("task190_snli_classification", "task036_qasc_topic_word_to_generate_related_fact",
         "task1344_glue_entailment_classification", "task1195_disflqa_disfluent_to_fluent_conversion",
         "task738_perspectrum_classification", "task039_qasc_find_overlapping_words",
         "task935_defeasible_nli_atomic_classification", "task1557_jfleg_answer_generation")
# the arms of the paired table (eval file under <work>/<task>/eval/), prompting first: the baseline
ARMS = {"prompting": "2-shot prompting", "self_guide": "SELF-GUIDE tuned (0-shot)",
        "self_guide_2shot": "tuned, 2-shot", "in_context": "pairs in context"}


def in_context_task(task_file: Path, data_dir: Path, name: str, k: int, out: Path) -> Path:
    """The task file with ``k`` synthetic pairs appended to its positive examples (same instances)."""
    import datasets

    data = json.loads(task_file.read_text())
    pairs = datasets.load_dataset(str(data_dir), name, split="train").select(range(k))
    synthetic = [{"input": p[-1]["content"], "output": c[0]["content"], "explanation": "synthetic"}
                 for p, c in zip(pairs["prompt"], pairs["completion"])]
    data["Positive Examples"] = data["Positive Examples"][:2] + synthetic
    out.write_text(json.dumps(data))
    return out


def run_task(name: str, args) -> dict:
    from cookbook_datasets.eval.harness import EvalConfig, evaluate_model, main_metric
    from cookbook_datasets.self_guide import SelfGuideConfig, run_self_guide

    task_file = SHARED / f"{name}.json"
    work = Path(args.work) / name
    config = SelfGuideConfig(num_examples=args.num_examples, max_rounds=args.max_rounds, seed=args.seed,
                             calibrate_labels=args.calibrate_labels)
    report = run_self_guide(task_file, work, model=args.model, config=config, dtype=args.dtype,
                            train_args={"num_train_epochs": args.epochs}, eval_limit=args.eval_limit,
                            num_shots=2, tuned_num_shots=0)
    k = min(args.in_context, report["counts"]["kept"])
    start = time.time()
    ablation = evaluate_model(EvalConfig(model=args.model, tasks=[str(in_context_task(
        task_file, Path(report["data"]), name, k, work / f"{name}.json"))], num_shots=2 + k, limit=args.eval_limit,
        seed=args.seed, dtype=args.dtype), out=work / "eval" / "in_context.json")
    res = next(iter(ablation["tasks"].values()))
    report["scores"]["in_context"] = {"metric": main_metric(res)[0], "score": main_metric(res)[1], "num_shots": 2 + k,
                                      "num_examples": res["num_examples"], "seconds": round(time.time() - start, 1)}
    return report


def tuned_with_demonstrations(name: str, report: dict, args) -> dict:
    """The tuned model given the same 2 demonstrations as the prompting baseline (an extra arm:
    with few pairs, a 0-shot tuned model may lose the answer format the demonstrations show)."""
    from cookbook_datasets.eval.harness import EvalConfig, evaluate_model, main_metric

    work = Path(args.work) / name
    start = time.time()
    result = evaluate_model(EvalConfig(model=args.model, adapter=report["adapter"], tasks=[str(SHARED / f"{name}.json")],
                                       num_shots=2, limit=args.eval_limit, seed=args.seed, dtype=args.dtype),
                            out=work / "eval" / "self_guide_2shot.json")
    res = next(iter(result["tasks"].values()))
    return {"metric": main_metric(res)[0], "score": main_metric(res)[1], "num_shots": 2,
            "num_examples": res["num_examples"], "seconds": round(time.time() - start, 1)}


def summarise(results: dict) -> str:
    rows = results["tasks"]
    lines = ["| task | kind | metric | 2-shot prompting | SELF-GUIDE tuned (0-shot) | gain | tuned, 2-shot | "
             "synthetic pairs in context | pairs kept | rounds | generation min | training min |",
             "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for name, r in rows.items():
        s = r["scores"]
        two = f"{s['self_guide_2shot']['score']:.3f}" if "self_guide_2shot" in s else ""
        lines.append(f"| {name} | {r['kind']} | {s['prompting']['metric']} | {s['prompting']['score']:.3f} | "
                     f"{s['self_guide']['score']:.3f} | {r['gain']:+.3f} | {two} | {s['in_context']['score']:.3f} | "
                     f"{r['counts']['kept']} | {r['counts']['rounds']} | {r['counts']['generation_seconds'] / 60:.1f} | "
                     f"{r['training']['train_seconds'] / 60:.1f} |")
    if rows:
        for kind in ("classification", "generation", None):
            sel = [r for r in rows.values() if kind is None or r["kind"] == kind]
            if not sel:
                continue
            mean = lambda arm: sum(r["scores"][arm]["score"] for r in sel) / len(sel)  # noqa: E731
            two = f"{mean('self_guide_2shot'):.3f}" if all("self_guide_2shot" in r["scores"] for r in sel) else ""
            lines.append(f"| **mean ({kind or 'all'}, {len(sel)})** | | | {mean('prompting'):.3f} | "
                         f"{mean('self_guide'):.3f} | {mean('self_guide') - mean('prompting'):+.3f} | {two} | "
                         f"{mean('in_context'):.3f} | | | | |")
    lines += ["", "Per-stage counts (summed over tasks):", "", "| stage | count |", "|---|---:|"]
    keys = [("inputs", "generated"), ("inputs", "dropped_empty"), ("inputs", "dropped_length"),
            ("inputs", "dropped_noise"), ("inputs", "dropped_duplicate"), ("annotation", "annotated"),
            ("annotation", "dropped_inconsistent")]
    for group, key in keys:
        lines.append(f"| {group}: {key} | {sum(r['counts'][group][key] for r in rows.values())} |")
    lines.append(f"| pairs before balancing | {sum(r['counts']['pairs_before_balancing'] for r in rows.values())} |")
    lines.append(f"| pairs kept | {sum(r['counts']['kept'] for r in rows.values())} |")
    return "\n".join(lines) + "\n\n![scores per task](self_guide.png)\n"


def plot(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    names = list(results["tasks"])
    arms = [("prompting", "2-shot prompting"), ("self_guide", "SELF-GUIDE tuned (0-shot)"),
            ("self_guide_2shot", "tuned, 2-shot"), ("in_context", "pairs in context")]
    x = np.arange(len(names))
    fig, ax = plt.subplots(figsize=(max(6, 1.3 * len(names) + 2), 4))
    for i, (arm, label) in enumerate(arms):
        ax.bar(x + (i - 1.5) * 0.2, [results["tasks"][n]["scores"].get(arm, {}).get("score", 0) for n in names], 0.2,
               label=label)
    ax.set_xticks(x)
    ax.set_xticklabels([n.split("_")[0] for n in names], rotation=30, ha="right")
    ax.set_ylabel("exact match / ROUGE-L")
    ax.set_ylim(0, 1)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def run_and_record(name: str, args) -> dict:
    """One task, every arm, with the per-row scores of each arm (for the paired table)."""
    with cpu_lock():
        report = run_task(name, args)
        report["scores"]["self_guide_2shot"] = tuned_with_demonstrations(name, report, args)
    evals = Path(args.work) / name / "eval"
    report["row_scores"] = {arm: eval_rows(evals / f"{arm}.json", name) for arm in ARMS}
    return report


def comparison(results: dict):
    return paired_table({label: {name: r.get("row_scores", {}).get(arm) for name, r in results["tasks"].items()}
                         for arm, label in ARMS.items()}, baseline=ARMS["prompting"])


def main() -> None:
    p = experiment_parser(__doc__, "self_guide")
    p.add_argument("--tasks", nargs="+", default=list(TASKS))
    p.add_argument("--num-examples", type=int, default=48, help="pairs to keep per task")
    p.add_argument("--max-rounds", type=int, default=40, help="most rounds of 10 input prompts per task")
    p.add_argument("--epochs", type=float, default=3.0)
    p.add_argument("--eval-limit", type=int, default=100, help="real instances scored per task")
    p.add_argument("--in-context", type=int, default=6, help="synthetic pairs given in context (ablation)")
    p.add_argument("--calibrate-labels", action="store_true",
                   help="the variant with label calibration (not in the paper); results go to <out>_calibrated")
    args = p.parse_args()
    if args.calibrate_labels:
        args.out, args.work = args.out.rstrip("/") + "_calibrated", args.work.rstrip("/") + "_calibrated"
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    out = Path(args.out)
    common = settings(args, exclude=("tasks", "out", "work"))
    arms = Arms(out / "arms")
    results = {"settings": common, "tasks": {}}
    for name in args.tasks:
        results["tasks"][name] = arms.run(name, {**common, "task": name}, lambda: run_and_record(name, args))
        paired = comparison(results)
        results["comparison"] = paired.to_dict() if paired else None
        table = summarise(results) + "\n" + interval_section(
            paired, "Paired differences vs 2-shot prompting (same instances)",
            "Main metric per instance (exact match of the last label mentioned / ROUGE-L).")
        write_report(out, "self_guide", results, table, {
            "self_guide.png": lambda path: plot(results, path),
            "self_guide_intervals.png": plot_intervals(paired, "SELF-GUIDE arms vs 2-shot prompting")})
        print(table, flush=True)


if __name__ == "__main__":
    main()
