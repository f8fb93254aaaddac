"""The whole SELF-GUIDE job: synthesise, fine-tune the same model, score it against prompting.

    report = run_self_guide("task.json", "runs/sg", model="smollm2-135m", config=SelfGuideConfig())

Writes under ``out``: ``work/`` (the per-round checkpoints), ``data/`` (the kept pairs in the Hub
layout, config = the task's name, card with the recipe and the counts per stage), ``training.json``
(the rows' fingerprint and training config ``model/`` was made from), ``model/`` (the training run,
a checkpoint per epoch), ``adapter/`` (LoRA) or ``tuned/`` (full fine-tuning): the epoch that scored
best on the validation part (``val_instances`` real instances, else the synthetic validation
split; ``epochs.json``), ``eval/`` (prompting vs the tuned model on the task's real instances) and
``report.json`` / ``report.md``. Every step is skipped when its output is already there and was made
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
from cookbook_datasets.models import DEFAULT_MODEL
from cookbook_datasets.tasks import Task, load_task, task_definition

from .config import SelfGuideConfig
from .pipeline import check_kept_some, recipe, same_recipe, synthesize, to_dataset_dict
from .tuning import check_finetune, free, train_and_pick_epoch, tuned_dir
from .validation import Parts, check_val_instances, plan_parts

logger = logging.getLogger(__name__)


def synthesize_to_hub_layout(task: Task, out: Path, model: str, config: SelfGuideConfig, backend: str,
                             engine_options: dict, dtype: Optional[str]) -> tuple[Path, dict]:
    """The kept pairs in the Hub layout under ``out/data`` (reused when its recipe matches)."""
    from cookbook_datasets.generation import load_engine
    from cookbook_datasets.hub_layout import write_hub_layout

    data_dir = out / "data"
    rec = recipe(task, config, model)
    if (data_dir / "recipe.json").exists():
        written = json.loads((data_dir / "recipe.json").read_text()).get(task.name, {})
        # data a time budget cut short is resumed (its rounds are checkpointed), not reused
        if (same_recipe({k: v for k, v in written.items() if k != "counts"}, rec)
                and written["counts"].get("stopped", {}).get("reason") != "budget"):
            return data_dir, written["counts"]
    options = dict(engine_options or {})
    if backend in ("transformers", "vllm") and dtype is not None:
        options.setdefault("dtype", dtype)
    engine = load_engine(model, backend=backend, **options)
    try:
        pairs, stats = synthesize(task, engine, config, work_dir=out / "work", model_name=model)
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
        lines += ["", f"Training: {method} (learning rate {t.get('learning_rate', '')}), {t['epochs']} epoch(s), "
                  f"{t['train_seconds']} s; best epoch {t['best_epoch']}"
                  + (" (" + ", ".join(f"{s['score']:.3f}" for s in t["per_epoch"])
                     + f" on {t['validation_rows']} {t['validation']})" if t["per_epoch"] else
                     f" (the last: no {t['validation']} to choose with)")]
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


def run_self_guide(task: Union[str, os.PathLike, Task], out: Union[str, os.PathLike], *,
                   model: str = DEFAULT_MODEL, config: Optional[SelfGuideConfig] = None,
                   backend: str = "transformers", engine_options: Optional[dict] = None, dtype: Optional[str] = None,
                   train: bool = True, evaluate: bool = True, train_args: Optional[dict] = None,
                   finetune: str = "lora", val_instances: Optional[int] = None,
                   eval_limit: int = 100, num_shots: int = 2, tuned_num_shots: Optional[int] = None,
                   num_demonstrations: int = 3) -> dict:
    """Synthesise task data with ``model`` itself, fine-tune ``model`` on it (``train``; ``finetune``:
    ``"lora"`` or ``"full"``, the reference code's recipe, see tuning.py) and score prompting vs the
    tuned model on the task's real instances (``evaluate``; needs a Task or task file with labelled
    instances). The epoch is picked on ``val_instances`` labelled real instances disjoint from the
    ``eval_limit`` scored ones (the paper's protocol) or, without them, on the synthetic validation
    split. Returns the report (also written as ``out/report.{json,md}``)."""
    config = config or SelfGuideConfig()
    check_finetune(finetune)
    if config.train_num_shots is None:  # trained as scored: the evaluation's demonstrations
        config = dataclasses.replace(config, train_num_shots=num_shots)
    if tuned_num_shots is None:
        tuned_num_shots = config.train_num_shots
    out = Path(out)
    real = task if isinstance(task, Task) else load_task(Path(task))  # its instances are scored
    task = task_definition(real, num_demonstrations=num_demonstrations)  # all SELF-GUIDE itself reads
    if evaluate and not train:
        logger.info("evaluate without train: only prompting is scored")
    if evaluate and not real.labelled:
        where = real.source or "an instruction with examples"
        raise ValueError("evaluate=True scores on the real instances of an NIV2 task file (Definition, Positive "
                         f"Examples, Instances) or a task's labelled instances; {where} has none. Give one, "
                         "or pass evaluate=False (--no-eval)")
    parts = None
    if val_instances is not None:  # checked before anything is written
        if not train:
            raise ValueError("val_instances (--val-instances) picks the epoch of training; with train=False "
                             "(--no-train) there is none to pick")
        if not real.labelled:
            raise ValueError("val_instances (--val-instances) takes labelled real instances of the task; give an "
                             "NIV2 task file or a Task with instances (an instruction with examples has none)")
        check_val_instances(val_instances, eval_limit, len(real), real.name)
    if real.labelled and (evaluate or val_instances is not None):
        parts = plan_parts(real, eval_limit, val_instances, config.seed)
    data_dir, counts = synthesize_to_hub_layout(task, out, model, config, backend, engine_options or {}, dtype)
    report = {"task": task.name, "kind": task.kind, "model": model, "data": str(data_dir), "counts": counts,
              "config": config.to_dict(), "finetune": finetune}
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
        report["training"] = {**train_and_pick_epoch(task, data_dir, out, model, finetune=finetune,
                                                     train_args=train_args, dtype=dtype, num_shots=tuned_num_shots,
                                                     parts=parts), "num_shots": config.train_num_shots}
        tuned = tuned_dir(out, finetune)
        report["tuned"] = str(tuned)
        if finetune == "lora":
            report["adapter"] = str(tuned)
    if evaluate:
        report["scores"] = evaluate_against_prompting(real, out, model, tuned, eval_limit, num_shots,
                                                      tuned_num_shots, dtype, config.seed, finetune, parts)
        if "self_guide" in report["scores"]:
            report["gain"] = report["scores"]["self_guide"]["score"] - report["scores"]["prompting"]["score"]
    atomic_json(out / "report.json", report, indent=1, sort_keys=False)
    (out / "report.md").write_text(report_markdown(report))
    return report
