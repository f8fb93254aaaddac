"""Does the model's own K-center choice beat random rows, and can 10% of a pool match all of it?

A pool with kinds of very different lengths, as real pools have: per NIV2 dev task
(../shared/data/niv2/dev), a seeded split of its instances gives ``--pool-per-task`` pool rows,
``--eval-per-task`` scored instances and ``--val-per-task`` validation instances (never in the
pool); plus ``--template-pool-rows`` rows of each of ``--templates`` (their train split), scored on
``--template-eval`` rows of their test split and validated on ``--template-val`` rows of their
validation split, any row whose prompt is also in the pool dropped. Every pool row carries its kind
in ``source`` (the task or template name). Pool rows: prompt = the task's definition as the system
message + the instance input (a template row's own prompt); completion = the first reference.

Arms, each the project's DiverseEvol loop with the same round-0 rows, training recipe and scoring:
- ``kcenter``: greedy K-center in the previous round's model's embedding space, raw distances
  (the paper); ``kcenter_cosine`` (L2-normalised) and ``kcenter_whiten`` (the reference code's
  whitening) in the other spaces of the reference code;
- ``kcenter_balanced``: picks per source in proportion to its share of the pool, farthest-first
  within each (beyond the paper);
- ``random``, ``least_confidence``; ``full``: one training run on the whole pool, same recipe.

Which K-center arm is the headline is decided on the validation instances only: the K-center arm
with the best mean validation score over rounds 1..R (both seeds) is "the best K-center arm"; the
scored instances choose nothing. Reported, seeds pooled (a row is (seed, instance), paired within
its seed): the mean main metric per round (exact match / ROUGE-L), each arm minus random at every
round with a paired-bootstrap 95% interval over the task average, the last round vs the full pool,
the picks per kind of row, the covering radius in the base model's space, each arm's cost, and
every arm's last round (and the full pool) against the constant answer on the classification tasks
(each task's most frequent label in the pool, on every scored instance: what the label prior alone scores).

The recipe is the same on every machine: training precision is pinned (``--precision``, bf16 by
default; the library's "auto" trains in fp32 on CPUs without native bf16), and each arm records the
machine it finished on, beside its cost (emulated bf16 runs several times slower). Numerics still
differ a little between CPUs: round 0, same rows and recipe, scored 0.2775 on a CPU with native
bf16 and 0.2748 on one without (the same score on 854 of 900 scored rows).

Resumable: an arm finished with the same settings is kept (``<out>/seed_<s>/arms/<arm>.json``,
so a fresh checkout does not redo it); the others resume at their round (the loop's state.json),
training from its checkpoints, scoring from its results file. ``--save-progress`` copies every
unfinished arm's state and scored rounds (not its models) to ``<out>/seed_<s>/progress/<arm>/``
to be committed; a run on a fresh checkout resumes from there, training again only the round
model the next selection still needs (on another CPU its numerics differ slightly). Heavy steps hold
/tmp/cookbook_cpu.lock so runs sharing the machine do not distort each other's timings.
``--smoke``: the tiny random model on a few tasks and rows under /tmp (checks the script only).

    python experiments/diverse_evol.py --out experiments/results/diverse_evol
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shutil
from collections import Counter
from pathlib import Path
from typing import Optional

import numpy as np
from common import SHARED as DATA
from common import Arms, constant_answer, eval_rows, experiment_parser, interval_section, paired_table, \
    machine, machine_label, plot_intervals, pool, settings, write_report

from cookbook_datasets.cpu import cpu_lock

SHARED = DATA / "niv2" / "dev"
ARMS = {  # arm -> DiverseEvolConfig strategy fields (None: the full pool)
    "random": {"strategy": "random"},
    "kcenter": {"strategy": "kcenter", "space": "raw"},
    "kcenter_cosine": {"strategy": "kcenter", "space": "cosine"},
    "kcenter_whiten": {"strategy": "kcenter", "space": "whiten"},
    "kcenter_balanced": {"strategy": "kcenter_balanced", "space": "raw"},
    "least_confidence": {"strategy": "least_confidence"},
    "full": None,
}
KCENTER_ARMS = [a for a, spec in ARMS.items() if spec and spec["strategy"].startswith("kcenter")]
TEMPLATES = ("sort_words", "entity_matching", "document_qa")  # short, middle and long prompts
LOCK = cpu_lock  # a smoke run measures nothing: it does not wait for the lock
VAL = "@val"  # suffix of a validation task's name in the eval files
PROGRESS = "progress"  # <out>/seed_<s>/progress/<arm>: an unfinished arm's state and scores (--save-progress)
SMOKE = {"model": "tiny-random", "tasks": 3, "pool_per_task": 8, "eval_per_task": 3, "val_per_task": 2,
         "templates": ("count_word", "sort_words"), "template_pool_rows": 8, "template_eval": 3, "template_val": 2,
         "k0": 4, "per_round": 4, "rounds": 2, "epochs": 1.0, "max_length": 128}


def user_text(prompt) -> str:
    return "\n".join(m["content"] for m in prompt if m["role"] == "user")


def build_data(args, seed: int, work: Path) -> tuple[Path, list, list, dict]:
    """The pool (Hub layout, written once), the scored and validation tasks (rebuilt: a seeded split),
    and each NIV2 task's pool instances as a Task (what the constant answer learns from)."""
    import datasets

    from cookbook_datasets import load_dataset
    from cookbook_datasets.hub_layout import write_hub_layout
    from cookbook_datasets.tasks import load_task
    from cookbook_datasets.tasks.template import template_task

    files = sorted(p for p in SHARED.glob("*.json") if p.stem not in args.skip_tasks)[:args.max_tasks]
    rows, scored, val, learn = [], [], [], {}
    for path in files:
        task = load_task(path)
        parts = task.split(seed=seed, pool=args.pool_per_task, score=args.eval_per_task, val=args.val_per_task)
        for inst in parts["pool"].instances:
            rows.append({"prompt": [{"role": "system", "content": task.instruction or ""},
                                    {"role": "user", "content": inst.input}],
                         "completion": [{"role": "assistant", "content": inst.answer}],
                         "source": task.name, "meta": json.dumps({"task": task.name, "id": inst.id})})
        scored.append(parts["score"])
        learn[task.name] = parts["pool"]
        val.append(dataclasses.replace(parts["val"], name=task.name + VAL))
    for name in args.templates:
        train = load_dataset("cookbook", name, num_examples=args.template_pool_rows, num_eval_examples=1, seed=seed,
                             split="train")
        in_pool = {user_text(p) for p in train["prompt"]}
        rows += [{"prompt": r["prompt"], "completion": r["completion"], "source": name, "meta": r["meta"]}
                 for r in train]
        for split, n, into, suffix in (("test", args.template_eval, scored, ""),
                                       ("validation", args.template_val, val, VAL)):
            t = template_task(name, num_examples=n, seed=seed, split=split)
            keep = [i for i in t.instances if i.input not in in_pool]  # a row the pool holds would be seen
            into.append(dataclasses.replace(t, name=name + suffix, instances=keep))
    pool_dir = work / "pool"
    if not pool_dir.exists():
        write_hub_layout({"default": datasets.DatasetDict({"train": datasets.Dataset.from_list(rows)})}, pool_dir,
                         {"pool": {"tasks": [p.stem for p in files], "per_task": args.pool_per_task, "seed": seed,
                                   "templates": list(args.templates), "per_template": args.template_pool_rows}},
                         pretty_name="NIV2 dev + template pool",
                         description="NIV2 dev instances and Cookbook template rows as prompt/completion rows.")
    return pool_dir, scored, val, learn


def constants(scored: list, learn: dict) -> dict:
    """task -> {"answer", "rows"}: the pool's most frequent label given on every scored instance (the
    classification tasks; an arm with no model, learning only what every arm's pool holds)."""
    out = {}
    for task in scored:
        c = constant_answer(learn[task.name], task) if task.name in learn else None
        if c is not None:
            out[task.name] = {"answer": c[0], "rows": c[1]}
    return out


def train_fields(args) -> dict:
    # precision is pinned: "auto" trains in bf16 on CPUs with native bf16 and fp32 elsewhere, so
    # arms finished on different machines would not have the same recipe
    return {"num_train_epochs": args.epochs, "learning_rate": args.lr, "per_device_train_batch_size": 8,
            "max_length": args.max_length, "precision": args.precision}


def split_rows(rows: dict) -> tuple[dict, dict]:
    """An eval file's per-row scores as (scored tasks, validation tasks)."""
    return ({t: r for t, r in rows.items() if not t.endswith(VAL)},
            {t[:-len(VAL)]: r for t, r in rows.items() if t.endswith(VAL)})


def task_mean(rows: dict) -> float:
    return float(np.mean([np.mean(list(r.values())) for r in rows.values()]))


def progress_files(arm_dir: Path) -> list[Path]:
    """What an unfinished arm needs to resume on another checkout: its state and every scored
    round's results (the models are trained again where they are still needed: too large to keep)."""
    from cookbook_datasets.eval.compare import rows_path

    if not (arm_dir / "state.json").exists():
        return []
    state = json.loads((arm_dir / "state.json").read_text())
    files = [arm_dir / "state.json"]
    for rec in state.get("rounds", []):
        # a round still being scored is not kept: its results file holds the tasks done so far,
        # and the rest would be scored by a model trained again elsewhere
        result = arm_dir / "rounds" / f"round_{rec['round']}" / "eval.json"
        if "scores" in rec and result.exists():
            files += [result] + ([rows_path(result)] if rows_path(result).exists() else [])
    return files


def save_progress(arm_dir: Path, kept: Path) -> int:
    """Copy ``progress_files`` of ``arm_dir`` into ``kept`` (replacing what was there); their count."""
    files = progress_files(arm_dir)
    if files:
        shutil.rmtree(kept, ignore_errors=True)
    for f in files:
        target = kept / f.relative_to(arm_dir)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(f, target)
    return len(files)


def restore_progress(kept: Path, arm_dir: Path, recipe: dict) -> bool:
    """Put kept progress back where the loop resumes from it: only into an arm that has not
    started here, and only if it was made with this recipe."""
    if (arm_dir / "state.json").exists() or not (kept / "state.json").exists():
        return False
    if json.loads((kept / "state.json").read_text()).get("recipe") != recipe:
        print(f"{kept}: kept progress of another recipe, not used", flush=True)
        return False
    shutil.copytree(kept, arm_dir, dirs_exist_ok=True)
    return True


def run_arm(arm: str, args, seed: int, work: Path, pool_dir: Path, tasks: list) -> dict:
    import datasets

    from cookbook_datasets.trainers import DiverseEvolConfig, run_diverse_evol

    config = DiverseEvolConfig(
        pool=str(pool_dir), output_dir=str(work / arm), **ARMS[arm], k0=args.k0, per_round=args.per_round,
        rounds=args.rounds, model=args.model, train=train_fields(args), eval_tasks=tasks, eval_num_shots=0,
        seed=seed, max_length=args.max_length, dtype=args.dtype, embed_batch_size=16)
    if restore_progress(Path(args.out) / f"seed_{seed}" / PROGRESS / arm, work / arm, config.recipe()):
        print(f"seed {seed} {arm}: resuming from the kept progress", flush=True)
    share_round_0(config, work)
    with LOCK():
        report = run_diverse_evol(config)
    state = json.loads((work / arm / "state.json").read_text())
    sources = datasets.load_dataset(str(pool_dir), split="train")["source"]
    picked, rounds = [], []
    for r, rec in enumerate(report["rounds"]):
        picked += state["rounds"][r]["new_indices"]
        scored, val = split_rows(eval_rows(work / arm / "rounds" / f"round_{r}" / "eval.json"))
        rounds.append({**{k: rec.get(k) for k in ("size", "select_seconds", "embed_seconds", "train_seconds",
                                                  "eval_seconds", "covering_radius", "vendi_score", "distance")},
                       "score": task_mean(scored), "val_score": task_mean(val), "rows": scored,
                       "picks": dict(Counter(sources[i] for i in picked))})
    return {"rounds": rounds, "machine": machine()}


def share_round_0(config, work: Path) -> None:
    """Round 0 (the same seeded random rows, trained and scored the same way) is identical in every
    arm: copy a finished one instead of training and scoring it again."""
    out = Path(config.output_dir)
    if (out / "state.json").exists():
        return
    for other in ARMS:
        state_path = work / other / "state.json"
        if other == Path(config.output_dir).name or not state_path.exists():
            continue
        state = json.loads(state_path.read_text())
        first = state["rounds"][0] if state["rounds"] else {}
        if "scores" not in first or "train_seconds" not in first:
            continue
        strategy = {k: state["recipe"].get(k) for k in ("strategy", "space")}
        mine = {k: config.recipe().get(k) for k in ("strategy", "space")}
        if {**state["recipe"], **mine} != {**config.recipe(), **strategy, **mine}:
            continue
        shutil.copytree(work / other / "rounds" / "round_0", out / "rounds" / "round_0")
        first = {k: v for k, v in first.items() if k not in ("covering_radius", "vendi_score")}
        state["recipe"], state["rounds"] = config.recipe(), [first]
        (out / "state.json").write_text(json.dumps(state, indent=2))
        return


def run_full(args, seed: int, work: Path, pool_dir: Path, tasks: list) -> dict:
    """One training run on the whole pool, same recipe, same scoring."""
    import time

    from cookbook_datasets.eval.harness import EvalConfig, evaluate_model
    from cookbook_datasets.trainers import TrainConfig, train

    out = work / "full"
    card_path = out / "model" / "run_card.json"
    with LOCK():
        if not card_path.exists():
            train(TrainConfig(model=args.model, datasets=[{"path": str(pool_dir)}], output_dir=str(out / "model"),
                              eval_split=None, seed=seed, **train_fields(args)))
        card = json.loads(card_path.read_text())
        start = time.time()
        evaluate_model(EvalConfig(model=args.model, adapter=str(out / "model"), tasks=tasks, num_shots=0, seed=seed,
                                  dtype=args.dtype), out=out / "eval.json")
    scored, val = split_rows(eval_rows(out / "eval.json"))
    return {"size": card["train_rows"], "train_seconds": card["train_seconds"],
            "eval_seconds": round(time.time() - start, 1), "score": task_mean(scored), "val_score": task_mean(val),
            "rows": scored, "machine": machine()}


def pooled(per_seed: dict, arm: str, r=None) -> dict:
    """An arm's scored rows over every seed (round ``r``; the full pool has one), ids made (seed, id)."""
    rows: dict = {}
    for seed, results in per_seed.items():
        if arm not in results:
            return {}
        res = results[arm]
        src = res["rows"] if r is None else (res["rounds"][r]["rows"] if r < len(res["rounds"]) else {})
        for task, scores in src.items():
            rows.setdefault(task, {}).update({f"{seed}:{i}": s for i, s in scores.items()})
    return rows


def best_kcenter(per_seed: dict, args) -> tuple:
    """The K-center arm with the best mean validation score over rounds 1..R, every seed: (arm, scores)."""
    val = {}
    for arm in KCENTER_ARMS:
        scores = [rec["val_score"] for results in per_seed.values() if arm in results
                  for rec in results[arm]["rounds"][1:]]
        if scores and all(arm in results for results in per_seed.values()):
            val[arm] = float(np.mean(scores))
    return (max(val, key=val.get) if val else None), val


def summarise(per_seed: dict, args, pools: dict, consts: Optional[dict] = None) -> tuple[str, dict]:
    arms = [a for a in args.arms if a != "full" and all(a in res for res in per_seed.values())]
    seeds = list(per_seed)
    rounds = args.rounds + 1
    pool_size = next(iter(pools.values()))["size"] if pools else 0
    sizes = [args.k0 + r * args.per_round for r in range(rounds)]
    data: dict = {"arms": arms, "seeds": seeds}
    comp0 = next(iter(pools.values()), {})
    lines = ["# DiverseEvol on a pool of NIV2 dev tasks and template rows\n",
             f"Pool: {pool_size} rows per seed ({args.pool_per_task} per NIV2 task, {args.template_pool_rows} per "
             f"template: {', '.join(args.templates)}); mean prompt length per kind from "
             f"{min(comp0.get('lengths', {0: 0}).values()):.0f} to {max(comp0.get('lengths', {0: 0}).values()):.0f} "
             f"characters. Scored on {args.eval_per_task} instances per NIV2 task and {args.template_eval} test rows "
             f"per template (validation: {args.val_per_task} / {args.template_val}, never in the pool), 0-shot; "
             f"model `{args.model}`, LoRA, {args.epochs:g} epochs per round, lr {args.lr:g}; seeds "
             f"{', '.join(map(str, seeds))}.\n",
             "Mean main metric over scored tasks (exact match / ROUGE-L), mean over seeds:\n",
             "| rows | % of pool | " + " | ".join(arms) + " |", "|---:|---:|" + "---:|" * len(arms)]
    for r in range(rounds):
        cells = []
        for a in arms:
            vals = [res[a]["rounds"][r]["score"] for res in per_seed.values() if r < len(res[a]["rounds"])]
            cells.append(f"{np.mean(vals):.4f}" if len(vals) == len(seeds) else "")
        lines.append(f"| {sizes[r]} | {100 * sizes[r] / max(pool_size, 1):.1f} | " + " | ".join(cells) + " |")
    full_done = all("full" in res for res in per_seed.values()) and "full" in args.arms
    if full_done:
        full_score = float(np.mean([res["full"]["score"] for res in per_seed.values()]))
        lines.append(f"| {pool_size} | 100.0 | full pool: {full_score:.4f} |" + " |" * (len(arms) - 1))
    best, val = best_kcenter(per_seed, args)
    data["validation"] = {"scores": val, "best_kcenter": best}
    if val:
        lines += ["", "Choice of the headline K-center arm, on the validation instances only (mean validation "
                  "score over rounds 1.." + str(args.rounds) + ", every seed): "
                  + ", ".join(f"{a} {v:.4f}" for a, v in val.items()) + f" → **{best}**."]
    # every arm minus random at every round, seeds pooled
    if "random" in arms:
        others = [a for a in arms if a != "random"]
        lines += ["", "Each arm minus random at each round: task-average difference with its paired-bootstrap "
                  "95% interval (rows resampled within task and seed); **bold**: the interval excludes zero.", "",
                  "| rows | " + " | ".join(others) + " |", "|---:|" + "---:|" * len(others)]
        data["vs_random"] = {}
        for r in range(1, rounds):
            comp = paired_table({a: pooled(per_seed, a, r) for a in ["random"] + others}, baseline="random")
            cells = []
            for a in others:
                d = comp.average.differences.get(a) if comp and comp.average else None
                if d is None:
                    cells.append("")
                    continue
                data["vs_random"].setdefault(a, []).append({"round": r, **d.to_dict()})
                text = f"{d.mean:+.4f} [{d.low:+.4f}, {d.high:+.4f}]"
                cells.append(f"**{text}**" if d.excludes_zero else text)
            lines.append(f"| {sizes[r]} | " + " | ".join(cells) + " |")
        if best in data["vs_random"]:
            above = sum(1 for d in data["vs_random"][best] if d["low"] > 0)
            higher = sum(1 for d in data["vs_random"][best] if d["diff"] > 0)
            lines += ["", f"Best K-center arm ({best}) vs random: above in {higher} of {rounds - 1} rounds, "
                      f"significantly above in {above}."]
    lines += constant_lines(per_seed, consts or {}, arms, full_done, args, data)
    if full_done and best:
        last = args.rounds
        comp = paired_table({"full": pooled(per_seed, "full"), best: pooled(per_seed, best, last)}, baseline="full")
        if comp and comp.average:
            d = comp.average.differences[best]
            se_full = comp.average.arms[0].stderr
            data["vs_full"] = {**d.to_dict(), "full_stderr": se_full, "within_one_se": d.mean >= -se_full}
            lines += ["", f"{best} at {sizes[last]} rows ({100 * sizes[last] / pool_size:.1f}% of the pool) minus the "
                      f"full pool: {d.mean:+.4f} [{d.low:+.4f}, {d.high:+.4f}]; the full pool's standard error is "
                      f"{se_full:.4f}, so the subset is {'within one standard error of it or above' if d.mean >= -se_full else 'more than one standard error below it'}."]
    # the kinds of rows each arm picked (the last round, first seed)
    first = per_seed[seeds[0]]
    kinds = sorted({k for a in arms for k in first[a]["rounds"][-1]["picks"]} | set(comp0.get("sources", {})))
    lines += ["", f"Picks per kind of row after the last round (seed {seeds[0]}; pool: the rows of that kind in the pool):", "",
              "| kind | pool | " + " | ".join(arms) + " |", "|---|---:|" + "---:|" * len(arms)]
    for k in kinds:
        lines.append(f"| {k} | {comp0.get('sources', {}).get(k, 0)} | "
                     + " | ".join(str(first[a]["rounds"][-1]["picks"].get(k, 0)) for a in arms) + " |")
    lines += ["", "Covering radius of the subset in the base model's space (lower covers better; seed "
              f"{seeds[0]}) and the distance each arm measured in:", "",
              "| rows | " + " | ".join(arms) + " |", "|---:|" + "---:|" * len(arms)]
    for r in range(rounds):
        lines.append(f"| {sizes[r]} | " + " | ".join(
            f"{first[a]['rounds'][r]['covering_radius']:.3f}" if first[a]["rounds"][r].get("covering_radius") else ""
            for a in arms) + " |")
    lines.append("| distance | " + " | ".join(str(first[a]["rounds"][-1].get("distance") or "") for a in arms) + " |")
    lines += ["", "Cost per arm (minutes, every round, mean over seeds; embedding is part of selection; the "
              "machine the arm finished on, per seed: bf16 runs several times slower where it is emulated):", "",
              "| arm | select | of which embedding | train | score | machine |", "|---|---:|---:|---:|---:|---|"]
    cost = {}
    for a in arms + (["full"] if full_done else []):
        if a == "full":
            parts = {"select_seconds": 0, "embed_seconds": 0,
                     "train_seconds": np.mean([res["full"]["train_seconds"] for res in per_seed.values()]),
                     "eval_seconds": np.mean([res["full"]["eval_seconds"] for res in per_seed.values()])}
        else:
            parts = {k: np.mean([sum(rec.get(k) or 0 for rec in res[a]["rounds"]) for res in per_seed.values()])
                     for k in ("select_seconds", "embed_seconds", "train_seconds", "eval_seconds")}
        cost[a] = {k: round(float(v) / 60, 2) for k, v in parts.items()}
        c = cost[a]
        where = "; ".join(dict.fromkeys(machine_label(res[a].get("machine")) for res in per_seed.values()))
        lines.append(f"| {a} | {c['select_seconds']} | {c['embed_seconds']} | {c['train_seconds']} | "
                     f"{c['eval_seconds']} | {where} |")
    data["cost_minutes"] = cost
    lines += ["", "![scores per round](diverse_evol.png)"]
    return "\n".join(lines) + "\n", data


def constant_lines(per_seed: dict, consts: dict, arms: list, full_done: bool, args, data: dict) -> list:
    """Every arm at the last round (and the full pool) minus the constant answer, seeds pooled, on the
    classification tasks: a subset that only matches it learned the label prior, not the task."""
    if not consts or not all(s in consts for s in per_seed) or not arms:
        return []
    const = pool({seed: {task: c["rows"] for task, c in consts[seed].items()} for seed in per_seed})

    def classification(rows: dict) -> dict:
        return {t: r for t, r in rows.items() if t in const}

    table = {"constant": const, **{a: classification(pooled(per_seed, a, args.rounds)) for a in arms}}
    if full_done:
        table["full"] = classification(pooled(per_seed, "full"))
    comp = paired_table(table, baseline="constant")
    line = None if comp is None else (comp.average or (comp.tasks[0] if len(comp.tasks) == 1 else None))
    if line is None:  # the task average of one task is that task's line
        return []
    diffs = {a: d.to_dict() for a, d in line.differences.items()}
    data["vs_constant"] = {"tasks": list(const), "score": line.arms[0].score, "differences": diffs}
    cells = "; ".join(f"{a} {d['diff']:+.4f} [{d['low']:+.4f}, {d['high']:+.4f}]" for a, d in diffs.items())
    return ["", f"Against the constant answer (each classification task's most frequent label in the pool, given "
            f"on every scored instance: an arm with no model; {len(const)} tasks, score {line.arms[0].score:.4f}), "
            f"each arm at the last round (full: the whole pool) minus it, 95% paired interval: {cells}."]


def plot(per_seed: dict, data: dict, args, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    sizes = [args.k0 + r * args.per_round for r in range(args.rounds + 1)]
    for arm in data["arms"]:
        scores = [np.mean([res[arm]["rounds"][r]["score"] for res in per_seed.values()])
                  for r in range(len(next(iter(per_seed.values()))[arm]["rounds"]))]
        axes[0].plot(sizes[:len(scores)], scores, marker="o", label=arm)
    if all("full" in res for res in per_seed.values()):
        axes[0].axhline(np.mean([res["full"]["score"] for res in per_seed.values()]), color="grey", linestyle="--",
                        label="full pool")
    for arm, diffs in data.get("vs_random", {}).items():
        x = [sizes[d["round"]] for d in diffs]
        y = np.array([d["diff"] for d in diffs])
        err = [y - np.array([d["low"] for d in diffs]), np.array([d["high"] for d in diffs]) - y]
        axes[1].errorbar(x, y, yerr=err, marker="o", capsize=3, label=arm)
    axes[1].axhline(0, color="grey", linewidth=0.8)
    axes[0].set(xlabel="training rows", ylabel="mean score over scored tasks", title="held-out score per round")
    axes[1].set(xlabel="training rows", ylabel="arm − random (95% CI)", title="paired difference vs random")
    axes[0].legend(fontsize=7)
    axes[1].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def pool_summary(pool_dir: Path) -> dict:
    import datasets

    pool = datasets.load_dataset(str(pool_dir), split="train")
    lengths: dict = {}
    for source, prompt in zip(pool["source"], pool["prompt"]):
        lengths.setdefault(source, []).append(sum(len(m["content"]) for m in prompt))
    return {"size": len(pool), "sources": {k: len(v) for k, v in lengths.items()},
            "lengths": {k: float(np.mean(v)) for k, v in lengths.items()}}


def main() -> None:
    p = experiment_parser(__doc__, "diverse_evol")
    p.add_argument("--arms", nargs="+", default=list(ARMS), choices=list(ARMS))
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1])
    p.add_argument("--pool-per-task", type=int, default=100)
    p.add_argument("--eval-per-task", type=int, default=40)
    p.add_argument("--val-per-task", type=int, default=10)
    p.add_argument("--templates", nargs="+", default=list(TEMPLATES))
    p.add_argument("--template-pool-rows", type=int, default=200)
    p.add_argument("--template-eval", type=int, default=100)
    p.add_argument("--template-val", type=int, default=20)
    p.add_argument("--skip-tasks", nargs="*", default=["task121_zest_text_modification"],
                   help="tasks left out (task121 has 127 instances and a 1,400-character definition)")
    p.add_argument("--max-tasks", type=int, default=None, help="at most this many NIV2 tasks")
    p.add_argument("--k0", type=int, default=30)
    p.add_argument("--per-round", type=int, default=30)
    p.add_argument("--rounds", type=int, default=4)
    p.add_argument("--epochs", type=float, default=2.0)
    p.add_argument("--lr", type=float, default=2e-4)
    p.add_argument("--max-length", type=int, default=384)
    p.add_argument("--precision", default="bf16", choices=["bf16", "fp32"],
                   help="training precision, the same on every machine (bf16 is emulated, and slower, on CPUs "
                        "without AVX512-BF16 or AMX)")
    p.add_argument("--smoke", action="store_true", help="tiny random model, a few rows, under /tmp")
    p.add_argument("--save-progress", action="store_true",
                   help="copy every unfinished arm's state and scores under --out (to commit) and exit; a "
                        "later run on another checkout resumes from them")
    args = p.parse_args()
    if args.smoke:
        args.out, args.work, args.seeds = "/tmp/diverse_evol_smoke/out", "/tmp/diverse_evol_smoke/work", args.seeds[:1]
        for k, v in SMOKE.items():
            setattr(args, "max_tasks" if k == "tasks" else k, v)
        global LOCK
        LOCK = contextlib.nullcontext
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    out, work_root = Path(args.out), Path(args.work)
    recipe = settings(args, exclude=("out", "work", "arms", "seeds", "save_progress"))
    per_seed, pools = {}, {}

    consts: dict = {}

    def write() -> None:
        table, data = summarise(per_seed, args, pools, consts)
        comp = paired_table({a: pooled(per_seed, a, args.rounds) if a != "full" else pooled(per_seed, a)
                             for a in ["random"] + [a for a in args.arms if a != "random"]}, baseline="random")
        table += "\n" + interval_section(comp, "Paired differences vs random at the last round, per task "
                                         "(full: the whole pool)", "Main metric per scored instance, seeds pooled.")
        results = {"settings": vars(args), "pools": pools, **data, "comparison": comp.to_dict() if comp else None,
                   "per_seed": {s: {a: {**r, "rounds": [{k: v for k, v in rec.items() if k != "rows"}
                                                         for rec in r.get("rounds", [])]}
                                    if "rounds" in r else {k: v for k, v in r.items() if k != "rows"}
                                    for a, r in res.items()} for s, res in per_seed.items()}}
        write_report(out, "diverse_evol", results, table, {
            "diverse_evol.png": lambda path: plot(per_seed, data, args, path),
            "diverse_evol_intervals.png": plot_intervals(comp, "DiverseEvol arms vs random (last round)")})
        print(table, flush=True)

    if args.save_progress:
        for seed in args.seeds:
            for arm in args.arms:
                done = Arms(out / f"seed_{seed}" / "arms").stored(arm, {**recipe, "seed": seed, "arm": arm})
                if arm != "full" and done is None:
                    n = save_progress(work_root / f"seed_{seed}" / arm, out / f"seed_{seed}" / PROGRESS / arm)
                    print(f"seed {seed} {arm}: {n} files kept" if n else f"seed {seed} {arm}: not started", flush=True)
        return

    for seed in args.seeds:
        work = work_root / f"seed_{seed}"
        work.mkdir(parents=True, exist_ok=True)
        pool_dir, scored, val, learn = build_data(args, seed, work)
        pools[seed] = pool_summary(pool_dir)
        consts[seed] = constants(scored, learn)
        arms = Arms(out / f"seed_{seed}" / "arms")
        per_seed[seed] = {}
        for arm in args.arms:
            per_seed[seed][arm] = arms.run(arm, {**recipe, "seed": seed, "arm": arm}, lambda: (
                run_full(args, seed, work, pool_dir, scored + val) if arm == "full"
                else run_arm(arm, args, seed, work, pool_dir, scored + val)))
            shutil.rmtree(out / f"seed_{seed}" / PROGRESS / arm, ignore_errors=True)  # the arm's file supersedes it
        write()


if __name__ == "__main__":
    main()
