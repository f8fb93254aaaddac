"""A Cookbook template's test split as a Task: the rule's outputs are the acceptable answers."""

from __future__ import annotations

from .task import Instance, Task, with_unique_ids


def template_task(name: str, num_examples: int = 100, seed: int = 0, split: str = "test", **params) -> Task:
    """``num_examples`` rows of template ``name``'s ``split`` ("test", or "validation" for rows
    that choose something; seed ``seed``) as a generation task; each prompt (instruction and input
    in one user message) is an instance's input."""
    from cookbook_datasets import load_dataset
    from cookbook_datasets.progress import quiet_datasets

    if split not in ("test", "validation"):
        raise ValueError(f"a template task is read from its 'test' or 'validation' split (got {split!r})")
    with quiet_datasets():  # a few rows per task: no "Generating ... split" bar per template and split
        test = load_dataset("cookbook", name, num_examples=num_examples, num_eval_examples=num_examples, seed=seed,
                            split=split, **params)
    instances = []
    for prompt, completion in zip(test["prompt"], test["completion"]):
        user = [m["content"] for m in prompt if m["role"] == "user"]
        instances.append(Instance.make(user[-1], (completion[0]["content"],)))
    return Task(name=name, instances=with_unique_ids(instances), kind="generation", template=name,
                source=f"cookbook/{name} ({split} split, seed {seed})")
