"""The framings a task is scored in, one function each, all returning a :class:`Scored`.

- multiple choice ``loglik``: the log-likelihood of each choice as a continuation
  (lm-evaluation-harness); ``generate``: the options listed as the Cookbook templates list them,
  a greedy answer parsed as a letter or an option's text (``no_option``: the share that names none).
- classification ``generate``: a greedy answer, the last label mentioned (SELF-GUIDE's scoring);
  ``rank``: the log-likelihood of each label as the answer after the same prompt, argmax (the
  prompt is read once per row; its cached keys and values serve every label).
- generation ``generate``: ROUGE-L; a template task: exact match and agreement with the rule.

Only labelled instances are scored. Per-row scores come back by metric, so every mean gets its
standard error and every row its record. :func:`model_answers` gives the answers alone, in every
framing of a multiple-choice task (Cookbook-Mix scores them with agreement.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cookbook_datasets.tasks import Task

from .metrics import load_metric
from .option_answers import parse_option
from .prompts import chat_prompts, choice_lengths, loglik_requests, max_new_tokens, options_prompt

FRAMINGS = {"multiple_choice": ("loglik", "generate"), "classification": ("generate", "rank"),
            "generation": ("generate",)}


@dataclass
class Scored:
    """One task scored in one framing."""

    framing: str
    ids: list  # the scored instances' ids, row for row
    predictions: list  # per row: generated text, a label, or a choice index
    per_row: dict  # metric -> per-row scores (each metric is their mean)
    totals: dict = field(default_factory=dict)  # metrics that are no mean (counts)
    samples: list = field(default_factory=list)
    info: dict = field(default_factory=dict)


def _chunks(flat: list, sizes: list) -> list[list]:
    out, pos = [], 0
    for n in sizes:
        out.append(flat[pos:pos + n])
        pos += n
    return out


def mc_loglik(model, tokenizer, task: Task, batch_size: int = 16, num_samples: int = 3, **_) -> Scored:
    from .lm import loglikelihoods
    from .prompts import framing_name

    rows = task.labelled
    requests = loglik_requests(task, rows)
    ll = _chunks(loglikelihoods(model, tokenizer, [p for req in requests for p in req], batch_size=batch_size,
                                desc=task.name), [len(r) for r in requests])
    m = load_metric("mc_accuracy").compute(loglikelihoods=ll, label=[inst.gold for inst in rows],
                                           choice_lengths=choice_lengths(task, rows), per_row=True)
    per_row = m["per_row"]
    samples = [{"context": req[0][0][-300:], "choices": [c for _, c in req], "loglikelihoods": s, "label": inst.gold}
               for req, s, inst in list(zip(requests, ll, rows))[:num_samples]]
    return Scored("loglik", [i.id for i in rows], per_row.pop("prediction"), per_row, samples=samples,
                  info={"context_framing": framing_name(task.name)})


def mc_generate(model, tokenizer, task: Task, batch_size: int = 16, num_samples: int = 3, **_) -> Scored:
    rows = task.labelled
    prompts = [options_prompt(task, inst) for inst in rows]
    replies = _replies(model, tokenizer, task, prompts, batch_size)
    picked = [parse_option(r, inst.choices) for r, inst in zip(replies, rows)]
    per_row = {"acc": [float(p == inst.gold) for p, inst in zip(picked, rows)],
               "no_option": [float(p is None) for p in picked]}
    samples = [{"prompt": p[-1]["content"][-300:], "reply": r, "picked": k, "label": inst.gold}
               for p, r, k, inst in list(zip(prompts, replies, picked, rows))[:num_samples]]
    # a parsed answer is its choice index; a reply that names no option is kept as text
    predictions = [k if k is not None else r for k, r in zip(picked, replies)]
    return Scored("generate", [i.id for i in rows], predictions, per_row, samples=samples)


def cls_generate(model, tokenizer, task: Task, batch_size: int = 16, num_samples: int = 3, num_shots: int = 2,
                 **_) -> Scored:
    rows = task.labelled
    prompts = chat_prompts(task, num_shots, rows)
    replies = _replies(model, tokenizer, task, prompts, batch_size)
    references = [list(inst.outputs) for inst in rows]
    m = load_metric("label_exact_match").compute(predictions=replies, references=references, labels=task.labels,
                                                 per_row=True)
    return Scored("generate", [i.id for i in rows], replies, m["per_row"],
                  samples=_generation_samples(prompts, replies, references, num_samples))


def rank_requests(tokenizer, task: Task, num_shots: int, rows) -> list[list[tuple[str, str]]]:
    """Per row, (rendered chat prompt with the assistant turn opened, label) for every label."""
    contexts = [tokenizer.apply_chat_template(p, tokenize=False, add_generation_prompt=True)
                for p in chat_prompts(task, num_shots, rows)]
    return [[(context, label) for label in task.labels] for context in contexts]


def cls_rank(model, tokenizer, task: Task, batch_size: int = 16, num_samples: int = 3, num_shots: int = 2,
             **_) -> Scored:
    from .lm import loglikelihoods

    rows = task.labelled
    requests = rank_requests(tokenizer, task, num_shots, rows)
    ll = _chunks(loglikelihoods(model, tokenizer, [p for req in requests for p in req], batch_size=batch_size,
                                desc=task.name), [len(r) for r in requests])
    picked = [task.labels[max(range(len(s)), key=lambda k: (s[k], -k))] for s in ll]  # ties: the first label
    references = [list(inst.outputs) for inst in rows]
    m = load_metric("label_exact_match").compute(predictions=picked, references=references, labels=task.labels,
                                                 per_row=True)
    samples = [{"prompt": req[0][0][-300:], "loglikelihoods": dict(zip(task.labels, s)), "prediction": y,
                "references": r[:3]} for req, s, y, r in list(zip(requests, ll, picked, references))[:num_samples]]
    return Scored("rank", [i.id for i in rows], picked, m["per_row"], samples=samples)


def gen_generate(model, tokenizer, task: Task, batch_size: int = 16, num_samples: int = 3, num_shots: int = 2,
                 **_) -> Scored:
    rows = task.labelled
    prompts = chat_prompts(task, num_shots, rows)
    replies = _replies(model, tokenizer, task, prompts, batch_size)
    references = [list(inst.outputs) for inst in rows]
    samples = _generation_samples(prompts, replies, references, num_samples)
    if task.template:
        refs = [r[0] for r in references]
        m = load_metric("template_alignment").compute(predictions=replies, references=refs, per_row=True)
        per_row = {"exact_match": [float(p.strip() == r.strip()) for p, r in zip(replies, refs)], **m["per_row"]}
        return Scored("generate", [i.id for i in rows], replies, per_row,
                      totals={"num_agree": m["num_agree"], "num_total": m["num_total"]}, samples=samples)
    m = load_metric("rouge_l").compute(predictions=replies, references=references, per_row=True)
    return Scored("generate", [i.id for i in rows], replies, m["per_row"], samples=samples)


def _replies(model, tokenizer, task: Task, prompts: list, batch_size: int) -> list[str]:
    """Greedy replies to ``prompts``, as long as the task's answers need."""
    from .lm import generate

    return generate(model, tokenizer, prompts, max_new_tokens=max_new_tokens(task), batch_size=batch_size,
                    desc=task.name)


def _generation_samples(prompts, replies, references, n) -> list:
    return [{"prompt": p[-1]["content"][-300:], "prediction": y, "references": r[:3]}
            for p, y, r in list(zip(prompts, replies, references))[:n]]


SCORERS = {("multiple_choice", "loglik"): mc_loglik, ("multiple_choice", "generate"): mc_generate,
           ("classification", "generate"): cls_generate, ("classification", "rank"): cls_rank,
           ("generation", "generate"): gen_generate}


def score_task(model, tokenizer, task: Task, framing: str, **options) -> Scored:
    """Score ``task`` in ``framing`` (one of ``FRAMINGS[task.kind]``)."""
    if framing not in FRAMINGS[task.kind]:
        raise ValueError(f"task {task.name!r} ({task.kind}): framing must be one of {list(FRAMINGS[task.kind])} "
                         f"(got {framing!r})")
    if not task.labelled:
        raise ValueError(f"task {task.name!r} has no labelled instances to score")
    return SCORERS[task.kind, framing](model, tokenizer, task, **options)


def model_answers(model, tokenizer, task: Task, num_shots: int = 2, batch_size: int = 16) -> list:
    """The model's answer per labelled instance: its generated text, or for multiple choice
    ``[loglik choice, generate choice]``: the option of highest log-likelihood, and the option its
    greedy reply to the listed options names (None when it names none). Cookbook-Mix averages the
    two framings, so its fit rows judge a mixture the way its arms are scored: in both framings (a
    model that learned to pick among listed options shows it only in the generate framing)."""
    if task.kind == "multiple_choice":
        by_loglik = score_task(model, tokenizer, task, "loglik", batch_size=batch_size).predictions
        named = score_task(model, tokenizer, task, "generate", batch_size=batch_size).predictions
        # mc_generate keeps a reply that names no option as its text: no choice
        return [[a, b if isinstance(b, int) else None] for a, b in zip(by_loglik, named)]
    return score_task(model, tokenizer, task, "generate", batch_size=batch_size, num_shots=num_shots).predictions
