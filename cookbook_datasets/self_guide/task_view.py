"""The SELF-GUIDE task as the evaluation sees it: a :class:`cookbook_datasets.tasks.Task`
holding the instruction, the demonstrations and the label set (no instances), so that the
pipeline builds prompts with the evaluation's own functions (``eval.tasks.chat_prompt``,
``eval.framings.rank_requests``) instead of a second prompt format."""

from __future__ import annotations


def eval_task(task):
    """``task`` itself when it is a Task; a TaskSpec (instruction, example dicts, labels) as one."""
    from cookbook_datasets.tasks import Instance, Task

    if isinstance(task, Task):
        return task
    return Task(name=task.name, instruction=task.instruction,  # as the evaluation reads it
                demonstrations=[Instance.make(ex["input"], [ex["output"]]) for ex in task.examples],
                labels=task.labels, kind=task.kind, source="self_guide task")
