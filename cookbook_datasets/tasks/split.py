"""Seeded partitions of a task's instances into named parts that never overlap.

The instances are ordered by id, then permuted by ``numpy.random.default_rng(seed)``, and the
parts take consecutive runs of that order: so the split depends on the ids and the seed only
(not on the file's order), and a part's first rows stay the same when a later part grows.
Each part keeps the task's own instance order. :func:`split_fit_eval` is the split of a task's
labelled instances into rows that choose (``fit``) and rows that are scored (``eval``).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Mapping, Optional

import numpy as np

if TYPE_CHECKING:
    from .task import Task

logger = logging.getLogger(__name__)


@dataclass
class TaskSplit:
    """The parts of a split: ``split["test"]`` is a Task; ``split.ids`` the id lists to record."""

    parts: dict  # part name -> Task
    seed: int
    sizes: dict  # part name -> number of instances

    def __getitem__(self, name: str) -> "Task":
        if name not in self.parts:
            raise KeyError(f"the split has no part {name!r} (parts: {', '.join(self.parts)})")
        return self.parts[name]

    def __iter__(self):
        return iter(self.parts)

    def __len__(self) -> int:
        return len(self.parts)

    def items(self):
        return self.parts.items()

    @property
    def ids(self) -> dict:
        return {name: part.ids for name, part in self.parts.items()}

    def to_dict(self) -> dict:
        """What to write next to a result: the seed, the sizes and every part's ids."""
        return {"seed": self.seed, "sizes": dict(self.sizes), "ids": self.ids}


def part_sizes(n: int, sizes: dict, task_name: str = "task") -> dict:
    """Counts per part from counts (int) or fractions of ``n`` (float in (0, 1])."""
    if not sizes:
        raise ValueError("name at least one part and its size, e.g. split(fit=30, test=0.5)")
    counts = {}
    for name, size in sizes.items():
        if isinstance(size, bool) or not isinstance(size, (int, float)):
            raise ValueError(f"split part {name!r}: the size must be a count (int) or a fraction (float) "
                             f"(got {size!r})")
        if isinstance(size, float):
            if not 0 < size <= 1:
                raise ValueError(f"split part {name!r}: a fraction must be in (0, 1] (got {size!r})")
            counts[name] = int(math.floor(size * n + 1e-9))
        else:
            if size < 0:
                raise ValueError(f"split part {name!r}: a count must be >= 0 (got {size!r})")
            counts[name] = size
    fractions = [k for k, v in sizes.items() if isinstance(v, float)]
    if fractions and math.isclose(sum(sizes[k] for k in fractions), 1.0) and len(fractions) == len(sizes):
        counts[fractions[-1]] += n - sum(counts.values())  # fractions that add up to 1 use every instance
    total = sum(counts.values())
    if total > n:
        asked = ", ".join(f"{k}={counts[k]}" for k in counts)
        raise ValueError(f"task {task_name!r} has {n} instances; the split asks for {total} ({asked})")
    return counts


def split_task(task: "Task", seed: int = 0, **sizes) -> TaskSplit:
    """Partition ``task``'s instances: ``split_task(task, seed=0, fit=30, dev=20, test=100)``."""
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ValueError(f"seed must be an integer (got {seed!r})")
    counts = part_sizes(len(task), sizes, task.name)
    by_id = sorted(task.ids)
    order = [by_id[i] for i in np.random.default_rng(seed).permutation(len(by_id))]
    parts, start = {}, 0
    for name, count in counts.items():
        info = {"part": name, "seed": seed, "sizes": dict(counts), "of": len(task), "of_ids_hash": task.ids_hash()}
        parts[name] = task.select(order[start:start + count], split_info=info)
        start += count
    return TaskSplit(parts=parts, seed=seed, sizes=counts)


def split_fit_eval(task: "Task", fit_size: int, eval_size: int, seed: int = 0,
                   field_map: Optional[Mapping[str, str]] = None) -> tuple["Task", "Task"]:
    """(fit part, eval part) of ``task``'s labelled instances, disjoint and seeded; fewer eval rows
    when the task is short. The field layout is detected on the fit part (and the demonstrations)
    and reused for the eval part, so rows that are scored choose nothing, not even how inputs split."""
    if fit_size < 1 or eval_size < 1:
        raise ValueError(f"fit_size and eval_size must be >= 1 (got {fit_size}, {eval_size})")
    labelled = task.select([i.id for i in task.labelled])
    n = len(labelled)
    unlabelled = len(task.instances) - n
    if unlabelled:
        logger.warning("%s: %d of %d instances have no output (unlabelled): left out of the fit and scored rows",
                       task.source or task.name, unlabelled, len(task.instances))
    if n < fit_size + 1:
        raise ValueError(f"{task.source or task.name}: {n} labelled rows"
                         + (f" ({unlabelled} more have no output)" if unlabelled else "")
                         + f", fewer than fit_size + 1 = {fit_size + 1} (fit rows and scored rows must not overlap)")
    parts = labelled.split(seed=seed, fit=fit_size, eval=min(eval_size, n - fit_size))
    fit = parts["fit"].with_layout(field_map)
    return fit, parts["eval"].with_layout(layout=fit.layout)
