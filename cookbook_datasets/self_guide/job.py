"""The whole SELF-GUIDE job: synthesise, fine-tune the same model, score it against prompting.

    report = run_self_guide("task.json", "runs/sg", SelfGuideConfig(model="smollm2-135m", num_examples=100))
    report = run_self_guide("reviews.csv", "runs/sg", SelfGuideConfig(dataset_task=DatasetTask(
        input_field="review", output_field="sentiment", instruction="Is the review positive or negative?")))

Everything the run needs is one :class:`SelfGuideConfig` (config.py).

Writes under ``out``: ``work/`` (the per-round checkpoints), ``data/`` (the kept pairs in the Hub
layout, config = the task's name, card with the recipe and the counts per stage), ``training.json``
(the rows' fingerprint and training config ``model/`` was made from), ``model/`` (the training run,
a checkpoint per epoch), ``adapter/`` (LoRA) or ``tuned/`` (full fine-tuning): the epoch that scored
best on the validation part (``val_instances`` real instances, else the synthetic validation
split; ``epochs.json``; the last epoch when the part has fewer than ``min_validation_rows``),
``eval/`` (prompting vs the tuned model on the task's real instances) and ``report.json`` /
``report.md``. Every step is skipped when its output is already there and was made
from the same inputs, so a killed job started again picks up where it stopped.
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
from .pipeline import check_kept_some, recipe, same_recipe, synthesize, to_dataset_dict
from .tuning import free, train_and_pick_epoch, tuned_dir
from .validation import Parts, check_val_instances, plan_parts

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
                               finetune: str = "lora", parts: Optional[Parts] = None) -> dict:
    """Score prompting (``num_shots`` demonstrations) and, with ``tuned`` (an adapter, or with
    ``finetune="full"`` a model directory), the tuned model on the task's real instances (a seeded
    subset of ``limit``, recorded by id), which the pipeline never read nor picked the epoch on."""
    from cookbook_datasets.eval.harness import EvalConfig, evaluate_model, main_metric
    from cookbook_datasets.tasks import ids_hash

    arms = {"prompting": (model, None, num_shots)}
    if tuned is not None:
        arms["self_guide"] = (str(tuned), None, tuned_num_shots) if finetune == "full" else (
            model, str(tuned), tuned_num_shots)
    scores = {}
    for arm, (spec, adp, shots) in arms.items():
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
    lines = [f"# SELF-GUIDE: {report['task']} ({report['kind']})", "", f"Model: `{report['model']}`", "",
             "| stage | count |", "|---|---:|",
             f"| rounds | {counts['rounds']} |", f"| inputs generated | {inputs['generated']} |"]
    lines += [f"| dropped by the {f} filter | {inputs[f'dropped_{f}']} |" for f in ("empty", "length", "noise", "duplicate")]
    lines += [f"| inputs annotated | {ann['annotated']} |",
              f"| dropped by self-consistency (< threshold) | {ann['dropped_inconsistent']} |",
              f"| pairs before balancing | {counts['pairs_before_balancing']} |", f"| pairs kept | {counts['kept']} |"]
    if "labels_before_balancing" in counts:
        lines += ["", f"Annotation: {counts.get('annotation_mode', 'generate')}; pairs per label before balancing: "
                  + ", ".join(f"{k} {v}" for k, v in counts["labels_before_balancing"].items())
                  + (f"; no demonstration shows {counts['labels_without_demonstration']}"
                     if counts.get("labels_without_demonstration") else "")]
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
    if "split" in report:
        sizes = report["split"]["sizes"]
        lines += ["", f"Real instances: {sizes['scored']} scored"
                  + (f", {sizes['validation']} validation (picks the epoch; disjoint from the scored)"
                     if "validation" in sizes else "") + f", of {report['split']['of']} (ids in report.json)"]
    if "scores" in report:
        lines += ["", "| arm | shots | metric | score | n |", "|---|---:|---|---:|---:|"]
        lines += [f"| {arm} | {s['num_shots']} | {s['metric']} | {s['score']:.3f} | {s['num_examples']} |"
                  for arm, s in report["scores"].items()]
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
    prompting vs the tuned model on the task's real instances (``evaluate``; needs labelled
    instances). ``task``: a Task, a task file, or a data file or dataset read with
    ``config.dataset_task``. The epoch is chosen on ``val_instances`` labelled real instances
    disjoint from the ``eval_limit`` scored ones (the paper's protocol) or, without them, on the
    synthetic validation split; on fewer than ``min_validation_rows`` rows the last epoch is kept.
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
    parts = None
    if config.val_instances is not None:  # checked before anything is written
        if not real.labelled:
            raise ValueError("val_instances (--val-instances) takes labelled real instances of the task; give an "
                             "NIV2 task file or a Task with instances (an instruction with examples has none)")
        check_val_instances(config.val_instances, config.eval_limit, len(real), real.name)
    if real.labelled and (evaluate or config.val_instances is not None):
        parts = plan_parts(real, config.eval_limit, config.val_instances, config.seed)
    data_dir, counts = synthesize_to_hub_layout(task, out, config)
    report = {"task": task.name, "kind": task.kind, "model": config.model, "data": str(data_dir), "counts": counts,
              "config": config.to_dict(), "finetune": config.finetune}
    if parts is not None:
        report["split"] = parts.to_dict()
    tuned = None
    if counts.get("stopped", {}).get("reason") == "budget":
        # the data is incomplete: training on it now would leave a model the resumed data does not match
        report["stopped_on_budget"] = {"pairs": counts["kept"], "asked": config.num_examples,
                                       "max_minutes": config.max_minutes}
        logger.warning("%s: synthesis stopped on its budget with %d of %d pairs; not trained or scored. Run again to "
                       "resume", task.name, counts["kept"], config.num_examples)
        train = evaluate = False
    if train:
        report["training"] = {**train_and_pick_epoch(task, data_dir, out, config, num_shots=tuned_num_shots,
                                                     parts=parts), "num_shots": config.train_num_shots}
        tuned = tuned_dir(out, config.finetune)
        report["tuned"] = str(tuned)
        if config.finetune == "lora":
            report["adapter"] = str(tuned)
    if evaluate:
        report["scores"] = evaluate_against_prompting(real, out, config.model, tuned, config.eval_limit,
                                                      config.num_shots, tuned_num_shots, config.dtype, config.seed,
                                                      config.finetune, parts)
        if "self_guide" in report["scores"]:
            report["gain"] = report["scores"]["self_guide"]["score"] - report["scores"]["prompting"]["score"]
    atomic_json(out / "report.json", report, indent=1, sort_keys=False)
    (out / "report.md").write_text(report_markdown(report))
    return report
