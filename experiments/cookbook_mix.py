"""Cookbook-Mix on real tasks: do single templates improve their matching tasks, and does a learned
mixture serve several tasks at once? (arXiv 2410.05224; issue "Cookbook-Mix")

Tasks: the GPT4ALL dev tasks (../shared/data/gpt4all/dev) and the NIV2 dev tasks a template maps
to. Every task's rows are split once (seeded): ``--fit-size`` fit rows choose the label words, the
components and the weights; ``--eval-size`` other rows are scored and choose nothing.

1. Signals on the fit rows (`mix signals`): each template setting's rule accuracy, and the untuned
   model's answers (base score, template alignment). Each task keeps its most helpful setting.
2. Proxy runs: one LoRA fine-tune per component alone and ``--num-random`` random mixtures, the
   same budget as every arm (``--steps`` steps of ``--batch-size`` rows), scored on the fit rows.
3. Weights per method (uniform, best-single, rules, proxy); each mixture fine-tuned with the same
   budget (a single component's run is the proxy run itself) and scored on the eval rows.
4. Single template -> matching task: each component's own run scored on the tasks its rule
   helps, with template alignment before and after; how much of the accuracy gain the alignment
   gain explains (least squares over the pairs).

Every arm is compared with the untuned model on the same eval rows (paired-bootstrap 95% intervals
per task and on the task average; each single template's gain gets its own interval).

Writes ``cookbook_mix.{json,md}`` and ``mixtures.png``, ``mixtures_intervals.png``, ``singles.png``,
``alignment.png`` under ``--out``. Every step is cached under ``--work`` (answers per adapter, adapters by recipe), so a
killed run resumes. Run it under the machine's CPU lock:

    flock /tmp/cookbook_cpu.lock python experiments/cookbook_mix.py
"""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path

import numpy as np
from common import SHARED, experiment_parser, interval_section, paired_table, plot_intervals, write_report
NIV2 = ("task020_mctaco_span_based_question", "task039_qasc_find_overlapping_words",
        "task1344_glue_entailment_classification", "task1385_anli_r1_entailment", "task190_snli_classification",
        "task200_mnli_entailment_classification")
METHOD_ORDER = ("uniform", "best-single", "rules", "proxy")


def row_scores(rows, answers) -> dict:
    """The task's own metric row by row, keyed by the row's id in ``rows.rows`` (its mean is
    ``task_rows.score``: every metric here is a mean over rows)."""
    from cookbook_datasets.mixing.task_rows import agreement, gold

    targets = gold(rows)
    return {str(r): agreement(rows, answers, targets, keep=[i]) for i, r in enumerate(rows.rows)}


def main() -> None:
    p = experiment_parser(__doc__, "cookbook_mix")
    p.add_argument("--tasks", nargs="*", default=None, help="task files (default: GPT4ALL dev + 6 NIV2 dev tasks)")
    p.add_argument("--fit-size", type=int, default=30)
    p.add_argument("--eval-size", type=int, default=50)
    p.add_argument("--steps", type=int, default=40, help="LoRA steps of every fine-tune (proxies and arms)")
    p.add_argument("--rows", type=int, default=320, help="mixture rows each fine-tune draws from")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--lr", type=float, default=5e-4)
    p.add_argument("--num-random", type=int, default=2, help="random mixtures among the proxy runs")
    p.add_argument("--components-per-task", type=int, default=1)
    args = p.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    import importlib

    from cookbook_datasets.eval.stats import paired_bootstrap
    from cookbook_datasets.mixing import MixLearnConfig, get_method
    from cookbook_datasets.mixing.signals import alignment, explained_share, rule_answers
    from cookbook_datasets.mixing.task_rows import score
    from cookbook_datasets.templates import get_template

    L = importlib.import_module("cookbook_datasets.mixing.learn")
    tasks = args.tasks or ([str(f) for f in sorted((SHARED / "gpt4all" / "dev").glob("*.jsonl"))]
                           + [str(SHARED / "niv2" / "dev" / f"{t}.json") for t in NIV2])
    work, out = Path(args.work), Path(args.out)
    config = MixLearnConfig(tasks=tasks, out=str(work), model=args.model, method="proxy", fit_size=args.fit_size,
                            eval_size=args.eval_size, max_components_per_task=args.components_per_task,
                            proxy_steps=args.steps, proxy_rows=args.rows, learning_rate=args.lr,
                            batch_size=args.batch_size, dtype=args.dtype, seed=args.seed)
    costs = {}
    t0 = time.time()
    signals, fit, held, aligned_fit = L.measure(config)
    costs["signals_and_base_fit_min"] = (time.time() - t0) / 60
    comps = list(signals.components)
    logging.info("components: %s", comps)

    def answers(adapter, rows, name):
        return L.answer_tasks(args.model, adapter, rows, work / "answers" / f"{name}.json", config)

    t0 = time.time()
    base_eval = answers(None, held, "base_eval")
    costs["base_eval_min"] = (time.time() - t0) / 60

    # 2. proxy runs on the fit rows (each component alone, then random mixtures)
    t0 = time.time()
    proxy = get_method("proxy", num_random=args.num_random, seed=args.seed)
    adapters = {}
    for weights in proxy.runs(comps, seed=args.seed):
        adapter = L.train_mixture(weights, signals.components, work / "adapters", config, args.steps, args.rows)
        adapters[json.dumps(weights, sort_keys=True)] = adapter
        fit_answers = answers(adapter, fit, f"fit_{Path(adapter).name}")
        signals.runs.append({"weights": weights, "scores": {t: score(fit[t], fit_answers[t]) for t in fit}})
    costs["proxy_runs_min"] = (time.time() - t0) / 60

    # 3. each method's weights, trained with the same budget, scored on the eval rows
    t0 = time.time()
    base_rows = {t: row_scores(held[t], base_eval[t]) for t in held}
    arms = {"base": {"weights": None, "scores": {t: score(held[t], base_eval[t]) for t in held},
                     "row_scores": base_rows}}
    for name in METHOD_ORDER:
        method = get_method(name, **({"num_random": args.num_random, "seed": args.seed} if name == "proxy" else {}))
        weights = method.fit(signals)
        positive = {c: w for c, w in weights.items() if w > 1e-9}
        adapter = L.train_mixture(positive, signals.components, work / "adapters", config, args.steps, args.rows)
        eval_answers = answers(adapter, held, f"eval_{Path(adapter).name}")
        arms[name] = {"weights": weights, "explanation": method.explain(), "adapter": adapter,
                      "scores": {t: score(held[t], eval_answers[t]) for t in held},
                      "row_scores": {t: row_scores(held[t], eval_answers[t]) for t in held}}
    costs["arms_min"] = (time.time() - t0) / 60

    # 4. single template -> the tasks its rule helps, alignment before and after
    t0 = time.time()
    helpful = signals.helpfulness()
    singles = []
    for c in comps:
        matching = [t for t in signals.tasks if helpful[c][t] > 0]
        if not matching:
            continue
        adapter = adapters[json.dumps({c: 1.0}, sort_keys=True)]
        rows = {t: held[t] for t in matching}
        tuned = answers(adapter, rows, f"eval_{Path(adapter).name}")
        template = get_template(signals.components[c]["template"],
                                **{k: v for k, v in signals.components[c].items() if k != "template"})
        for t in matching:
            rule = rule_answers(template, held[t])
            tuned_rows = row_scores(held[t], tuned[t])
            gain = paired_bootstrap([base_rows[t][i] for i in base_rows[t]], [tuned_rows[i] for i in base_rows[t]])
            singles.append({"component": c, "task": t, "base": score(held[t], base_eval[t]),
                            "tuned": score(held[t], tuned[t]), "gain_interval": gain.to_dict(),
                            "alignment_before": alignment(held[t], base_eval[t], rule),
                            "alignment_after": alignment(held[t], tuned[t], rule),
                            "rule_accuracy_fit": signals.rule_accuracy[c][t]})
    costs["singles_min"] = (time.time() - t0) / 60
    share = explained_share([s["base"] for s in singles], [s["tuned"] for s in singles],
                            [s["alignment_before"] for s in singles], [s["alignment_after"] for s in singles])

    results = {"setup": {k: v for k, v in vars(args).items() if k not in ("out", "work")}, "tasks": signals.tasks,
               "components": signals.components, "signals": signals.to_dict(), "arms": arms, "singles": singles,
               "explained_share": share, "alignment_fit_base": aligned_fit,
               "fit_rows": {t: r.rows for t, r in fit.items()}, "eval_rows": {t: r.rows for t, r in held.items()},
               "costs_min": {k: round(v, 1) for k, v in costs.items()}}
    paired = comparison(results)
    results["comparison"] = paired.to_dict() if paired else None
    table = markdown(results) + "\n" + interval_section(
        paired, "Paired differences vs the untuned model (eval rows)", "The task's own metric per row.")
    write_report(out, "cookbook_mix", results, table, {
        "mixtures.png": lambda path: plot_mixtures(results, path),
        "mixtures_intervals.png": plot_intervals(paired, "Cookbook-Mix arms vs the untuned model"),
        "singles.png": lambda path: plot_singles(results, path),
        "alignment.png": lambda path: plot_alignment(results, path)})
    print(table)


def comparison(r: dict):
    names = [a for a in ("base", *METHOD_ORDER) if a in r["arms"]]
    return paired_table({a: r["arms"][a].get("row_scores") for a in names}, baseline="base")


def markdown(r: dict) -> str:
    tasks, arms = r["tasks"], r["arms"]
    base = arms["base"]["scores"]
    s = r["setup"]
    lines = ["# Cookbook-Mix on real tasks", "",
             f"Default model ({s['model']}), LoRA, {s['steps']} steps of {s['batch_size']} rows for every fine-tune "
             f"(lr {s['lr']}). Weights, components and label words chosen on {s['fit_size']} fit rows per task; "
             f"scores on {s['eval_size']} other rows per task.", "",
             "## Single template -> the task its rule helps (eval rows)", "",
             "| component | task | base | tuned | gain [95% paired interval] | | alignment before | after | "
             "rule accuracy (fit) |",
             "|---|---|---:|---:|---:|---|---:|---:|---:|"]
    for x in sorted(r["singles"], key=lambda x: -(x["tuned"] - x["base"])):
        g = x.get("gain_interval")
        interval = f" [{g['low']:+.3f}, {g['high']:+.3f}] | {g['verdict']}" if g else " |"
        lines.append(f"| {x['component']} | {x['task']} | {x['base']:.3f} | {x['tuned']:.3f} | "
                     f"{x['tuned'] - x['base']:+.3f}{interval} | {_f(x['alignment_before'])} | "
                     f"{_f(x['alignment_after'])} | {_f(x['rule_accuracy_fit'])} |")
    e = r["explained_share"]
    if e.get("r2") is not None:
        lines += ["", f"Accuracy gain vs alignment gain over {e['pairs']} pairs: slope {e['slope']:.2f}, "
                      f"R² {e['r2']:.2f} (Pearson r {e['pearson_r']:.2f})."]
    names = [a for a in ("base", *METHOD_ORDER) if a in arms]
    lines += ["", "## Mixtures (eval rows)", "", "| task | " + " | ".join(names) + " |",
              "|---|" + "---:|" * len(names)]
    for t in tasks:
        lines.append(f"| {t} | " + " | ".join(f"{arms[a]['scores'][t]:.3f}" for a in names) + " |")
    means = {a: float(np.mean([arms[a]["scores"][t] for t in tasks])) for a in names}
    lines.append("| **mean** | " + " | ".join(f"**{means[a]:.3f}**" for a in names) + " |")
    worst = {a: min(arms[a]["scores"][t] - base[t] for t in tasks) for a in names if a != "base"}
    lines.append("| worst task vs base | | " + " | ".join(f"{worst[a]:+.3f}" for a in names if a != "base") + " |")
    lines += ["", "Weights:", ""]
    for a in METHOD_ORDER:
        if a in arms:
            w = {c: round(v, 3) for c, v in arms[a]["weights"].items() if v > 1e-3}
            lines.append(f"- {a}: {w}")
    lines += ["", "Cost (minutes): " + ", ".join(f"{k} {v}" for k, v in r["costs_min"].items())]
    return "\n".join(lines) + "\n"


def _f(x) -> str:
    return "n/a" if x is None else f"{x:.3f}"


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_mixtures(r: dict, path: Path) -> None:
    plt = _pyplot()
    tasks, arms = r["tasks"], r["arms"]
    names = [a for a in ("base", *METHOD_ORDER) if a in arms]
    fig, ax = plt.subplots(figsize=(max(8, 0.9 * len(tasks)), 4))
    width = 0.8 / len(names)
    for i, a in enumerate(names):
        ax.bar(np.arange(len(tasks)) + i * width, [arms[a]["scores"][t] for t in tasks], width, label=a)
    ax.set_xticks(np.arange(len(tasks)) + 0.4 - width / 2, [t[:16] for t in tasks], rotation=45, ha="right")
    ax.set_ylabel("score (eval rows)")
    ax.legend()
    ax.set_title("Cookbook-Mix arms per task")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_singles(r: dict, path: Path) -> None:
    singles = r["singles"]
    if not singles:
        return
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(max(6, 0.6 * len(singles)), 4))
    labels = [f"{s['component'][:22]}\n{s['task'][:18]}" for s in singles]
    ax.bar(np.arange(len(singles)) - 0.2, [s["base"] for s in singles], 0.4, label="base")
    ax.bar(np.arange(len(singles)) + 0.2, [s["tuned"] for s in singles], 0.4, label="tuned on the template")
    ax.set_xticks(range(len(singles)), labels, rotation=60, ha="right", fontsize=7)
    ax.legend()
    ax.set_title("Single template -> matching task")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_alignment(r: dict, path: Path) -> None:
    pairs = [(s["alignment_after"] - s["alignment_before"], s["tuned"] - s["base"]) for s in r["singles"]
             if s["alignment_after"] is not None and s["alignment_before"] is not None]
    if not pairs:
        return
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5, 4))
    ax.scatter(*zip(*pairs))
    ax.axhline(0, color="grey", lw=0.5)
    ax.axvline(0, color="grey", lw=0.5)
    ax.set_xlabel("alignment gain")
    ax.set_ylabel("accuracy gain")
    e = r["explained_share"]
    if e.get("r2") is not None:
        ax.set_title(f"R² {e['r2']:.2f}, slope {e['slope']:.2f}")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    main()
