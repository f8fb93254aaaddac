"""New Question: the teacher writes a new question of the same kind as a seed, with a different
answer; checks that it is well formed and answerable; answers it. Three queries per step (new
question, check, answer), four with ``verify='gold'`` (a second, independent answer that must agree:
a new question has no ground truth of its own). A rejected question spends only what it used."""

from __future__ import annotations

import re

from ..teacher import Call
from .base import Outcome, TaskContext, answer_call, ask_answers, parse_question


def _ask(seed: dict) -> str:
    return f"Example problem:\n{seed['question']}\n\nExample answer:\n{seed['answer']}"


def new_question_messages(seed: dict, others: tuple = ()) -> list:
    """The request; with two other seeds ``others`` = (a, b), one demonstration first: a as the
    example and b, another seed problem, as the new problem. Small teachers asked without one solve
    the example instead of writing a problem; the demonstration uses seed data only."""
    demo = []
    if len(others) >= 2:
        demo = [{"role": "user", "content": _ask(others[0])}, {"role": "assistant", "content": others[1]["question"]}]
    return [{"role": "system", "content": "You write new practice problems. Write one new problem of the same kind and "
                                          "difficulty as the example, with different numbers or facts, so that its "
                                          "answer is different. Reply with the new problem only, do not solve it."},
            *demo, {"role": "user", "content": _ask(seed)}]


def check_messages(question: str, example: str | None = None) -> list:
    """The check; with a seed question ``example``, two demonstrations first: the seed (YES) and its
    first half, which asks nothing (NO). Small teachers answer the bare instruction with prose that
    says neither; shown the two turns, they answer YES or NO."""
    demos = []
    if example:
        words = example.split()
        demos = [{"role": "user", "content": example}, {"role": "assistant", "content": "YES"},
                 {"role": "user", "content": " ".join(words[:max(2, len(words) // 2)])},
                 {"role": "assistant", "content": "NO"}]
    return [{"role": "system", "content": "You review problems. Reply YES if the problem is well formed and has one "
                                          "definite answer that can be worked out from what it says, otherwise NO. "
                                          "Reply with YES or NO only."},
            *demos, {"role": "user", "content": question}]


def parse_verdict(text: str):
    """True (YES), False (NO), or None when the reply says neither first."""
    match = re.search(r"\b(yes|no)\b", (text or "").lower())
    return None if match is None else match.group(1) == "yes"


class NewQuestion:
    name = "new_question"
    kinds = ("new_question", "check", "answer")

    def step_cost(self, ctx: TaskContext) -> int:
        return 4 if ctx.config.verify == "gold" else 3

    def run(self, steps: list, teacher, ctx: TaskContext) -> list[Outcome]:
        outcomes = [Outcome(step) for step in steps]
        calls = [Call("new_question", new_question_messages(ctx.seeds[s.seed_index],
                                                            tuple(ctx.demonstrations(exclude=s.seed_index)[:2])),
                      ctx.question_params(), s.sample_index) for s in steps]
        for outcome, reply in zip(outcomes, teacher.ask(calls, desc="new_question: questions")):
            outcome.charge("new_question")
            outcome.question, outcome.dropped = parse_question(reply.text, ctx.seeds[outcome.step.seed_index]["question"])

        live = [o for o in outcomes if o.dropped is None]
        calls = [Call("check", check_messages(o.question, ctx.seeds[o.step.seed_index]["question"]), ctx.check_params())
                 for o in live]
        for outcome, reply in zip(live, teacher.ask(calls, desc="new_question: checks")):
            outcome.charge("check")
            verdict = parse_verdict(reply.text)
            if verdict is None:
                outcome.dropped = "unparseable_check"
            elif not verdict:
                outcome.dropped = "rejected_by_check"

        live = [o for o in outcomes if o.dropped is None]
        calls = [answer_call(ctx, o.question, 0) for o in live]
        for outcome in ask_answers(live, calls, teacher, ctx, "new_question: answers"):
            seed_final = ctx.checker.extract(ctx.seeds[outcome.step.seed_index]["answer"])
            if ctx.config.require_different_answer and ctx.checker.name != "none" and \
                    ctx.checker.matches(outcome.final, seed_final):
                outcome.dropped = "same_answer_as_seed"

        if ctx.config.verify == "gold":  # no ground truth: a second answer, charged as a check, must agree
            live = [o for o in outcomes if o.dropped is None]
            calls = [answer_call(ctx, o.question, 1, kind="check") for o in live]
            for outcome, reply in zip(live, teacher.ask(calls, desc="new_question: verification")):
                outcome.charge("check")
                outcome.verified = ctx.checker.matches(outcome.final, ctx.checker.extract(reply.text))
                if not outcome.verified:
                    outcome.dropped = "unverified"
        return outcomes
