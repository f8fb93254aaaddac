"""Cookbook-Mix on real tasks (arXiv 2410.05224; issue 18, Evidence): does a single template help
its matching task, and does a mixture learned on fit rows serve every task at once without
costing any task its format?

Tasks (19 scored "tasks" from 14 files). The GPT4ALL dev tasks (../shared/data/gpt4all/dev:
arc_easy, boolq, hellaswag, openbookqa, piqa), each scored in **both** multiple-choice framings on
the same rows: ``<task> (loglik)``, the log-likelihood of bare continuations (lm-evaluation-harness),
and ``<task> (generate)``, the options listed as the templates list them and the greedy answer's
letter or option text (the framing the Cookbook's claim is about). Plus the NIV2 dev tasks a
template maps to, the NLI family (task1344, task1385, task1386, task190, task199, task200,
task201) and task039, and task020 (no rule helps it: it is there for its "Yes."/"No." format), in
their own framing (greedy answer; exact match of the last label mentioned, ROUGE-L for task039).

Rows. Per task and seed one seeded split by instance id (Task.split): ``--fit-size`` (50) fit rows
choose everything (label words, components, protection, weights, auto's method); the scored rows
choose nothing: GPT4ALL the other 250, NIV2 ``--niv2-eval-size`` (200) seeded rows of the rest.
Both are recorded by id and checked disjoint. ``--seeds 0 1``: a seed is the split, the mixture's
draws and the training seed.

Arms, every fine-tune the same budget (LoRA, ``--steps`` steps of ``--batch-size`` rows drawn from
``steps x batch-size`` mixture rows, lr ``--lr``):
- ``base``: the untuned model;
- ``uniform``, ``best-single``, ``rules``, ``proxy``, ``online``: the library's methods, each
  learned by ``cookbook_datasets.mixing.learn`` on the fit rows (one call per method into one
  directory, whose caches they share), each task's protecting component floored at
  ``--protect-share`` (mixing/protect.py). ``online`` is its own run (``--steps`` steps, weights
  updated every ``--update-every`` steps from the task losses on the fit rows): its adapter is the
  arm. The others are a fine-tune on their weights;
- ``auto+guard``: ``auto`` with mix learn's guard (keep-best): per task, auto's model where the guard keeps
  it, base where the guard (a proxy of auto's mixture vs the untuned model on the judge half of the
  fit rows) keeps the untuned model; read from both arms' rows, nothing trained anew;
- ``auto``: mixing/methods/auto.py's pick among those five on the fit rows alone (learn half /
  judge half, before any scored row is seen); its model is the chosen method's (same weights, same
  recipe, so the same adapter), or auto's own online run when it picks online.
The proxy runs (each component alone and 4 random mixtures, scored on the fit rows) feed proxy,
best-single and auto; the template components' runs alone are the single-template runs.

Reported (seeds pooled: a row is (seed, row id), paired within its seed; and per seed):
1. every arm vs base and vs uniform with paired-bootstrap 95% intervals per task and on the task
   average (all 19; the generative set: GPT4ALL generate + NIV2; the log-likelihood set);
2. the targets: auto >= uniform + 2 points and >= best-single on the task average; no task
   significantly below base (a paired interval entirely below zero is a loss, listed per arm);
3. single template -> matching task: each template component's own run on the tasks its rule helps
   on the fit rows, gain over base with its interval; target >= +20 points for the best pair (the
   pair with the largest gain on the fit rows; the best on the scored rows, which is picked after
   seeing them, is shown beside it);
4. template alignment (METHODS.md §1: the share of the model's answers that agree with the rule)
   before and after each single run, on generations in the generate framing: accuracy gain vs
   alignment gain per (template, task) pair, least squares, R² (the log-likelihood framing beside);
5. auto's choice and why; which component protects which task, its floor and its weight per arm;
6. minutes per part and seed (signals, base scores, proxy runs, auto, online run, arms, singles),
   beside the estimate;
7. whether a gain is more than a label prior: every arm against the constant answer the fit rows make
   most frequent (an arm with no model), on the classification and multiple-choice names, and the
   share of rows that get each arm's most frequent answer (``prior`` stage, from the cached scores).

Cost. ``--estimate-only`` prints the estimate for the settings without loading a model (unit
costs in ``UNIT_COSTS``, measured on this 2-core machine; the components counted by the library's
signals on the fit rows). With the defaults (14 components: 5 template settings + 9 tasks'
demonstrations; 18 proxy runs of 24 steps) the estimate is 113 minutes per seed, within the
issue's 2 h: signals 1, base scores 7, proxy runs 44, auto 14, online run 2, arms 39 (2 new
fine-tunes, 5 scored arms), singles 6. The proxy runs are the largest part because every
component, each task's demonstrations included, gets its own run (best-single and the proxy law
need them); 40 steps, as before, would put it at 133 minutes. The report puts the measured
minutes beside the estimate.

Resumable. Every fine-tune is cached by recipe (mixing.train_mixture: adapter directory keyed by
its recipe; the online runs by the mixture's directory, keyed by every setting), every scored
evaluation by (adapter, framing, tasks) with per-task resume (eval/harness.py), the proxy runs'
answers on the fit rows (mixing/learner.py), and every finished stage (the mixtures, each arm, the
singles) in ``<out>/seed_<s>/arms/`` with its recipe (common.Arms), so a killed run redoes only what
it had not finished. Heavy stages hold /tmp/cookbook_cpu.lock (not in a smoke run). ``--smoke``:
the tiny random model on 5 tasks and a few rows under /tmp/cookbook_mix_smoke (checks the script,
measures nothing).

    python experiments/cookbook_mix.py                        # the real run, both seeds
    python experiments/cookbook_mix.py --estimate-only        # minutes per part, no model
    python experiments/cookbook_mix.py --smoke
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import signal
import sys
import time
from pathlib import Path

import numpy as np
from common import SHARED, Arms, constant_answer, experiment_parser, interval_section, paired_table, plot_intervals, \
    pool, recipe_hash, settings, write_report

from cookbook_datasets.atomic_files import atomic_json, atomic_write_text
from cookbook_datasets.cpu import cpu_lock

logger = logging.getLogger("cookbook_mix")

GPT4ALL = SHARED / "gpt4all" / "dev"
NIV2 = SHARED / "niv2" / "dev"
GPT4ALL_TASKS = ("arc_easy", "boolq", "hellaswag", "openbookqa", "piqa")
NIV2_TASKS = ("task1344_glue_entailment_classification", "task1385_anli_r1_entailment", "task1386_anli_r2_entailment",
              "task190_snli_classification", "task199_mnli_classification", "task200_mnli_entailment_classification",
              "task201_mnli_neutral_classification", "task039_qasc_find_overlapping_words",
              "task020_mctaco_span_based_question")
METHOD_ARMS = ("uniform", "best-single", "rules", "proxy", "online")
# made from other arms' rows, not trained: auto where mix learn's guard keeps it, base where it keeps the untuned model
DERIVED_ARMS = ("auto+guard",)
ARMS = ("base", *METHOD_ARMS, "auto", *DERIVED_ARMS)
MC_FRAMINGS = ("loglik", "generate")
LOCK = cpu_lock
SMOKE = {"model": "tiny-random", "gpt4all": ["arc_easy", "boolq"],
         "niv2": ["task1344_glue_entailment_classification", "task039_qasc_find_overlapping_words",
                  "task020_mctaco_span_based_question"],
         "fit_size": 12, "eval_size": 8, "niv2_eval_size": 6, "steps": 4, "batch_size": 2, "update_every": 2,
         "eval_batch_size": 8, "bootstrap": 500}

# Unit costs on this machine (2 cores, default model, bf16 autocast), for the estimate:
# - a LoRA step of 8 rows: 2.7 s (benchmarks/results/training.md, "train lora", today's defaults);
# - per fine-tune beyond its steps (model load, trainer set-up, adapter save): ~20 s (run cards in runs/);
# - rows scored per second: arc_easy/piqa 26/20 (loglik) and 12/9.6 (generate) in
#   benchmarks/results/framings; boolq and hellaswag 2-3x slower than arc in
#   benchmarks/results/baseline_gpt4all; NIV2 classification 16-35 and generation 6-13 in the
#   SELF-GUIDE experiment's prompting runs (runs/self_guide/*/eval). Task means, rounded down.
UNIT_COSTS = {"train_step_s": 2.7, "run_overhead_s": 20.0, "load_s": 8.0, "online_update_s": 5.0,
              "rows_per_s": {"multiple_choice/loglik": 12.0, "multiple_choice/generate": 7.0,
                             "classification/generate": 15.0, "generation/generate": 7.0}}
PROXY_RANDOM = 4  # proxy.Proxy's default, the one auto's proxy candidate uses (auto takes no candidate params)


# -- tasks and their scored names -----------------------------------------------------------------
def task_files(args) -> list:
    return [str(GPT4ALL / f"{t}.jsonl") for t in args.gpt4all] + [str(NIV2 / f"{t}.json") for t in args.niv2]


def scored_names(kinds: dict) -> dict:
    """scored name -> (task, framing): a multiple-choice task once per framing, any other task once."""
    out = {}
    for task, kind in kinds.items():
        if kind == "multiple_choice":
            out.update({f"{task} ({f})": (task, f) for f in MC_FRAMINGS})
        else:
            out[task] = (task, "generate")
    return out


def framing_sets(scored: dict, kinds: dict) -> dict:
    """The task sets whose averages are reported: every scored task, the generative ones (GPT4ALL in
    the generate framing + NIV2), the log-likelihood ones (GPT4ALL in the loglik framing)."""
    return {"all": list(scored),
            "generative": [n for n, (t, f) in scored.items() if f == "generate"],
            "loglik": [n for n, (t, f) in scored.items() if kinds[t] == "multiple_choice" and f == "loglik"]}


def trim_rows(held: dict, size: int, seed: int) -> dict:
    """Each non-multiple-choice task's scored rows cut to ``size`` seeded rows (multiple choice: all)."""
    out = {}
    for task, rows in held.items():
        if rows.kind == "multiple_choice" or len(rows) <= size:
            out[task] = rows
            continue
        salt = int(hashlib.sha256(task.encode()).hexdigest()[:8], 16)
        keep = np.random.default_rng(np.random.SeedSequence([seed, salt])).choice(len(rows), size, replace=False)
        out[task] = rows.take(sorted(int(i) for i in keep))
    return out


# -- per-seed state --------------------------------------------------------------------------------
class Ledger:
    """Seconds spent in each part of one seed's run, summed over the runs that worked on it (a part
    resumed after a kill adds what the resumed run spent; a killed run's SIGTERM still records)."""

    def __init__(self, path: Path, key: str):
        self.path, self.key = path, key

    def read(self) -> dict:
        if self.path.exists():
            data = json.loads(self.path.read_text())
            if data.get("recipe_hash") == self.key:
                return data["seconds"]
        return {}

    @contextlib.contextmanager
    def part(self, name: str):
        start = time.time()
        try:
            yield
        finally:
            seconds = self.read()
            seconds[name] = round(seconds.get(name, 0.0) + time.time() - start, 1)
            atomic_json(self.path, {"recipe_hash": self.key, "seconds": seconds})


def mix_config(args, seed: int, work: Path, **changes):
    """The library's config for one seed; its directory is keyed by every setting, so the caches the
    library keeps there (proxy runs, online runs, base answers) never serve another recipe."""
    from cookbook_datasets.mixing import MixLearnConfig

    fields = dict(model=args.model, method="auto", fit_size=args.fit_size, eval_size=args.eval_size,
                  max_components_per_task=args.components_per_task, proxy_steps=args.steps,
                  proxy_rows=args.rows or args.steps * args.batch_size, online_steps=args.steps,
                  update_every=args.update_every, learning_rate=args.lr, batch_size=args.batch_size,
                  eval_batch_size=args.eval_batch_size, dtype=args.dtype, seed=seed, protect_share=args.protect_share)
    files = task_files(args)
    key = recipe_hash({**fields, "tasks": [Path(f).name for f in files]})
    fields.update(changes)
    return MixLearnConfig(tasks=files, out=str(work / f"mix-{key}"), **fields)


class SeedRun:
    """One seed: its library config, rows, ledger and caches (rows and signals computed on demand)."""

    def __init__(self, args, seed: int, out: Path, work: Path):
        self.args, self.seed = args, seed
        self.out, self.work = out / f"seed_{seed}", work / f"seed_{seed}"
        self.config = mix_config(args, seed, self.work)
        self.ledger = Ledger(self.out / "costs.json", Path(self.config.out).name)
        self._measured = None
        self._rows = None

    def measured(self):
        """(signals, fit rows, scored rows, base alignment on the fit rows): the library's measure()."""
        from cookbook_datasets.mixing import measure

        if self._measured is None:
            signals, fit, held, aligned = measure(self.config)
            self._measured = signals, fit, trim_rows(held, self.args.niv2_eval_size, self.seed), aligned
            self._rows = self._measured[1], self._measured[2]
        return self._measured

    def rows(self):
        """(fit rows, scored rows), without the model."""
        from cookbook_datasets.mixing import load_rows

        if self._rows is None:
            fit, held = load_rows(self.config)
            self._rows = fit, trim_rows(held, self.args.niv2_eval_size, self.seed)
        return self._rows

    @property
    def scored(self) -> dict:
        fit, _ = self.rows()
        return scored_names({t: r.kind for t, r in fit.items()})

    def train(self, weights: dict) -> str:
        """The adapter of a fine-tune on ``weights`` (mixing.train_mixture: cached by recipe; the proxy
        runs' directory, so a mixture that was a proxy run or an auto candidate is not trained again)."""
        from cookbook_datasets.mixing import train_mixture

        signals = self.measured()[0]  # also (re)writes the demonstrations components' files
        return train_mixture(weights, signals.components, Path(self.config.out) / "work" / "proxies", self.config,
                             self.config.proxy_steps, self.config.proxy_rows)

    def evaluate(self, adapter, names) -> dict:
        """scored name -> {"rows": {id: score}, "predictions": {id: answer}, "metric", "framing"}, scored
        by the evaluation harness (cached per adapter, framing and task list; resumes per task)."""
        from cookbook_datasets.eval.compare import rows_path
        from cookbook_datasets.eval.harness import EvalConfig, evaluate_model, main_metric

        _, held = self.rows()
        scored = self.scored
        groups: dict = {}
        for name in names:
            task, framing = scored[name]
            groups.setdefault(framing, []).append(task)
        key = "base" if adapter is None else hashlib.sha256(str(adapter).encode()).hexdigest()[:16]
        out = {}
        for framing, tasks in groups.items():
            path = self.work / "evals" / key / f"{framing}-{recipe_hash(tasks)}.json"
            config = EvalConfig(model=self.args.model, adapter=None if adapter is None else str(adapter),
                                tasks=[held[t] for t in tasks], num_shots=self.config.num_shots,
                                batch_size=self.args.eval_batch_size, seed=self.seed, dtype=self.args.dtype,
                                mc_framing=framing)
            result = evaluate_model(config, out=path)
            records: dict = {}
            for line in rows_path(path).read_text().splitlines():
                if line.strip():
                    rec = json.loads(line)
                    records.setdefault(rec["task"], []).append(rec)
            for task in tasks:
                name = next(n for n, (t, f) in scored.items() if t == task and f == framing)
                out[name] = {"rows": {str(r["id"]): float(r["score"]) for r in records[task]},
                             "predictions": {str(r["id"]): r["prediction"] for r in records[task]},
                             "metric": main_metric(result["tasks"][task])[0], "framing": framing}
        return out


# -- stages ----------------------------------------------------------------------------------------
def learn_method(run: SeedRun, name: str) -> dict:
    """Method ``name``'s mix.json on the fit rows: the library's ``learn`` into the seed's mixture
    directory (every method shares its caches: the model's answers, proxy runs, online runs)."""
    from dataclasses import replace

    from cookbook_datasets.mixing import learn

    return learn(replace(run.config, method=name))


def mix_stage(run: SeedRun) -> dict:
    """Signals, protection, every method's weights (proxy runs and online runs included) and auto's
    choice, on the fit rows only; keeps each method's mix.json and report.md in ``mixes/<method>``."""
    from cookbook_datasets.mixing.report import markdown

    with run.ledger.part("signals"):
        signals, fit, held, aligned = run.measured()
    for t in fit:  # the rows that choose and the rows that are scored never meet
        overlap = set(fit[t].ids) & set(held[t].ids)
        if overlap:
            raise RuntimeError(f"{t}: {len(overlap)} rows are both fit and scored rows, e.g. {sorted(overlap)[:3]}")
    mixes = {}
    # proxy first: its runs (each component alone + random mixtures) serve best-single and auto
    for name, part in (("proxy", "proxy_runs"), ("best-single", "proxy_runs"), ("uniform", "signals"),
                       ("rules", "signals"), ("online", "online_run"), ("auto", "auto")):
        with run.ledger.part(part):
            mixes[name] = learn_method(run, name)
        atomic_json(run.out / "mixes" / name / "mix.json", mixes[name])
        atomic_write_text(run.out / "mixes" / name / "report.md", markdown(mixes[name]))
    auto = mixes["auto"]["auto"]
    chosen = auto["chosen"]
    fit_ids = {t: set(r.ids) for t, r in fit.items()}
    for part in ("learn_rows", "judge_rows"):
        stray = {t: set(ids) - fit_ids[t] for t, ids in auto[part].items() if set(ids) - fit_ids[t]}
        if stray:
            raise RuntimeError(f"auto's {part} hold rows that are not fit rows: {stray}")
    adapters = {"online": mixes["online"]["explanation"]["adapter"]}
    if chosen == "online":
        adapters["auto"] = mixes["auto"]["explanation"]["chosen_explanation"]["adapter"]
    base = signals.to_dict()
    base.pop("runs", None)
    return {"tasks": signals.tasks, "kinds": {t: r.kind for t, r in fit.items()}, "components": signals.components,
            "signals": base, "proxy_runs": mixes["proxy"]["signals"]["runs"],
            "weights": {n: m["weights"] for n, m in mixes.items()},
            "weights_before_floors": {n: m["protection"]["weights_before_floors"] for n, m in mixes.items()},
            "floors": mixes["auto"]["protection"]["floors"], "protection": signals.protection,
            "explanations": {n: m["explanation"] for n, m in mixes.items() if n != "auto"},
            "auto": {k: v for k, v in auto.items() if k not in ("learn_rows", "judge_rows")},
            "auto_rows": {"learn": {t: len(v) for t, v in auto["learn_rows"].items()},
                          "judge": {t: len(v) for t, v in auto["judge_rows"].items()}},
            "adapters": adapters, "alignment_fit_base": aligned, "guards": {n: m.get("guard") for n, m in mixes.items()},
            "fit_rows": {t: r.ids for t, r in fit.items()}, "scored_rows": {t: r.ids for t, r in held.items()}}


def arm_adapter(run: SeedRun, mix: dict, arm: str):
    """The arm's model: None (base), an online run's adapter, or a fine-tune on the arm's weights."""
    if arm == "base":
        return None
    if arm in mix["adapters"]:
        adapter = mix["adapters"][arm]
        if (Path(adapter) / "run_card.json").exists():
            return adapter
        if arm == "online":  # its run is gone (a fresh work dir): the library redoes it, same recipe
            return learn_method(run, "online")["explanation"]["adapter"]
        raise FileNotFoundError(f"auto's online run {adapter} is gone: delete {run.out / 'arms' / 'mix.json'} to "
                                "redo the mixtures stage")
    return run.train(mix["weights"][arm])


def run_arm(run: SeedRun, mix: dict, arm: str) -> dict:
    train_part, eval_part = ("base_scores", "base_scores") if arm == "base" else ("arms_train", "arms_eval")
    with run.ledger.part(train_part):
        start = time.time()
        adapter = arm_adapter(run, mix, arm)
        train_s = time.time() - start
    with run.ledger.part(eval_part):
        start = time.time()
        scored = run.evaluate(adapter, list(run.scored))
        eval_s = time.time() - start
    return {"weights": mix["weights"].get(arm), "adapter": adapter, "train_s": round(train_s, 1),
            "eval_s": round(eval_s, 1), "scores": {n: float(np.mean(list(s["rows"].values()))) for n, s in scored.items()},
            "metrics": {n: s["metric"] for n, s in scored.items()}, "rows": {n: s["rows"] for n, s in scored.items()}}


def guarded_arm(run: SeedRun, mix: dict, arms: dict, method: str = "auto") -> dict:
    """``method``'s arm with mix learn's guard (keep-best): per scored name, the method's rows where the guard
    (a proxy of the mixture vs the untuned model on the task's judge rows, fit rows only) keeps the tuned
    model or makes no choice (too few judge rows: the tuned model stays, as the library does), base's rows
    where it keeps the untuned one. Nothing is trained or scored anew."""
    guard = (mix.get("guards") or {}).get(method)
    if guard is None:
        raise RuntimeError(f"{method}'s mix.json has no guard record: rerun the mixtures stage")
    kept = {t: (r["kept"] if r.get("chose") else "tuned") for t, r in guard["tasks"].items()}
    source = {n: method if kept[task] == "tuned" else "base" for n, (task, _) in run.scored.items()}
    rows = {n: arms[source[n]]["rows"][n] for n in source}
    return {"weights": None, "adapter": None, "train_s": 0.0, "eval_s": 0.0, "kept": kept, "from": source,
            "scores": {n: float(np.mean(list(r.values()))) for n, r in rows.items()},
            "metrics": {n: arms[source[n]]["metrics"][n] for n in source}, "rows": rows}


def replay_guard(run: SeedRun, mix: dict, method: str = "auto") -> dict:
    """mix learn's guard stage (``mixing.learn.guard``) alone, on ``method``'s stored weights: for a mixtures
    stage stored before the library had its guard. Same fit rows, seed, recipe and rule as a fresh ``learn``;
    nothing else is learned again. Refuses when today's signals give other components or floors than the
    stored stage (then the stored weights are not today's and the whole stage must be redone)."""
    from dataclasses import replace

    from cookbook_datasets.mixing.learn import guard
    from cookbook_datasets.mixing.learner import TaskLearner
    from cookbook_datasets.mixing.methods.base import Learned
    from cookbook_datasets.mixing.protect import floors

    signals, fit, _, _ = run.measured()
    config = replace(run.config, method=method)
    learner = TaskLearner(config, fit, floors(signals.protection, config.protect_share))
    if as_stored(signals.components) != mix["components"] or as_stored(learner.floors) != mix["floors"]:
        raise RuntimeError(f"seed {run.seed}: today's signals give other components or floors than the stored "
                           f"mixtures stage; delete {run.out / 'arms' / 'mix.json'} to redo it")
    learned = Learned(learner.method(method), mix["weights_before_floors"][method], mix["weights"][method], signals)
    return guard(config, learner, learned)


def single_pairs(mix: dict) -> dict:
    """template component -> the tasks its rule helps on the fit rows (rule accuracy above chance)."""
    from cookbook_datasets.mixing import MixSignals

    signals = MixSignals.from_dict({**mix["signals"], "runs": []})
    help_ = signals.helpfulness()
    return {c: [t for t in signals.tasks if help_[c][t] > 0] for c, spec in mix["components"].items()
            if "template" in spec and any(help_[c][t] > 0 for t in signals.tasks)}


def run_singles(run: SeedRun, mix: dict, num_resamples: int) -> dict:
    """Each template component's own run (its proxy run) on the tasks its rule helps: gain over base
    with its interval, and template alignment before and after, per scored name."""
    from cookbook_datasets.eval.stats import paired_bootstrap
    from cookbook_datasets.mixing import MixSignals
    from cookbook_datasets.mixing.signals import alignment, rule_answers
    from cookbook_datasets.templates import get_template

    _, held = run.rows()
    scored = run.scored
    signals = MixSignals.from_dict({**mix["signals"], "runs": []})
    help_ = signals.helpfulness()
    fit_scores = {next(iter(r["weights"])): r["scores"] for r in mix["proxy_runs"] if len(r["weights"]) == 1}
    pairs = []
    with run.ledger.part("singles"):
        start = time.time()
        base = run.evaluate(None, list(scored))  # the base arm's files
        for c, tasks in single_pairs(mix).items():
            spec = mix["components"][c]
            adapter = run.train({c: 1.0})  # the proxy run of the component alone (Proxy.runs: one-hot)
            names = [n for n, (t, _) in scored.items() if t in tasks]
            tuned = run.evaluate(adapter, names)
            template = get_template(spec["template"], **{k: v for k, v in spec.items() if k != "template"})
            for name in names:
                task, framing = scored[name]
                rows = held[task]
                ids = [str(i) for i in rows.ids]
                rule = rule_answers(template, rows)
                b, a = [base[name]["rows"][i] for i in ids], [tuned[name]["rows"][i] for i in ids]
                d = paired_bootstrap(b, a, num_resamples=num_resamples, seed=run.seed)
                pairs.append({
                    "component": c, "template": spec["template"], "task": task, "name": name, "framing": framing,
                    "base": float(np.mean(b)), "tuned": float(np.mean(a)), "gain": d.to_dict(),
                    "alignment_before": alignment(rows, [base[name]["predictions"][i] for i in ids], rule),
                    "alignment_after": alignment(rows, [tuned[name]["predictions"][i] for i in ids], rule),
                    "rule_accuracy_fit": signals.rule_accuracy[c][task], "helpfulness_fit": help_[c][task],
                    "fit_gain": (fit_scores[c][task] - signals.base_scores[task]) if c in fit_scores else None,
                    "rows": dict(zip(ids, a))})
        seconds = time.time() - start
    return {"pairs": pairs, "seconds": round(seconds, 1)}


def run_prior(run: SeedRun, arms: dict) -> dict:
    """What answering without reading scores, and how close each arm comes to doing just that.

    ``constant``: per classification and multiple-choice scored name, the answer the fit rows make
    most frequent (a label, or an option's position), given on every scored row and scored with the
    task's own metric: an arm with no model, chosen on the fit rows. ``top_share``: per arm and
    name, the share of scored rows that get the arm's most frequent answer (1.0: one answer for every
    row), read from the arms' cached evaluations."""
    from collections import Counter

    from cookbook_datasets.eval.agreement import normalize_answer

    fit, held = run.rows()
    scored = run.scored
    names = [n for n, (t, _) in scored.items() if fit[t].kind in ("classification", "multiple_choice")]
    constant = {}
    for name in names:
        task, _ = scored[name]
        answer, rows = constant_answer(fit[task], held[task])
        constant[name] = {"answer": answer, "rows": rows}
    top_share = {}
    for arm, result in arms.items():
        # every scored name, as the arm was scored: its cached files, no model unless one is gone
        predictions = run.evaluate(result.get("adapter"), list(scored))
        top_share[arm] = {}
        for name in names:
            answers = [normalize_answer(a) for a in predictions[name]["predictions"].values()]
            top_share[arm][name] = Counter(answers).most_common(1)[0][1] / len(answers)
    return {"constant": constant, "top_share": top_share}


# -- pooling and summaries -------------------------------------------------------------------------
def arm_rows(per_seed: dict, arm: str, names: list) -> dict:
    """An arm's scored rows on ``names`` (in that order), pooled over seeds ({} unless every seed has the arm)."""
    if not per_seed or not all(arm in s["arms"] for s in per_seed.values()):
        return {}
    rows = pool({seed: s["arms"][arm]["rows"] for seed, s in per_seed.items()})
    return {n: rows[n] for n in names if n in rows}


def component_order(components) -> list:
    """Template settings first, then the tasks' demonstrations, each by name (stable across JSON round trips)."""
    return sorted(components, key=lambda c: (c.startswith("demos["), c))


def recipe_weights(weights):
    """Weights as an arm's recipe holds them: rounded, so a sum taken in another key order (a result read
    back from JSON) is the same recipe."""
    return None if weights is None else {c: round(float(w), 9) for c, w in sorted(weights.items())}


def as_stored(result: dict) -> dict:
    """A stage's result as Arms stores it (JSON, sorted keys): a fresh result and a resumed one read alike."""
    return json.loads(json.dumps(result, sort_keys=True, default=str))


def losses(comparison, arms) -> dict:
    """arm -> the tasks whose paired interval vs the baseline lies entirely below zero."""
    if comparison is None:
        return {}
    return {a: [{"task": t.task, **t.differences[a].to_dict()} for t in comparison.tasks
                if a in t.differences and t.differences[a].high < 0] for a in arms if a in comparison.labels}


def average_diff(comparison, arm):
    if comparison is None or comparison.average is None or arm not in comparison.average.differences:
        return None
    return comparison.average.differences[arm].to_dict()


def pooled_singles(per_seed: dict, num_resamples: int) -> list:
    """Every (component, scored name) pair, rows pooled over the seeds that have it (a seed's fit rows
    may pick other label words or helpful tasks): gain with its interval; alignment, rule accuracy and
    fit gain as means over those seeds; ``seeds``: how many."""
    from cookbook_datasets.eval.stats import paired_bootstrap

    if not per_seed or not all(s.get("singles") for s in per_seed.values()):
        return []
    by_seed = {seed: {(p["component"], p["name"]): p for p in s["singles"]["pairs"]} for seed, s in per_seed.items()}
    keys = list(dict.fromkeys(k for b in by_seed.values() for k in b))
    out = []
    for c, name in keys:
        having = [seed for seed, b in by_seed.items() if (c, name) in b]
        ps = [by_seed[seed][(c, name)] for seed in having]
        base = pool({seed: {name: per_seed[seed]["arms"]["base"]["rows"][name]} for seed in having})[name]
        tuned = pool({seed: {name: by_seed[seed][(c, name)]["rows"]} for seed in having})[name]
        ids = list(base)
        d = paired_bootstrap([base[i] for i in ids], [tuned[i] for i in ids], num_resamples=num_resamples)

        def mean(key):
            vals = [p[key] for p in ps]
            return None if any(v is None for v in vals) else float(np.mean(vals))

        out.append({"component": c, "template": ps[0]["template"], "task": ps[0]["task"], "name": name,
                    "framing": ps[0]["framing"], "base": float(np.mean([base[i] for i in ids])),
                    "tuned": float(np.mean([tuned[i] for i in ids])), "gain": d.to_dict(),
                    "alignment_before": mean("alignment_before"), "alignment_after": mean("alignment_after"),
                    "rule_accuracy_fit": mean("rule_accuracy_fit"), "fit_gain": mean("fit_gain"),
                    "seeds": len(ps)})
    return out


def alignment_fit(pairs: list, framing_of) -> dict:
    """Least squares of accuracy gain on alignment gain over the pairs whose framing passes ``framing_of``."""
    from cookbook_datasets.mixing.signals import explained_share

    ps = [p for p in pairs if framing_of(p) and p["alignment_before"] is not None and p["alignment_after"] is not None]
    return explained_share([p["base"] for p in ps], [p["tuned"] for p in ps], [p["alignment_before"] for p in ps],
                           [p["alignment_after"] for p in ps])


def estimate(counts: dict, args) -> dict:
    """Minutes per part of one seed from ``UNIT_COSTS`` and the counts of the work (see the module doc).
    ``counts``: components, kinds (task -> kind), fit (task -> rows), scored (task -> rows), singles
    (component -> tasks)."""
    u, speed = UNIT_COSTS, UNIT_COSTS["rows_per_s"]
    kinds = counts["kinds"]

    def scoring(rows: dict, framings_mc=("loglik",)) -> float:  # seconds to answer these rows
        s = 0.0
        for t, n in rows.items():
            framings = framings_mc if kinds[t] == "multiple_choice" else ("generate",)
            s += sum(n / speed[f"{kinds[t]}/{f}"] for f in framings)
        return s

    train = args.steps * args.batch_size / 8 * u["train_step_s"] + u["run_overhead_s"]
    # a fine-tune scored on the fit rows (multiple choice in both framings, as mixing/learner.py answers them)
    proxy_run = train + u["load_s"] + scoring(counts["fit"], MC_FRAMINGS)
    online = train + (args.steps // args.update_every + 1) * u["online_update_s"]
    full = scoring(counts["scored"], MC_FRAMINGS) + 2 * u["load_s"]
    singles = sum(2 * u["load_s"] + scoring({t: counts["scored"][t] for t in tasks}, MC_FRAMINGS)
                  for tasks in counts["singles"].values())
    seconds = {
        "signals": 10 + u["load_s"] + scoring(counts["fit"], MC_FRAMINGS),
        "base_scores": full,
        "proxy_runs": (counts["components"] + PROXY_RANDOM) * proxy_run,
        # auto: uniform, rules, best-single and proxy on the learn half, each a scored fine-tune; online:
        # its run on the learn half and a scored fine-tune of its weights
        "auto": 5 * proxy_run + online,
        "online_run": online,
        "arms_train": 2 * train,  # rules and proxy on all fit rows (uniform, best-single: auto's candidates)
        "arms_eval": len(METHOD_ARMS) * full,  # auto's model is its chosen arm's
        "singles": singles,
    }
    minutes = {k: round(v / 60, 1) for k, v in seconds.items()}
    minutes["total"] = round(sum(seconds.values()) / 60, 1)
    return minutes


def counts_from(mix: dict, held_sizes: dict) -> dict:
    return {"components": len(mix["components"]), "kinds": mix["kinds"],
            "fit": {t: len(ids) for t, ids in mix["fit_rows"].items()}, "scored": held_sizes,
            "singles": single_pairs(mix)}


def summarise(per_seed: dict, args) -> tuple[str, dict]:
    """The report's Markdown and its JSON from whatever stages have finished."""
    seeds = list(per_seed)
    if not seeds:
        return "# Cookbook-Mix on real tasks\n\nNo seed has finished its mixtures stage yet.\n", {}
    first = per_seed[seeds[0]]["mix"]
    kinds = {t: first["kinds"][t] for t in first["tasks"]}  # the tasks' own order
    scored = scored_names(kinds)
    order = list(scored)
    sets = framing_sets(scored, kinds)
    done = [a for a in ARMS if all(a in s["arms"] for s in per_seed.values())]
    metrics = next((sd["arms"]["base"]["metrics"] for sd in per_seed.values() if "base" in sd["arms"]), {})
    kw = {"num_resamples": args.bootstrap, "metrics": metrics}
    vs_base = paired_table({a: arm_rows(per_seed, a, order) for a in done}, baseline="base", **kw) \
        if "base" in done else None
    others = [a for a in done if a != "base"]
    vs_uniform = paired_table({a: arm_rows(per_seed, a, order) for a in others}, baseline="uniform", **kw) \
        if "uniform" in others else None
    by_set = {}
    for set_name, names in sets.items():
        if not names:
            continue
        by_set[set_name] = {
            "vs_base": paired_table({a: arm_rows(per_seed, a, names) for a in done}, baseline="base", **kw)
            if "base" in done else None,
            "vs_uniform": paired_table({a: arm_rows(per_seed, a, names) for a in others}, baseline="uniform", **kw)
            if "uniform" in others else None}
    vs_best = paired_table({a: arm_rows(per_seed, a, order) for a in ("best-single", "auto") if a in done},
                           baseline="best-single", **kw) if {"best-single", "auto"} <= set(done) else None
    per_seed_tables = {}
    for seed, sd in per_seed.items():
        arms = [a for a in ARMS if a in sd["arms"]]
        rows = {a: {n: sd["arms"][a]["rows"][n] for n in order} for a in arms}
        per_seed_tables[seed] = {
            "vs_base": paired_table(rows, baseline="base", **kw) if "base" in rows else None,
            "vs_uniform": paired_table({a: r for a, r in rows.items() if a != "base"}, baseline="uniform", **kw)
            if "uniform" in rows else None}
    vs_auto = paired_table({a: arm_rows(per_seed, a, order) for a in ("auto", "auto+guard")}, baseline="auto", **kw) \
        if {"auto", "auto+guard"} <= set(done) else None
    singles = pooled_singles(per_seed, args.bootstrap)
    align_gen = alignment_fit(singles, lambda p: p["framing"] == "generate")
    align_ll = alignment_fit(singles, lambda p: p["framing"] == "loglik")
    lost = losses(vs_base, others)

    # -- targets
    targets = []

    def target(name, value, goal, met, note=""):
        targets.append({"target": name, "value": value, "goal": goal, "met": met, "note": note})

    def fmt(d):
        return "n/a" if d is None else f"{d['diff']:+.3f} [{d['low']:+.3f}, {d['high']:+.3f}]"

    if singles:
        chosen = [p for p in singles if p["fit_gain"] is not None]
        if chosen:
            top_fit = max(chosen, key=lambda p: p["fit_gain"])
            target(f"best single pair chosen on the fit rows: {top_fit['component']} -> {top_fit['name']}",
                   fmt(top_fit["gain"]), ">= +0.20", top_fit["gain"]["diff"] >= 0.20,
                   f"fit-row gain {top_fit['fit_gain']:+.3f}")
        top = max(singles, key=lambda p: p["gain"]["diff"])
        target(f"best single pair on the scored rows (picked after seeing them): {top['component']} -> {top['name']}",
               fmt(top["gain"]), ">= +0.20", top["gain"]["diff"] >= 0.20)
    d = average_diff(vs_uniform, "auto")
    if d:
        target("auto − uniform, task average (all scored tasks)", fmt(d), ">= +0.02", d["diff"] >= 0.02,
               "interval excludes zero" if d["excludes_zero"] else "interval holds zero: no difference")
    d = average_diff(vs_best, "auto")
    if d:
        target("auto − best-single, task average", fmt(d), ">= 0", d["diff"] >= 0,
               "interval excludes zero" if d["excludes_zero"] else "interval holds zero: no difference")
    if "auto" in lost:
        target("tasks significantly below base (auto)", ", ".join(x["task"] for x in lost["auto"]) or "none",
               "none", not lost["auto"])
    if "auto+guard" in lost:
        target("tasks significantly below base (auto+guard: auto with mix learn's guard)",
               ", ".join(x["task"] for x in lost["auto+guard"]) or "none", "none", not lost["auto+guard"])
    d = average_diff(vs_auto, "auto+guard")
    if d:
        target("auto+guard − auto, task average (what the guard costs or saves)", fmt(d), "reported", None,
               "interval excludes zero" if d["excludes_zero"] else "interval holds zero: no difference")
    prior = prior_summary(per_seed, done, kw)
    if prior and prior["average"].get("auto"):
        target("auto − the constant answer chosen on the fit rows, average over the classification and "
               "multiple-choice names", fmt(prior["average"]["auto"]), "reported", None,
               "a gain over it is more than a label prior")
    if align_gen.get("r2") is not None:
        target("R² of accuracy gain on alignment gain (generate framing)", f"{align_gen['r2']:.2f} over "
               f"{align_gen['pairs']} pairs (slope {align_gen['slope']:.2f})", "reported", None)

    # -- Markdown
    s = args
    lines = ["# Cookbook-Mix on real tasks", "",
             f"Model `{s.model}`, LoRA, {s.steps} steps of {s.batch_size} rows for every fine-tune (lr {s.lr:g}; the "
             f"online run re-weights every {s.update_every} steps). Per task and seed {s.fit_size} fit rows choose "
             f"everything; scored rows choose nothing (GPT4ALL: the other {s.eval_size}, NIV2: {s.niv2_eval_size}). "
             f"Multiple-choice tasks are scored in both framings (loglik / generate) on the same rows. Seeds "
             f"{', '.join(map(str, seeds))}; tables pool the seeds (a row is (seed, row id), paired within its seed) "
             f"unless they say otherwise. Arms finished in every seed: {', '.join(done) or 'none'}.", "",
             "## Targets", "", "| target | measured [95% paired interval] | goal | met |", "|---|---|---|---|"]
    for t in targets:
        met = "" if t["met"] is None else ("yes" if t["met"] else "**no**")
        lines.append(f"| {t['target']} | {t['value']}{' (' + t['note'] + ')' if t['note'] else ''} | {t['goal']} | "
                     f"{met} |")
    lines += ["", "## How auto chose (fit rows only, before any scored row was seen)", ""]
    for seed, sd in per_seed.items():
        a = sd["mix"]["auto"]
        rows = sd["mix"]["auto_rows"]
        lines.append(f"- seed {seed}: **{a['chosen']}**. {a['why']}. Learn / judge rows per task: "
                     f"{min(rows['learn'].values())}-{max(rows['learn'].values())} / "
                     f"{min(rows['judge'].values())}-{max(rows['judge'].values())}.")
    lines += ["", f"Rule: {first['auto']['rule']}."]
    lines += ["", "## Task averages by framing (Δ vs base and vs uniform, 95% paired intervals)", "",
              "| arm | " + " | ".join(f"{k}: vs base | {k}: vs uniform" for k in by_set) + " |",
              "|---|" + "---|---|" * len(by_set)]
    for a in others:
        cells = []
        for k, tables in by_set.items():
            cells += [_cell(average_diff(tables["vs_base"], a)),
                      _cell(average_diff(tables["vs_uniform"], a)) if a != "uniform" else ""]
        lines.append(f"| {a} | " + " | ".join(cells) + " |")
    lines += ["", "Sets: " + "; ".join(f"{k} = {len(v)} scored tasks" for k, v in sets.items() if v) + ".", "",
              "## Tasks significantly below base (interval entirely below zero)", ""]
    for a in others:
        items = lost.get(a, [])
        lines.append(f"- {a}: " + (", ".join(f"{x['task']} {x['diff']:+.3f} [{x['low']:+.3f}, {x['high']:+.3f}]"
                                             for x in items) or "none"))
    lines += ["", "For each loss: the task's protecting component and its weight in that arm are in the protection "
                  "table below; why a task lost is for the closing note to say."]
    lines += guard_lines(per_seed)
    lines += prior_lines(prior)
    lines += singles_lines(singles, align_gen, align_ll)
    lines += protection_lines(per_seed, order)
    lines += weights_lines(per_seed)
    lines += ["", interval_section(vs_base, "Every arm vs base (seeds pooled)", "The task's own metric per row.")]
    lines += [interval_section(vs_uniform, "Every arm vs uniform (seeds pooled)")]
    for seed, tables in per_seed_tables.items():
        lines += [interval_section(tables["vs_base"], f"Seed {seed}: every arm vs base"),
                  interval_section(tables["vs_uniform"], f"Seed {seed}: every arm vs uniform")]
    cost = cost_lines(per_seed, args)
    lines += cost["lines"]
    lines += ["", "![mixtures](mixtures.png)", "", "![intervals vs base](intervals.png)", "",
              "![single templates](singles.png)", "", "![alignment](alignment.png)"]
    data = {"settings": settings(args, exclude=("out", "work")), "seeds": seeds, "tasks": list(kinds),
            "scored_tasks": {n: list(v) for n, v in scored.items()}, "sets": sets, "arms_done": done,
            "targets": targets, "losses_vs_base": lost,
            "comparison_vs_base": vs_base.to_dict() if vs_base else None,
            "comparison_vs_uniform": vs_uniform.to_dict() if vs_uniform else None,
            "averages_by_set": {k: {"vs_base": {a: average_diff(t["vs_base"], a) for a in others},
                                    "vs_uniform": {a: average_diff(t["vs_uniform"], a) for a in others}}
                                for k, t in by_set.items()},
            "auto_vs_best_single": average_diff(vs_best, "auto"),
            "auto_guard_vs_auto": average_diff(vs_auto, "auto+guard"),
            "guards": {seed: (sd["mix"].get("guards") or {}).get("auto") for seed, sd in per_seed.items()},
            "label_prior": {k: v for k, v in (prior or {}).items() if k != "table"} or None,
            "singles": singles, "alignment": {"generate": align_gen, "loglik": align_ll},
            "costs_minutes": cost["minutes"], "estimate_minutes": cost["estimate"],
            "per_seed": {seed: {"weights": sd["mix"]["weights"], "floors": sd["mix"]["floors"],
                                "protection": sd["mix"]["protection"], "auto": sd["mix"]["auto"],
                                "components": sd["mix"]["components"], "fit_rows": sd["mix"]["fit_rows"],
                                "scored_rows": sd["mix"]["scored_rows"],
                                "arms": {a: {k: v for k, v in r.items() if k != "rows"} for a, r in sd["arms"].items()},
                                "singles": [{k: v for k, v in p.items() if k != "rows"}
                                            for p in (sd.get("singles") or {}).get("pairs", [])]}
                         for seed, sd in per_seed.items()}}
    data["_plots"] = {"vs_base": vs_base, "vs_uniform": vs_uniform}
    return "\n".join(lines) + "\n", data


def guard_lines(per_seed: dict) -> list:
    """What mix learn's guard decided for auto, per seed and task (fit rows' judge part only)."""
    lines = ["", "## The guard on auto (keep-best; the judge part of the fit rows, before any scored row)", "",
             "A proxy fine-tune of auto's mixture against the untuned model, per task; the untuned model is kept "
             "where the tuned mean is not strictly above it. `auto+guard` is auto's rows where it keeps the tuned "
             "model, base's where it keeps the untuned one.", "",
             "| seed | task | judge rows | untuned | tuned (proxy) | Δ [95%] | kept |", "|---|---|---:|---:|---:|---|---|"]
    for seed, sd in per_seed.items():
        guard = (sd["mix"].get("guards") or {}).get("auto")
        if not guard:
            continue
        for t, r in guard["tasks"].items():
            if not r.get("chose"):
                lines.append(f"| {seed} | {t} | {r.get('rows', 0)} | | | | no choice: {r.get('reason', '')} |")
                continue
            lines.append(f"| {seed} | {t} | {r['rows']} | {r['untuned']:.3f} | {r['tuned']:.3f} | "
                         f"{r['diff']:+.3f} [{r['low']:+.3f}, {r['high']:+.3f}] | {r['kept']} |")
        n = sum(1 for r in guard["tasks"].values() if r.get("chose"))
        lines.append(f"| {seed} | **untuned kept** | | | | | {len(guard['untuned_tasks'])} of {n} tasks |")
    return lines


def prior_summary(per_seed: dict, arms: list, kw: dict) -> dict:
    """Every arm against the constant answer (run_prior), seeds pooled, on the names it covers; {} until
    every seed has the stage."""
    if not per_seed or not all(sd.get("prior") for sd in per_seed.values()):
        return {}
    constant = pool({seed: {n: c["rows"] for n, c in sd["prior"]["constant"].items()} for seed, sd in per_seed.items()})
    names = list(constant)
    table = paired_table({"constant": constant, **{a: arm_rows(per_seed, a, names) for a in arms}},
                         baseline="constant", **kw)
    share = {a: {n: float(np.mean([sd["prior"]["top_share"][a][n] for sd in per_seed.values()])) for n in names}
             for a in arms if all(a in sd["prior"]["top_share"] for sd in per_seed.values())}
    answers = {n: [sd["prior"]["constant"][n]["answer"] for sd in per_seed.values()] for n in names}
    return {"names": names, "answers": answers, "top_share": share, "table": table,
            "average": {a: average_diff(table, a) for a in arms},
            "per_task": {t.task: {a: d.to_dict() for a, d in t.differences.items()} for t in table.tasks}
            if table else {}}


def prior_lines(prior: dict) -> list:
    if not prior or prior.get("table") is None:
        return []
    table = prior["table"]
    lines = ["", "## Is it more than a label prior? (the constant answer chosen on the fit rows)", "",
             "An arm with no model: on every scored row, the answer the task's fit rows make most frequent (a "
             "label, or an option's position). Δ: the arm minus it, 95% paired interval. Top share: the share of "
             "scored rows that get the arm's most frequent answer (1.00: the same answer on every row), mean "
             "over seeds.", "",
             "| task | constant answer | constant | base | auto | Δ base − constant | Δ auto − constant | "
             "top share base | top share auto |", "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for t in table.tasks:
        n = t.task
        cells = [", ".join(str(x) for x in dict.fromkeys(prior["answers"][n]))]
        means = {arm.label: arm.score for arm in t.arms}
        cells += [f"{means.get('constant', float('nan')):.3f}", f"{means.get('base', float('nan')):.3f}",
                  f"{means.get('auto', float('nan')):.3f}",
                  _cell(prior["per_task"][n].get("base")), _cell(prior["per_task"][n].get("auto")),
                  _f(prior["top_share"].get("base", {}).get(n)), _f(prior["top_share"].get("auto", {}).get(n))]
        lines.append(f"| {n} | " + " | ".join(cells) + " |")
    lines += ["", "Average over these names, each arm minus the constant answer: "
              + "; ".join(f"{a} {_cell(d)}" for a, d in prior["average"].items() if d) + "."]
    return lines


def _cell(d) -> str:
    if d is None:
        return ""
    text = f"{d['diff']:+.3f} [{d['low']:+.3f}, {d['high']:+.3f}]"
    return f"**{text}**" if d["excludes_zero"] else text


def _f(x) -> str:
    return "n/a" if x is None else f"{x:.3f}"


def singles_lines(singles: list, align_gen: dict, align_ll: dict) -> list:
    lines = ["", "## Single template -> the tasks its rule helps (each component's own run)", ""]
    if not singles:
        return lines + ["Not finished in every seed yet."]
    lines += ["Pairs: a template component and a task whose fit rows its rule answers above chance; its own run "
              "(the proxy run of that component alone) scored on the task's scored rows in each framing. Fit gain: "
              "the same run's gain on the fit rows (multiple choice: both framings averaged), what chose the "
              "headline pair. "
              "Alignment: the share of answers agreeing with the rule's, before and after.", "",
              "| component | scored task | seeds | base | tuned | gain [95% paired interval] | fit gain | alignment "
              "before | after | rule accuracy (fit) |", "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for p in sorted(singles, key=lambda p: -p["gain"]["diff"]):
        lines.append(f"| {p['component']} | {p['name']} | {p['seeds']} | {p['base']:.3f} | {p['tuned']:.3f} | "
                     f"{_cell(p['gain'])} | "
                     f"{'n/a' if p['fit_gain'] is None else format(p['fit_gain'], '+.3f')} | "
                     f"{_f(p['alignment_before'])} | {_f(p['alignment_after'])} | {_f(p['rule_accuracy_fit'])} |")
    lines += ["", "## Template alignment vs accuracy (METHODS.md §1)", ""]
    for label, e in (("generate framing (generations; the paper's claim)", align_gen),
                     ("log-likelihood framing (beside it)", align_ll)):
        if e.get("r2") is None:
            lines.append(f"- {label}: {e['pairs']} pairs, too few or no spread for a fit.")
        else:
            lines.append(f"- {label}: accuracy gain = {e['slope']:.2f} x alignment gain {e['intercept']:+.3f} over "
                         f"{e['pairs']} pairs; R² {e['r2']:.2f} (Pearson r {e['pearson_r']:+.2f}).")
    return lines


def protection_lines(per_seed: dict, order) -> list:
    lines = ["", "## Which component protects which task (mix.json / report.md of each method)", ""]
    for seed, sd in per_seed.items():
        mix = sd["mix"]
        arms = [a for a in ("uniform", "best-single", "rules", "proxy", "online", "auto") if a in mix["weights"]]
        floors = ", ".join(f"{c} {mix['floors'][c]:.3f}" for c in component_order(mix["floors"]))
        lines += [f"Seed {seed} (floors: {floors}):", "",
                  "| task | protecting component | how | floor | " + " | ".join(arms) + " |",
                  "|---|---|---|---:|" + "---:|" * len(arms)]
        for task in mix["tasks"]:
            info = mix["protection"][task]
            comps = info["components"]
            if not comps:
                lines.append(f"| {task} | **none** | {info['note']} | |" + " |" * len(arms))
                continue
            c = comps[0]
            lines.append(f"| {task} | {c} | {info['how']} | {mix['floors'].get(c, 0):.3f} | "
                         + " | ".join(f"{mix['weights'][a].get(c, 0):.3f}" for a in arms) + " |")
        lines.append("")
        lines.append(f"Per-method records: `seed_{seed}/mixes/<method>/mix.json` and `report.md`.")
        lines.append("")
    return lines


def weights_lines(per_seed: dict) -> list:
    lines = ["## Weights per arm (after the protection floors)", ""]
    for seed, sd in per_seed.items():
        w = sd["mix"]["weights"]
        arms = [a for a in ARMS if a in w]
        lines += [f"Seed {seed}:", "", "| component | " + " | ".join(arms) + " |", "|---|" + "---:|" * len(arms)]
        for c in component_order(sd["mix"]["components"]):
            lines.append(f"| {c} | " + " | ".join(f"{w[a].get(c, 0):.3f}" for a in arms) + " |")
        lines.append("")
    return lines


def cost_lines(per_seed: dict, args) -> dict:
    # "guard": the guard stage replayed alone (replay_guard); in a fresh run it is inside "auto"
    parts = ("signals", "base_scores", "proxy_runs", "auto", "guard", "online_run", "arms_train", "arms_eval",
             "singles")
    minutes, estimates = {}, {}
    for seed, sd in per_seed.items():
        minutes[seed] = {p: round(sd["costs"].get(p, 0.0) / 60, 1) for p in parts}
        minutes[seed]["total"] = round(sum(sd["costs"].get(p, 0.0) for p in parts) / 60, 1)
        estimates[seed] = estimate(counts_from(sd["mix"], {t: len(ids) for t, ids in sd["mix"]["scored_rows"].items()}),
                                   args)
        estimates[seed].setdefault("guard", "-")
    lines = ["", "## Cost per seed (minutes on this machine; estimate from UNIT_COSTS beside it)", "",
             "| part | " + " | ".join(f"seed {s} | estimate" for s in per_seed) + " |",
             "|---|" + "---:|---:|" * len(per_seed)]
    for p in (*parts, "total"):
        lines.append(f"| {p} | " + " | ".join(f"{minutes[s][p]} | {estimates[s][p]}" for s in per_seed) + " |")
    lines += ["", "A part resumed after a kill counts the time of every run that worked on it. Budget: <= 120 "
                  "minutes per seed on 2 cores."]
    return {"lines": lines, "minutes": minutes, "estimate": estimates}


# -- plots -----------------------------------------------------------------------------------------
def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_mixtures(per_seed: dict, path: Path) -> None:
    if not per_seed:
        return
    plt = _pyplot()
    comps = component_order({c for sd in per_seed.values() for c in sd["mix"]["components"]})
    cmap = plt.get_cmap("tab20")
    color = {c: cmap(k % 20) for k, c in enumerate(comps)}  # one colour per component in every panel
    fig, axes = plt.subplots(1, len(per_seed), figsize=(6 * len(per_seed) + 3, 4.5), squeeze=False)
    for ax, (seed, sd) in zip(axes[0], per_seed.items()):
        w = sd["mix"]["weights"]
        arms = [a for a in ARMS if a in w]
        left = np.zeros(len(arms))
        for c in comps:
            vals = np.array([w[a].get(c, 0.0) for a in arms])
            ax.barh(arms, vals, left=left, color=color[c])
            left += vals
        ax.set_xlim(0, 1)
        ax.set_xlabel("weight")
        ax.set_title(f"seed {seed}: mixture weights (protection floors applied)")
    handles = [plt.Rectangle((0, 0), 1, 1, color=color[c]) for c in comps]
    fig.legend(handles, comps, fontsize=6, loc="center right")
    fig.tight_layout(rect=(0, 0, 1 - 2.6 / (6 * len(per_seed) + 3), 1))
    fig.savefig(path, dpi=110, format="png")
    plt.close(fig)


def plot_singles(singles: list, path: Path) -> None:
    if not singles:
        return
    plt = _pyplot()
    ps = sorted(singles, key=lambda p: -p["gain"]["diff"])
    fig, ax = plt.subplots(figsize=(max(6, 0.55 * len(ps)), 4.5))
    x = np.arange(len(ps))
    gains = np.array([p["gain"]["diff"] for p in ps])
    err = [gains - [p["gain"]["low"] for p in ps], [p["gain"]["high"] for p in ps] - gains]
    ax.bar(x, gains, color=["tab:green" if p["gain"]["low"] > 0 else "tab:red" if p["gain"]["high"] < 0 else "tab:grey"
                            for p in ps])
    ax.errorbar(x, gains, yerr=err, fmt="none", color="black", capsize=3)
    ax.axhline(0.2, color="tab:blue", ls="--", lw=1, label="target +0.20")
    ax.axhline(0, color="grey", lw=0.8)
    ax.set_xticks(x, [f"{p['component'][:24]}\n{p['name'][:26]}" for p in ps], rotation=60, ha="right", fontsize=7)
    ax.set_ylabel("gain over base (95% paired interval)")
    ax.set_title("Single template -> matching task (seeds pooled)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110, format="png")
    plt.close(fig)


def plot_alignment(singles: list, fits: dict, path: Path) -> None:
    ps = [p for p in singles if p["alignment_before"] is not None and p["alignment_after"] is not None]
    if not ps:
        return
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 4.5))
    for framing, marker in (("generate", "o"), ("loglik", "x")):
        sel = [p for p in ps if p["framing"] == framing]
        if not sel:
            continue
        dl = np.array([p["alignment_after"] - p["alignment_before"] for p in sel])
        da = np.array([p["tuned"] - p["base"] for p in sel])
        e = fits.get(framing, {})
        label = framing + (f" (R² {e['r2']:.2f})" if e.get("r2") is not None else "")
        ax.scatter(dl, da, marker=marker, label=label)
        if e.get("slope") is not None:
            xs = np.linspace(dl.min(), dl.max(), 10)
            ax.plot(xs, e["slope"] * xs + e["intercept"], lw=1)
    ax.axhline(0, color="grey", lw=0.5)
    ax.axvline(0, color="grey", lw=0.5)
    ax.set_xlabel("alignment gain (agreement with the rule)")
    ax.set_ylabel("accuracy gain")
    ax.set_title("Template alignment vs accuracy, per (template, task)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110, format="png")
    plt.close(fig)


# -- main ------------------------------------------------------------------------------------------
def probe_counts(args, seed: int, work: Path) -> dict:
    """The counts the estimate needs, from the library's signals on the fit rows (no model)."""
    from cookbook_datasets.mixing import measure

    config = mix_config(args, seed, work / f"seed_{seed}", use_model=False, method="rules")
    signals, fit, held, _ = measure(config)
    held = trim_rows(held, args.niv2_eval_size, seed)
    help_ = signals.helpfulness()
    return {"components": len(signals.components), "kinds": {t: r.kind for t, r in fit.items()},
            "fit": {t: len(r) for t, r in fit.items()}, "scored": {t: len(r) for t, r in held.items()},
            "singles": {c: [t for t in signals.tasks if help_[c][t] > 0] for c, s in signals.components.items()
                        if "template" in s and any(help_[c][t] > 0 for t in signals.tasks)}}


def main() -> None:
    p = experiment_parser(__doc__, "cookbook_mix")
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1], help="a seed: the split, mixture draws, training")
    p.add_argument("--gpt4all", nargs="+", default=list(GPT4ALL_TASKS), help="GPT4ALL dev task names")
    p.add_argument("--niv2", nargs="+", default=list(NIV2_TASKS), help="NIV2 dev task names")
    p.add_argument("--fit-size", type=int, default=50, help="fit rows per task (they choose everything)")
    p.add_argument("--eval-size", type=int, default=250, help="scored rows per task at most (GPT4ALL: the other 250)")
    p.add_argument("--niv2-eval-size", type=int, default=200, help="scored rows per NIV2 task")
    p.add_argument("--steps", type=int, default=24, help="LoRA steps of every fine-tune (proxies, arms, online)")
    p.add_argument("--rows", type=int, default=None, help="mixture rows each fine-tune draws (default steps x batch)")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--lr", type=float, default=5e-4)
    p.add_argument("--update-every", type=int, default=8, help="online: re-weight every N steps")
    p.add_argument("--components-per-task", type=int, default=1, help="each task's most helpful rule settings kept")
    p.add_argument("--protect-share", type=float, default=0.02, help="each protecting component's floor")
    p.add_argument("--eval-batch-size", type=int, default=16)
    p.add_argument("--bootstrap", type=int, default=10_000, help="bootstrap resamples of every interval")
    p.add_argument("--estimate-only", action="store_true", help="print the minutes per part and seed; no model")
    p.add_argument("--smoke", action="store_true", help="tiny random model, 5 tasks, a few rows, under /tmp")
    args = p.parse_args()
    if args.smoke:
        root = Path("/tmp/cookbook_mix_smoke")
        args.out, args.work = str(root / "out"), str(root / "work")
        for k, v in SMOKE.items():
            setattr(args, k, v)
        global LOCK
        LOCK = contextlib.nullcontext  # a smoke run measures nothing: it does not wait for the lock
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))  # the ledger records a killed part
    out, work = Path(args.out), Path(args.work)

    if args.estimate_only:
        est = estimate(probe_counts(args, args.seeds[0], work), args)
        print("Estimated minutes per seed: " + ", ".join(f"{k} {v}" for k, v in est.items()))
        return

    recipe = settings(args, exclude=("out", "work", "seeds", "seed", "estimate_only", "bootstrap"))
    per_seed: dict = {}
    start = time.time()

    def write() -> None:
        table, data = summarise(per_seed, args)
        plots = data.pop("_plots", {})
        write_report(out, "cookbook_mix", data, table, {
            "mixtures.png": lambda path: plot_mixtures(per_seed, path),
            "intervals.png": plot_intervals(plots.get("vs_base"), "Cookbook-Mix arms vs base (seeds pooled)"),
            "intervals_uniform.png": plot_intervals(plots.get("vs_uniform"), "Cookbook-Mix arms vs uniform"),
            "singles.png": lambda path: plot_singles(data.get("singles", []), path),
            "alignment.png": lambda path: plot_alignment(data.get("singles", []), data.get("alignment", {}), path)})

    for seed in args.seeds:
        run = SeedRun(args, seed, out, work)
        store = Arms(run.out / "arms")
        base_recipe = {**recipe, "seed": seed}

        def locked(fn):
            def call():
                with LOCK():
                    return fn()
            return call

        mix = store.run("mix", {**base_recipe, "stage": "mix"}, locked(lambda: as_stored(mix_stage(run))))
        if (mix.get("guards") or {}).get("auto") is None:  # stored before mix learn had its guard: that stage alone

            def replay():
                with run.ledger.part("guard"):
                    return as_stored(replay_guard(run, mix))
            guarded = store.run("guard-auto", {**base_recipe, "stage": "guard",
                                               "weights": recipe_weights(mix["weights"]["auto"])}, locked(replay))
            mix = {**mix, "guards": {**(mix.get("guards") or {}), "auto": guarded}}
        per_seed[seed] = {"mix": mix, "arms": {}, "singles": None, "prior": None, "costs": run.ledger.read()}
        for arm in ARMS:
            if arm in DERIVED_ARMS:
                per_seed[seed]["arms"][arm] = as_stored(guarded_arm(run, mix, per_seed[seed]["arms"]))
                continue
            per_seed[seed]["arms"][arm] = store.run(
                arm, {**base_recipe, "arm": arm, "weights": recipe_weights(mix["weights"].get(arm))},
                locked(lambda: as_stored(run_arm(run, mix, arm))))
            per_seed[seed]["costs"] = run.ledger.read()
            write()
        per_seed[seed]["singles"] = store.run("singles", {**base_recipe, "stage": "singles",
                                                          "pairs": single_pairs(mix)},
                                              locked(lambda: as_stored(run_singles(run, mix, args.bootstrap))))
        per_seed[seed]["costs"] = run.ledger.read()
        per_seed[seed]["prior"] = store.run("prior", {**base_recipe, "stage": "prior"},
                                            lambda: as_stored(run_prior(run, per_seed[seed]["arms"])))
        write()
    table, _ = summarise(per_seed, args)
    print(table, flush=True)
    print(f"wall time {(time.time() - start) / 60:.1f} min; written under {out}", flush=True)


if __name__ == "__main__":
    main()
