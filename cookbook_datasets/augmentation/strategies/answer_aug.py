"""Answer Augmentation: a new sampled teacher answer (with reasoning where the task has it) for a
seed question. One query per step."""

from __future__ import annotations

from .base import Outcome, TaskContext, answer_call, ask_answers


class AnswerAugmentation:
    name = "answer_aug"
    kinds = ("answer",)

    def step_cost(self, ctx: TaskContext) -> int:
        return 1

    def run(self, steps: list, teacher, ctx: TaskContext) -> list[Outcome]:
        outcomes = [Outcome(step) for step in steps]
        calls = [answer_call(ctx, ctx.seeds[s.seed_index]["question"], s.sample_index, exclude=s.seed_index)
                 for s in steps]
        for outcome in ask_answers(outcomes, calls, teacher, ctx, "answer_aug: answers"):
            seed = ctx.seeds[outcome.step.seed_index]
            outcome.question = seed["question"]
            if ctx.config.verify == "gold":  # the seed's answer is the ground truth: a local rule, no query
                outcome.verified = ctx.checker.matches(outcome.final, ctx.checker.extract(seed["answer"]))
                if not outcome.verified:
                    outcome.dropped = "wrong_answer"
        return outcomes
