"""The prompts a :class:`~cookbook_datasets.tasks.Task` is scored with.

Chat prompts to generate from (classification, generation, templates), options listed as the
Cookbook templates list them (multiple choice, ``generate`` framing), and context/continuation
pairs to score by log-likelihood (multiple choice, ``loglik``; classification, ``rank``). Tasks
are loaded by ``cookbook_datasets.tasks.load_tasks``.
"""

from __future__ import annotations

from typing import Optional, Sequence

from cookbook_datasets.tasks import Instance, Task, TaskFormatError

LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
# What a multiple-choice prompt asks when the task brings no instruction (the templates' wording).
MC_INSTRUCTION = "Answer the question by choosing one option. Reply with the option's letter."

__all__ = ["LETTERS", "MC_INSTRUCTION", "chat_prompt", "chat_prompts", "choice_lengths", "framing_name",
           "loglik_requests", "max_new_tokens", "options_prompt", "options_text"]


# -- chat prompts ---------------------------------------------------------------------------------
def chat_prompt(task: Task, instance: Instance, num_shots: int = 2) -> list[dict]:
    """The instruction as the system message, ``num_shots`` demonstrations as turns, the input last."""
    messages = [{"role": "system", "content": task.instruction}] if task.instruction else []
    for demo in task.demonstrations[:num_shots]:
        messages += [{"role": "user", "content": demo.input}, {"role": "assistant", "content": demo.answer or ""}]
    return messages + [{"role": "user", "content": instance.input}]


def chat_prompts(task: Task, num_shots: int = 2, instances: Optional[Sequence[Instance]] = None) -> list[list]:
    return [chat_prompt(task, inst, num_shots) for inst in (task.instances if instances is None else instances)]


def options_text(instance: Instance) -> str:
    """``Question: ...`` / ``Options:`` / ``A. ...`` as the multiple-choice templates write it (a
    question that holds its passage, "passage\\nQuestion: q", keeps the passage first)."""
    question = instance.question
    head = question if "Question:" in question else f"Question: {question}"
    options = "\n".join(f"{LETTERS[i]}. {c}" for i, c in enumerate(instance.choices))
    return f"{head}\nOptions:\n{options}"


def options_prompt(task: Task, instance: Instance) -> list[dict]:
    """One user message: the instruction, a blank line, the lettered options (the templates' layout)."""
    if len(instance.choices) > len(LETTERS):
        raise TaskFormatError(f"task {task.name!r}: instance {instance.id!r} has {len(instance.choices)} choices; "
                              f"listed options take at most {len(LETTERS)} (letters A-Z)")
    return [{"role": "user", "content": f"{task.instruction or MC_INSTRUCTION}\n\n{options_text(instance)}"}]


def max_new_tokens(task: Task, framing: str = "generate") -> int:
    """Enough tokens for the longest expected answer, not more (greedy decoding is the cost)."""
    if task.kind == "multiple_choice":
        longest = max((len(c.split()) for inst in task.instances for c in inst.choices), default=1)
        return min(48, 8 + 2 * longest)  # a letter, or an option's text
    if task.template:
        longest = max((len(o.split()) for inst in task.instances for o in inst.outputs), default=1)
        return min(96, 8 + 3 * longest)
    return 16 if task.kind == "classification" else 64


# -- log-likelihood requests ------------------------------------------------------------------------
def _frame(task: str, question: str, choice: str) -> tuple[str, str]:
    """(context, continuation) as lm-evaluation-harness frames each task."""
    if task.startswith("hellaswag"):
        return question, " " + choice
    if task.startswith("boolq"):  # question already holds passage + "\nQuestion: ...?"
        return f"{question}\nAnswer:", " " + choice
    if task.startswith("openbookqa"):
        return question, " " + choice
    if task.startswith("winogrande") and "_" in question:
        # partial scoring: the option fills the blank in the context; score the rest of the sentence
        before, after = question.split("_", 1)
        return before + choice, " " + after.strip()
    return f"Question: {question}\nAnswer:", " " + choice  # ARC, PIQA and the default


def framing_name(task: str) -> str:
    """Which lm-evaluation-harness context/continuation framing a multiple-choice task gets."""
    for prefix in ("hellaswag", "boolq", "openbookqa", "winogrande"):
        if task.startswith(prefix):
            return prefix
    return "question-answer"


def loglik_requests(task: Task, instances: Optional[Sequence[Instance]] = None) -> list[list[tuple[str, str]]]:
    """Per instance, one (context, continuation) per choice."""
    return [[_frame(task.name, inst.question, c) for c in inst.choices]
            for inst in (task.instances if instances is None else instances)]


def choice_lengths(task: Task, instances: Optional[Sequence[Instance]] = None) -> list[list[int]]:
    """Per instance, the characters ``acc_norm`` divides each choice's log-likelihood by, counted as
    lm-evaluation-harness counts them (``len(choice)`` over its ``doc_to_choice``): the choice's own
    text, without the delimiter (" ") that starts its continuation. Winogrande's partial scoring,
    whose choices fill the blank in the context, counts that context up to and with the choice (those
    partial contexts are lm-evaluation-harness's choices there)."""
    lengths = []
    for inst in task.instances if instances is None else instances:
        partial = task.name.startswith("winogrande") and "_" in inst.question
        lengths.append([len(_frame(task.name, inst.question, c)[0]) if partial else len(c) for c in inst.choices])
    return lengths
