"""DiverseEvol's round loop: the model picks its own training subset, round by round.

Round 0 takes ``k0`` random pool rows. Every later round embeds the pool with the model trained in
the round before and lets the strategy (greedy K-center by default) add ``per_round`` rows; each
round's subset is then trained from the *base* weights (the project's :func:`train`), and scored on
the evaluation tasks when given. ``rounds=10`` makes 11 subsets (k0, k0+k, ..., k0+10k), as in
the paper.

Everything lands under ``output_dir``:
- ``state.json``: the recipe and, per round, the new indices, timings, scores and diversity,
  written after every step, so a killed run resumes at the step where it stopped with the same
  subsets (training itself resumes from its checkpoints); with only ``state.json`` (and the eval
  files) kept, a run resumes too: a round whose model is gone is trained again when its scoring or
  the next round's selection still needs it; each round records the precision it trained in, and
  a run asked for ``precision="auto"`` keeps its first round's on resume (a machine without native
  bf16 would otherwise switch to fp32 part-way, a different recipe);
- ``data/``: the subsets in the Hub layout, one config per round (``round_0`` ...);
- ``rounds/round_<r>/model``: the adapter and its run card; ``rounds/round_<r>/eval.json``;
- ``guard/``: with eval tasks, the untuned and the last round's model scored on validation rows
  beside the scored ones (``guard`` below);
- ``report.json``, ``report.md``, ``report.png``.

The guard (docs/methods/diverse-evol.md, "Guard"; the rule is ``eval.guard``'s, shared with
SELF-GUIDE): with ``guard="keep-best"`` the last round's model is the result only when its mean on
the validation rows is strictly above the untuned model's; else the report marks the untuned model
as the result (subsets and adapters stay on disk). ``guard="off"`` keeps it, warning when it is not
better. Fewer than ``min_validation_rows`` rows, or no eval tasks: no choice, and the report says so.
"""

from __future__ import annotations

import copy
import json
import logging
import os
import time
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Optional

import numpy as np

from cookbook_datasets.atomic_files import atomic_json
from cookbook_datasets.cpu import release_memory
from cookbook_datasets.data_spec import DataSpec
from cookbook_datasets.eval.guard import (GUARD_MODES, check_guard_mode, guard_keeps, paired_figure, row_scores,
                                          validation_rows)
from cookbook_datasets.executor import ExecutorConfig
from cookbook_datasets.models import DEFAULT_MODEL, DTYPES

from .sft import TrainConfig, train

logger = logging.getLogger(__name__)

STATE_VERSION = 1


@dataclass
class DiverseEvolConfig:
    """A DiverseEvol selection run (the paper's defaults: k0 = k = 100, 10 rounds, 3 epochs)."""

    pool: str = field(metadata={"help": "The pool: anything cookbook_datasets.load_dataset loads in the row "
                                        "schema (Hub-layout directory, Hub id, builder name)."})
    output_dir: str = field(default="runs/select", metadata={"help": "Subsets, models, state and report go here.",
                                                             "aliases": ["--out"]})
    pool_config: Optional[str] = field(default=None, metadata={"help": "Config name of the pool."})
    pool_split: str = field(default="train", metadata={"help": "Split of the pool."})
    pool_params: dict = field(default_factory=dict, metadata={"help": "Extra load_dataset kwargs for the pool.",
                                                              "aliases": ["--pool-param"]})
    strategy: str = field(default="kcenter", metadata={"help": "Selection strategy (see selection.STRATEGIES)."})
    strategy_params: dict = field(default_factory=dict, metadata={"help": "Constructor parameters of the strategy."})
    space: Optional[str] = field(default=None, metadata={
        "help": "kcenter / kcenter_balanced: the space distances are measured in: raw (the paper's), cosine "
                "(L2-normalised) or whiten (the reference code's whitening); default raw."})
    whiten_components: Optional[int] = field(default=None, metadata={
        "help": "space=whiten: components kept (default: as many as the pool's rows allow)."})
    source_column: Optional[str] = field(default=None, metadata={
        "help": "kcenter_balanced: the pool column that says which task/template/file a row comes from "
                "(default: source)."})
    allocation: Optional[str] = field(default=None, metadata={
        "help": "kcenter_balanced: picks per source proportional to its share of the pool, or equal "
                "(default proportional)."})
    k0: int = field(default=100, metadata={"help": "Random rows in round 0."})
    per_round: int = field(default=100, metadata={"help": "Rows added per round."})
    rounds: int = field(default=10, metadata={"help": "Selection rounds after round 0."})
    model: str = field(default=DEFAULT_MODEL, metadata={"help": "Base model spec (see load_model)."})
    train: dict = field(default_factory=dict, metadata={
        "help": "TrainConfig fields for every round (default: 3 epochs, LoRA); model, datasets and output_dir "
                "are set by the loop."})
    eval_tasks: list = field(default_factory=list, metadata={
        "help": "Tasks scored after every round: specs as `cookbook eval --tasks` takes them, or Task objects "
                "(e.g. a split's test part); none: no scoring.", "aliases": ["--eval"]})
    eval_limit: Optional[int] = field(default=None, metadata={"help": "Examples per evaluation task."})
    eval_num_shots: int = field(default=0, metadata={
        "help": "Demonstrations per NIV2 evaluation prompt (0: the tuned model answers from the instruction)."})
    guard: str = field(default="keep-best", metadata={
        "help": "Never worse than where you started (with eval_tasks): the untuned model and the last round's model "
                "are scored on validation rows of each eval task, disjoint from the scored ones. 'keep-best': the "
                "tuned model is the result only when its mean there is above the untuned model's, else the report "
                "marks the untuned model as the result (subsets and adapters stay on disk). 'off': the tuned model "
                "is kept, with a warning when it is not better. The paired interval of tuned - untuned is reported.",
        "choices": list(GUARD_MODES)})
    min_validation_rows: int = field(default=20, metadata={
        "help": "Fewest validation rows (all eval tasks together) the guard chooses on; with fewer it makes no "
                "choice and the report says so."})
    validation_rows: int = field(default=100, metadata={
        "help": "Most validation rows per eval task the guard reads (instances beside the scored ones)."})
    seed: int = field(default=0, metadata={"help": "Seed of round 0's random rows and of random selection."})
    embed_batch_size: int = field(default=16, metadata={"help": "Rows per forward pass when embedding the pool."})
    max_length: int = field(default=512, metadata={"help": "Tokens per row when embedding (the end is kept)."})
    dtype: Optional[str] = field(default=None, metadata={
        "help": "Weights dtype for embedding and scoring (default: fp32 on CPU, bf16 on GPU).",
        "choices": list(DTYPES)})
    diversity: bool = field(default=True, metadata={
        "help": "Report each subset's covering radius and Vendi score in the base model's embedding space "
                "(one extra pass over the pool), so every strategy is measured in the same space."})
    features_cache_dir: Optional[str] = field(default=None, metadata={
        "help": "Where pool embeddings are cached (default: the package cache)."})
    execution: Optional[ExecutorConfig] = field(default=None, metadata={
        "help": "Where the pool embeddings are computed (default local; ExecutorConfig's fields, each its own option: "
                "--executor ray --ray-address ADDR --replicas N); the same rows either way."})

    def __post_init__(self):
        from cookbook_datasets.selection import get_strategy

        self.execution = ExecutorConfig.from_value(self.execution)
        check_guard_mode(self.guard)
        for name in ("k0", "per_round", "embed_batch_size", "max_length", "min_validation_rows", "validation_rows"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer (got {value!r})")
        if isinstance(self.rounds, bool) or not isinstance(self.rounds, int) or self.rounds < 0:
            raise ValueError(f"rounds must be a non-negative integer (got {self.rounds!r})")
        get_strategy(self.strategy, **self.strategy_kwargs())  # unknown names list the valid ones
        reserved = sorted({"model", "datasets", "output_dir"} & set(self.train))
        if reserved:
            raise ValueError(f"train may not set {reserved[0]!r}: the round loop sets it")
        TrainConfig(**self._train_fields("check"))  # bad training fields fail now, not after round 0
        from cookbook_datasets.tasks import Task

        bad = next((t for t in self.eval_tasks if not isinstance(t, (str, os.PathLike, Task))), None)
        if bad is not None:
            raise ValueError(f"eval_tasks holds {bad!r}: give task files, template names or Task objects")
        if self.eval_limit is not None and (not isinstance(self.eval_limit, int) or self.eval_limit < 1):
            raise ValueError(f"eval_limit must be a positive integer (got {self.eval_limit!r})")

    def strategy_kwargs(self) -> dict:
        """``strategy_params`` with the strategy fields of this config that are set."""
        kwargs = dict(self.strategy_params)
        for name in ("space", "whiten_components", "source_column", "allocation"):
            value = getattr(self, name)
            if value is None:
                continue
            if name in kwargs and kwargs[name] != value:
                raise ValueError(f"{name} is set twice: {value!r} and strategy_params[{name!r}]={kwargs[name]!r}")
            kwargs[name] = value
        return kwargs

    def _train_fields(self, output_dir: str, data: Optional[DataSpec] = None) -> dict:
        fields_ = {"num_train_epochs": 3.0, "eval_split": None, "seed": self.seed, **self.train}
        return {**fields_, "model": self.model, "output_dir": output_dir, "datasets": [data] if data else []}

    @property
    def total_rows(self) -> int:
        return self.k0 + self.rounds * self.per_round

    def recipe(self) -> dict:
        """What makes two runs the same run (everything but where the files go)."""
        from cookbook_datasets.tasks import Task

        # the guard reads rows beside the scored ones and chooses the result; the subsets do not depend on it
        skip = ("output_dir", "features_cache_dir", "embed_batch_size", "eval_tasks", "execution", "guard",
                "min_validation_rows", "validation_rows")
        d = {f.name: copy.deepcopy(getattr(self, f.name)) for f in fields(self) if f.name not in skip}
        # a Task is recorded by what identifies its scored rows (name, source, ids hash, split), not its rows
        d["eval_tasks"] = [t.describe() if isinstance(t, Task) else str(t) for t in self.eval_tasks]
        for key in ("space", "whiten_components", "source_column", "allocation"):
            if d[key] is None:  # unset: the same recipe as a run made before these fields existed
                d.pop(key)
        return d


def load_pool(config: DiverseEvolConfig):
    """The pool as a ``datasets.Dataset``, checked for the row schema."""
    from cookbook_datasets.loading import load_dataset
    from cookbook_datasets.selection import require_rows

    try:
        pool = load_dataset(config.pool, config.pool_config, split=config.pool_split, **config.pool_params)
    except ValueError as e:
        if "corresponds to no data" not in str(e):  # how datasets reports a split of empty files
            raise
        raise ValueError(f"the pool {config.pool!r} is empty: its {config.pool_split!r} split has no rows") from None
    require_rows(pool, f"the pool {config.pool!r}")
    if len(pool) == 0:
        raise ValueError(f"the pool {config.pool!r} is empty: nothing to select from")
    if config.total_rows > len(pool):
        raise ValueError(f"k0 + rounds x per_round = {config.k0} + {config.rounds} x {config.per_round} = "
                         f"{config.total_rows} rows, but the pool has only {len(pool)}")
    return pool


def _subset_configs(pool, rounds: list[dict]):
    """One config per round: the rows selected so far, each with its pool index and round in meta."""
    import datasets

    order, round_of = [], {}
    configs = {}
    for rec in rounds:
        for i in rec["new_indices"]:
            order.append(i)
            round_of[i] = rec["round"]
        rows = pool.select(order)

        def annotate(row, idx):
            meta = json.loads(row.get("meta") or "{}") if isinstance(row.get("meta"), str) else {}
            meta.update({"pool_index": order[idx], "selection_round": round_of[order[idx]]})
            return {"meta": json.dumps(meta, sort_keys=True), "source": row.get("source") or "pool"}

        rows = rows.map(annotate, with_indices=True, desc=None)
        configs[f"round_{rec['round']}"] = datasets.DatasetDict({"train": rows})
    return configs


def _write_subsets(config: DiverseEvolConfig, pool, state: dict) -> Path:
    from cookbook_datasets import __version__
    from cookbook_datasets.hub_layout import write_hub_layout

    recipe = {"package_version": __version__, "method": "DiverseEvol (arXiv 2311.08182)", **config.recipe()}
    description = (
        f"Subsets of `{config.pool}` chosen by [cookbook-datasets](https://pypi.org/project/cookbook-datasets/)'s "
        f"DiverseEvol loop: strategy `{config.strategy}`, model `{config.model}`, {config.k0} random rows in "
        f"round 0 and {config.per_round} more per round, each round selected with the model trained on the "
        f"round before. Config `round_<r>` holds every row chosen up to round r; `meta` records each row's "
        f"`pool_index` and `selection_round`.")
    return write_hub_layout(_subset_configs(pool, state["rounds"]), Path(config.output_dir) / "data",
                            {"diverse_evol": recipe}, overwrite=True,
                            pretty_name=f"DiverseEvol subsets ({config.strategy})", description=description)


def _load_state(config: DiverseEvolConfig, path: Path) -> dict:
    if not path.exists():
        return {"version": STATE_VERSION, "recipe": config.recipe(), "rounds": []}
    state = json.loads(path.read_text())
    if state.get("recipe") != config.recipe():
        old, new = state.get("recipe", {}), config.recipe()
        diff = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
        raise ValueError(f"{path.parent} holds a run with a different recipe (differs in {', '.join(diff)}); "
                         f"use another output directory to start a new run")
    return state


def _run_precision(state: dict, requested: str) -> str:
    """The training precision for the next round: with ``"auto"``, the one the run's earlier rounds
    trained in, so a run resumed on a machine where "auto" resolves otherwise (a CPU without native
    bf16) stays one recipe; an explicit precision is used as given."""
    from cookbook_datasets.cpu import resolve_precision
    from cookbook_datasets.models import default_device

    earlier = next((rec["precision"] for rec in state["rounds"] if rec.get("precision")), None)
    if requested != "auto" or earlier is None:
        return requested
    here = resolve_precision("auto", default_device())
    if here != earlier:
        logger.warning("this run's earlier rounds trained in %s; keeping %s although 'auto' picks %s on this "
                       "machine (it may be slower here)", earlier, earlier, here)
    return earlier


def _features(config: DiverseEvolConfig, pool, adapter: Optional[str], needs: Optional[str], keys):
    from cookbook_datasets.selection import cached_pool_features

    return cached_pool_features(config.model, pool, adapter=adapter, dtype=config.dtype,
                                batch_size=config.embed_batch_size, max_length=config.max_length,
                                token_stats=needs == "token_stats", cache_dir=config.features_cache_dir,
                                keys=keys, execution=config.execution)


def run_diverse_evol(config: DiverseEvolConfig) -> dict:
    """Run (or resume) the rounds; return the report (also written as JSON, Markdown and PNG)."""
    from cookbook_datasets.eval.harness import EvalConfig, evaluate_model, main_metric
    from cookbook_datasets.selection import covering_radius, get_strategy, vendi_score
    from cookbook_datasets.selection.embeddings import row_keys
    from cookbook_datasets.selection.random_sampling import RandomSampling

    strategy = get_strategy(config.strategy, **config.strategy_kwargs())
    pool = load_pool(config)  # every input check happens before anything is written
    strategy.check_pool(pool)  # e.g. too few rows to whiten, no source column: before any model is loaded
    if config.eval_tasks:
        EvalConfig(model=config.model, tasks=config.eval_tasks, limit=config.eval_limit)
    guard_tasks = guard_validation(config) if config.eval_tasks else []
    # the last round's model is needed again only when the guard can choose and has not scored it yet
    guard_needs_model = sum(len(t.labelled) for t in guard_tasks) >= config.min_validation_rows
    if config.execution.uses_ray and (strategy.needs or config.diversity):
        config.execution.connect()  # an unreachable cluster fails now, not after round 0's training
    out = Path(config.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    state_path = out / "state.json"
    state = _load_state(config, state_path)
    # before round 0 trains: does the untuned model read the eval tasks? (the guard's own answers, reused)
    probe = probe_before_rounds(config, guard_tasks) if guard_needs_model else None
    state["pool_size"] = len(pool)
    # once: every round's cached features are keyed by them (it reads every row)
    keys = row_keys(pool) if strategy.needs or config.diversity else None
    base_embeddings = None
    selected: list[int] = []
    for r in range(config.rounds + 1):
        rounds = state["rounds"]
        rec = rounds[r] if r < len(rounds) else None
        model_dir = out / "rounds" / f"round_{r}" / "model"
        if rec is None:
            start = time.time()
            embed_seconds = 0.0
            if r == 0:
                new = RandomSampling(seed=config.seed).select(config.k0, pool_size=len(pool))
            else:
                features = None
                if strategy.needs:
                    previous = str(out / "rounds" / f"round_{r - 1}" / "model")
                    features = _features(config, pool, previous, strategy.needs, keys)
                    release_memory()  # the pass's buffers: training and scoring have other shapes
                    embed_seconds = time.time() - start
                features = strategy.with_pool_columns(features, pool)
                new = strategy.select(config.per_round, pool_size=len(pool), selected=selected, features=features)
            rec = {"round": r, "new_indices": [int(i) for i in new], "size": len(selected) + len(new),
                   "select_seconds": round(time.time() - start, 2), "embed_seconds": round(embed_seconds, 2)}
            if r:  # how the strategy measured the pool (space, distance), in the round report
                rec.update(strategy.describe(features, len(pool)))
            rounds.append(rec)
            _write_subsets(config, pool, state)
            atomic_json(state_path, state, sort_keys=False)
            logger.info("round %d: %d rows selected (%d in total)", r, len(new), rec["size"])
        selected += rec["new_indices"]
        # a trained round whose model is gone (a fresh checkout keeps state.json and the scores, not
        # the adapters) is trained again only when something still needs it: its scoring, or the
        # next round's selection; the same subset and seed give the same model
        needed = ("scores" not in rec and bool(config.eval_tasks)) or (
            bool(strategy.needs) and r < config.rounds and len(rounds) == r + 1) or (
            r == config.rounds and bool(config.eval_tasks) and guard_needs_model
            and not (out / GUARD_DIR / TUNED_FILE).exists())
        retrain = "train_seconds" in rec and needed and not (model_dir / "run_card.json").exists()
        if "train_seconds" not in rec or retrain:
            if not list((out / "data" / f"round_{r}").glob("train-*.parquet")):
                _write_subsets(config, pool, state)
            # the round's Parquet files themselves: datasets caches a local Hub-layout directory by
            # its README's YAML, which is the same for every run with these round names
            files = sorted(str(f) for f in (out / "data" / f"round_{r}").glob("train-*.parquet"))
            data = DataSpec(path="parquet", params={"data_files": files})
            if retrain:
                logger.info("round %d: its model is missing and still needed, training it again", r)
            train_fields = config._train_fields(str(model_dir), data)
            train_fields["precision"] = _run_precision(state, train_fields.get("precision", "auto"))
            card = train(TrainConfig(**train_fields))
            rec["precision"] = card["runtime"]["precision"]
            if retrain:  # the round's cost stays the first training's; the repeat is kept apart
                rec["retrain_seconds"] = round(rec.get("retrain_seconds", 0.0) + card["train_seconds"], 1)
            else:
                rec.update(train_seconds=card["train_seconds"], train_steps=card["global_step"],
                           train_loss=card["final_metrics"].get("train_loss"))
            atomic_json(state_path, state, sort_keys=False)
        if config.eval_tasks and "scores" not in rec:
            ev = EvalConfig(model=config.model, adapter=str(model_dir), tasks=config.eval_tasks,
                            limit=config.eval_limit, num_shots=config.eval_num_shots, seed=config.seed,
                            dtype=config.dtype, execution=config.execution)
            start = time.time()
            results = evaluate_model(ev, out=model_dir.parent / "eval.json")
            release_memory()
            scores = {name: main_metric(res)[1] for name, res in results["tasks"].items()}
            stderrs = {name: res["metrics"].get(f"{main_metric(res)[0]}_stderr") for name, res in results["tasks"].items()}
            rec.update(scores=scores, score_stderrs=stderrs, score=float(np.mean(list(scores.values()))),
                       eval_seconds=round(time.time() - start, 1))
            atomic_json(state_path, state, sort_keys=False)
        if config.diversity and "covering_radius" not in rec:
            if base_embeddings is None:
                base_embeddings = _features(config, pool, None, "embeddings", keys).embeddings
            rec.update(covering_radius=covering_radius(base_embeddings, selected),
                       vendi_score=vendi_score(base_embeddings[selected]))
            atomic_json(state_path, state, sort_keys=False)
    return write_report(config, state, guard=run_guard(config, guard_tasks), probe=probe)


# -- the guard: the untuned model beside the last round's, on rows beside the scored ones -------------

GUARD_DIR, UNTUNED_FILE, TUNED_FILE = "guard", "untuned.json", "tuned.json"
VALIDATION_WHERE = "validation rows (the eval tasks' instances beside the scored ones)"


def guard_validation(config: DiverseEvolConfig) -> list:
    """Per eval task, its validation part: up to ``validation_rows`` labelled instances (seeded)
    that are not among the rows ``evaluate_model`` scores (``eval_limit``, ``seed``); tasks with
    none are left out."""
    from cookbook_datasets.tasks import load_tasks

    full = load_tasks(config.eval_tasks, seed=config.seed)
    scored = load_tasks(config.eval_tasks, limit=config.eval_limit, seed=config.seed)
    parts = [validation_rows(f, s, config.validation_rows, config.seed) for f, s in zip(full, scored)]
    return [p for p in parts if p is not None and p.labelled]


def _score_guard_rows(config: DiverseEvolConfig, tasks: list, adapter: Optional[str], path: Path) -> dict:
    """Per-row main-metric scores of ``config.model`` (+ ``adapter``) on ``tasks``, posed as the rounds
    are scored; cached in ``path`` under what they depend on."""
    import hashlib

    from cookbook_datasets.eval.harness import EvalConfig, run_task
    from cookbook_datasets.models import load_model

    ev = EvalConfig(model=config.model, adapter=adapter, tasks=tasks, num_shots=config.eval_num_shots,
                    seed=config.seed, dtype=config.dtype)
    card = Path(adapter) / "run_card.json" if adapter else None
    key = {"model": config.model, "adapter": adapter, "dtype": config.dtype, "num_shots": config.eval_num_shots,
           "ids": {t.name: t.ids for t in tasks}, "framings": {t.name: ev.framing(t) for t in tasks},
           "trained": card.read_text() if card is not None and card.exists() else None}
    key_hash = hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()[:16]
    if path.exists():
        done = json.loads(path.read_text())
        if done.get("key") == key_hash or (adapter and card is not None and not card.exists()
                                           and done.get("ids") == key["ids"]):
            return done  # (a cached tuned score whose adapter is gone is kept: the same subset and seed)
    model, tokenizer = load_model(config.model, adapter=adapter, dtype=config.dtype)
    per_task = {}
    for task in tasks:
        result = run_task(model, tokenizer, task, ev.batch_size, ev.num_samples, framing=ev.framing(task),
                          num_shots=ev.num_shots)
        per_task[task.name] = {"scores": row_scores(task, result), "framing": result["framing"]}
    del model, tokenizer
    release_memory()
    done = {"key": key_hash, "model": config.model, "adapter": adapter, "ids": key["ids"], "tasks": per_task}
    atomic_json(path, done, indent=1, sort_keys=False)
    return done


PROBE_HEADING = "## Does the model read each task? (the guard's validation rows, before round 0)"


def probe_before_rounds(config: DiverseEvolConfig, tasks: list) -> dict:
    """The probe (``eval.probe``) of the untuned model on the guard's validation rows, before any round
    trains: per task its score against chance and the constant answer, and a warning for each task it
    does not read. The answers are the guard's (``guard/untuned.json``), so it costs nothing extra;
    written to ``guard/probe.json`` and ``.md``."""
    from cookbook_datasets.eval.probe import probe_report, warn_not_read, write_probe

    out = Path(config.output_dir)
    untuned = _score_guard_rows(config, tasks, None, out / GUARD_DIR / UNTUNED_FILE)["tasks"]
    report = probe_report(tasks, {t.name: {untuned[t.name]["framing"]: untuned[t.name]["scores"]} for t in tasks},
                          config.model, VALIDATION_WHERE, seed=config.seed)
    write_probe(out / GUARD_DIR, report)
    warn_not_read(report, logger)
    return report


def run_guard(config: DiverseEvolConfig, tasks: Optional[list] = None) -> dict:
    """The guard's record: the last round's model vs the untuned one on the validation rows
    (``tasks``: :func:`guard_validation`'s parts, read when not given), by the rule of ``eval.guard``
    (``kept``: ``"tuned"`` or ``"untuned"``), or why it makes no choice."""
    base = {"mode": config.guard, "min_validation_rows": config.min_validation_rows}
    if not config.eval_tasks:
        return {**base, "chose": False, "kept": "tuned", "rows": 0,
                "reason": "no eval_tasks: no labelled rows to choose on"}
    if tasks is None:
        tasks = guard_validation(config)
    ids = {t.name: t.ids for t in tasks}
    rows = sum(len(t.labelled) for t in tasks)
    base.update(validation=VALIDATION_WHERE, validation_ids=ids, rows=rows)
    if rows < config.min_validation_rows:
        reason = (f"the eval tasks hold {rows} labelled rows beside the scored ones, fewer than the "
                  f"{config.min_validation_rows} the guard chooses on (min_validation_rows); lower eval_limit, or give "
                  "tasks with more instances")
        logger.warning("DiverseEvol guard: no choice: %s; the tuned model is kept, unguarded", reason)
        return {**base, "chose": False, "kept": "tuned", "reason": reason}
    out = Path(config.output_dir)
    last = config.rounds
    untuned = _score_guard_rows(config, tasks, None, out / GUARD_DIR / UNTUNED_FILE)
    tuned = _score_guard_rows(config, tasks, str(out / "rounds" / f"round_{last}" / "model"),
                              out / GUARD_DIR / TUNED_FILE)
    u_rows = [s for t in tasks for s in untuned["tasks"][t.name]["scores"]]
    t_rows = [s for t in tasks for s in tuned["tasks"][t.name]["scores"]]
    u_mean, t_mean = float(np.mean(u_rows)), float(np.mean(t_rows))
    kept = guard_keeps(config.guard, t_mean, u_mean)
    per_task = {t.name: {"rows": len(t.labelled), "untuned": float(np.mean(untuned["tasks"][t.name]["scores"])),
                         "tuned": float(np.mean(tuned["tasks"][t.name]["scores"]))} for t in tasks}
    record = {**base, "chose": True, "kept": kept, "untuned": u_mean, "tuned": t_mean, "tuned_round": last,
              "tuned_better": t_mean > u_mean, **paired_figure(u_rows, t_rows, seed=config.seed),
              "per_task": per_task}
    adapter = out / "rounds" / f"round_{last}" / "model"
    if kept == "untuned":
        logger.warning("DiverseEvol guard: round %d's model is not better than the untuned one on %d validation rows "
                       "(%.3f vs %.3f): the untuned model is the result (guard='keep-best'); the subsets and %s stay "
                       "on disk", last, rows, t_mean, u_mean, adapter)
    elif not record["tuned_better"]:
        logger.warning("DiverseEvol guard: round %d's model is not better than the untuned one on %d validation rows "
                       "(%.3f vs %.3f), and is kept: guard='off'", last, rows, t_mean, u_mean)
    return record


def guard_line(g: dict, adapter: str) -> str:
    """The report's guard line."""
    if not g["chose"]:
        return f"Guard ({g['mode']}): no choice: {g['reason']}; the tuned model is kept, unguarded."
    figure = (f"round {g['tuned_round']}'s model {g['tuned']:.3f} vs untuned {g['untuned']:.3f} (mean main metric) on "
              f"{g['rows']} {g['validation']}; tuned - untuned {g['diff']:+.3f} [{g['low']:+.3f}, {g['high']:+.3f}] "
              f"(paired bootstrap {g['level']:.0%}, {g['verdict']})")
    if g["kept"] == "untuned":
        return (f"Guard (keep-best): {figure}. The tuned model is not better: **the untuned model is the result**; "
                f"the subsets and the adapter ({adapter}) stay on disk, not kept.")
    if not g["tuned_better"]:
        return (f"Guard (off): {figure}. **Warning**: the tuned model is not better than the untuned one and is kept "
                "because guard='off'.")
    return f"Guard ({g['mode']}): {figure}. The tuned model is better: kept."


def write_report(config: DiverseEvolConfig, state: dict, guard: Optional[dict] = None,
                 probe: Optional[dict] = None) -> dict:
    out = Path(config.output_dir)
    rows = [{k: v for k, v in rec.items() if k != "new_indices"} for rec in state["rounds"]]
    report = {"strategy": config.strategy, "model": config.model, "pool": config.pool,
              "pool_size": state.get("pool_size"), "recipe": state["recipe"], "rounds": rows,
              "subsets": str(out / "data")}
    adapter = str(out / "rounds" / f"round_{config.rounds}" / "model")
    if guard is not None:
        report["guard"] = guard
        untuned = guard["kept"] == "untuned"
        report["result"] = {"kept": guard["kept"], "model": config.model, "adapter": None if untuned else adapter,
                            "round": None if untuned else config.rounds}
    if probe is not None:
        report["probe"] = {t: {"verdict": r["verdict"], "why": r["why"], "rows": r["n"]} for t, r in probe["tasks"].items()}
    atomic_json(out / "report.json", report, sort_keys=False)
    header = ["round", "rows", "select s", "train s"]
    has_score = any("score" in r for r in rows)
    has_div = any("covering_radius" in r for r in rows)
    header += ["score"] if has_score else []
    header += ["covering radius", "Vendi"] if has_div else []
    lines = [f"# DiverseEvol: {config.strategy} on {config.pool}"]
    if probe is not None:  # the report starts with it: whether the rounds below can teach the task at all
        from cookbook_datasets.eval.probe import probe_lines

        lines += probe_lines(probe, PROBE_HEADING) + ["", "## Rounds"]
    lines += ["", "| " + " | ".join(header) + " |", "|" + "---:|" * len(header)]
    for r in rows:
        cells = [r["round"], r["size"], r.get("select_seconds", ""), r.get("train_seconds", "")]
        cells += [f"{r['score']:.4f}" if "score" in r else ""] if has_score else []
        cells += ([f"{r['covering_radius']:.3f}" if "covering_radius" in r else "",
                   f"{r['vendi_score']:.2f}" if "vendi_score" in r else ""] if has_div else [])
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    if guard is not None:
        lines += ["", guard_line(guard, adapter)]
        if guard.get("validation_ids"):
            lines += ["", "Validation rows (by id, disjoint from the scored rows): " + "; ".join(
                f"{name}: {', '.join(map(str, ids))}" for name, ids in guard["validation_ids"].items())]
    (out / "report.md").write_text("\n".join(lines) + "\n\n![rounds](report.png)\n")
    _plot(rows, out / "report.png", f"{config.strategy}")
    return report


def _plot(rows: list[dict], path: Path, label: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [(k, t) for k, t in (("score", "task score"), ("covering_radius", "covering radius (base space)"),
                                  ("vendi_score", "Vendi score"), ("train_seconds", "training seconds"))
              if any(k in r for r in rows)]
    fig, axes = plt.subplots(1, max(1, len(panels)), figsize=(4 * max(1, len(panels)), 3.2), squeeze=False)
    for ax, (key, title) in zip(axes[0], panels):
        points = [(r["size"], r[key]) for r in rows if key in r]
        ax.plot(*zip(*points), marker="o", label=label)
        ax.set_title(title)
        ax.set_xlabel("subset rows")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
