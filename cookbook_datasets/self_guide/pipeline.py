"""SELF-GUIDE synthesis: the stages in order, a round at a time, checkpointed.

    rows, stats = synthesize(task, engine, SelfGuideConfig(num_examples=100), work_dir="runs/sg/work")

Rounds run until one of these holds, checked before every round (``stats["stopped"]`` says which):

- ``enough``: ``num_examples`` pairs have passed annotation (classification with balancing:
  ``num_examples / labels`` pairs of every label);
- ``max_rounds``: that many rounds have run;
- ``projection``: after at least ``stop_window`` rounds, some target (a label short of its share,
  or without balancing the pairs short of ``num_examples``), at its mean yield per round over the
  last ``stop_window`` rounds, would need more rounds than ``max_rounds`` leaves;
- ``budget``: ``max_minutes`` have passed in this call (checked before a round's inputs and before
  their annotation). The pairs so far are returned; a later call resumes.

Then classification rows are balanced. When more than ``length_adapt_share`` of a round's inputs
fail the length filter, the window widens on the side they fall past for the rounds after (logged,
and listed in ``stats["input_window_changes"]``). Each finished round is written to
``work_dir/rounds/round_XXXXX.json`` (atomically) with everything it generated and every verdict, so
a run killed at any point and started again redoes no finished round, and since a round's random
streams, its window and the stopping decisions depend only on (seed, round) and the rounds before
it, it ends with the same rows.
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

from cookbook_datasets.atomic_files import atomic_json
from cookbook_datasets.tasks import Task

from .annotation import annotate, check_can_rank, label_prior
from .balancing import balance_classes
from .config import ROW_FORMAT, RUN_LIMITS, SelfGuideConfig
from .input_filters import FILTERS, filter_inputs, length_window
from .input_generation import generate_inputs, max_input_tokens

logger = logging.getLogger(__name__)


def recipe(task: Task, config: SelfGuideConfig) -> dict:
    """What the data depends on: the synthesis fields, the model, and the task as its definition
    (task_definition: no instances)."""
    examples = [{"input": d.input, "output": d.answer} for d in task.demonstrations]
    return {"method": "self_guide", "task": {"name": task.name, "instruction": task.instruction, "examples": examples,
                                             "labels": task.labels, "kind": task.kind},
            "config": config.recipe_dict(), "model": config.model}


def _comparable(rec: dict, ignore=RUN_LIMITS) -> dict:
    """A recipe with every synthesis field, less the fields ``ignore`` names. A recipe written before
    a field existed lacks it and is compared with the field's default: a work directory made then
    resumes when the default is what it used, and is refused (naming the field) when it is not."""
    config = {**SelfGuideConfig().recipe_dict(), **rec.get("config", {})}
    if isinstance(config.get("calibrate_labels"), bool):  # written when it was a flag
        config["calibrate_labels"] = "content-free" if config["calibrate_labels"] else None
    return {**rec, "config": {k: v for k, v in config.items() if k not in ignore}}


def same_recipe(written: dict, rec: dict, ignore=RUN_LIMITS) -> bool:
    """Whether a recipe read back from disk is ``rec``, up to the run limits (``max_minutes``)."""
    return _comparable(written, ignore) == _comparable(rec, ignore)


def work_identity(rec: dict) -> dict:
    """What a work directory's checkpoints depend on: the recipe less the run limits and the row format."""
    return _comparable(rec, RUN_LIMITS + ROW_FORMAT)


def _chars_per_token(engine, task: Task) -> float:
    tokenizer = getattr(engine, "tokenizer", None)
    if tokenizer is None:
        return 4.0  # a remote engine: the usual English ratio
    texts = [d.input for d in task.demonstrations]
    tokens = sum(len(tokenizer(t, add_special_tokens=False)["input_ids"]) for t in texts)
    return sum(len(t) for t in texts) / max(tokens, 1)


def _check_work_dir(work: Path, rec: dict) -> None:
    path = work / "recipe.json"
    if path.exists():
        previous = json.loads(path.read_text())
        if work_identity(previous) != work_identity(rec):
            before, now = work_identity(previous)["config"], work_identity(rec)["config"]
            changed = sorted(k for k in set(before) | set(now) if before.get(k) != now.get(k))
            what = f"config fields {changed}" if changed else ("the task" if previous["task"] != rec["task"]
                                                               else "the model")
            raise ValueError(f"{work} holds a SELF-GUIDE run with another recipe ({what} differ); "
                             "use another work directory, or delete this one to start over")
    else:
        atomic_json(path, rec, indent=1, sort_keys=False)


WIDEN_FACTOR = 1.5  # a window side grows by this per adaptation
MAX_WIDENING = 4.0  # up to this multiple of the first window's high end (its low end: divided by it)


def adapt_window(window, base, candidates: list[dict], config: SelfGuideConfig):
    """The input window for the next round: ``window`` widened on the side most length-dropped
    inputs of this round fall past, when they are more than ``length_adapt_share`` of the inputs;
    (new window, what happened) or (window, None)."""
    if window is None or config.length_adapt_share is None:
        return window, None
    texts = [c["text"] for c in candidates if c["text"].strip()]
    long = sum(c["dropped_by"] == "length" and len(c["text"]) > window[1] for c in candidates)
    short = sum(c["dropped_by"] == "length" and len(c["text"]) < window[0] for c in candidates)
    if not texts or (long + short) / len(texts) <= config.length_adapt_share:
        return window, None
    low, high = window
    if long >= short:
        high = min(high * WIDEN_FACTOR, base[1] * MAX_WIDENING)
    else:
        low = max(low / WIDEN_FACTOR, base[0] / MAX_WIDENING)
    new = (round(low, 1), round(high, 1))
    if new == tuple(window):
        return window, None
    return new, {"dropped_length_share": round((long + short) / len(texts), 3), "too_long": long, "too_short": short,
                 "from": list(window), "to": list(new)}


def projection_stop(per_round: list, have: Counter, targets: dict, rounds_left: int, window: int):
    """The first target that cannot plausibly be reached, or None: with ``window`` rounds or more
    run, a target whose deficit exceeds its mean yield per round over the last ``window`` rounds
    times the rounds left. ``per_round``: each round's yield as a Counter over the targets' keys."""
    if window == 0 or len(per_round) < window:
        return None
    recent = per_round[-window:]
    for key, quota in targets.items():
        deficit = quota - have[key]
        rate = sum(c[key] for c in recent) / window
        if deficit > 0 and rate * rounds_left < deficit:
            return {"target": key, "have": have[key], "needs": quota, "yield_per_round": round(rate, 3),
                    "rounds_left": rounds_left}
    return None


def synthesize(task: Task, engine, config: Optional[SelfGuideConfig] = None,
               work_dir: Optional[str | os.PathLike] = None, clock=time.monotonic) -> tuple[list[dict], dict]:
    """Run the pipeline on ``task``'s definition (``cookbook_datasets.tasks.task_definition``: its
    instances are never read) with ``engine`` (the model ``config.model`` names, which the work
    directory's recipe records); return the kept pairs and the counts per stage (the card's
    numbers). ``clock``: seconds (monotonic), for the ``max_minutes`` budget."""
    config = config or SelfGuideConfig()
    started = clock()
    work = Path(work_dir) if work_dir else None
    if config.annotation == "rank":  # refused before anything is written
        if task.kind != "classification":
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
        _check_work_dir(work, recipe(task, config))
    # a phrase the demonstrations themselves use ("Input:", say) is the task's format, not noise
    demo_text = " ".join(d.input + " " + d.answer for d in task.demonstrations).lower()
    config = dataclasses.replace(config, noise_phrases=tuple(p for p in config.noise_phrases if p not in demo_text))
    first_window = length_window([d.input for d in task.demonstrations], config)
    in_window = first_window
    classification = task.kind == "classification"
    out_window = None if classification else length_window([d.answer for d in task.demonstrations], config)
    chars_per_token = _chars_per_token(engine, task)
    max_tokens = max_input_tokens(task, config, chars_per_token, in_window and in_window[1])
    seen = {" ".join(d.input.split()) for d in task.demonstrations}
    balance = classification and config.balance_labels
    # balanced classification data needs num_examples / labels pairs of every label
    quota = -(-config.num_examples // len(task.labels)) if balance else config.num_examples
    targets = {label: quota for label in task.labels} if balance else {"pairs": quota}

    def tally(pairs: list) -> Counter:
        return Counter(row["label"] for row in pairs) if balance else Counter(pairs=len(pairs))

    def over_budget() -> bool:
        return config.max_minutes is not None and (clock() - started) / 60 >= config.max_minutes

    prior = None
    if config.calibrate_labels == "content-free" and classification:
        prior_path = work / "label_prior.json" if work else None
        if prior_path is not None and prior_path.exists():
            prior = json.loads(prior_path.read_text())
        else:
            prior = label_prior(engine, task, config)
            if prior_path is not None:
                atomic_json(prior_path, prior, indent=1, sort_keys=False)
        logger.info("label prior (content-free inputs): %s", prior)
    previous, rows, rounds, yields, window_changes = [], [], [], [], []
    have = Counter()
    stopped = {"reason": "max_rounds"}
    for r in range(config.max_rounds):
        if all(have[key] >= q for key, q in targets.items()):
            stopped = {"reason": "enough"}
            break
        hopeless = projection_stop(yields, have, targets, config.max_rounds - r, config.stop_window)
        if hopeless is not None:
            stopped = {"reason": "projection", **hopeless}
            logger.warning("stopping after %d rounds: %s has %d of %d and yields %.2f a round, %d rounds left",
                           r, hopeless["target"], hopeless["have"], hopeless["needs"], hopeless["yield_per_round"],
                           hopeless["rounds_left"])
            break
        path = work / "rounds" / f"round_{r:05d}.json" if work else None
        if path is not None and path.exists():
            done = json.loads(path.read_text())
        else:
            if over_budget():
                stopped = {"reason": "budget"}
                break
            start = clock()
            # the inputs are checkpointed on their own too: a kill (or the budget) during annotation keeps them
            half = path.with_name(path.stem + ".inputs.json") if path is not None else None
            if half is not None and half.exists():
                candidates = json.loads(half.read_text())
            else:
                candidates = generate_inputs(engine, task, config, r, previous, max_tokens)
                if half is not None:
                    atomic_json(half, candidates, indent=1, sort_keys=False)
            if over_budget():
                stopped = {"reason": "budget"}
                break
            kept, input_counts = filter_inputs(candidates, in_window, config, set(seen))
            pairs, output_counts = annotate(engine, task, kept, config, r, out_window, prior)
            done = {"round": r, "candidates": candidates, "pairs": pairs, "input_window": in_window,
                    "counts": {"inputs": input_counts, "annotation": output_counts},
                    "seconds": round(clock() - start, 2)}
            if path is not None:
                atomic_json(path, done, indent=1, sort_keys=False)
                half.unlink(missing_ok=True)
        for cand in done["candidates"]:
            if cand["dropped_by"] is None:
                seen.add(" ".join(cand["text"].split()))
                previous.append(cand["text"])
        rows.extend(done["pairs"])
        yields.append(tally(done["pairs"]))
        have = tally(rows)
        rounds.append({**done["counts"], "seconds": done.get("seconds", 0.0)})
        logger.info("round %d: %d inputs kept of %d, %d pairs (total %d of %d)", r,
                    done["counts"]["inputs"]["kept"], done["counts"]["inputs"]["generated"], len(done["pairs"]),
                    len(rows), config.num_examples)
        in_window, change = adapt_window(in_window, first_window, done["candidates"], config)
        if change is not None:
            window_changes.append({"after_round": r, **change})
            max_tokens = max_input_tokens(task, config, chars_per_token, in_window[1])
            logger.info("round %d: %.0f%% of the inputs failed the length filter (%d too long, %d too short); input "
                        "window %s -> %s characters", r, 100 * change["dropped_length_share"], change["too_long"],
                        change["too_short"], change["from"], change["to"])
    else:
        if all(have[key] >= q for key, q in targets.items()):
            stopped = {"reason": "enough"}
    if stopped["reason"] == "budget":
        logger.warning("SELF-GUIDE stopped on its budget (max_minutes=%s) after %d rounds with %d pairs; run it again "
                       "to resume", config.max_minutes, len(rounds), len(rows))
    if not balance:
        rows = rows[:config.num_examples]
    stats = {"rounds": len(rounds), "stopped": stopped, "input_window_chars": in_window,
             "input_window_chars_initial": first_window, "input_window_changes": window_changes,
             "output_window_chars": out_window, "input_max_new_tokens": max_tokens}
    stats["inputs"] = {k: sum(c["inputs"][k] for c in rounds) for k in
                       ("generated", *(f"dropped_{f}" for f in FILTERS), "kept")}
    stats["annotation"] = {k: sum(c["annotation"].get(k, 0) for c in rounds) for k in
                           ("annotated", "samples", "samples_dropped", "dropped_inconsistent", "dropped_disagreeing",
                            "kept")}
    if prior is not None:
        stats["label_prior"] = prior
    stats["generation_seconds"] = round(sum(c["seconds"] for c in rounds), 1)
    stats["pairs_before_balancing"] = len(rows)
    if classification:
        stats["annotation_mode"] = config.annotation
        stats["labels_before_balancing"] = label_counts(rows, task.labels)
        stats["labels_without_demonstration"] = uncovered
    if balance:
        rows, stats["balancing"] = balance_classes(rows, config.seed, per_label=quota)
    if classification:  # what training would see (guard.label_check)
        stats["labels_kept"] = label_counts(rows, task.labels)
    stats["kept"] = len(rows)
    stats["asked"] = config.num_examples
    if rows:
        shares = [r["vote_share"] for r in rows if r["vote_share"] is not None]  # target annotation has none
        if shares:
            stats["mean_vote_share"] = round(statistics.fmean(shares), 4)
        stats["seconds_per_kept_pair"] = round(stats["generation_seconds"] / len(rows), 2)
    if len(rows) < config.num_examples:
        logger.warning("SELF-GUIDE kept %d pairs of the %d asked for after %d rounds (stopped: %s)",
                       len(rows), config.num_examples, len(rounds), stopped["reason"])
    if work:
        atomic_json(work / "stats.json", stats, indent=1, sort_keys=False)
    return rows, stats


def uncovered_labels(task: Task) -> list:
    """The labels of a classification task that no demonstration's output is."""
    if task.kind != "classification":
        return []
    shown = {d.answer.strip() for d in task.demonstrations}
    return [label for label in task.labels if label not in shown]


def label_counts(rows: list[dict], labels: list) -> dict:
    """Pairs per label, every label of the set listed (zeros included), in the set's order."""
    counts = Counter(row["label"] for row in rows)
    return {label: counts[label] for label in labels}


def check_kept_some(task: Task, stats: dict) -> None:
    """A clear error instead of an empty dataset when nothing survived the filters."""
    if not stats["kept"] and stats.get("stopped", {}).get("reason") == "budget":
        raise ValueError(f"SELF-GUIDE for {task.name}: the time budget ended synthesis after {stats['rounds']} rounds "
                         "before any pair was kept; its rounds are checkpointed: run again to resume, or raise "
                         "max_minutes")
    if not stats["kept"]:
        raise ValueError(f"SELF-GUIDE kept no pairs for {task.name} after {stats['rounds']} rounds (counts: "
                         f"{json.dumps({k: stats[k] for k in ('inputs', 'annotation')})}); the model may be too weak "
                         "for this task, or the filters too strict (see length_std, consistency_threshold, max_rounds)")


def to_rows(pairs: list[dict], task: Task, config: SelfGuideConfig) -> list[dict]:
    """Pairs in the project's row schema. The prompt is the task posed as the evaluation poses it
    (``eval.prompts.chat_prompt``: the instruction, ``config.train_shots()`` demonstrations as turns,
    the input), so the tuned model learns the format it is scored in; ``meta`` says where each
    row came from."""
    from cookbook_datasets.eval.prompts import chat_prompt
    from cookbook_datasets.tasks import Instance

    shots = min(config.train_shots(), len(task.demonstrations))
    applied = [f for f in FILTERS if f != "length" or config.length_std is not None]
    return [{
        "prompt": chat_prompt(task, Instance.make(p["input"]), shots),
        "completion": [{"role": "assistant", "content": p["output"]}],
        "source": f"self_guide/{task.name}",
        "meta": json.dumps({"round": p["round"], "vote_share": p["vote_share"], "label": p["label"],
                            "target_label": p["target_label"], "filters_passed": applied, "num_shots": shots}),
    } for p in pairs]


def to_dataset_dict(pairs: list[dict], task: Task, config: SelfGuideConfig) -> "datasets.DatasetDict":
    """``train`` and ``validation`` splits (``validation_fraction`` of the pairs, seeded; no
    ``validation`` when that rounds to no row)."""
    import datasets

    from cookbook_datasets.row_schema import row_features

    rows = to_rows(pairs, task, config)
    features = row_features("chat")
    full = datasets.Dataset.from_list(rows, features=features) if rows else datasets.Dataset.from_dict(
        {k: [] for k in features}, features=features)
    n_val = int(round(config.validation_fraction * len(full)))
    if n_val == 0 or len(full) - n_val < 1:  # no validation split (datasets cannot read back an empty one)
        return datasets.DatasetDict({"train": full})
    parts = full.train_test_split(test_size=n_val, seed=config.seed, shuffle=True)
    return datasets.DatasetDict({"train": parts["train"].flatten_indices(), "validation": parts["test"].flatten_indices()})
