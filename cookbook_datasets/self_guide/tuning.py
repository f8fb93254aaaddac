"""Fine-tuning the model on its own pairs, and keeping the epoch that validates best.

Two recipes (``finetune``):

- ``"lora"``: the project's LoRA recipe (``TrainConfig``'s defaults: rank 16, learning rate 2e-4,
  cosine), 3 epochs; the tuned model is an adapter (``out/adapter``).
- ``"full"``: the reference code's (Prompt2Model-Self-Distill, METHODS.md §2): every weight trained,
  learning rate 5e-5 with linear decay and no warm-up (the defaults of the transformers Trainer it
  runs), 3 epochs; the tuned model is a full model directory (``out/tuned``).

The training fields of ``SelfGuideConfig`` (``num_train_epochs``, ``learning_rate``, ...; its
``train_args()``) override either. A checkpoint is kept per epoch; each is scored on the
validation part (validation.py) and the best one is copied out, when the part has at least
``min_validation_rows`` rows: on fewer, a choice would follow noise, so no epoch is scored and the
last one is kept (the report and the log say so). With ``guarded`` (the guard will compare the
pick with the untuned model, guard.py) every epoch is scored on the real validation part, even a
single one, and the picked epoch's per-row scores are kept. Training is reused
only when ``out/training.json`` says it was made from the same rows (a fingerprint of the data
files) with the same training config: an out directory trained on 0-shot rows is retrained when
the rows become k-shot, instead of being scored as if it had learnt them.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import time
from pathlib import Path
from typing import Optional

from ..atomic_files import atomic_dir, atomic_json
from .config import SelfGuideConfig, check_finetune
from .validation import Parts, synthetic_validation_task

logger = logging.getLogger(__name__)

# What each mode sets before train_args (TrainConfig fields); LoRA keeps TrainConfig's own defaults.
FINETUNE_RECIPES = {
    "lora": {"use_lora": True, "num_train_epochs": 3},
    "full": {"use_lora": False, "learning_rate": 5e-5, "lr_scheduler_type": "linear", "warmup_ratio": 0.0,
             "num_train_epochs": 3},
}
ADAPTER_FILES = ("adapter_config.json", "adapter_model.safetensors")
# Files of a full checkpoint that only resuming its training needs (not kept in the tuned model).
TRAINER_STATE = ("optimizer.pt", "scheduler.pt", "trainer_state.json", "training_args.bin", "scaler.pt")


def free(*objects) -> None:
    """Give a model's memory back before the next one loads (CPU allocators keep it otherwise)."""
    import gc

    from cookbook_datasets.cpu import release_memory

    del objects
    gc.collect()
    release_memory()


def finetune_args(finetune: str, train_args: Optional[dict] = None) -> dict:
    """The TrainConfig fields of ``finetune``'s recipe with ``train_args`` over them."""
    check_finetune(finetune)
    train_args = dict(train_args or {})
    if "use_lora" in train_args and bool(train_args["use_lora"]) != (finetune == "lora"):
        raise ValueError(f"train_args use_lora={train_args['use_lora']!r} contradicts finetune={finetune!r}; "
                         "choose the method with finetune ('lora' or 'full')")
    return {**FINETUNE_RECIPES[finetune], **train_args}


def tuned_dir(out: Path, finetune: str) -> Path:
    return out / ("adapter" if finetune == "lora" else "tuned")


def data_fingerprint(data_dir: Path, name: str) -> str:
    """SHA-256 over the config's Parquet files (names and bytes): the rows the model is trained on."""
    digest = hashlib.sha256()
    files = sorted((data_dir / name).glob("*.parquet"))
    if not files:
        raise FileNotFoundError(f"{data_dir / name} holds no Parquet files to train on")
    for path in files:
        digest.update(path.name.encode() + b"\0")
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def _identity_hash(identity: dict) -> str:
    return hashlib.sha256(json.dumps(identity, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _train_once(config, out: Path, identity: dict) -> dict:
    """Train with ``config`` unless ``out/training.json`` and the run card say these rows and this
    config were trained already; an out directory trained otherwise is cleared first (its
    checkpoints would otherwise be resumed)."""
    from cookbook_datasets.trainers import train

    model_dir, marker = out / "model", out / "training.json"
    card_path = model_dir / "run_card.json"
    written = json.loads(marker.read_text()) if marker.exists() else None
    if written != identity:
        if model_dir.exists() or written is not None:
            logger.warning("%s was trained on other rows or with another config (%s); training again", model_dir,
                           "no record of what" if written is None else
                           ", ".join(k for k in identity if identity.get(k) != written.get(k)))
        for stale in (model_dir, out / "adapter", out / "tuned", out / "epochs.json"):
            shutil.rmtree(stale, ignore_errors=True) if stale.is_dir() else stale.unlink(missing_ok=True)
        # written before training: a run killed half-way resumes its checkpoints only for these rows
        atomic_json(marker, identity, indent=1, sort_keys=False)
    if card_path.exists():
        return json.loads(card_path.read_text())
    card = train(config)
    if not config.use_lora:  # optimizer and scheduler states are only for resuming: 3x the weights, per epoch
        for ckpt in model_dir.glob("checkpoint-*"):
            for name in ("optimizer.pt", "scheduler.pt"):
                (ckpt / name).unlink(missing_ok=True)
    return card


def _copy_tuned(source: Path, target: Path, finetune: str) -> None:
    if finetune == "lora":
        names = ADAPTER_FILES
    else:
        names = [p.name for p in source.iterdir() if p.is_file() and p.name not in TRAINER_STATE
                 and not p.name.startswith("rng_state") and p.name not in ("run_card.json", "RUN_CARD.md",
                                                                           "training_curve.png")]
    with atomic_dir(target, overwrite=True) as tmp:
        for name in names:
            shutil.copy2(source / name, tmp / name)


def train_and_pick_epoch(task, data_dir: Path, out: Path, config: SelfGuideConfig, *, num_shots: int = 0,
                         parts: Optional[Parts] = None, guarded: bool = False) -> dict:
    """Fine-tune ``config.model`` on the train split (``config.finetune``'s recipe with the config's
    training fields over it, a checkpoint per epoch) and copy the epoch that scores best (the task's
    metric, greedy answers posed with ``num_shots`` demonstrations) on ``parts.validation`` (real
    instances) or, without one, the synthetic validation split, to :func:`tuned_dir`; the last
    epoch where that part has fewer than ``config.min_validation_rows`` rows. ``guarded``: the
    real part is scored even for one epoch, and the pick's per-row scores (``best_scores``, in the
    part's order) are returned for the guard. Returns what the report records of it."""
    import datasets

    from cookbook_datasets.eval.harness import main_metric, run_task
    from cookbook_datasets.models import load_model
    from cookbook_datasets.trainers import TrainConfig

    from cookbook_datasets.eval.guard import row_scores

    model, finetune, dtype = config.model, config.finetune, config.dtype
    args = finetune_args(finetune, config.train_args())
    epochs = int(-(-float(args["num_train_epochs"]) // 1))
    trainer = TrainConfig(model=model, datasets=[{"path": str(data_dir), "name": task.name}],
                          output_dir=str(out / "model"), eval_split=None, save_strategy="epoch",
                          save_total_limit=max(epochs, 1), **args)
    train_config = {k: v for k, v in trainer.to_dict().items() if k not in ("output_dir", "resume")}
    identity = {"data_fingerprint": data_fingerprint(data_dir, task.name), "finetune": finetune,
                "train_config": train_config}
    card = _train_once(trainer, out, identity)
    splits = datasets.load_dataset(str(data_dir), task.name)
    if parts is not None and parts.validation is not None:
        vtask = parts.validation
    else:
        vtask = synthetic_validation_task(task, splits["validation"]) if "validation" in splits else None
    picking = {"validation": parts.picks_on if parts is not None else "synthetic validation split",
               "validation_ids": vtask.ids if vtask is not None else [], "validation_num_shots": num_shots,
               "min_validation_rows": config.min_validation_rows, "training": _identity_hash(identity),
               **({"guarded": True} if guarded else {})}  # a pick made before the guard existed is reused
    target = tuned_dir(out, finetune)
    picked_path = out / "epochs.json"
    if picked_path.exists() and target.exists():
        picked = json.loads(picked_path.read_text())
        if {k: picked.get(k) for k in picking} == picking:
            return _summary(picked, card)
    checkpoints = sorted((p for p in (out / "model").glob("checkpoint-*") if p.is_dir()),
                         key=lambda p: int(p.name.split("-")[1]))
    scores, start = [], time.time()
    rows = len(vtask) if vtask is not None else 0
    too_few = 0 < rows < config.min_validation_rows and len(checkpoints) > 1
    if guarded and (parts is None or vtask is not parts.validation or too_few):
        raise RuntimeError(f"{task.name}: the guard needs the real validation part with at least "
                           f"{config.min_validation_rows} rows (min_validation_rows)")
    per_row = []
    if too_few:
        logger.warning("%s: the %s has %d rows, fewer than the %d an epoch is chosen on (min_validation_rows); no "
                       "epoch is chosen: the last one is kept", task.name, picking["validation"], rows,
                       config.min_validation_rows)
    if rows and not too_few and (len(checkpoints) > 1 or (guarded and checkpoints)):
        for ckpt in checkpoints:
            m, tok = load_model(str(ckpt), dtype=dtype) if finetune == "full" else load_model(
                model, adapter=str(ckpt), dtype=dtype)
            result = run_task(m, tok, vtask, num_shots=num_shots)  # posed as the tuned model is scored
            metric, value = main_metric(result)
            scores.append({"checkpoint": ckpt.name, "metric": metric, "score": value})
            per_row.append(row_scores(vtask, result) if guarded else None)
            del m, tok
            free()
            logger.info("%s: %s %s %.3f", ckpt.name, picking["validation"], metric, value)
        best = max(range(len(scores)), key=lambda i: (scores[i]["score"], -i))  # ties: the earlier epoch
        source = checkpoints[best]
    else:  # nothing to choose with: the last epoch
        best, source = len(checkpoints) - 1, checkpoints[-1] if checkpoints else out / "model"
    _copy_tuned(source, target, finetune)
    for stale in (out / "eval").glob("self_guide*"):  # scores of the model this one replaces
        stale.unlink()
    picked = {**picking, "finetune": finetune, "epochs": epochs, "validation_rows": rows,
              "too_few_validation_rows": too_few, "per_epoch": scores, "best_epoch": best + 1, "best_checkpoint": source.name, "tuned": str(target),
              "learning_rate": trainer.learning_rate, "pick_seconds": round(time.time() - start, 1)}
    if guarded and per_row:
        picked["best_scores"] = per_row[best]
    atomic_json(picked_path, picked, indent=1, sort_keys=False)
    return _summary(picked, card)


def _summary(picked: dict, card: dict) -> dict:
    return {**{k: v for k, v in picked.items() if k not in ("training", "guarded")},
            "train_seconds": card["train_seconds"]}
