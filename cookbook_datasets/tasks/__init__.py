"""The user's target task, one concept for every method (evaluation, Cookbook-Mix, SELF-GUIDE,
augmentation seed sets, DiverseEvol scoring).

    task = load_task("niv2/task199_mnli.json")        # or .jsonl, task JSON, a template name
    parts = task.split(fit=30, test=200, seed=0)       # disjoint, seeded, recorded by id
    parts["test"].ids

``task.py``: :class:`Task` and :class:`Instance`. Loaders, one file each: ``niv2.py``,
``multiple_choice.py``, ``task_json.py``, ``from_dataset.py`` (any dataset + a column mapping),
``template.py``; ``load.py`` dispatches (``task_from_data``: a data reference read with its
:class:`DatasetTask`, the columns and instruction every command's ``--input-field``, ... give).
``split.py``: seeded splits; ``definition.py``: what a method that must not see the instances
reads (SELF-GUIDE); ``fields.py``: the named fields of a task's inputs and the roles they play;
``label_codes.py``: what code labels ("1"/"0") mean.
"""

from .definition import define_task, task_definition
from .fields import FieldLayout, FieldMappingError, check_field_map
from .from_dataset import ColumnMapping, DatasetTask, task_from_dataset
from .load import load_task, load_task_file, load_tasks, task_from_data
from .multiple_choice import load_multiple_choice
from .niv2 import load_niv2
from .split import TaskSplit, split_fit_eval, split_task
from .task import (KINDS, MAX_LABELS, Instance, Task, TaskFormatError, content_id, ids_hash, infer_kind,
                   label_set)
from .task_json import load_task_json, task_from_dict
from .template import template_task

__all__ = ["KINDS", "MAX_LABELS", "ColumnMapping", "DatasetTask", "FieldLayout", "FieldMappingError", "Instance",
           "Task", "TaskFormatError", "TaskSplit", "check_field_map", "content_id", "define_task", "ids_hash",
           "infer_kind", "label_set", "load_multiple_choice", "load_niv2", "load_task", "load_task_file",
           "load_task_json", "load_tasks", "split_fit_eval", "split_task", "task_definition", "task_from_data",
           "task_from_dataset", "task_from_dict", "template_task"]
