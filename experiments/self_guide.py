"""SELF-GUIDE on real NIV2 dev tasks: does the model's own synthetic data beat prompting it?

For each task in ../shared/data/niv2/dev (``--tasks``; classification and generation alternate),
the project's ``run_self_guide`` with the default model:
1. synthesis from the task's definition and its first 3 positive examples (never its instances),
   the paper's settings except the size (``--num-examples`` pairs, at most ``--max-rounds`` rounds,
   sized to this 2-core CPU); classification annotated by ranking the label set (``--annotation``);
2. fine-tuning on the kept pairs posed as they are scored (the instruction, the 2 demonstrations,
   the input; loss on the output), LoRA (``--finetune full``: the reference's full fine-tuning,
   lr 5e-5), 3 epochs, the epoch best on the synthetic validation split or, with
   ``--val-instances N``, on N labelled real instances disjoint from the scored ones (the paper);
3. scoring on ``--eval-limit`` (200) real instances per task (a seeded subset, fewer only where the
   task has fewer beside its validation part), which the pipeline never reads, with the paper's
   metrics (exact match of the last label mentioned / ROUGE-L): 2-shot prompting vs the tuned
   model (2-shot, as trained), plus the paper's ablation: the same synthetic pairs in context (the
   2 real demonstrations + ``--in-context`` synthetic pairs).

``--recipe`` picks a rung of the issue's ablation ladder (each adds one change to the one before):
``wave2`` (generate annotation, 0-shot training and scoring, no early stop, fixed length window),
``train-as-scored``, ``rank`` (rank annotation for classification), ``headline`` (+ rounds that stop
when wasted and the adaptive length window: the default). ``--finetune full`` and
``--val-instances`` add the fourth change to any rung. A run that is not the default writes to
``<out>_<variant>`` and ``<work>/<variant>``; variants whose synthesis recipe is the same share
its pairs (copied, not made again). ``--ladder`` only writes ``<out>/self_guide_ladder.md``: the
gain over prompting per task of every variant found next to ``--out``.

Writes ``self_guide.{json,md,png}`` and ``self_guide_intervals.png`` under the variant's out dir
after every task: each arm vs 2-shot prompting on the same instances, paired-bootstrap 95%
intervals per task and on the task average, and the cost of each task in minutes (synthesis,
training, scoring). Resumable: a task finished with the same settings is kept
(``arms/<task>.json``); an unfinished one resumes inside ``run_self_guide`` (per-round synthesis
checkpoints, training checkpoints, per-task eval files). Each task holds /tmp/cookbook_cpu.lock,
so other experiments sharing the machine do not distort its timings. ``--smoke``: the tiny random
model on one task and a handful of rows, under /tmp/self_guide_smoke (checks the script, measures
nothing).

    python experiments/self_guide.py --out experiments/results/self_guide
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

from common import SHARED as DATA
from common import Arms, eval_rows, experiment_parser, interval_section, paired_table, plot_intervals, settings, \
    write_report

from cookbook_datasets.atomic_files import atomic_dir, atomic_write_text
from cookbook_datasets.cpu import cpu_lock

SHARED = DATA / "niv2" / "dev"
# classification and generation alternate, so that a partial run still shows both kinds
TASKS = ("task190_snli_classification", "task036_qasc_topic_word_to_generate_related_fact",
         "task1344_glue_entailment_classification", "task1195_disflqa_disfluent_to_fluent_conversion",
         "task738_perspectrum_classification", "task039_qasc_find_overlapping_words",
         "task935_defeasible_nli_atomic_classification", "task1557_jfleg_answer_generation")
NUM_SHOTS = 2  # the prompting baseline's demonstrations, and the tuned model's (trained as scored)
# the issue's ladder, in order: each rung adds one change (SelfGuideConfig fields; annotation 'auto':
# rank for classification, generate for generation, which has no label set to rank)
RECIPES = {
    "wave2": {"annotation": "generate", "train_num_shots": 0, "stop_window": 0, "length_adapt_share": None},
    "train-as-scored": {"annotation": "generate", "train_num_shots": NUM_SHOTS, "stop_window": 0,
                        "length_adapt_share": None},
    "rank": {"annotation": "auto", "train_num_shots": NUM_SHOTS, "stop_window": 0, "length_adapt_share": None},
    "headline": {"annotation": "auto", "train_num_shots": NUM_SHOTS, "stop_window": 5, "length_adapt_share": 0.5},
}
DEFAULT_RECIPE = "headline"
# the smoke run: the tiny random model writes anything, so the filters let it through
SMOKE_PARAMS = {"length_std": None, "consistency_threshold": 0.1, "prompts_per_round": 4, "input_max_new_tokens": 10,
                "annotation_max_new_tokens": 6, "annotation_samples": 3}


def arm_labels(recipe: dict, guard: bool = False) -> dict:
    """The arms of the paired table (eval file under <work>/<task>/eval/), prompting first: the baseline.
    The guard protocol's third arm is SELF-GUIDE's result with the guard (no eval file of its own: the
    tuned model's rows where the guard keeps it, the untuned model's, i.e. prompting's, elsewhere)."""
    tuned = f"SELF-GUIDE tuned ({recipe['train_num_shots']}-shot)"
    third = ({"guard_only": "with the guard alone", "guarded": "with the guard and the label check"} if guard
             else {"in_context": "pairs in context"})
    return {"prompting": f"{NUM_SHOTS}-shot prompting", "self_guide": tuned, **third}


def variant(args) -> str:
    """The name of the settings that differ from the headline recipe ('' for the headline itself)."""
    parts = [] if args.recipe == DEFAULT_RECIPE else [args.recipe]
    if args.annotation is not None:
        parts.append(f"annotation-{args.annotation}")
    if args.finetune != "lora":
        parts.append(args.finetune)
    if args.val_instances is not None:
        parts.append(f"val{args.val_instances}")
    if args.calibrate_labels:
        parts.append({"content-free": "calibrated", "batch": "batch-calibrated"}[args.calibrate_labels])
    if args.agree_with_target:
        parts.append("agree")
    if args.guard:
        parts.append("guard")
    return "_".join(parts)


def resolved_recipe(args) -> dict:
    recipe = dict(RECIPES[args.recipe])
    if args.annotation is not None:
        recipe["annotation"] = args.annotation
    return recipe


def self_guide_config(args, recipe: dict, kind: str):
    from cookbook_datasets.self_guide import SelfGuideConfig

    annotation = recipe["annotation"]
    if kind != "classification":
        annotation = "generate"  # no label set to rank
    elif annotation == "auto":
        annotation = "rank"
    return SelfGuideConfig(num_examples=args.num_examples, max_rounds=args.max_rounds, seed=args.seed,
                           calibrate_labels=args.calibrate_labels, annotation=annotation,
                           agree_with_target=args.agree_with_target and kind == "classification",
                           train_num_shots=recipe["train_num_shots"], stop_window=recipe["stop_window"],
                           length_adapt_share=recipe["length_adapt_share"], model=args.model, dtype=args.dtype,
                           finetune=args.finetune, num_train_epochs=args.epochs,
                           # The published protocol predates the guard, the label check and the minimum of
                           # validation rows: these settings reproduce it as it was run (val_instances 0: the
                           # synthetic split picks the epoch). --guard runs the library's defaults instead (up
                           # to 100 real instances beside the scored ones pick the epoch and guard it), with
                           # the guard off and unteachable data trained on, so the tuned model is always
                           # scored: the guarded result is then read from the guard's and the label check's
                           # records (guarded_rows), as keep-best would have returned it.
                           val_instances=(None if args.guard else 0) if args.val_instances is None
                           else args.val_instances,
                           guard="off", allow_unteachable_data=True, min_validation_rows=20 if args.guard else 1,
                           num_shots=NUM_SHOTS, **({"per_device_train_batch_size": 4, **SMOKE_PARAMS} if args.smoke
                                                   else {}))


def share_synthesis(work_root: Path, name: str, work: Path, spec, config) -> None:
    """Start ``work`` from another variant's synthesis when it is this one's: its ``data/`` and
    ``work/`` when the whole data recipe matches (a fine-tuning or validation variant trains on the
    same pairs), else its round checkpoints (``work/``) when only the row format differs (the rounds
    are replayed from them, the rows rebuilt). Copied, so each variant's directory stands alone."""
    from cookbook_datasets.self_guide.pipeline import recipe, same_recipe, work_identity

    if (work / "data").exists() or (work / "work").exists():
        return  # this variant's own synthesis, done or under way
    rec = recipe(spec, config)
    whole, rounds = None, None
    for other in sorted(p for p in work_root.glob(f"*/{name}") if p != work):
        written = json.loads((other / "data" / "recipe.json").read_text()).get(name, {}) if (
            other / "data" / "recipe.json").exists() else {}
        if written and written["counts"].get("stopped", {}).get("reason") != "budget" and same_recipe(
                {k: v for k, v in written.items() if k != "counts"}, rec):
            whole = other
            break
        if rounds is None and (other / "work" / "recipe.json").exists() and work_identity(
                json.loads((other / "work" / "recipe.json").read_text())) == work_identity(rec):
            rounds = other
    source = whole or rounds
    if source is None:
        return
    work.mkdir(parents=True, exist_ok=True)
    for part in ("work", "data") if whole else ("work",):  # data last: its presence says the copy is whole
        if (source / part).exists():
            with atomic_dir(work / part) as tmp:
                shutil.copytree(source / part, tmp, dirs_exist_ok=True)
    print(f"{name}: {'pairs' if whole else 'synthesis rounds'} shared from {source}", flush=True)


UNTUNED_FILES = ("eval/prompting.json", "eval/prompting.md", "eval/prompting.rows.jsonl", "guard/untuned.json")


def share_untuned(work_root: Path, name: str, work: Path) -> None:
    """Start ``work`` with another variant's scores of the untuned model (prompting on the scored rows,
    the guard's untuned validation scores): the same for every variant of a task. Each file is keyed by
    what it depends on (evaluate_model's config identity, score_untuned's key), so a copy made with
    other settings is scored again, not used."""
    for other in sorted(p for p in work_root.glob(f"*/{name}") if p != work):
        for part in UNTUNED_FILES:
            if not (work / part).exists() and (other / part).exists():
                (work / part).parent.mkdir(parents=True, exist_ok=True)
                atomic_write_text(work / part, (other / part).read_text())


def in_context_task(task_file: Path, data_dir: Path, name: str, k: int, out: Path) -> Path:
    """The task file with ``k`` synthetic pairs appended to its first 2 positive examples (same instances)."""
    import datasets

    data = json.loads(task_file.read_text())
    pairs = datasets.load_dataset(str(data_dir), name, split="train").select(range(k))
    synthetic = [{"input": p[-1]["content"], "output": c[0]["content"], "explanation": "synthetic"}
                 for p, c in zip(pairs["prompt"], pairs["completion"])]
    data["Positive Examples"] = data["Positive Examples"][:NUM_SHOTS] + synthetic
    out.write_text(json.dumps(data))
    return out


def run_task(name: str, args, recipe: dict) -> dict:
    from cookbook_datasets.eval.harness import EvalConfig, evaluate_model, main_metric
    from cookbook_datasets.self_guide import run_self_guide
    from cookbook_datasets.tasks import load_task, task_definition

    task_file = SHARED / f"{name}.json"
    task = load_task(task_file)
    work = Path(args.work) / name
    config = self_guide_config(args, recipe, task.kind)
    # >= eval_limit scored rows where the task holds them beside its validation part
    eval_limit = min(args.eval_limit, len(task) - (args.val_instances or 0))
    config = dataclasses.replace(config, eval_limit=eval_limit)
    share_synthesis(Path(args.work).parent, name, work, task_definition(task), config)
    share_untuned(Path(args.work).parent, name, work)
    start = time.time()
    report = run_self_guide(task, work, config)
    report["eval_limit"] = eval_limit
    if args.guard:
        report["wall_seconds"] = round(time.time() - start, 1)
        return report
    k = min(args.in_context, report["counts"]["kept"])
    ablation = evaluate_model(EvalConfig(model=args.model, tasks=[str(in_context_task(
        task_file, Path(report["data"]), name, k, work / f"{name}.json"))], num_shots=NUM_SHOTS + k,
        limit=eval_limit, seed=config.seed, dtype=args.dtype), out=work / "eval" / "in_context.json")
    res = next(iter(ablation["tasks"].values()))
    report["scores"]["in_context"] = {"metric": main_metric(res)[0], "score": main_metric(res)[1],
                                      "num_shots": NUM_SHOTS + k, "num_examples": res["num_examples"],
                                      "seconds": res["seconds"]}
    report["eval_limit"], report["wall_seconds"] = eval_limit, round(time.time() - start, 1)
    return report


def cost_minutes(r: dict) -> dict:
    """Minutes per stage: synthesis (its rounds), training, scoring (epoch picks + every arm)."""
    scoring = sum(s.get("seconds") or 0 for s in r["scores"].values()) + r["training"].get("pick_seconds", 0)
    return {"synthesis": r["counts"]["generation_seconds"] / 60, "training": r["training"]["train_seconds"] / 60,
            "scoring": scoring / 60}


def summarise(results: dict) -> str:
    rows = results["tasks"]
    labels = arm_labels(results["recipe"])
    lines = [f"Recipe: {results['variant'] or DEFAULT_RECIPE} ({json.dumps(results['recipe'])}); fine-tuning "
             f"{results['settings']['finetune']}; epoch picked on "
             + (f"{results['settings']['val_instances']} real validation instances"
                if results["settings"]["val_instances"] else "the synthetic validation split"), "",
             f"| task | kind | metric | n | {labels['prompting']} | {labels['self_guide']} | gain | pairs in context | "
             "pairs kept | labels before balancing | rounds (stop) | best epoch | synthesis min | training min | "
             "scoring min |", "|---|---|---|---:|---:|---:|---:|---:|---:|---|---|---:|---:|---:|---:|"]
    for name, r in rows.items():
        s, c, cost = r["scores"], r["counts"], cost_minutes(r)
        before = ", ".join(f"{k} {v}" for k, v in c.get("labels_before_balancing", {}).items())
        lines.append(f"| {name} | {r['kind']} | {s['prompting']['metric']} | {s['prompting']['num_examples']} | "
                     f"{s['prompting']['score']:.3f} | {s['self_guide']['score']:.3f} | {r['gain']:+.3f} | "
                     f"{s['in_context']['score']:.3f} | {c['kept']} | {before} | "
                     f"{c['rounds']} ({c.get('stopped', {}).get('reason', '')}) | {r['training']['best_epoch']} | "
                     f"{cost['synthesis']:.1f} | {cost['training']:.1f} | {cost['scoring']:.1f} |")
    if rows:
        for kind in ("classification", "generation", None):
            sel = [r for r in rows.values() if kind is None or r["kind"] == kind]
            if not sel:
                continue
            mean = lambda arm: sum(r["scores"][arm]["score"] for r in sel) / len(sel)  # noqa: E731
            total = {k: sum(cost_minutes(r)[k] for r in sel) for k in ("synthesis", "training", "scoring")}
            lines.append(f"| **mean ({kind or 'all'}, {len(sel)})** | | | | {mean('prompting'):.3f} | "
                         f"{mean('self_guide'):.3f} | {mean('self_guide') - mean('prompting'):+.3f} | "
                         f"{mean('in_context'):.3f} | | | | | {total['synthesis']:.1f} (sum) | "
                         f"{total['training']:.1f} (sum) | {total['scoring']:.1f} (sum) |")
    lines += ["", "Per-stage counts (summed over tasks):", "", "| stage | count |", "|---|---:|"]
    keys = [("inputs", "generated"), ("inputs", "dropped_empty"), ("inputs", "dropped_length"),
            ("inputs", "dropped_noise"), ("inputs", "dropped_duplicate"), ("annotation", "annotated"),
            ("annotation", "dropped_inconsistent")]
    for group, key in keys:
        lines.append(f"| {group}: {key} | {sum(r['counts'][group][key] for r in rows.values())} |")
    lines.append(f"| pairs before balancing | {sum(r['counts']['pairs_before_balancing'] for r in rows.values())} |")
    lines.append(f"| pairs kept | {sum(r['counts']['kept'] for r in rows.values())} |")
    return "\n".join(lines) + "\n\n![scores per task](self_guide.png)\n"


def summarise_guard(results: dict) -> str:
    """The guard protocol's table: per task the untuned and tuned model on the validation rows that
    chose, the label check, what the guard kept, and the scored rows' three arms; then how often the
    untuned model was kept and what the guard cost."""
    rows = results["tasks"]
    labels = arm_labels(results["recipe"], guard=True)
    lines = [f"Recipe: {results['variant']} ({json.dumps(results['recipe'])}); fine-tuning "
             f"{results['settings']['finetune']}; the epoch picked and guarded on up to 100 real instances beside the "
             "scored ones (the library's default), the label check on (max_label_share 0.8); the scored rows never "
             "chose anything.", "",
             f"| task | kind | labels before balancing | kept | label check | validation rows | untuned (val) | "
             f"tuned (val) | tuned - untuned (val) [95%] | guard alone keeps | with the label check keeps | "
             f"{labels['prompting']} | {labels['self_guide']} | {labels['guard_only']} | {labels['guarded']} | "
             "guard min | epoch choice min |",
             "|---|---|---|---|---|---:|---:|---:|---:|---|---|---:|---:|---:|---:|---:|---:|"]
    for name, r in rows.items():
        g, s, c = r["guard"], r["scores"], r["counts"]
        check = r.get("labels")
        before = ", ".join(f"{k} {v}" for k, v in c.get("labels_before_balancing", {}).items())
        kept = ", ".join(f"{k} {v}" for k, v in (check or {}).get("labels_kept", {}).items())
        verdict = "" if check is None else ("ok" if check["teachable"] else "refuses: " + "; ".join(check["problems"]))
        figure = (f"{g['diff']:+.3f} [{g['low']:+.3f}, {g['high']:+.3f}]" if g.get("chose") else g.get("reason", ""))
        arm = {"tuned": s["self_guide"]["score"], "untuned": s["prompting"]["score"]}
        lines.append(f"| {name} | {r['kind']} | {before} | {kept} | {verdict} | {g.get('rows', 0)} | "
                     f"{g.get('untuned', float('nan')):.3f} | {g.get('tuned', float('nan')):.3f} | {figure} | "
                     f"{r['kept_guard_only']} | {r['kept_with_guard']} | {s['prompting']['score']:.3f} | "
                     f"{s['self_guide']['score']:.3f} | {arm[r['kept_guard_only']]:.3f} | {arm[r['kept_with_guard']]:.3f} | "
                     f"{r.get('guard_seconds', 0) / 60:.1f} | "
                     f"{r['training'].get('pick_seconds', 0) / 60:.1f} |")
    if rows:
        n_untuned = sum(r["kept_with_guard"] == "untuned" for r in rows.values())
        n_alone = sum(r["kept_guard_only"] == "untuned" for r in rows.values())
        refused = sum(bool(r.get("labels")) and not r["labels"]["teachable"] for r in rows.values())
        minutes = [r.get("guard_seconds", 0) / 60 for r in rows.values()]
        lines += ["", f"The guard alone kept the untuned model on **{n_alone} of {len(rows)}** tasks; with the label "
                      f"check (the library's default), on **{n_untuned} of {len(rows)}** ({refused} refused by the check "
                      "before training). The guard's own cost, scoring the untuned model on "
                      f"the validation rows: {sum(minutes) / len(minutes):.2f} min a task on average "
                      f"({sum(minutes):.1f} min in all); choosing the epoch on those rows instead of the synthetic "
                      "split is the 'epoch choice' column."]
    return "\n".join(lines) + "\n"


def plot(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    names = list(results["tasks"])
    arms = list(arm_labels(results["recipe"], results.get("guard", False)).items())
    x = np.arange(len(names))
    fig, ax = plt.subplots(figsize=(max(6, 1.3 * len(names) + 2), 4))
    width = 0.8 / len(arms)
    for i, (arm, label) in enumerate(arms):
        rows = [results["tasks"][n].get("row_scores", {}).get(arm) for n in names]  # derived arms have rows only
        ax.bar(x + (i - (len(arms) - 1) / 2) * width,
               [sum(r.values()) / len(r) if r else results["tasks"][n]["scores"].get(arm, {}).get("score", 0)
                for n, r in zip(names, rows)], width, label=label)
    ax.set_xticks(x)
    ax.set_xticklabels([n.split("_")[0] for n in names], rotation=30, ha="right")
    ax.set_ylabel("exact match / ROUGE-L")
    ax.set_ylim(0, 1)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def run_and_record(name: str, args, recipe: dict) -> dict:
    """One task, every arm, with the per-row scores of each arm (for the paired table)."""
    with contextlib.nullcontext() if args.smoke else cpu_lock():  # a smoke run measures nothing: no waiting
        report = run_task(name, args, recipe)
    evals = Path(args.work) / name / "eval"
    report["row_scores"] = {arm: eval_rows(evals / f"{arm}.json", name)
                            for arm in ("prompting", "self_guide", "in_context") if arm in arm_labels(recipe, args.guard)}
    if args.guard:
        untuned = Path(args.work) / name / "guard" / "untuned.json"
        report["guard_seconds"] = json.loads(untuned.read_text())["seconds"] if untuned.exists() else 0.0
    return report


def add_guard_arms(name: str, report: dict) -> None:
    """The guard protocol's derived arms, from the run's records (no model runs): the result with the
    guard and the label check (the library's default), with the guard alone, and the constant answer."""
    report["kept_with_guard"] = guarded_choice(report)
    report["kept_guard_only"] = guarded_choice(report, label_check=False)
    for arm, kept in (("guarded", report["kept_with_guard"]), ("guard_only", report["kept_guard_only"])):
        report["row_scores"][arm] = report["row_scores"]["self_guide" if kept == "tuned" else "prompting"]
    report["constant"] = constant_rows(name, report)


def constant_rows(name: str, report: dict):
    """Classification: the constant answer (the validation part's most frequent label, which the
    method may read) on the scored rows, ``{"answer", "rows": {id: score}}``; None otherwise."""
    from common import constant_answer

    from cookbook_datasets.tasks import load_task

    ids = report["split"]["ids"]
    if "validation" not in ids:
        return None
    task = load_task(SHARED / f"{name}.json")
    found = constant_answer(task.select(ids["validation"]), task.select(ids["scored"]))
    return None if found is None else {"answer": found[0], "rows": found[1]}


def probe_vs_gains(results: dict) -> str:
    """The probe's verdict (the untuned model on the validation part) beside what tuning later showed
    on the scored rows: the tuned model and the guarded result minus the constant answer, paired 95%
    intervals. A task the probe says the model does not read should show no significant gain."""
    from cookbook_datasets.eval.compare import compare_rows

    lines = ["## The probe's verdict vs the gains tuning showed later", "",
             "The probe reads the untuned model's answers on the validation part (it never sees the scored rows); "
             "the constant answer is the validation part's most frequent label, given on every scored row. "
             "**agrees**: a task the probe says the model does not read shows no significant gain over the constant "
             "answer (and, for a task it reads, any result).", "",
             "| task | probe verdict (validation part) | why | tuned - constant [95%] | with the guard - constant [95%] "
             "| agrees |", "|---|---|---|---:|---:|---|"]
    for name, r in results["tasks"].items():
        probe = (r.get("probe") or {}).get("tasks", {}).get(name)
        if probe is None or not r.get("constant"):
            continue
        arms = {"constant": {name: r["constant"]["rows"]}, "tuned": {name: r["row_scores"]["self_guide"]},
                "guarded": {name: r["row_scores"]["guarded"]}}
        line = compare_rows(arms, baseline="constant").tasks[0]
        cells, significant = [], False
        for arm in ("tuned", "guarded"):
            d = line.differences[arm]
            bold = "**" if d.excludes_zero else ""
            cells.append(f"{bold}{d.mean:+.3f} [{d.low:+.3f}, {d.high:+.3f}]{bold}")
            significant |= d.low > 0
        agrees = "yes" if probe["verdict"] != "does not" or not significant else "**no**"
        lines.append(f"| {name} | {probe['verdict']} | {probe.get('why', '')} | {cells[0]} | {cells[1]} | {agrees} |")
    return "\n".join(lines) + "\n"


def guarded_choice(report: dict, label_check: bool = True) -> str:
    """What ``guard="keep-best"`` returns: the untuned model when the tuned model is not better on the
    validation rows, or (``label_check``, the library's default) when the pairs cannot teach and
    training is refused."""
    from cookbook_datasets.eval.guard import guard_keeps

    if label_check and report.get("labels") and not report["labels"]["teachable"]:
        return "untuned"
    guard = report["guard"]
    if not guard.get("chose"):
        return "tuned"  # too few validation rows: no choice, the tuned model is kept unguarded
    return guard_keeps("keep-best", guard["tuned"], guard["untuned"])


def comparison(results: dict):
    labels = arm_labels(results["recipe"], results.get("guard", False))
    return paired_table({label: {name: r.get("row_scores", {}).get(arm) for name, r in results["tasks"].items()}
                         for arm, label in labels.items()}, baseline=labels["prompting"])


def ladder(out: Path) -> str:
    """Gain over prompting per task (paired 95% interval) of every variant written next to ``out``."""
    found = {}
    for path in sorted(out.parent.glob(f"{out.name}*/self_guide.json")):
        results = json.loads(path.read_text())
        if results.get("comparison") and "recipe" in results:
            found[results.get("variant") or DEFAULT_RECIPE] = results
    order = list(RECIPES) + sorted(v for v in found if v not in RECIPES)
    found = {v: found[v] for v in order if v in found}
    tasks = list(dict.fromkeys(t for r in found.values() for t in r["comparison"]["tasks"]))
    lines = ["# SELF-GUIDE ablation ladder", "", "SELF-GUIDE tuned minus prompting per task, with its paired 95% "
             "interval (**bold**: excludes zero); each rung adds one change to the one above.", "",
             "| variant | " + " | ".join(t.split("_")[0] for t in tasks) + " | average |",
             "|---|" + "---:|" * (len(tasks) + 1)]
    for name, r in found.items():
        comp = r["comparison"]
        label = next(x for x in comp["labels"] if x.startswith("SELF-GUIDE"))

        def cell(entry):
            if entry is None or label not in entry["differences"]:
                return ""
            d = entry["differences"][label]
            text = f"{d['diff']:+.3f} [{d['low']:+.3f}, {d['high']:+.3f}]"
            return f"**{text}**" if d["excludes_zero"] else text

        lines.append(f"| {name} | " + " | ".join(cell(comp["tasks"].get(t)) for t in tasks)
                     + f" | {cell(comp.get('average'))} |")
    lines += ["", "Cost per variant (every task summed) and seconds of synthesis per kept pair:", "",
              "| variant | tasks | pairs kept | synthesis min | training min | scoring min | s / kept pair |",
              "|---|---:|---:|---:|---:|---:|---:|"]
    for name, r in found.items():
        rows = r["tasks"].values()
        total = {k: sum(cost_minutes(t)[k] for t in rows) for k in ("synthesis", "training", "scoring")}
        kept = sum(t["counts"]["kept"] for t in rows)
        lines.append(f"| {name} | {len(r['tasks'])} | {kept} | {total['synthesis']:.1f} | {total['training']:.1f} | "
                     f"{total['scoring']:.1f} | {60 * total['synthesis'] / max(kept, 1):.1f} |")
    cls = [t for t in tasks if any(r["tasks"].get(t, {}).get("kind") == "classification" for r in found.values())]
    if cls:
        lines += ["", "Labels of the kept pairs before balancing, per classification task and variant (the "
                  "annotation mode of each: generate for wave2 and train-as-scored, rank from the rank rung on):", "",
                  "| variant | " + " | ".join(t.split("_")[0] for t in cls) + " |", "|---|" + "---|" * len(cls)]
        for name, r in found.items():
            cells = [", ".join(f"{k} {v}" for k, v in r["tasks"][t]["counts"].get("labels_before_balancing", {}).items())
                     if t in r["tasks"] else "" for t in cls]
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines += ["", "What each change bought: the tuned model of a variant minus the one it changes (the rung "
              "above, or the headline for the other variants), per task on the scored instances both share, "
              "paired 95% interval (**bold**: excludes zero).", "",
              "| change | " + " | ".join(t.split("_")[0] for t in tasks) + " | average |",
              "|---|" + "---:|" * (len(tasks) + 1)]
    names = list(found)
    for i, name in enumerate(names):
        before = names[i - 1] if name in RECIPES else DEFAULT_RECIPE
        if name == before or before not in found or (name in RECIPES and i == 0):
            continue
        comp = tuned_difference(found[before], found[name])
        if comp is None:
            continue
        d = comp.average.differences if comp.average else {}
        by_task = {t.task: t.differences for t in comp.tasks}

        def delta(diffs):
            if not diffs:
                return ""
            x = diffs["after"]
            text = f"{x.mean:+.3f} [{x.low:+.3f}, {x.high:+.3f}]"
            return f"**{text}**" if x.excludes_zero else text

        lines.append(f"| {before} → {name} | " + " | ".join(delta(by_task.get(t)) for t in tasks)
                     + f" | {delta(d)} |")
    return "\n".join(lines) + "\n"


def tuned_difference(before: dict, after: dict):
    """The SELF-GUIDE tuned arm of ``after`` minus that of ``before`` on the tasks and scored rows both have."""
    from cookbook_datasets.eval.compare import compare_rows

    arms = {"before": {}, "after": {}}
    for name in before["tasks"]:
        if name not in after["tasks"]:
            continue
        a = (before["tasks"][name].get("row_scores") or {}).get("self_guide")
        b = (after["tasks"][name].get("row_scores") or {}).get("self_guide")
        shared = sorted(set(a or {}) & set(b or {}))
        if shared:
            arms["before"][name] = {i: a[i] for i in shared}
            arms["after"][name] = {i: b[i] for i in shared}
    if not arms["before"]:
        return None
    return compare_rows(arms, baseline="before")


# issue 33 item 3: the remedies for classification pairs that cannot teach, each a variant of the guard protocol
REMEDIES = {"rank annotation (the previous default)": "guard", "annotate by the target label": "annotation-target_guard",
            "rank, keep pairs that agree with the target": "agree_guard",
            "rank, batch-calibrated": "batch-calibrated_guard"}


def guarded_val_score(r: dict) -> float:
    """What the library's default (guard + label check) returns, scored on the validation rows that chose:
    the tuned model's mean where it is kept, the untuned model's elsewhere."""
    g = r["guard"]
    return g["tuned"] if r["kept_with_guard"] == "tuned" else g["untuned"]


def remedies(out: Path) -> tuple:
    """The remedies side by side on the classification tasks every variant finished (found next to ``out``):
    label counts before and after, the label check, the validation rows' figures, and the scored rows. The
    remedy is chosen on the validation rows alone (task average of what the default returns there); the
    scored rows, which chose nothing, then report it against the default. Returns (Markdown, JSON, paired)."""
    import numpy as np

    found = {}
    default = next(iter(REMEDIES))
    for label, tag in REMEDIES.items():
        arms_dir = out.parent / f"{out.name}_{tag}" / "arms"
        found[label] = {f.stem: json.loads(f.read_text())["result"] for f in sorted(arms_dir.glob("*.json"))}
    tasks = [t for t, r in found[default].items() if r["kind"] == "classification"]
    for f in found.values():
        for t in tasks:
            if t in f:
                add_guard_arms(t, f[t])
    # a remedy that has not finished every classification task is left out of the choice, and named
    missing = {label: [t for t in tasks if t not in f] for label, f in found.items() if label != default}
    # what an unfinished remedy could reach at most: its finished tasks as they are, a perfect 1.0 on the rest
    ceiling = {label: float(np.mean([guarded_val_score(found[label][t]) if t in found[label] else 1.0
                                     for t in tasks])) for label, ts in missing.items() if ts}
    found = {label: f for label, f in found.items() if label == default or not missing[label]}
    missing = {label: ts for label, ts in missing.items() if ts}
    if not tasks or len(found) < 2:
        return "# SELF-GUIDE remedies\n\nNo remedy has finished every classification task yet.\n", {}, None
    val = {label: float(np.mean([guarded_val_score(f[t]) for t in tasks])) for label, f in found.items()}
    best = max(val, key=lambda k: (val[k], k == default))  # a tie keeps the default
    # the choice stands only if no unfinished remedy could still beat it
    open_choice = [label for label, c in ceiling.items() if c >= val[best]]
    lines = ["# SELF-GUIDE: remedies for classification pairs that cannot teach", "",
             f"Tasks: {', '.join(tasks)} (the dev classification tasks; {len(found)} of {len(REMEDIES)} variants finished "
             "every one). The guard "
             "protocol (`--guard`): up to 100 real instances beside the 200 scored ones pick the epoch and guard it; "
             "the label check refuses pairs that never use a label or put more than 80% on one. The remedy is chosen "
             "on the validation rows alone (the task average of what the library's default returns there: the tuned "
             "model where the guard and the label check keep it, the untuned model elsewhere); the scored rows chose "
             "nothing.", "",
             "| remedy | task | labels before balancing | kept after balancing | dropped (disagree) | label check | "
             "untuned (val) | tuned (val) | default keeps | tuned − prompting (scored) | default − prompting (scored) |",
             "|---|---|---|---|---:|---|---:|---:|---|---:|---:|"]
    paired_arms = {}
    for label, f in found.items():
        for t in tasks:
            r, g = f[t], f[t]["guard"]
            c = r["counts"]
            before = ", ".join(f"{k} {v}" for k, v in c.get("labels_before_balancing", {}).items())
            kept = ", ".join(f"{k} {v}" for k, v in c.get("labels_kept", {}).items())
            check = r.get("labels") or {}
            verdict = "ok" if check.get("teachable", True) else "refuses"
            s = r["scores"]
            chosen = s["self_guide"]["score"] if r["kept_with_guard"] == "tuned" else s["prompting"]["score"]
            lines.append(f"| {label} | {t} | {before} | {kept} | {c['annotation'].get('dropped_disagreeing', 0)} | "
                         f"{verdict} | {g.get('untuned', float('nan')):.3f} | {g.get('tuned', float('nan')):.3f} | "
                         f"{r['kept_with_guard']} | {s['self_guide']['score'] - s['prompting']['score']:+.3f} | "
                         f"{chosen - s['prompting']['score']:+.3f} |")
        paired_arms[label] = {t: f[t]["row_scores"]["guarded"] for t in tasks}
        paired_arms.setdefault("2-shot prompting", {t: f[t]["row_scores"]["prompting"] for t in tasks})
    lines += ["", "## The choice (validation rows only)", "", "| remedy | default's result on the validation rows, "
              "task average |", "|---|---:|"]
    lines += [f"| {label}{' **(chosen)**' if label == best else ''} | {v:.3f} |" for label, v in val.items()]
    lines += [f"| {label} | not run on every task yet (missing: {', '.join(ts)}); at most {ceiling[label]:.3f} with a "
              f"perfect score on those: {'could still be chosen' if label in open_choice else 'cannot be chosen'} |"
              for label, ts in missing.items()]
    if open_choice:
        lines += ["", f"**The choice is open**: {', '.join(open_choice)} could still beat it once finished."]
    paired = paired_table({"2-shot prompting": paired_arms.pop("2-shot prompting"), **paired_arms},
                          baseline="2-shot prompting")
    versus = paired_table({default: paired_arms[default], **({best: paired_arms[best]} if best != default else {})},
                          baseline=default) if best != default else None
    lines += ["", interval_section(paired, "Scored rows: the default's result with each remedy vs 2-shot prompting",
                                   "The library's default (guard + label check) per remedy; the same scored rows.")]
    if versus is not None:
        lines += [interval_section(versus, f"Scored rows: the chosen remedy vs the default ({default})")]
    # the runners-up against the choice: did choosing on validation rows leave a better remedy behind?
    others = [label for label in found if label not in (default, best)]
    runners = paired_table({best: paired_arms[best], **{label: paired_arms[label] for label in others}},
                           baseline=best) if others else None
    if runners is not None:
        lines += [interval_section(runners, "Scored rows: the other remedies vs the chosen one")]
    # every dev task under the guard protocol: classification with the chosen remedy, the rest as they were
    every = found[default]
    for t, r in every.items():
        if "guarded" not in r.get("row_scores", {}):
            add_guard_arms(t, r)
    overall = paired_table({"2-shot prompting": {t: r["row_scores"]["prompting"] for t, r in every.items()},
                            f"default ({default})": {t: r["row_scores"]["guarded"] for t, r in every.items()},
                            f"with {best}": {t: (found[best][t] if t in tasks else r)["row_scores"]["guarded"]
                                             for t, r in every.items()}}, baseline="2-shot prompting")
    lines += [interval_section(overall, f"Scored rows: all {len(every)} dev tasks with the guard and the label check, "
                                        "classification with the chosen remedy",
                               "Generation tasks are the same in both arms (no annotation to remedy).")]
    data = {"tasks": tasks, "variants": REMEDIES, "validation_average": val, "chosen": best, "not_run": missing,
            "not_run_ceiling": ceiling, "choice_open_to": open_choice,
            "comparison": paired.to_dict() if paired else None,
            "chosen_vs_default": versus.to_dict() if versus else None,
            "others_vs_chosen": runners.to_dict() if runners else None,
            "every_task": overall.to_dict() if overall else None,
            "per_task": {label: {t: {"labels_before_balancing": f[t]["counts"].get("labels_before_balancing"),
                                     "labels_kept": f[t]["counts"].get("labels_kept"),
                                     "dropped_disagreeing": f[t]["counts"]["annotation"].get("dropped_disagreeing", 0),
                                     "label_check": f[t].get("labels"), "guard": f[t]["guard"],
                                     "kept_with_guard": f[t]["kept_with_guard"],
                                     "scores": f[t]["scores"]} for t in tasks} for label, f in found.items()}}
    return "\n".join(lines) + "\n", data, paired


def main() -> None:
    p = experiment_parser(__doc__, "self_guide")
    p.add_argument("--tasks", nargs="+", default=list(TASKS))
    p.add_argument("--recipe", choices=list(RECIPES), default=DEFAULT_RECIPE,
                   help="a rung of the ablation ladder (default: the headline recipe)")
    p.add_argument("--annotation", choices=["auto", "generate", "rank", "target"], default=None,
                   help="classification annotation (default: the recipe's; auto: rank for classification)")
    p.add_argument("--finetune", choices=["lora", "full"], default="lora",
                   help="LoRA, or the reference's full fine-tuning (lr 5e-5)")
    p.add_argument("--val-instances", type=int, default=None, metavar="N",
                   help="pick the epoch on N labelled real instances disjoint from the scored ones (the paper); "
                        "default: on the synthetic validation split")
    p.add_argument("--num-examples", type=int, default=48, help="pairs to keep per task")
    p.add_argument("--max-rounds", type=int, default=40, help="most rounds of 10 input prompts per task")
    p.add_argument("--epochs", type=float, default=3.0)
    p.add_argument("--eval-limit", type=int, default=200, help="real instances scored per task")
    p.add_argument("--in-context", type=int, default=6, help="synthetic pairs given in context (ablation)")
    p.add_argument("--calibrate-labels", nargs="?", const="content-free", choices=["content-free", "batch"],
                   default=None, help="label calibration of the annotation votes (not in the paper; alone: "
                                      "content-free)")
    p.add_argument("--agree-with-target", action="store_true",
                   help="keep a classification pair only when its label is its input's target label")
    p.add_argument("--guard", action="store_true",
                   help="the library's defaults: real instances beside the scored ones pick the epoch and guard "
                        "it; adds the guarded result as an arm (see self_guide_config)")
    p.add_argument("--ladder", action="store_true",
                   help="only write <out>/self_guide_ladder.md from the variants found next to --out (runs nothing)")
    p.add_argument("--remedies", action="store_true",
                   help="only write <out>_remedies/ from the remedy variants' results next to --out (runs nothing)")
    p.add_argument("--smoke", action="store_true",
                   help="tiny random model, the first task, a handful of rows, under a temporary directory")
    args = p.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if args.remedies:
        table, data, paired = remedies(Path(args.out))
        write_report(f"{args.out.rstrip('/')}_remedies", "remedies", data, table,
                     {"remedies.png": plot_intervals(paired, "SELF-GUIDE remedies: the default's result vs prompting")})
        print(table)
        return
    if args.ladder:
        table = ladder(Path(args.out))
        Path(args.out).mkdir(parents=True, exist_ok=True)
        (Path(args.out) / "self_guide_ladder.md").write_text(table)
        print(table)
        return
    if args.smoke:
        root = Path(tempfile.gettempdir()) / "self_guide_smoke"  # kept: a second smoke variant shares its pairs
        args.model, args.tasks = "tiny-random", args.tasks[:1]
        args.out, args.work = str(root / "out"), str(root / "work")
        args.num_examples, args.max_rounds, args.epochs, args.eval_limit, args.in_context = 6, 4, 2.0, 4, 2
        args.dtype = "float32"
        args.val_instances = 3 if args.val_instances is not None else None
    tag = variant(args)
    if tag:
        args.out = f"{args.out.rstrip('/')}_{tag}"
    args.work = str(Path(args.work) / (tag or DEFAULT_RECIPE))  # variants side by side: they share synthesis
    if args.val_instances is not None and args.val_instances < 1:
        p.error(f"--val-instances must be a positive count (got {args.val_instances})")
    recipe = resolved_recipe(args)
    out = Path(args.out)
    common = settings(args, exclude=("tasks", "out", "work", "ladder"))
    arms = Arms(out / "arms")
    results = {"settings": common, "variant": tag, "recipe": recipe, "guard": args.guard, "tasks": {}}
    for name in args.tasks:
        results["tasks"][name] = arms.run(name, {**common, "recipe": recipe, "task": name},
                                          lambda: run_and_record(name, args, recipe))
        if args.guard:  # cheap: from the run's records and the task file
            add_guard_arms(name, results["tasks"][name])
        paired = comparison(results)
        results["comparison"] = paired.to_dict() if paired else None
        table = (summarise_guard(results) + "\n" + probe_vs_gains(results) if args.guard
                 else summarise(results)) + "\n" + interval_section(
            paired, f"Paired differences vs {NUM_SHOTS}-shot prompting (same instances)",
            "Main metric per instance (exact match of the last label mentioned / ROUGE-L).")
        write_report(out, "self_guide", results, table, {
            "self_guide.png": lambda path: plot(results, path),
            "self_guide_intervals.png": plot_intervals(paired, "SELF-GUIDE arms vs 2-shot prompting")})
        print(table, flush=True)
    if args.smoke:
        print(f"smoke run written under {Path(args.out).parent}")


if __name__ == "__main__":
    main()
