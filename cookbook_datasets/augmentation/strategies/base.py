"""What every strategy shares: the task context, the answer request (all three end by asking the
teacher to answer a question) and its parsing, and the result of a step."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Optional

from cookbook_datasets.generation import SamplingParams

from ..config import AugmentationConfig
from ..teacher import Call


@dataclass
class TaskContext:
    """The seed set and how its answers look (checker, reasoning), plus the recipe."""

    seeds: list
    config: AugmentationConfig
    checker: object
    reasoning: bool
    order: list  # seed indices in the seeded order steps walk through

    def demonstrations(self, exclude: Optional[int] = None) -> list:
        picked = [self.seeds[i] for i in self.order if i != exclude]
        return picked[:self.config.num_demonstrations]

    def answer_params(self) -> SamplingParams:
        c = self.config
        return SamplingParams(temperature=c.answer_temperature, top_p=c.top_p, max_new_tokens=c.max_new_tokens,
                              seed=c.seed)

    def question_params(self) -> SamplingParams:
        c = self.config
        return SamplingParams(temperature=c.question_temperature, top_p=c.top_p,
                              max_new_tokens=c.question_max_new_tokens, seed=c.seed)

    def check_params(self) -> SamplingParams:
        c = self.config
        return SamplingParams(temperature=c.check_temperature, top_p=c.top_p, max_new_tokens=8, seed=c.seed)


@dataclass
class Step:
    """Step ``index`` of the plan: augment seed ``seed_index`` for the ``sample_index``-th time."""

    index: int
    seed_index: int
    sample_index: int


@dataclass
class Outcome:
    """What a step made: a row (question, answer) or the reason it was dropped, and the queries it used."""

    step: Step
    calls: dict = field(default_factory=dict)
    question: Optional[str] = None
    answer: Optional[str] = None
    final: Optional[str] = None
    verified: Optional[bool] = None
    dropped: Optional[str] = None

    def charge(self, kind: str) -> None:
        self.calls[kind] = self.calls.get(kind, 0) + 1


def answer_format(ctx: TaskContext) -> str:
    if ctx.reasoning:
        return "Reason step by step, then write the final answer on its own last line as '#### <answer>'."
    return "Reply with the answer only."


def answer_messages(ctx: TaskContext, question: str, exclude: Optional[int] = None) -> list:
    """The teacher is shown a few seed examples as earlier turns, then asked ``question``."""
    messages = [{"role": "system", "content": f"Solve the problem. {answer_format(ctx)}"}]
    for demo in ctx.demonstrations(exclude):
        messages += [{"role": "user", "content": demo["question"]}, {"role": "assistant", "content": demo["answer"]}]
    return messages + [{"role": "user", "content": question}]


def answer_call(ctx: TaskContext, question: str, sample_index: int, exclude: Optional[int] = None,
                kind: str = "answer") -> Call:
    return Call(kind, answer_messages(ctx, question, exclude), ctx.answer_params(), sample_index)


def parse_answer(ctx: TaskContext, text: str) -> Optional[tuple[str, str]]:
    """(the completion to train on, its final answer), or None when no answer can be found."""
    final = ctx.checker.extract(text)
    if final is None:
        return None
    if not ctx.reasoning:
        return (final if ctx.checker.name != "none" else text.strip()), final
    marker = text.rfind("####")
    if marker >= 0:  # keep the reasoning and the answer line, drop anything the teacher added after it
        line_end = text.find("\n", marker)
        body = text[:line_end if line_end >= 0 else len(text)].rstrip()
        reasoning = body[:marker].strip()
        return (f"{reasoning}\n#### {final}" if reasoning else f"#### {final}"), final
    return f"{text.strip()}\n#### {final}", final  # no marker: the checker's last number is the answer


def ask_answers(outcomes: list[Outcome], calls: list[Call], teacher, ctx: TaskContext, desc: str) -> list[Outcome]:
    """Send ``calls`` (one answer request per outcome) and charge each outcome an "answer". The outcomes
    whose reply holds an answer get ``answer`` and ``final`` and are returned; the others are dropped
    as "unparseable_answer"."""
    answered = []
    for outcome, reply in zip(outcomes, teacher.ask(calls, desc=desc)):
        outcome.charge("answer")
        parsed = parse_answer(ctx, reply.text)
        if parsed is None:
            outcome.dropped = "unparseable_answer"
            continue
        outcome.answer, outcome.final = parsed
        answered.append(outcome)
    return answered


_LABEL = re.compile(r"^\s*(?:\*\*)?(?:new|rewritten|rephrased|paraphrased)?\s*(?:question|problem)\s*(?:\*\*)?\s*:\s*",
                    re.IGNORECASE)


def parse_question(text: str, original: str) -> tuple[Optional[str], Optional[str]]:
    """(a question the teacher wrote, None) or (None, why it does not parse)."""
    text = _LABEL.sub("", (text or "").strip()).strip().strip('"').strip()
    if "####" in text:  # the teacher answered instead of writing only a question
        text = text.split("####")[0].strip()
    if not text:
        return None, "empty_question"
    if " ".join(text.lower().split()) == " ".join(original.lower().split()):
        return None, "same_as_seed"
    if len(text) > 4 * len(original) + 200:
        return None, "question_too_long"
    if "?" in original and "?" not in text:  # a statement ("Lena has 33 shells now.") asks nothing
        return None, "not_a_question"
    return text, None
