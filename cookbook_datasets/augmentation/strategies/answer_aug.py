"""Answer Augmentation: a new sampled teacher answer (with reasoning where the task has it) for a
seed question. One query per step."""

from __future__ import annotations

from .base import Outcome, TaskContext, answer_call, parse_answer


class AnswerAugmentation:
    name = "answer_aug"
    kinds = ("answer",)

    def step_cost(self, ctx: TaskContext) -> int:
        return 1

    def run(self, steps: list, teacher, ctx: TaskContext) -> list[Outcome]:
        outcomes = [Outcome(step) for step in steps]
        calls = [answer_call(ctx, ctx.seeds[s.seed_index]["question"], s.sample_index, exclude=s.seed_index)
                 for s in steps]
        for outcome, reply in zip(outcomes, teacher.ask(calls, desc="answer_aug: answers")):
            outcome.charge("answer")
            seed = ctx.seeds[outcome.step.seed_index]
            parsed = parse_answer(ctx, reply.text)
            if parsed is None:
                outcome.dropped = "unparseable_answer"
                continue
            outcome.question, (outcome.answer, outcome.final) = seed["question"], parsed
            if ctx.config.verify == "gold":  # the seed's answer is the ground truth: a local rule, no query
                outcome.verified = ctx.checker.matches(outcome.final, ctx.checker.extract(seed["answer"]))
                if not outcome.verified:
                    outcome.dropped = "wrong_answer"
        return outcomes
