"""SELF-GUIDE synthesis: the stages in order, a round at a time, checkpointed.

    rows, stats = synthesize(task, engine, SelfGuideConfig(num_examples=100), work_dir="runs/sg/work")

Rounds run until ``num_examples`` pairs have passed annotation (classification with balancing:
``num_examples / labels`` pairs of every label) or ``max_rounds`` rounds have run; then
classification rows are balanced. Each finished round is written to
``work_dir/rounds/round_XXXXX.json`` (atomically) with everything it generated and every verdict, so
a run killed at any point and started again redoes no finished round, and since a round's random
streams depend only on (seed, round) and the rounds before it, it ends with the same rows.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import statistics
import time
from collections import Counter
from pathlib import Path
from typing import Optional

import datasets

from cookbook_datasets.rows import row_features

from .annotation import annotate, check_can_rank, label_prior
from .balancing import balance_classes
from .config import SelfGuideConfig
from .input_filters import FILTERS, filter_inputs, length_window
from .input_generation import generate_inputs, max_input_tokens
from .task import TaskSpec

logger = logging.getLogger(__name__)


def _atomic_json(path: Path, data) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=1))
    os.replace(tmp, path)


def recipe(task: TaskSpec, config: SelfGuideConfig, model: str) -> dict:
    return {"method": "self_guide", "task": task.to_dict(), "config": config.to_dict(), "model": model}


def same_recipe(written: dict, rec: dict) -> bool:
    """Whether a recipe read back from disk is ``rec``; a config field added since it was written
    counts as its default (which is what the older code did)."""
    written = {**written, "config": {**SelfGuideConfig().to_dict(), **written.get("config", {})}}
    return written == rec


def _chars_per_token(engine, task: TaskSpec) -> float:
    tokenizer = getattr(engine, "tokenizer", None)
    if tokenizer is None:
        return 4.0  # a remote engine: the usual English ratio
    texts = [ex["input"] for ex in task.examples]
    tokens = sum(len(tokenizer(t, add_special_tokens=False)["input_ids"]) for t in texts)
    return sum(len(t) for t in texts) / max(tokens, 1)


def _check_work_dir(work: Path, rec: dict) -> None:
    path = work / "recipe.json"
    if path.exists():
        previous = json.loads(path.read_text())
        if not same_recipe(previous, rec):
            previous["config"] = {**SelfGuideConfig().to_dict(), **previous["config"]}
            changed = sorted(k for k in set(previous["config"]) | set(rec["config"])
                             if previous["config"].get(k) != rec["config"].get(k))
            what = f"config fields {changed}" if changed else ("the task" if previous["task"] != rec["task"]
                                                               else "the model")
            raise ValueError(f"{work} holds a SELF-GUIDE run with another recipe ({what} differ); "
                             "use another work directory, or delete this one to start over")
    else:
        _atomic_json(path, rec)


def synthesize(task: TaskSpec, engine, config: Optional[SelfGuideConfig] = None,
               work_dir: Optional[str | os.PathLike] = None, model_name: str = "") -> tuple[list[dict], dict]:
    """Run the pipeline; return the kept pairs and the counts per stage (the card's numbers)."""
    config = config or SelfGuideConfig()
    work = Path(work_dir) if work_dir else None
    if config.annotation == "rank":  # refused before anything is written
        if not task.is_classification:
            raise ValueError(f"annotation='rank' ranks a label set; {task.name} is a generation task "
                             "(use annotation='generate')")
        check_can_rank(engine)
    uncovered = uncovered_labels(task)
    if uncovered:
        logger.warning("%s: no demonstration shows the label(s) %s; the model is asked for inputs of labels it has "
                       "seen no example of%s", task.name, uncovered,
                       "" if config.annotation == "rank" else ", and a sampled answer rarely names them "
                       "(annotation='rank' scores every label)")
    if work:
        _check_work_dir(work, recipe(task, config, model_name))
    # a phrase the demonstrations themselves use ("Input:", say) is the task's format, not noise
    demo_text = " ".join(ex["input"] + " " + ex["output"] for ex in task.examples).lower()
    config = dataclasses.replace(config, noise_phrases=tuple(p for p in config.noise_phrases if p not in demo_text))
    in_window = length_window([ex["input"] for ex in task.examples], config)
    out_window = None if task.is_classification else length_window([ex["output"] for ex in task.examples], config)
    max_tokens = max_input_tokens(task, config, _chars_per_token(engine, task), in_window and in_window[1])
    seen = {" ".join(ex["input"].split()) for ex in task.examples}
    balance = task.is_classification and config.balance_labels
    # balanced classification data needs num_examples / labels pairs of every label
    quota = -(-config.num_examples // len(task.labels)) if balance else config.num_examples

    def enough(rows: list) -> bool:
        if not balance:
            return len(rows) >= quota
        counts = Counter(row["label"] for row in rows)
        return all(counts[label] >= quota for label in task.labels)

    prior = None
    if config.calibrate_labels and task.is_classification:
        prior_path = work / "label_prior.json" if work else None
        if prior_path is not None and prior_path.exists():
            prior = json.loads(prior_path.read_text())
        else:
            prior = label_prior(engine, task, config)
            if prior_path is not None:
                _atomic_json(prior_path, prior)
        logger.info("label prior (content-free inputs): %s", prior)
    previous, rows, rounds = [], [], []
    for r in range(config.max_rounds):
        if enough(rows):
            break
        path = work / "rounds" / f"round_{r:05d}.json" if work else None
        if path is not None and path.exists():
            done = json.loads(path.read_text())
        else:
            start = time.time()
            # the inputs are checkpointed on their own too: a kill during annotation keeps them
            half = path.with_name(path.stem + ".inputs.json") if path is not None else None
            if half is not None and half.exists():
                candidates = json.loads(half.read_text())
            else:
                candidates = generate_inputs(engine, task, config, r, previous, max_tokens)
                if half is not None:
                    _atomic_json(half, candidates)
            kept, input_counts = filter_inputs(candidates, in_window, config, set(seen))
            pairs, output_counts = annotate(engine, task, kept, config, r, out_window, prior)
            done = {"round": r, "candidates": candidates, "pairs": pairs,
                    "counts": {"inputs": input_counts, "annotation": output_counts},
                    "seconds": round(time.time() - start, 2)}
            if path is not None:
                _atomic_json(path, done)
                half.unlink(missing_ok=True)
        for cand in done["candidates"]:
            if cand["dropped_by"] is None:
                seen.add(" ".join(cand["text"].split()))
                previous.append(cand["text"])
        rows.extend(done["pairs"])
        rounds.append({**done["counts"], "seconds": done.get("seconds", 0.0)})
        logger.info("round %d: %d inputs kept of %d, %d pairs (total %d of %d)", r,
                    done["counts"]["inputs"]["kept"], done["counts"]["inputs"]["generated"], len(done["pairs"]),
                    len(rows), config.num_examples)
    if not balance:
        rows = rows[:config.num_examples]
    stats = {"rounds": len(rounds), "input_window_chars": in_window, "output_window_chars": out_window,
             "input_max_new_tokens": max_tokens}
    stats["inputs"] = {k: sum(c["inputs"][k] for c in rounds) for k in
                       ("generated", *(f"dropped_{f}" for f in FILTERS), "kept")}
    stats["annotation"] = {k: sum(c["annotation"][k] for c in rounds) for k in
                           ("annotated", "samples", "samples_dropped", "dropped_inconsistent", "kept")}
    if prior is not None:
        stats["label_prior"] = prior
    stats["generation_seconds"] = round(sum(c["seconds"] for c in rounds), 1)
    stats["pairs_before_balancing"] = len(rows)
    if task.is_classification:
        stats["annotation_mode"] = config.annotation
        stats["labels_before_balancing"] = label_counts(rows, task.labels)
        stats["labels_without_demonstration"] = uncovered
    if balance:
        rows, stats["balancing"] = balance_classes(rows, config.seed, per_label=quota)
    stats["kept"] = len(rows)
    if rows:
        stats["mean_vote_share"] = round(statistics.fmean(r["vote_share"] for r in rows), 4)
    if len(rows) < config.num_examples:
        logger.warning("SELF-GUIDE kept %d pairs of the %d asked for after %d rounds (max_rounds=%d)",
                       len(rows), config.num_examples, len(rounds), config.max_rounds)
    if work:
        _atomic_json(work / "stats.json", stats)
    return rows, stats


def uncovered_labels(task: TaskSpec) -> list:
    """The labels of a classification task that no demonstration's output is."""
    if not task.is_classification:
        return []
    shown = {ex["output"].strip() for ex in task.examples}
    return [label for label in task.labels if label not in shown]


def label_counts(rows: list[dict], labels: list) -> dict:
    """Pairs per label, every label of the set listed (zeros included), in the set's order."""
    counts = Counter(row["label"] for row in rows)
    return {label: counts[label] for label in labels}


def check_kept_some(task: TaskSpec, stats: dict) -> None:
    """A clear error instead of an empty dataset when nothing survived the filters."""
    if not stats["kept"]:
        raise ValueError(f"SELF-GUIDE kept no pairs for {task.name} after {stats['rounds']} rounds (counts: "
                         f"{json.dumps({k: stats[k] for k in ('inputs', 'annotation')})}); the model may be too weak "
                         "for this task, or the filters too strict (see length_std, consistency_threshold, max_rounds)")


def to_rows(pairs: list[dict], task: TaskSpec, config: SelfGuideConfig) -> list[dict]:
    """Pairs in the project's row schema: the prompt is the instruction and the input (as the tuned
    model is asked at evaluation time, without demonstrations); ``meta`` says where each came from."""
    applied = [f for f in FILTERS if f != "length" or config.length_std is not None]
    return [{
        "prompt": [{"role": "system", "content": task.instruction.strip()}, {"role": "user", "content": p["input"]}],
        "completion": [{"role": "assistant", "content": p["output"]}],
        "source": f"self_guide/{task.name}",
        "meta": json.dumps({"round": p["round"], "vote_share": p["vote_share"], "label": p["label"],
                            "target_label": p["target_label"], "filters_passed": applied}),
    } for p in pairs]


def to_dataset_dict(pairs: list[dict], task: TaskSpec, config: SelfGuideConfig) -> datasets.DatasetDict:
    """``train`` and ``validation`` splits (``validation_fraction`` of the pairs, seeded; no
    ``validation`` when that rounds to no row)."""
    rows = to_rows(pairs, task, config)
    features = row_features("chat")
    full = datasets.Dataset.from_list(rows, features=features) if rows else datasets.Dataset.from_dict(
        {k: [] for k in features}, features=features)
    n_val = int(round(config.validation_fraction * len(full)))
    if n_val == 0 or len(full) - n_val < 1:  # no validation split (datasets cannot read back an empty one)
        return datasets.DatasetDict({"train": full})
    parts = full.train_test_split(test_size=n_val, seed=config.seed, shuffle=True)
    return datasets.DatasetDict({"train": parts["train"].flatten_indices(), "validation": parts["test"].flatten_indices()})
