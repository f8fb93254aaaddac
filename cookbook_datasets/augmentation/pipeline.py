"""Budgeted augmentation: run a strategy until its budget is spent; resumable through the cache.

    rows, summary = augment(seeds, teacher, AugmentationConfig(strategy="rephrase", budget=200))

The plan is a sequence of steps: step ``i`` augments seed ``order[i % |S|]`` for the ``i // |S|``-th
time (``order``: the seed set in a seeded order), so every seed is used once before any is used
twice. Steps run in waves as large as the remaining budget allows at the strategy's full step cost
(a step that is dropped early, say by the answerability check, costs less, and the budget it
leaves goes to later waves), until less than one step's cost is left. What a step asks depends
only on the step and the seed set, never on the wave, so a run killed at any point and started
again replays the same steps from the response cache (free) and pays only for what is new, and a
run with a larger budget over the same seed set reuses a smaller run's answers.
"""

from __future__ import annotations

import json
import logging
import os
from collections import Counter
from pathlib import Path
from typing import Optional

import datasets
import numpy as np

from cookbook_datasets.atomic_files import atomic_json
from cookbook_datasets.row_schema import row_features

from .checkers import detect_checker, get_checker, has_reasoning
from .config import AugmentationConfig
from .strategies import Step, TaskContext, get_strategy

logger = logging.getLogger(__name__)


MAX_WAVE = 1024  # steps held in memory at once (a wave's size never changes what a step asks)


class BudgetTooSmall(ValueError):
    pass


def task_context(seeds: list[dict], config: AugmentationConfig) -> TaskContext:
    answers = [s["answer"] for s in seeds]
    checker = get_checker(detect_checker(answers) if config.checker == "auto" else config.checker)
    # hashed, not seed + constant: neighbouring seeds give unrelated orders
    rng = np.random.default_rng(np.random.SeedSequence([config.seed, 0x617567]))
    return TaskContext(seeds=seeds, config=config, checker=checker, reasoning=has_reasoning(answers),
                       order=[int(i) for i in rng.permutation(len(seeds))])


def check_budget(strategy, ctx: TaskContext) -> int:
    cost = strategy.step_cost(ctx)
    if ctx.config.budget < cost:
        raise BudgetTooSmall(
            f"budget {ctx.config.budget} is smaller than one {strategy.name} step ({cost} queries: "
            f"{', '.join(strategy.kinds)}{' and a verification answer' if cost > len(strategy.kinds) else ''}); "
            f"give budget >= {cost}, or use answer_aug (1 query per example)")
    return cost


def augment(seeds: list[dict], teacher, config: AugmentationConfig) -> tuple[list[dict], dict]:
    """Run ``config.strategy`` with ``teacher`` until ``config.budget`` is spent.

    Returns the kept examples (``question``, ``answer``, ``final``, ``seed_index``, ``step``,
    ``sample_index``, ``calls``, ``verified``) and a summary: the ledger's numbers, the steps run and
    why examples were dropped (an answer that does not parse is dropped and counted, never kept).
    """
    strategy = get_strategy(config.strategy)
    ctx = task_context(seeds, config)
    cost = check_budget(strategy, ctx)
    ledger = teacher.ledger
    if ledger.budget != config.budget:
        raise ValueError(f"the teacher's ledger has budget {ledger.budget}, the config {config.budget}")
    kept, dropped, steps_run, waves = [], Counter(), 0, 0
    while ledger.remaining >= cost:
        size = min(ledger.remaining // cost, MAX_WAVE)
        steps = [Step(i, ctx.order[i % len(seeds)], i // len(seeds)) for i in range(steps_run, steps_run + size)]
        for outcome in strategy.run(steps, teacher, ctx):
            if outcome.dropped:
                dropped[outcome.dropped] += 1
                continue
            kept.append({"question": outcome.question, "answer": outcome.answer, "final": outcome.final,
                         "seed_index": outcome.step.seed_index, "step": outcome.step.index,
                         "sample_index": outcome.step.sample_index, "calls": outcome.calls,
                         "verified": outcome.verified})
        steps_run += size
        waves += 1
        logger.info("%s wave %d: %d steps, %d kept so far, %d of %d queries used", config.strategy, waves, size,
                    len(kept), ledger.used_total, ledger.budget)
    ledger.save()
    summary = {"strategy": config.strategy, "seed_size": len(seeds), "budget_ratio": round(config.budget / len(seeds), 3),
               "step_cost": cost, "steps": steps_run, "waves": waves, "kept": len(kept), "dropped": dict(dropped),
               "checker": ctx.checker.name, "reasoning": ctx.reasoning, "teacher": teacher.model_id,
               "ledger": ledger.summary()}
    if not kept:
        logger.warning("%s kept no example of %d steps (dropped: %s)", config.strategy, steps_run, dict(dropped))
    return kept, summary


def to_rows(examples: list[dict], seeds: list[dict], config: AugmentationConfig, teacher_id: str) -> list[dict]:
    """Examples (and the seed set, with ``include_seed``) in the project's row schema; ``meta`` names the
    strategy, the seed row and the queries each row used."""
    system = [{"role": "system", "content": config.system_prompt}] if config.system_prompt else []

    def row(question, answer, source, meta):
        return {"prompt": system + [{"role": "user", "content": question}],
                "completion": [{"role": "assistant", "content": answer}],
                "source": source, "meta": json.dumps(meta, sort_keys=True)}

    rows = []
    if config.include_seed:
        rows += [row(s["question"], s["answer"], "augmentation/seed",
                     {"strategy": "seed", "seed_index": s["seed_index"], "calls": {}}) for s in seeds]
    rows += [row(e["question"], e["answer"], f"augmentation/{config.strategy}",
                 {"strategy": config.strategy, "seed_index": e["seed_index"], "step": e["step"],
                  "sample_index": e["sample_index"], "calls": e["calls"], "final_answer": e["final"],
                  "verified": e["verified"], "teacher": teacher_id}) for e in examples]
    return rows


def to_dataset(rows: list[dict]) -> datasets.Dataset:
    features = row_features("chat")
    if not rows:
        return datasets.Dataset.from_dict({k: [] for k in features}, features=features)
    return datasets.Dataset.from_list(rows, features=features)


def recipe(config: AugmentationConfig, seed_fingerprint: str, teacher_id: str) -> dict:
    from cookbook_datasets import __version__

    return {"method": "augmentation", "paper": "arXiv 2409.19759", "config": config.recipe_dict(),
            "seed_set": seed_fingerprint, "teacher": teacher_id, "version": __version__}


def run_augmentation(seeds: list[dict], engine, config: AugmentationConfig, work_dir: str | os.PathLike, *,
                     cache_path: Optional[str | os.PathLike] = None, model_id: Optional[str] = None,
                     concurrency: Optional[int] = None, progress: bool = True) -> tuple[list[dict], dict]:
    """``augment`` with a persisted ledger (``work_dir/ledger.json``) and response cache
    (``cache_path``, default ``work_dir/cache.jsonl``; share one between runs to reuse answers).
    Returns rows in the project's schema and the summary (also written to ``work_dir/summary.json``).

    ``engine``: an engine, a :class:`~.endpoints.TeacherEndpoint` (opened here, or by each Ray
    replica), or a list of them serving the same model (requests go round robin by query index).
    With ``config.execution`` on Ray, the cluster is joined first: an unreachable address or too
    small a cluster fails before the ledger is touched."""
    from contextlib import ExitStack

    from .cache import ResponseCache
    from .endpoints import TeacherEndpoint
    from .ledger import Ledger
    from .seed_data import seed_fingerprint
    from .teacher import Teacher, engine_model_id

    engines = list(engine) if isinstance(engine, (list, tuple)) else [engine]
    if not engines:
        raise ValueError("engine is an empty list: give an engine, a TeacherEndpoint or a list of them")
    work = Path(work_dir)
    teacher_id = model_id or engine_model_id(engines[0])
    rec = recipe(config, seed_fingerprint(seeds), teacher_id)
    check_budget(get_strategy(config.strategy), task_context(seeds, config))  # before anything is paid
    if config.execution.uses_ray:
        config.execution.connect()  # before any query, and before the ledger is touched
    work.mkdir(parents=True, exist_ok=True)
    with ExitStack() as opened:
        if not config.execution.uses_ray:  # the replicas open the endpoints on Ray; here, this process does
            engines = [opened.enter_context(e.open()) if isinstance(e, TeacherEndpoint) else e for e in engines]
        ledger = Ledger(config.budget, work / "ledger.json")
        cache = ResponseCache(cache_path or work / "cache.jsonl")
        teacher = Teacher(engines, ledger, cache, model_id=model_id, concurrency=concurrency, progress=progress,
                          execution=config.execution)
        examples, summary = augment(seeds, teacher, config)
    summary["recipe"] = rec
    atomic_json(work / "summary.json", summary, indent=1)
    return to_rows(examples, seeds, config, teacher_id), summary
