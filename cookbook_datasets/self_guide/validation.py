"""What picks the tuned model's epoch and guards it: labelled real rows, or the synthetic pairs held out.

The paper (and its reference code) picks the epoch on labelled validation instances of the task;
without them SELF-GUIDE has only its own pairs. ``plan_parts`` splits the task's instances into
the scored rows and, when asked, a validation part, with ``Task.split``: the scored part is the
first ``eval_limit`` of the split's order, the same rows ``EvalConfig(limit=eval_limit)`` scores
(``Task.sample`` takes them from a one-part split with the same seed), so adding a
validation part never changes what is scored, and the two parts never share an instance.

:func:`plan_validation` is the job's plan (the real rows the method may read, ``Parts.origin``):
the user's ``validation_data`` (read with the task's columns; refused when it repeats a scored
input); ``val_instances`` N of the task's instances; by default (``val_instances=None``) up to
``AUTO_VALIDATION_ROWS`` of the labelled instances left beside the scored ones, which choose
(the epoch and the guard) only when they are at least ``min_validation_rows``: fewer are read by
the probe alone (``Parts.probe_only``), and the synthetic split picks the epoch as before;
``val_instances=0``: none.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Optional

from cookbook_datasets.tasks import Task

SYNTHETIC, REAL = "synthetic validation split", "real validation instances"
AUTO_VALIDATION_ROWS = 100  # the default validation part: at most this many instances beside the scored ones
ORIGINS = {"val_instances": "val_instances", "auto": "the task's instances beside the scored ones (default)",
           "validation_data": "validation_data"}


@dataclass
class Parts:
    """The scored rows and the validation part of a task (``validation`` None: the synthetic split picks)."""

    scored_ids: list
    validation: Optional[Task]
    seed: int
    task_size: int
    origin: Optional[str] = None  # where the real rows come from (ORIGINS), None: none
    probe_only: Optional[Task] = None  # real rows too few to choose with: read by the probe only

    @property
    def readable(self) -> Optional[Task]:
        """The real labelled rows the method may read (the validation part, or the probe's rows)."""
        return self.validation if self.validation is not None else self.probe_only

    @property
    def picks_on(self) -> str:
        return SYNTHETIC if self.validation is None else REAL

    def to_dict(self) -> dict:
        """What the report records: the split's seed, sizes and both parts' ids."""
        ids = {"scored": self.scored_ids}
        if self.validation is not None:
            ids["validation"] = self.validation.ids
        if self.probe_only is not None:
            ids["probe_only"] = self.probe_only.ids
        out = {"seed": self.seed, "of": self.task_size, "epoch_picked_on": self.picks_on,
               "sizes": {k: len(v) for k, v in ids.items()}, "ids": ids}
        if self.origin is not None:
            out["validation_from"] = ORIGINS[self.origin]
            if self.origin == "validation_data":
                out["validation_source"] = self.readable.source
        return out


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


def plan_parts(task: Task, eval_limit: int, val_instances: Optional[int], seed: int,
               labelled_only: bool = False) -> Parts:
    """The scored ids (what ``evaluate_model`` scores with ``limit=eval_limit, seed=seed``) and, with
    ``val_instances``, a disjoint part of that many labelled instances (``labelled_only``: that
    many instances, of which the unlabelled ones are left out instead of refused)."""
    check_val_instances(val_instances, eval_limit, len(task), task.name)
    if val_instances is None:
        scored = task.sample(eval_limit, seed)
        return Parts(scored_ids=[i.id for i in scored.labelled], validation=None, seed=seed, task_size=len(task))
    split = task.split(seed=seed, scored=eval_limit, validation=val_instances)
    validation = split["validation"]
    unlabelled = [i.id for i in validation.instances if not i.labelled]
    if unlabelled and labelled_only:
        validation = validation.select([i.id for i in validation.labelled], split_info=validation.split_info)
    elif unlabelled:
        raise ValueError(f"task {task.name!r}: the validation part holds {len(unlabelled)} instances without an "
                         f"output (e.g. {unlabelled[0]!r}); validation instances must be labelled")
    return Parts(scored_ids=[i.id for i in split["scored"].labelled], validation=validation, seed=seed,
                 task_size=len(task))


def read_validation_data(spec, task: Task, dataset_task=None) -> Task:
    """The user's validation rows (``validation_data``: a data file, a dataset directory or Hub id,
    or a task file) as a part of ``task``: read with the task's columns (``dataset_task``, none of
    its rows taken as demonstrations), its labelled rows with the task's definition."""
    from cookbook_datasets.tasks import load_task

    if dataset_task is not None:
        dataset_task = dataclasses.replace(dataset_task, demonstrations=0)
    # read as plain rows (a validation file may hold fewer labels than the set); the task's kind and labels follow
    rows = load_task(spec, dataset_task=dataset_task, demonstrations=0,
                     kind="generation" if task.kind == "classification" else task.kind)
    labelled = rows.labelled
    if not labelled:
        raise ValueError(f"validation_data (--validation-data) {str(spec)!r} holds no labelled rows (rows with an "
                         "output) to choose with")
    if task.kind == "classification":
        from cookbook_datasets.tasks.checks import check_labels_in_set

        check_labels_in_set(labelled, task.labels, f"validation_data (--validation-data) {str(spec)!r}")
    return dataclasses.replace(task, instances=labelled, kind=task.kind, labels=task.labels, source=str(spec),
                               split_info={"part": "validation", "of": len(labelled), "from": str(spec)})


def check_disjoint(validation: Task, scored: Task) -> None:
    """Refuse validation rows that repeat a scored input: a choice made on them would see scored rows."""
    seen = {" ".join(inst.input.split()) for inst in scored.instances}
    repeated = [inst for inst in validation.instances if " ".join(inst.input.split()) in seen]
    if repeated:
        raise ValueError(f"validation_data (--validation-data) {validation.source!r}: {len(repeated)} of its "
                         f"{len(validation)} rows repeat an input of the {len(scored)} scored rows of task "
                         f"{scored.name!r} (e.g. {repeated[0].input[:60]!r}); the rows that choose must be disjoint "
                         "from the scored ones: drop them, or lower eval_limit")


def plan_validation(task: Task, eval_limit: int, seed: int, *, val_instances: Optional[int] = None,
                    validation_data=None, dataset_task=None, min_rows: int = 1) -> Optional[Parts]:
    """The job's parts: the scored ids and the real rows the method may read (the module doc's
    order: ``validation_data``, ``val_instances`` N, 0 for none, None for the default part; the
    default part holds at most ``AUTO_VALIDATION_ROWS`` and chooses only from ``min_rows`` rows).
    None when the task has no labelled instances and no ``validation_data`` is given."""
    vdata = read_validation_data(validation_data, task, dataset_task) if validation_data is not None else None
    if not task.labelled:
        if vdata is None:
            return None
        return Parts(scored_ids=[], validation=vdata, seed=seed, task_size=len(task), origin="validation_data")
    if vdata is not None:
        parts = plan_parts(task, eval_limit, None, seed)
        check_disjoint(vdata, task.select(parts.scored_ids))
        return dataclasses.replace(parts, validation=vdata, origin="validation_data")
    if val_instances == 0:
        return plan_parts(task, eval_limit, None, seed)
    if val_instances is not None:
        return dataclasses.replace(plan_parts(task, eval_limit, val_instances, seed), origin="val_instances")
    left = min(AUTO_VALIDATION_ROWS, len(task) - eval_limit)
    if left < 1:
        return plan_parts(task, eval_limit, None, seed)
    parts = plan_parts(task, eval_limit, left, seed, labelled_only=True)
    if not parts.validation.instances:
        return dataclasses.replace(parts, validation=None)
    if len(parts.validation) < min_rows:  # too few to choose with: the probe reads them, nothing else
        return dataclasses.replace(parts, validation=None, probe_only=parts.validation, origin="auto")
    return dataclasses.replace(parts, origin="auto")


def synthetic_validation_task(task: Task, rows) -> Task:
    """The synthetic validation rows as a Task with the definition's demonstrations: scored with the
    rows' ``num_shots``, its prompts are the rows' own (to_rows builds them with the same function)."""
    from cookbook_datasets.tasks import Instance
    from cookbook_datasets.tasks.task import with_unique_ids

    instances = [Instance.make(p[-1]["content"], [c[0]["content"]]) for p, c in zip(rows["prompt"], rows["completion"])]
    return Task(name=task.name, kind=task.kind, instruction=task.instruction, demonstrations=task.demonstrations,
                labels=task.labels, instances=with_unique_ids(instances), source=SYNTHETIC)
