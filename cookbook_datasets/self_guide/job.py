"""The whole SELF-GUIDE job: synthesise, fine-tune the same model, score it against prompting.

    report = run_self_guide("task.json", "runs/sg", SelfGuideConfig(model="smollm2-135m", num_examples=100))
    report = run_self_guide("reviews.csv", "runs/sg", SelfGuideConfig(dataset_task=DatasetTask(
        input_field="review", output_field="sentiment", instruction="Is the review positive or negative?")))

Everything the run needs is one :class:`SelfGuideConfig` (config.py).

Writes under ``out``: ``work/`` (the per-round checkpoints), ``data/`` (the kept pairs in the Hub
layout, config = the task's name, card with the recipe and the counts per stage), ``training.json``
(the rows' fingerprint and training config ``model/`` was made from), ``model/`` (the training run,
a checkpoint per epoch), ``adapter/`` (LoRA) or ``tuned/`` (full fine-tuning): the epoch that scored
best on the validation part (real rows: ``validation_data``, ``val_instances``, or by default the
task's instances beside the scored ones when there are ``min_validation_rows`` of them; else the
synthetic validation split; ``epochs.json``; the last epoch when the part has fewer than
``min_validation_rows``), ``guard/`` (the untuned model's answers on the real rows: the probe,
and the guard's untuned candidate, guard.py), ``eval/`` (prompting vs SELF-GUIDE's result on the
task's real instances) and ``report.json`` / ``report.md``. With ``guard="keep-best"`` the result
is the untuned model when the tuned one is not better on the real validation rows (the adapter
stays on disk, reported as not kept). Every step is skipped when its output is already there and
was made from the same inputs, so a killed job started again picks up where it stopped.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
from pathlib import Path
from typing import Optional, Union

from cookbook_datasets.atomic_files import atomic_json
from cookbook_datasets.tasks import Task, TaskFormatError, load_task, task_definition

from .config import SelfGuideConfig
from .guard import (check_teachable, guard_decision, guard_text, label_check, label_lines, no_guard_choice,
                    probe_untuned, score_untuned)
from .pipeline import check_kept_some, recipe, same_recipe, synthesize, to_dataset_dict
from .tuning import free, train_and_pick_epoch, tuned_dir
from .validation import Parts, check_val_instances, plan_validation

logger = logging.getLogger(__name__)


def engine_options(config: SelfGuideConfig) -> dict:
    """The options ``load_engine`` takes for ``config.backend``: the backend-specific ones, the
    server's ``base_url``, the ``dtype`` of a local model."""
    options = dict(config.engine_options)
    if config.base_url:
        options["base_url"] = config.base_url
    if config.backend in ("transformers", "vllm") and config.dtype is not None:
        options.setdefault("dtype", config.dtype)
    return options


def synthesize_to_hub_layout(task: Task, out: Path, config: SelfGuideConfig) -> tuple[Path, dict]:
    """The kept pairs in the Hub layout under ``out/data`` (reused when its recipe matches)."""
    from cookbook_datasets.generation import load_engine
    from cookbook_datasets.hub_layout import write_hub_layout

    data_dir = out / "data"
    model = config.model
    rec = recipe(task, config)
    if (data_dir / "recipe.json").exists():
        written = json.loads((data_dir / "recipe.json").read_text()).get(task.name, {})
        # data a time budget cut short is resumed (its rounds are checkpointed), not reused
        if (same_recipe({k: v for k, v in written.items() if k != "counts"}, rec)
                and written["counts"].get("stopped", {}).get("reason") != "budget"):
            return data_dir, written["counts"]
    if config.execution.uses_ray:
        from cookbook_datasets.generation.ray_engine import RayEngine

        from .annotation import label_loglikelihoods

        config.execution.connect()  # an unreachable address or too small a cluster: one line, before any model loads

        def rank_as_locally(replica, prompts: list, labels: list) -> list:
            # rank annotation's own scoring code on a replica (the prompts are the task's annotation
            # prompts, the input last): the local numbers, not a re-rendering of the prompts
            return label_loglikelihoods(replica, task, [p[-1]["content"] for p in prompts])

        engine = RayEngine(model, backend=config.backend, execution=config.execution, label_scorer=rank_as_locally,
                           **engine_options(config))
    else:
        engine = load_engine(model, backend=config.backend, **engine_options(config))
    try:
        pairs, stats = synthesize(task, engine, config, work_dir=out / "work")
    finally:
        engine.close()
        del engine
        free()
    check_kept_some(task, stats)
    write_hub_layout({task.name: to_dataset_dict(pairs, task, config)}, data_dir, {task.name: {**rec, "counts": stats}},
                     overwrite=True, pretty_name=f"SELF-GUIDE synthetic data for {task.name}",
                     description=(f"Pairs the model `{model}` wrote for itself from the task's instruction and "
                                  f"{len(task.demonstrations)} demonstrations (SELF-GUIDE, arXiv 2407.12874), made with "
                                  "cookbook-datasets. The recipe records the counts kept and dropped at every stage."))
    return data_dir, stats


def evaluate_against_prompting(task: Task, out: Path, model: str, tuned: Optional[Path], limit: int,
                               num_shots: int, tuned_num_shots: int, dtype: Optional[str], seed: int,
                               finetune: str = "lora", parts: Optional[Parts] = None,
                               untuned_result: bool = False) -> dict:
    """Score prompting (``num_shots`` demonstrations) and, with ``tuned`` (an adapter, or with
    ``finetune="full"`` a model directory), the tuned model on the task's real instances (a seeded
    subset of ``limit``, recorded by id), which the pipeline never read nor picked the epoch on.
    ``untuned_result``: SELF-GUIDE's result is the untuned model (the guard kept it), scored as the
    tuned one would be (``tuned_num_shots``); an arm that is another's model, adapter and shots
    takes its scores (``same_as``)."""
    from cookbook_datasets.eval.harness import EvalConfig, evaluate_model, main_metric
    from cookbook_datasets.tasks import ids_hash

    arms = {"prompting": (model, None, num_shots)}
    if tuned is not None:
        arms["self_guide"] = (str(tuned), None, tuned_num_shots) if finetune == "full" else (
            model, str(tuned), tuned_num_shots)
    elif untuned_result:
        arms["self_guide"] = (model, None, tuned_num_shots)
    scores = {}
    for arm, (spec, adp, shots) in arms.items():
        same = next((a for a in scores if arms[a] == (spec, adp, shots)), None)
        if same is not None:
            scores[arm] = {**scores[same], "same_as": same}
            continue
        result = evaluate_model(EvalConfig(model=spec, adapter=adp, tasks=[task], num_shots=shots,
                                           limit=limit, seed=seed, dtype=dtype), out=out / "eval" / f"{arm}.json")
        res = next(iter(result["tasks"].values()))
        if parts is not None and res["ids_hash"] != ids_hash(parts.scored_ids):
            # the validation part is disjoint from the rows planned; scoring others would void that
            raise RuntimeError(f"{task.name}: the {arm} evaluation scored other rows than the split's scored part")
        metric, value = main_metric(res)
        scores[arm] = {"metric": metric, "score": value, "stderr": res["metrics"].get(f"{metric}_stderr"),
                       "num_shots": shots, "num_examples": res["num_examples"],
                       "seconds": res["seconds"]}
    return scores


def report_markdown(report: dict) -> str:
    counts = report["counts"]
    inputs, ann = counts["inputs"], counts["annotation"]
    from cookbook_datasets.eval.probe import probe_lines

    lines = [f"# SELF-GUIDE: {report['task']} ({report['kind']})", "", f"Model: `{report['model']}`"]
    if "probe" in report:
        heading = f"## Does the untuned model read the task? ({report['probe']['rows']})"
        lines += probe_lines(report["probe"], heading=heading)
    elif report.get("probe_note"):
        lines += ["", report["probe_note"]]
    lines += ["", "| stage | count |", "|---|---:|",
             f"| rounds | {counts['rounds']} |", f"| inputs generated | {inputs['generated']} |"]
    lines += [f"| dropped by the {f} filter | {inputs[f'dropped_{f}']} |" for f in ("empty", "length", "noise", "duplicate")]
    lines += [f"| inputs annotated | {ann['annotated']} |",
              f"| dropped by self-consistency (< threshold) | {ann['dropped_inconsistent']} |",
              *([f"| dropped: label not the input's target (agree_with_target) | {ann['dropped_disagreeing']} |"]
                if ann.get("dropped_disagreeing") else []),
              f"| pairs before balancing | {counts['pairs_before_balancing']} |", f"| pairs kept | {counts['kept']} |"]
    if "labels_before_balancing" in counts:
        lines += ["", f"Annotation: {counts.get('annotation_mode', 'generate')}; pairs per label before balancing: "
                  + ", ".join(f"{k} {v}" for k, v in counts["labels_before_balancing"].items())
                  + (f"; no demonstration shows {counts['labels_without_demonstration']}"
                     if counts.get("labels_without_demonstration") else "")]
    lines += label_lines(report.get("labels"), report["config"].get("allow_unteachable_data", False)
                         and "training" in report)
    if "stopped" in counts:
        stop = counts["stopped"]
        lines += ["", f"Rounds stopped: {stop['reason']}" + (
            f" ({stop['target']} had {stop['have']} of {stop['needs']} at {stop['yield_per_round']} a round, "
            f"{stop['rounds_left']} rounds left)" if stop["reason"] == "projection" else "")
            + f"; {counts['kept']} pairs of {counts.get('asked', counts['kept'])} asked"
            + ("; run again to resume (not trained or scored)" if stop["reason"] == "budget" else "")]
    if "training" in report:
        t = report["training"]
        method = {"lora": "LoRA", "full": "full fine-tuning"}[t.get("finetune", "lora")]
        if t["per_epoch"]:
            chosen = (f"best epoch {t['best_epoch']} (" + ", ".join(f"{s['score']:.3f}" for s in t["per_epoch"])
                      + f" on {t['validation_rows']} {t['validation']})")
        elif t.get("too_few_validation_rows"):
            chosen = (f"epoch {t['best_epoch']} kept, the last, unchosen: the {t['validation']} has "
                      f"{t['validation_rows']} rows, fewer than the {t['min_validation_rows']} an epoch is chosen "
                      "on (min_validation_rows)")
        else:
            chosen = f"best epoch {t['best_epoch']} (the last: no {t['validation']} to choose with)"
        lines += ["", f"Training: {method} (learning rate {t.get('learning_rate', '')}), {t['epochs']} epoch(s), "
                  f"{t['train_seconds']} s; {chosen}"]
    if "guard" in report:
        lines += ["", guard_text(report["guard"], report.get("tuned_not_kept"))]
    if "split" in report:
        split = report["split"]
        sizes = split["sizes"]
        guards = ", the guard's rows too" if report.get("guard", {}).get("chose") else ""
        lines += ["", f"Real instances: {sizes['scored']} scored"
                  + (f", {sizes['validation']} validation (picks the epoch; disjoint from the scored), from "
                     f"{split.get('validation_from', 'val_instances')}{guards}" if "validation" in sizes else "")
                  + (f", {sizes['probe_only']} read by the probe only (fewer than min_validation_rows)"
                     if "probe_only" in sizes else "")
                  + f", of {split['of']} (ids in report.json)"]
    if "scores" in report:
        lines += ["", "| arm | shots | metric | score | n |", "|---|---:|---|---:|---:|"]
        untuned = " (the untuned model: the guard kept it)" if report.get("kept") == "untuned" else ""
        lines += [f"| {arm}{untuned if arm == 'self_guide' else ''} | {s['num_shots']} | {s['metric']} | "
                  f"{s['score']:.3f} | {s['num_examples']} |" for arm, s in report["scores"].items()]
    return "\n".join(lines) + "\n"


def load_real_task(task: Union[str, os.PathLike, Task], config: SelfGuideConfig) -> Task:
    """The task whose instances are scored: a Task, a task file, or data read with
    ``config.dataset_task`` (its first ``num_demonstrations`` labelled rows the demonstrations)."""
    real = load_task(task, dataset_task=config.dataset_task, demonstrations=config.num_demonstrations)
    if not real.instruction.strip() and not isinstance(task, Task):
        raise TaskFormatError(f"{real.source or task}: SELF-GUIDE writes data from the task's instruction, and this "
                              "task has none: give it (--instruction TEXT, dataset_task.instruction)")
    return real


def run_self_guide(task: Union[str, os.PathLike, Task], out: Union[str, os.PathLike],
                   config: Optional[SelfGuideConfig] = None) -> dict:
    """Synthesise task data with ``config.model`` itself, fine-tune it on the data (``train``;
    ``finetune``: ``"lora"`` or ``"full"``, the reference code's recipe, see tuning.py) and score
    prompting vs SELF-GUIDE's result on the task's real instances (``evaluate``; needs labelled
    instances). ``task``: a Task, a task file, or a data file or dataset read with
    ``config.dataset_task``. The real rows the method may read (``validation_data``,
    ``val_instances`` labelled instances disjoint from the ``eval_limit`` scored ones, or by
    default up to 100 instances beside them; validation.py) are answered by the untuned model
    before training (the probe: does it read the task?), choose the epoch (the paper's protocol;
    without them the synthetic validation split) and guard it: with ``guard="keep-best"`` the
    tuned model is kept only when it beats the untuned one there (guard.py). On fewer than
    ``min_validation_rows`` rows the last epoch is kept and the guard makes no choice.
    Classification pairs that cannot teach (a label never used, one label above
    ``max_label_share``) are refused before training unless ``allow_unteachable_data``.
    Returns the report (also written as ``out/report.{json,md}``)."""
    config = config or SelfGuideConfig()
    if config.train_num_shots is None:  # trained as scored: the evaluation's demonstrations (recorded so)
        config = dataclasses.replace(config, train_num_shots=config.num_shots)
    tuned_num_shots = config.train_num_shots if config.tuned_num_shots is None else config.tuned_num_shots
    train, evaluate = config.train, config.evaluate
    out = Path(out)
    real = load_real_task(task, config)  # its instances are scored
    task = task_definition(real, num_demonstrations=config.num_demonstrations)  # all SELF-GUIDE itself reads
    if evaluate and not train:
        logger.info("evaluate without train: only prompting is scored")
    if evaluate and not real.labelled:
        where = real.source or "an instruction with examples"
        raise ValueError("evaluate=True scores on the real instances of an NIV2 task file (Definition, Positive "
                         f"Examples, Instances) or a task's labelled instances; {where} has none. Give one, "
                         "or pass evaluate=False (--no-eval)")
    if config.val_instances:  # checked before anything is written
        if not real.labelled:
            raise ValueError("val_instances (--val-instances) takes labelled real instances of the task; give an "
                             "NIV2 task file or a Task with instances (an instruction with examples has none)")
        check_val_instances(config.val_instances, config.eval_limit, len(real), real.name)
    parts = None
    if (real.labelled and (evaluate or train)) or config.validation_data is not None:
        # the rows that choose are read only where there is training to choose and guard
        parts = plan_validation(real, config.eval_limit, config.seed,
                                val_instances=config.val_instances if train else 0,
                                validation_data=config.validation_data, dataset_task=config.dataset_task,
                                min_rows=config.min_validation_rows)
    readable = parts.readable if parts is not None else None
    untuned = probe = None
    if train and readable is not None:  # the probe, before anything is trained (or synthesised)
        where = (parts.picks_on if parts.validation is not None
                 else "real instances beside the scored ones, probe only")
        untuned = score_untuned(readable, out, config, tuned_num_shots)
        probe = probe_untuned(readable, untuned, config.seed, where)
    data_dir, counts = synthesize_to_hub_layout(task, out, config)
    report = {"task": task.name, "kind": task.kind, "model": config.model, "data": str(data_dir), "counts": counts,
              "config": config.to_dict(), "finetune": config.finetune}
    if probe is not None:
        report["probe"] = probe
    elif train:
        report["probe_note"] = ("No probe: no labelled real rows the method may read (validation_data, "
                                "val_instances, or the task's instances beside the scored ones); nothing says "
                                "whether the untuned model reads the task.")
    if parts is not None:
        report["split"] = parts.to_dict()
    check = label_check(task, counts, config.max_label_share)
    if check is not None:
        report["labels"] = check
    tuned = None
    if counts.get("stopped", {}).get("reason") == "budget":
        # the data is incomplete: training on it now would leave a model the resumed data does not match
        report["stopped_on_budget"] = {"pairs": counts["kept"], "asked": config.num_examples,
                                       "max_minutes": config.max_minutes}
        logger.warning("%s: synthesis stopped on its budget with %d of %d pairs; not trained or scored. Run again to "
                       "resume", task.name, counts["kept"], config.num_examples)
        train = evaluate = False
    if "stopped_on_budget" not in report:
        check_teachable(task, check, config, data_dir, train)  # before training; the pairs stay on disk
    keep_untuned = False
    if train:
        guarded = (untuned is not None and parts.validation is not None
                   and len(parts.validation.labelled) >= config.min_validation_rows)
        report["training"] = {**train_and_pick_epoch(task, data_dir, out, config, num_shots=tuned_num_shots,
                                                     parts=parts, guarded=guarded), "num_shots": config.train_num_shots}
        tuned = tuned_dir(out, config.finetune)
        if guarded:
            guard = guard_decision(config, untuned, report["training"], parts.picks_on, seed=config.seed)
        else:
            guard = no_guard_choice(config, no_choice_reason(config, parts), len(readable.labelled) if readable else 0)
            logger.warning("%s: guard: no choice: %s; the tuned model is kept, unguarded", task.name, guard["reason"])
        report["guard"] = guard
        keep_untuned = guard["kept"] == "untuned"
        if keep_untuned:
            logger.warning("%s: the tuned model (epoch %d) is not better than the untuned one on %d %s (%.3f vs "
                           "%.3f): the untuned model is the result (guard='keep-best'); %s stays on disk, not kept",
                           task.name, guard["tuned_epoch"], guard["rows"], guard["validation"], guard["tuned"],
                           guard["untuned"], tuned)
            report["kept"], report["tuned_not_kept"] = "untuned", str(tuned)
            tuned = None
        else:
            if guard["chose"] and not guard["tuned_better"]:
                logger.warning("%s: the tuned model (epoch %d) is not better than the untuned one on %d %s (%.3f vs "
                               "%.3f), and is kept: guard='off'", task.name, guard["tuned_epoch"], guard["rows"],
                               guard["validation"], guard["tuned"], guard["untuned"])
            report["kept"], report["tuned"] = "tuned", str(tuned)
            if config.finetune == "lora":
                report["adapter"] = str(tuned)
    if evaluate:
        report["scores"] = evaluate_against_prompting(real, out, config.model, tuned, config.eval_limit,
                                                      config.num_shots, tuned_num_shots, config.dtype, config.seed,
                                                      config.finetune, parts, untuned_result=keep_untuned)
        if "self_guide" in report["scores"]:
            report["gain"] = report["scores"]["self_guide"]["score"] - report["scores"]["prompting"]["score"]
    atomic_json(out / "report.json", report, indent=1, sort_keys=False)
    (out / "report.md").write_text(report_markdown(report))
    return report


def no_choice_reason(config: SelfGuideConfig, parts: Optional[Parts]) -> str:
    """Why the guard cannot choose (the report's and the log's words)."""
    least = config.min_validation_rows
    if parts is not None and parts.probe_only is not None:
        return (f"the task has {len(parts.probe_only)} labelled instances beside the scored ones, fewer than the "
                f"{least} the guard chooses on (min_validation_rows); give validation_data, or lower eval_limit")
    if parts is not None and parts.validation is not None:
        return (f"the {parts.picks_on} are {len(parts.validation.labelled)} rows, fewer than the {least} the guard "
                "chooses on (min_validation_rows)")
    if config.val_instances == 0:
        return "val_instances=0: no real validation rows to choose on"
    return ("no labelled real rows to choose on (give validation_data or val_instances, or a task with instances "
            "beside the scored ones)")
