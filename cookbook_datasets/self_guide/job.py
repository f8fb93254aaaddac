"""The whole SELF-GUIDE job: synthesise, fine-tune the same model, score it against prompting.

    report = run_self_guide("task.json", "runs/sg", model="smollm2-135m", config=SelfGuideConfig())

Writes under ``out``: ``work/`` (the per-round checkpoints), ``data/`` (the kept pairs in the Hub
layout, config = the task's name, card with the recipe and the counts per stage), ``model/`` (the
training run, a checkpoint per epoch), ``adapter/`` (the epoch that scored best on the synthetic
validation split), ``eval/`` (prompting vs the tuned model on the task's real instances) and
``report.json`` / ``report.md``. Every step is skipped when its output is already there, so a
killed job started again picks up where it stopped.
"""

from __future__ import annotations

import dataclasses
import gc
import json
import logging
import os
import shutil
from pathlib import Path
from typing import Optional, Union

from cookbook_datasets.models import DEFAULT_MODEL
from cookbook_datasets.tasks import Task, load_task

from .config import SelfGuideConfig
from .pipeline import _atomic_json, check_kept_some, recipe, same_recipe, synthesize, to_dataset_dict
from .task import TaskSpec

logger = logging.getLogger(__name__)

ADAPTER_FILES = ("adapter_config.json", "adapter_model.safetensors")


def _free(*objects) -> None:
    from cookbook_datasets.cpu import release_memory

    del objects
    gc.collect()
    release_memory()


def synthesize_to_hub_layout(task: TaskSpec, out: Path, model: str, config: SelfGuideConfig, backend: str,
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
        _free(engine)
    check_kept_some(task, stats)
    write_hub_layout({task.name: to_dataset_dict(pairs, task, config)}, data_dir, {task.name: {**rec, "counts": stats}},
                     overwrite=True, pretty_name=f"SELF-GUIDE synthetic data for {task.name}",
                     description=(f"Pairs the model `{model}` wrote for itself from the task's instruction and "
                                  f"{len(task.examples)} demonstrations (SELF-GUIDE, arXiv 2407.12874), made with "
                                  "cookbook-datasets. The recipe records the counts kept and dropped at every stage."))
    return data_dir, stats


def _validation_task(task: TaskSpec, rows) -> Task:
    """The synthetic validation rows as a Task with the task's demonstrations: scored with the
    rows' ``num_shots``, its prompts are the rows' own (to_rows builds them with the same function)."""
    from cookbook_datasets.tasks import Instance
    from cookbook_datasets.tasks.task import with_unique_ids

    from .task_view import eval_task

    view = eval_task(task)
    instances = [Instance.make(p[-1]["content"], [c[0]["content"]]) for p, c in zip(rows["prompt"], rows["completion"])]
    return Task(name=task.name, kind=task.kind, instruction=view.instruction, demonstrations=view.demonstrations,
                labels=task.labels, instances=with_unique_ids(instances), source="synthetic validation split")


def train_and_pick_epoch(task: TaskSpec, data_dir: Path, out: Path, model: str, train_args: dict,
                         dtype: Optional[str], num_shots: int = 0) -> dict:
    """Fine-tune on the train split with a checkpoint per epoch; copy the epoch that scores best on
    the synthetic validation split (the task's metric, greedy answers) to ``out/adapter``."""
    import datasets

    from cookbook_datasets.eval.harness import main_metric, run_task
    from cookbook_datasets.models import load_model
    from cookbook_datasets.trainers import TrainConfig, train

    args = {"num_train_epochs": 3, **train_args}
    epochs = int(-(-float(args["num_train_epochs"]) // 1))
    config = TrainConfig(model=model, datasets=[{"path": str(data_dir), "name": task.name}],
                         output_dir=str(out / "model"), eval_split=None, save_strategy="epoch",
                         save_total_limit=max(epochs, 1), **args)
    card_path = out / "model" / "run_card.json"
    card = json.loads(card_path.read_text()) if card_path.exists() else train(config)
    picked_path = out / "epochs.json"
    if picked_path.exists() and (out / "adapter").exists():
        return {**json.loads(picked_path.read_text()), "train_seconds": card["train_seconds"]}
    checkpoints = sorted((p for p in (out / "model").glob("checkpoint-*") if p.is_dir()),
                         key=lambda p: int(p.name.split("-")[1]))
    splits = datasets.load_dataset(str(data_dir), task.name)
    validation = splits["validation"] if "validation" in splits else []
    scores = []
    if len(validation) and len(checkpoints) > 1:
        vtask = _validation_task(task, validation)
        for ckpt in checkpoints:
            m, tok = load_model(model, adapter=str(ckpt), dtype=dtype)
            result = run_task(m, tok, vtask, num_shots=num_shots)  # posed as the rows pose it
            scores.append({"checkpoint": ckpt.name, "metric": main_metric(result)[0], "score": main_metric(result)[1]})
            _free(m)
            logger.info("%s: validation %s %.3f", ckpt.name, scores[-1]["metric"], scores[-1]["score"])
        best = max(range(len(scores)), key=lambda i: (scores[i]["score"], -i))  # ties: the earlier epoch
        source = checkpoints[best]
    else:  # nothing to choose with: the last epoch
        best, source = len(checkpoints) - 1, checkpoints[-1] if checkpoints else out / "model"
    tmp = out / "adapter.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for name in ADAPTER_FILES:
        shutil.copy2(source / name, tmp / name)
    shutil.rmtree(out / "adapter", ignore_errors=True)
    os.replace(tmp, out / "adapter")
    picked = {"epochs": epochs, "validation_rows": len(validation), "per_epoch": scores, "best_epoch": best + 1,
              "best_checkpoint": source.name}
    _atomic_json(picked_path, picked)
    return {**picked, "train_seconds": card["train_seconds"]}


def evaluate_against_prompting(task: Task, out: Path, model: str, adapter: Optional[Path], limit: int,
                               num_shots: int, tuned_num_shots: int, dtype: Optional[str], seed: int) -> dict:
    """Score prompting (``num_shots`` demonstrations) and, with ``adapter``, the tuned model on the
    task's real instances (a seeded subset of ``limit``, recorded by id), which the pipeline never read."""
    from cookbook_datasets.eval.harness import EvalConfig, evaluate_model, main_metric

    arms = {"prompting": (None, num_shots)}
    if adapter is not None:
        arms["self_guide"] = (str(adapter), tuned_num_shots)
    scores = {}
    for arm, (adp, shots) in arms.items():
        result = evaluate_model(EvalConfig(model=model, adapter=adp, tasks=[task], num_shots=shots,
                                           limit=limit, seed=seed, dtype=dtype), out=out / "eval" / f"{arm}.json")
        res = next(iter(result["tasks"].values()))
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
        lines += ["", f"Training: {t['epochs']} epoch(s), {t['train_seconds']} s; best epoch {t['best_epoch']}"
                  + (" (" + ", ".join(f"{s['score']:.3f}" for s in t["per_epoch"]) + " on the synthetic validation split)"
                     if t["per_epoch"] else "")]
    if "scores" in report:
        lines += ["", "| arm | shots | metric | score | n |", "|---|---:|---|---:|---:|"]
        lines += [f"| {arm} | {s['num_shots']} | {s['metric']} | {s['score']:.3f} | {s['num_examples']} |"
                  for arm, s in report["scores"].items()]
    return "\n".join(lines) + "\n"


def run_self_guide(task: Union[str, os.PathLike, Task, TaskSpec], out: Union[str, os.PathLike], *,
                   model: str = DEFAULT_MODEL, config: Optional[SelfGuideConfig] = None,
                   backend: str = "transformers", engine_options: Optional[dict] = None, dtype: Optional[str] = None,
                   train: bool = True, evaluate: bool = True, train_args: Optional[dict] = None,
                   eval_limit: int = 100, num_shots: int = 2, tuned_num_shots: Optional[int] = None,
                   num_demonstrations: int = 3) -> dict:
    """Synthesise task data with ``model`` itself, fine-tune ``model`` on it (``train``) and score
    prompting vs the tuned model on the task's real instances (``evaluate``; needs a Task or task
    file with labelled instances). Returns the report (also written as ``out/report.{json,md}``)."""
    config = config or SelfGuideConfig()
    if config.train_num_shots is None:  # trained as scored: the evaluation's demonstrations
        config = dataclasses.replace(config, train_num_shots=num_shots)
    if tuned_num_shots is None:
        tuned_num_shots = config.train_num_shots
    out = Path(out)
    real = None  # the Task whose instances are scored (SELF-GUIDE itself reads only the TaskSpec)
    if not isinstance(task, TaskSpec):
        real = task if isinstance(task, Task) else load_task(Path(task))
        task = TaskSpec.from_task(real, num_demonstrations=num_demonstrations)
    if evaluate and not train:
        logger.info("evaluate without train: only prompting is scored")
    if evaluate and (real is None or not real.labelled):
        where = real.source if real is not None and real.source else "an instruction with examples"
        raise ValueError("evaluate=True scores on the real instances of an NIV2 task file (Definition, Positive "
                         f"Examples, Instances) or a task's labelled instances; {where} has none. Give one, "
                         "or pass evaluate=False (--no-eval)")
    data_dir, counts = synthesize_to_hub_layout(task, out, model, config, backend, engine_options or {}, dtype)
    report = {"task": task.name, "kind": task.kind, "model": model, "data": str(data_dir), "counts": counts,
              "config": config.to_dict()}
    adapter = None
    if counts.get("stopped", {}).get("reason") == "budget":
        # the data is incomplete: training on it now would leave a model the resumed data does not match
        report["stopped_on_budget"] = {"pairs": counts["kept"], "asked": config.num_examples,
                                       "max_minutes": config.max_minutes}
        logger.warning("%s: synthesis stopped on its budget with %d of %d pairs; not trained or scored. Run again to "
                       "resume", task.name, counts["kept"], config.num_examples)
        train = evaluate = False
    if train:
        report["training"] = {**train_and_pick_epoch(task, data_dir, out, model, dict(train_args or {}), dtype,
                                                     config.train_num_shots), "num_shots": config.train_num_shots}
        adapter = out / "adapter"
        report["adapter"] = str(adapter)
    if evaluate:
        report["scores"] = evaluate_against_prompting(real, out, model, adapter, eval_limit, num_shots,
                                                      tuned_num_shots, dtype, config.seed)
        if "self_guide" in report["scores"]:
            report["gain"] = report["scores"]["self_guide"]["score"] - report["scores"]["prompting"]["score"]
    _atomic_json(out / "report.json", report)
    (out / "report.md").write_text(report_markdown(report))
    return report
