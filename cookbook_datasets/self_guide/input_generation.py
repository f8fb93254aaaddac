"""Stage 1, input generation: the model writes new task inputs, a round of prompts at a time.

Each prompt shows the instruction, the demonstrations' inputs (shuffled, as the format to follow)
and 1..``max_previous_inputs`` inputs generated in earlier rounds (as inputs to differ from).
Classification prompts ask for an input whose expected output is a label drawn uniformly, so the
synthetic set covers every label. The demonstrations are laid out as chat turns (ask, input), the
form a small chat model imitates best.
"""

from __future__ import annotations

import math

import numpy as np

from cookbook_datasets.generation import SamplingParams
from cookbook_datasets.tasks import Task

from .config import SelfGuideConfig

SYSTEM = ("{instruction}\n\nYou are writing new inputs for the task above, to be used as practice questions. "
          "Follow the format of the example inputs exactly. Reply with the new input only: no answer, no comments.")


def _ask(label) -> str:
    return "Write a new input." if label is None else f'Write a new input whose correct output is "{label}".'


def round_rng(config: SelfGuideConfig, round_index: int, stage: str) -> np.random.Generator:
    """The random stream of one (seed, round, stage): independent of every other round."""
    return np.random.default_rng(np.random.SeedSequence([config.seed, round_index, sum(map(ord, stage))]))


def round_seed(config: SelfGuideConfig, round_index: int, stage: str) -> int:
    return int(np.random.SeedSequence([config.seed, round_index, sum(map(ord, stage))]).generate_state(1)[0] >> 1)


def input_prompt(task: Task, previous: list, label, rng: np.random.Generator) -> list:
    """One input-generation chat prompt."""
    messages = [{"role": "system", "content": SYSTEM.format(instruction=task.instruction.strip())}]
    for i in rng.permutation(len(task.demonstrations)):
        demo = task.demonstrations[int(i)]
        messages += [{"role": "user", "content": _ask(demo.answer if task.kind == "classification" else None)},
                     {"role": "assistant", "content": demo.input}]
    ask = _ask(label)
    if previous:
        listed = "\n".join(f"- {' '.join(p.split())[:300]}" for p in previous)
        ask = f"Inputs written before (write one that differs from them):\n{listed}\n\n{ask}"
    messages.append({"role": "user", "content": ask})
    return messages


def max_input_tokens(task: Task, config: SelfGuideConfig, tokenizer_chars_per_token: float,
                     upper_chars) -> int:
    """``input_max_new_tokens``, capped at the tokens an input the length filter keeps can need."""
    if upper_chars is None:
        return config.input_max_new_tokens
    needed = math.ceil(1.25 * upper_chars / max(tokenizer_chars_per_token, 1.0)) + 8
    return max(8, min(config.input_max_new_tokens, needed))


def generate_inputs(engine, task: Task, config: SelfGuideConfig, round_index: int, previous: list,
                    max_new_tokens: int) -> list[dict]:
    """One round: ``prompts_per_round`` new inputs, each ``{"text", "target_label"}``."""
    rng = round_rng(config, round_index, "inputs")
    prompts, labels = [], []
    for _ in range(config.prompts_per_round):
        label = task.labels[int(rng.integers(len(task.labels)))] if task.kind == "classification" else None
        shown = []
        if previous:
            m = int(rng.integers(1, min(config.max_previous_inputs, len(previous)) + 1))
            shown = [previous[int(i)] for i in rng.choice(len(previous), size=m, replace=False)]
        prompts.append(input_prompt(task, shown, label, rng))
        labels.append(label)
    params = SamplingParams(n=1, temperature=config.input_temperature_for(task.kind == "classification"),
                            top_k=config.input_top_k, max_new_tokens=max_new_tokens,
                            seed=round_seed(config, round_index, "inputs"))
    outputs = engine.generate(prompts, params, desc=f"round {round_index}: inputs")
    return [{"text": clean(out.completions[0].text), "target_label": label,
             "finish_reason": out.completions[0].finish_reason} for out, label in zip(outputs, labels)]


def clean(text: str) -> str:
    """The generated input without surrounding whitespace or a pair of wrapping quotes."""
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'`":
        text = text[1:-1].strip()
    return text
