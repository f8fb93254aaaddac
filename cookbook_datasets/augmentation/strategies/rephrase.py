"""Question Rephrase: the teacher rewrites a seed question keeping its meaning and answer, then
answers the rewrite. Two queries per step (rephrase, answer)."""

from __future__ import annotations

from ..teacher import Call
from .base import Outcome, TaskContext, answer_call, ask_answers, parse_question


def rephrase_messages(question: str) -> list:
    return [{"role": "system", "content": "You rewrite problems. Keep exactly the same meaning, numbers and answer; "
                                          "change the wording. Reply with the rewritten problem only, do not solve it."},
            {"role": "user", "content": f"Rewrite this problem:\n\n{question}"}]


class QuestionRephrase:
    name = "rephrase"
    kinds = ("rephrase", "answer")

    def step_cost(self, ctx: TaskContext) -> int:
        return 2

    def run(self, steps: list, teacher, ctx: TaskContext) -> list[Outcome]:
        outcomes = [Outcome(step) for step in steps]
        calls = [Call("rephrase", rephrase_messages(ctx.seeds[s.seed_index]["question"]), ctx.question_params(),
                      s.sample_index) for s in steps]
        for outcome, reply in zip(outcomes, teacher.ask(calls, desc="rephrase: questions")):
            outcome.charge("rephrase")
            outcome.question, outcome.dropped = parse_question(reply.text, ctx.seeds[outcome.step.seed_index]["question"])
        live = [o for o in outcomes if o.dropped is None]
        calls = [answer_call(ctx, o.question, 0, exclude=o.step.seed_index) for o in live]
        for outcome in ask_answers(live, calls, teacher, ctx, "rephrase: answers"):
            if ctx.config.verify == "gold":  # same meaning, same answer: the seed's is the ground truth
                gold = ctx.checker.extract(ctx.seeds[outcome.step.seed_index]["answer"])
                outcome.verified = ctx.checker.matches(outcome.final, gold)
                if not outcome.verified:
                    outcome.dropped = "wrong_answer"
        return outcomes
