"""What picks the tuned model's epoch: labelled real instances of the task, or the synthetic pairs held out.

The paper (and its reference code) picks the epoch on labelled validation instances of the task;
without them SELF-GUIDE has only its own pairs. ``plan_parts`` splits the task's instances into
the scored rows and, when asked, a validation part, with ``Task.split``: the scored part is the
first ``eval_limit`` of the split's order, the same rows ``EvalConfig(limit=eval_limit)`` scores
(``Task.sample`` takes them from a one-part split with the same seed), so adding a
validation part never changes what is scored, and the two parts never share an instance.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from cookbook_datasets.tasks import Task

SYNTHETIC, REAL = "synthetic validation split", "real validation instances"


@dataclass
class Parts:
    """The scored rows and the validation part of a task (``validation`` None: the synthetic split picks)."""

    scored_ids: list
    validation: Optional[Task]
    seed: int
    task_size: int

    @property
    def picks_on(self) -> str:
        return SYNTHETIC if self.validation is None else REAL

    def to_dict(self) -> dict:
        """What the report records: the split's seed, sizes and both parts' ids."""
        ids = {"scored": self.scored_ids}
        if self.validation is not None:
            ids["validation"] = self.validation.ids
        return {"seed": self.seed, "of": self.task_size, "epoch_picked_on": self.picks_on,
                "sizes": {k: len(v) for k, v in ids.items()}, "ids": ids}


def check_val_instances(val_instances: Optional[int], eval_limit: int, task_size: int, task_name: str) -> None:
    """A clear error when ``val_instances`` is no count, or the task cannot hold it beside its scored rows."""
    if val_instances is None:
        return
    if isinstance(val_instances, bool) or not isinstance(val_instances, int) or val_instances < 1:
        raise ValueError(f"val_instances (--val-instances) must be a positive integer or None (got {val_instances!r})")
    if eval_limit + val_instances > task_size:
        room = max(task_size - eval_limit, 0)
        raise ValueError(
            f"val_instances (--val-instances) = {val_instances} with eval_limit (--eval-limit) = {eval_limit} scored "
            f"rows needs {eval_limit + val_instances} instances; task {task_name!r} has {task_size}, so at most "
            f"{room} validation instances fit beside {eval_limit} scored rows (lower either number)")


def plan_parts(task: Task, eval_limit: int, val_instances: Optional[int], seed: int) -> Parts:
    """The scored ids (what ``evaluate_model`` scores with ``limit=eval_limit, seed=seed``) and, with
    ``val_instances``, a disjoint part of that many labelled instances."""
    check_val_instances(val_instances, eval_limit, len(task), task.name)
    if val_instances is None:
        scored = task.sample(eval_limit, seed)
        return Parts(scored_ids=[i.id for i in scored.labelled], validation=None, seed=seed, task_size=len(task))
    split = task.split(seed=seed, scored=eval_limit, validation=val_instances)
    validation = split["validation"]
    unlabelled = [i.id for i in validation.instances if not i.labelled]
    if unlabelled:
        raise ValueError(f"task {task.name!r}: the validation part holds {len(unlabelled)} instances without an "
                         f"output (e.g. {unlabelled[0]!r}); validation instances must be labelled")
    return Parts(scored_ids=[i.id for i in split["scored"].labelled], validation=validation, seed=seed,
                 task_size=len(task))


def synthetic_validation_task(task: Task, rows) -> Task:
    """The synthetic validation rows as a Task with the definition's demonstrations: scored with the
    rows' ``num_shots``, its prompts are the rows' own (to_rows builds them with the same function)."""
    from cookbook_datasets.tasks import Instance
    from cookbook_datasets.tasks.task import with_unique_ids

    instances = [Instance.make(p[-1]["content"], [c[0]["content"]]) for p, c in zip(rows["prompt"], rows["completion"])]
    return Task(name=task.name, kind=task.kind, instruction=task.instruction, demonstrations=task.demonstrations,
                labels=task.labels, instances=with_unique_ids(instances), source=SYNTHETIC)
