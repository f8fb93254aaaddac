"""Does the model read the task? The untuned model on a task's fit rows, against chance and the constant answer.

``probe(ProbeConfig(tasks=[...], model=...))`` or ``cookbook probe TASK... --model M``: before
anything is trained, score the model on each task's fit rows (the rows the training methods may
read: the same seeded ``split_fit_eval`` as ``mix learn``, recorded by id) in every framing that
applies (classification ``generate`` and ``rank``; multiple choice ``loglik`` and ``generate``;
generation ``generate``) and compare it with two answers that read nothing:

- **chance**: the expected score of a uniform guess (a label drawn from the label set; an option
  drawn from a row's options); a fixed number, so the model's score gets a 95% interval of its
  own (Wilson's for 0/1 scores, normal otherwise; ``stats.mean_interval``);
- **the constant answer**: the most frequent label of the fit rows (multiple choice: the most
  frequent gold position, e.g. always "B"), scored on the same rows, so the model is compared with
  it row by row: a paired-bootstrap 95% interval of model - constant (``stats.paired_bootstrap``).

The verdict per task (``LEVEL`` = 95% intervals, every comparison on the fit rows):

- **reads it**: in at least one framing, the model's interval lies above chance (lower bound >
  chance) *and* the paired interval of model - constant lies above zero (lower bound > 0);
- **does not**: in every framing, the model's interval lies at or below chance (upper bound <=
  chance) *or* the paired interval lies at or below zero (upper bound <= 0): the model does no
  better than answering without reading; a model that gives one answer everywhere lands here;
- **cannot tell with these rows**: otherwise, and for generation tasks (no chance level). The
  report says about how many fit rows would tell: for the observed gap ``g`` to a bar and the
  per-row standard deviation ``s``, an interval half-width ``z s / sqrt(n)`` reaches ``|g|`` at
  ``n = (z s / g)^2`` (never fewer than the rows scored + 1).

With two framings, "reads it" in one of them is a one-sided 2.5% false alarm each, at most 5% in
all. Training on a task the model does not read teaches its answer format or its label prior,
not the task: a "gain" on it is no evidence of reading.

The statistics take per-row scores (:func:`probe_task`), so a job that already has the model's
answers on the fit rows (``mix learn``) reports the probe without running the model again
(:func:`answer_scores`, :func:`probe_answers`). :func:`probe_lines` renders the Markdown table
other reports start with.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
from collections import Counter
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Mapping, Optional, Sequence

import numpy as np

from cookbook_datasets.models import DEFAULT_MODEL, DTYPES
from cookbook_datasets.tasks import Task, ids_hash, load_tasks, split_fit_eval

from .agreement import normalize_answer
from .framings import FRAMINGS
from .stats import mean_interval, mean_stderr, paired_bootstrap, z_value

logger = logging.getLogger(__name__)

LEVEL = 0.95
VERDICTS = ("reads it", "does not", "cannot tell")
ALL_FRAMINGS = tuple(dict.fromkeys(f for kind in FRAMINGS.values() for f in kind))
NOT_READ_WARNING = "training on it would teach the answer format or the label prior, not the task"


@dataclass
class ProbeConfig:
    """Which model to probe on which tasks' fit rows, and where the report goes."""

    tasks: list = field(default_factory=list, metadata={
        "help": "Task files (NIV2 .json, task JSON, multiple-choice .jsonl), directories of them, data files (.csv, "
                ".parquet: columns input and output), template names, or Task objects."})
    model: str = field(default=DEFAULT_MODEL, metadata={"help": "Model spec (see load_model): the untuned model."})
    adapter: Optional[str] = field(default=None, metadata={"help": "PEFT adapter directory to apply."})
    fit_size: int = field(default=60, metadata={
        "help": "Fit rows per task: the rows the training methods may read (mix learn's --fit-size; the same "
                "seeded split). The task needs at least one more labelled row."})
    seed: int = field(default=0, metadata={"help": "Seed of the fit/eval split (as the method's) and the bootstrap."})
    num_shots: int = field(default=2, metadata={"help": "Demonstrations per prompt (classification, generation)."})
    batch_size: int = field(default=16, metadata={"help": "Requests per forward pass."})
    dtype: Optional[str] = field(default=None, metadata={"help": "Model dtype (default bf16 on GPU, fp32 on CPU).",
                                                         "choices": list(DTYPES)})
    framings: list = field(default_factory=list, metadata={
        "help": f"Framings to score ({', '.join(ALL_FRAMINGS)}); empty: every framing of each task's kind "
                "(classification: generate, rank; multiple choice: loglik, generate; generation: generate)."})
    out: Optional[str] = field(default=None, metadata={
        "help": "Directory for probe.json and probe.md (a rerun reuses the tasks already probed); none: write "
                "nothing."})

    def __post_init__(self):
        if isinstance(self.tasks, (str, os.PathLike, Task)):
            self.tasks = [self.tasks]
        if not self.tasks:
            raise ValueError("tasks: give at least one task (a task file, a directory, a template name or a Task)")
        for t in self.tasks:
            if not isinstance(t, (str, os.PathLike, Task)):
                raise ValueError(f"tasks holds {t!r}: give paths, template names or Task objects")
        if not isinstance(self.model, str) or not self.model:
            raise ValueError(f"model must be a model spec (a name or a directory; got {self.model!r})")
        for name, low in (("fit_size", 1), ("batch_size", 1), ("num_shots", 0), ("seed", None)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or (low is not None and value < low):
                allowed = "an integer" if low is None else f"an integer >= {low}"
                raise ValueError(f"{name} must be {allowed} (got {value!r})")
        if self.dtype is not None and self.dtype not in DTYPES:
            raise ValueError(f"dtype must be one of {list(DTYPES)} or None (got {self.dtype!r})")
        if isinstance(self.framings, str):
            self.framings = [self.framings]
        self.framings = list(self.framings or [])
        for f in self.framings:
            if f not in ALL_FRAMINGS:
                from cookbook_datasets.registry import unknown_name_error

                raise unknown_name_error("framing", f, list(ALL_FRAMINGS), listed="framings takes")
        if len(set(self.framings)) != len(self.framings):
            raise ValueError(f"framings names one framing twice ({self.framings})")

    def task_framings(self, task: Task) -> list:
        """The framings ``task`` is probed in: its kind's, those in ``framings`` when given."""
        own = list(FRAMINGS[task.kind])
        chosen = [f for f in own if not self.framings or f in self.framings]
        if not chosen:
            raise ValueError(f"task {task.name!r} ({task.kind}) has none of the framings {self.framings}; "
                             f"its framings: {', '.join(own)}")
        return chosen

    def identity(self) -> dict:
        """What makes two probes' per-task results interchangeable (for resuming)."""
        return {f.name: getattr(self, f.name) for f in fields(self)
                if f.name not in ("tasks", "batch_size", "out", "framings")}


# -- the answers that read nothing ---------------------------------------------------------------------

def task_metric(task: Task) -> str:
    """The per-row metric a task is probed with (the harness's main metric for its kind)."""
    if task.kind == "multiple_choice":
        return "acc"
    if task.kind == "classification" or task.template:
        return "exact_match"
    return "rougeL"


def chance_level(task: Task) -> Optional[float]:
    """The expected score of a uniform guess on ``task``'s labelled rows: per row, the share of the
    label set that is an acceptable output (classification) or 1 / #options (multiple choice);
    None for a generation task (no answer set to guess from)."""
    rows = task.labelled
    if not rows or task.kind == "generation":
        return None
    if task.kind == "multiple_choice":
        return float(np.mean([1 / len(inst.choices) for inst in rows]))
    labels = {normalize_answer(x) for x in task.labels}
    return float(np.mean([len(labels & {normalize_answer(o) for o in inst.outputs}) / len(labels) for inst in rows]))


def constant_answer(task: Task):
    """The answer that reads nothing but the rows' answers: the most frequent label among the
    labelled rows (their first output; ties: the label set's order), or for multiple choice the
    most frequent gold position (ties: the first position). None for a generation task."""
    rows = task.labelled
    if not rows or task.kind == "generation":
        return None
    if task.kind == "multiple_choice":
        counts = Counter(inst.gold for inst in rows)
        return min(counts, key=lambda k: (-counts[k], k))
    counts = Counter(normalize_answer(inst.outputs[0]) for inst in rows)
    order = {normalize_answer(x): i for i, x in enumerate(task.labels)}
    best = min(counts, key=lambda x: (-counts[x], order.get(x, len(order)), x))
    return next((x for x in task.labels if normalize_answer(x) == best), best)


def constant_scores(task: Task, answer) -> list:
    """Per labelled row, the score of always giving ``answer`` (a label, or a choice position)."""
    if task.kind == "multiple_choice":
        return [float(inst.gold == answer) for inst in task.labelled]
    return [float(normalize_answer(answer) in {normalize_answer(o) for o in inst.outputs}) for inst in task.labelled]


def shown_answer(task: Task, answer) -> str:
    """How the constant answer is written in a report: 'positive', or the option letter 'B'."""
    if answer is None:
        return ""
    if task.kind == "multiple_choice":
        return chr(ord("A") + answer) if answer < 26 else str(answer + 1)
    return repr(str(answer))


# -- the statistics: per-row scores in, a verdict out ---------------------------------------------------

def rows_needed(gap: float, sd: float, z: float, n: int) -> Optional[int]:
    """Rows at which an interval of half-width ``z * sd / sqrt(rows)`` just reaches ``|gap|``
    (at least ``n + 1``: ``n`` rows did not tell); None when the gap is 0 (no number of rows will)."""
    if gap == 0 or not math.isfinite(gap):
        return None
    if sd <= 0:
        return n + 1
    return max(n + 1, math.ceil((z * sd / abs(gap)) ** 2))


def _binary_sd(scores: np.ndarray) -> float:
    """A per-row standard deviation that is not 0 at 0/n or n/n (Agresti-Coull's p for 0/1 scores)."""
    if np.isin(scores, (0.0, 1.0)).all():
        p = (scores.sum() + 2) / (scores.size + 4)
        return float(math.sqrt(p * (1 - p)))
    return float(scores.std(ddof=1)) if scores.size > 1 else 0.0


def probe_framing(scores: Sequence[float], chance: Optional[float], constant: Optional[Sequence[float]],
                  level: float = LEVEL, seed: int = 0) -> dict:
    """One framing: the model's mean score with its interval, its gap to chance, its paired
    difference from the constant answer, and its status: ``above`` (both lower bounds clear their
    bar), ``at or below`` (an upper bound at or below its bar), ``unclear``; ``no chance level``
    without one. ``rows_needed``: about how many rows would settle an unclear framing."""
    x = np.asarray(scores, dtype=float)
    if x.size == 0:
        raise ValueError("probe_framing needs at least one scored row")
    n, z = int(x.size), z_value(level)
    low, high = mean_interval(x, level)
    out = {"n": n, "score": float(x.mean()), "stderr": mean_stderr(x), "low": low, "high": high,
           "scores": [float(v) for v in x]}
    if chance is None or constant is None:
        out.update(status="no chance level", rows_needed=None)
        return out
    c = np.asarray(constant, dtype=float)
    if c.shape != x.shape:
        raise ValueError(f"the constant answer's scores ({c.size}) and the model's ({x.size}) are not row for row")
    diff = paired_bootstrap(c, x, level=level, seed=seed)
    gap_chance, sd_chance = float(x.mean() - chance), _binary_sd(x)
    d = x - c
    sd_diff = float(d.std(ddof=1)) if n > 1 else 0.0
    out["vs_chance"] = {"chance": chance, "gap": gap_chance, "low": low - chance, "high": high - chance}
    out["vs_constant"] = {"constant": float(c.mean()), "diff": diff.mean, "low": diff.low, "high": diff.high}
    above = low > chance and diff.low > 0
    below = high <= chance or diff.high <= 0
    if above:
        status, needed = "above", None
    elif below:
        status, needed = "at or below", None
    else:
        status = "unclear"
        bars = [(gap_chance, sd_chance), (diff.mean, sd_diff)]
        if all(g > 0 for g, _ in bars):  # rows to lift both lower bounds over their bars
            needs = [rows_needed(g, s, z, n) for g, s in bars]
            needed = None if None in needs else max(needs)
        else:  # rows to bring one upper bound down to its bar
            needs = [rows_needed(g, s, z, n) for g, s in bars if g < 0]
            needed = min(needs) if needs else None
    out.update(status=status, rows_needed=needed)
    return out


def probe_task(task: Task, scores: Mapping[str, Sequence[float]], level: float = LEVEL, seed: int = 0,
               metric: Optional[str] = None) -> dict:
    """The probe of one task from per-row scores: ``scores`` maps each framing to the model's
    scores on ``task``'s labelled rows (row for row; e.g. ``Scored.per_row["acc"]``). Returns the
    task's record: chance, the constant answer and its score, each framing (:func:`probe_framing`),
    the ``verdict`` (one of ``VERDICTS``), ``why``, and ``rows_needed`` for "cannot tell"."""
    if not scores:
        raise ValueError(f"task {task.name!r}: no framing was scored")
    rows = task.labelled
    chance, answer = chance_level(task), constant_answer(task)
    constant = constant_scores(task, answer) if answer is not None else None
    framings = {}
    for framing, per_row in scores.items():
        if len(per_row) != len(rows):
            raise ValueError(f"task {task.name!r}, framing {framing!r}: {len(per_row)} scores for {len(rows)} "
                             "labelled rows")
        framings[framing] = probe_framing(per_row, chance, constant, level=level, seed=seed)
    record = {"kind": task.kind, "source": task.source, "n": len(rows), "ids": [inst.id for inst in rows],
              "ids_hash": ids_hash([inst.id for inst in rows]), "metric": metric or task_metric(task),
              "level": level, "chance": chance,
              "constant": None if answer is None else {"answer": answer, "shown": shown_answer(task, answer),
                                                       "score": float(np.mean(constant))},
              "framings": framings}
    record.update(verdict_of(record))
    return record


def verdict_of(record: dict) -> dict:
    """``verdict``, ``why`` and ``rows_needed`` from a task record's framings (the rule in the module doc)."""
    fr = record["framings"]
    statuses = {f: r["status"] for f, r in fr.items()}
    if record.get("chance") is None:
        return {"verdict": "cannot tell", "rows_needed": None,
                "why": f"a {record['kind']} task has no chance level or constant answer to beat"}
    reads = [f for f, s in statuses.items() if s == "above"]
    if reads:
        return {"verdict": "reads it", "rows_needed": None,
                "why": f"above chance and the constant answer in {', '.join(reads)}"}
    if all(s == "at or below" for s in statuses.values()):
        return {"verdict": "does not", "rows_needed": None,
                "why": "no better than chance or the constant answer in " + ", ".join(statuses)}
    unclear = [f for f, s in statuses.items() if s == "unclear"]
    hopeful = [fr[f]["rows_needed"] for f in unclear
               if fr[f]["vs_chance"]["gap"] > 0 and fr[f]["vs_constant"]["diff"] > 0 and fr[f]["rows_needed"]]
    if hopeful:  # the cheapest framing to show "reads it"
        needed = min(hopeful)
    else:  # every unclear framing must come down to show "does not"
        needs = [fr[f]["rows_needed"] for f in unclear]
        needed = None if None in needs else max(needs)
    gaps = "; ".join(f"{f}: {fr[f]['vs_constant']['diff']:+.3f} vs the constant answer, "
                     f"{fr[f]['vs_chance']['gap']:+.3f} vs chance" for f in unclear)
    return {"verdict": "cannot tell", "rows_needed": needed,
            "why": f"the intervals hold the gaps ({gaps})" + (f"; about {needed} fit rows would tell" if needed else
                                                              "; a gap of 0 (e.g. the constant answer's score "
                                                              "exactly) sizes no number of rows")}


# -- from answers a job already has (mix learn) -------------------------------------------------------

def answer_scores(task: Task, answers: Sequence) -> dict:
    """Per framing, per-row scores of answers already given on ``task``'s labelled rows, as
    ``framings.model_answers`` returns them: for multiple choice ``[loglik choice, generate choice]``
    per row (framings ``loglik``, ``generate``), otherwise the generated text (``generate``)."""
    from .metrics import load_metric

    rows = task.labelled
    if len(answers) != len(rows):
        raise ValueError(f"task {task.name!r}: {len(answers)} answers for {len(rows)} labelled rows")
    if task.kind == "multiple_choice":
        pairs = [a if isinstance(a, (list, tuple)) else [a] for a in answers]
        names = FRAMINGS["multiple_choice"][:max(len(p) for p in pairs)] if pairs else ()
        return {f: [float(p[k] == inst.gold) if k < len(p) else 0.0 for p, inst in zip(pairs, rows)]
                for k, f in enumerate(names)}
    references = [list(inst.outputs) for inst in rows]
    if task.kind == "classification":
        m = load_metric("label_exact_match").compute(predictions=[str(a) for a in answers], references=references,
                                                     labels=task.labels, per_row=True)
        return {"generate": m["per_row"]["exact_match"]}
    if task.template:
        return {"generate": [float(str(a).strip() == r[0].strip()) for a, r in zip(answers, references)]}
    m = load_metric("rouge_l").compute(predictions=[str(a) for a in answers], references=references, per_row=True)
    return {"generate": m["per_row"]["rougeL"]}


def probe_answers(fit: Mapping[str, Task], answers: Mapping[str, Sequence], model: Optional[str] = None,
                  seed: int = 0, level: float = LEVEL) -> dict:
    """The probe report of answers already given on each task's fit rows (``fit``: task name ->
    its fit part; ``answers``: task name -> answers as ``framings.model_answers`` gives them)."""
    tasks = {name: probe_task(task, answer_scores(task, answers[name]), level=level, seed=seed)
             for name, task in fit.items()}
    return {"model": model, "adapter": None, "level": level, "seed": seed, "tasks": tasks}


# -- the probe: load, split, score, judge, write ------------------------------------------------------

def fit_rows(task: Task, fit_size: int, seed: int) -> Task:
    """``task``'s fit part: the rows the training methods may read (``split_fit_eval``, as ``mix learn``)."""
    n = len(task.labelled)
    if n < fit_size + 1:
        raise ValueError(f"task {task.name!r} ({task.source or 'no file'}) has {n} labelled rows: the probe reads "
                         f"fit_size={fit_size} fit rows and leaves at least one for scoring, so it needs "
                         f"{fit_size + 1}; lower fit_size (--fit-size) to at most {max(n - 1, 0)}")
    fit, _ = split_fit_eval(task, fit_size, 1, seed=seed)  # the fit part does not depend on the eval size
    return fit


def _key(config: ProbeConfig, task: Task, framings: list) -> str:
    blob = json.dumps({"config": config.identity(), "ids": task.ids_hash(), "kind": task.kind,
                       "framings": framings, "level": LEVEL}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _score(model, tokenizer, task: Task, framing: str, config: ProbeConfig) -> list:
    from .framings import score_task

    scored = score_task(model, tokenizer, task, framing, batch_size=config.batch_size, num_samples=0,
                        num_shots=config.num_shots)
    metric = task_metric(task)
    return scored.per_row[metric]


def probe(config: ProbeConfig, model=None, tokenizer=None) -> dict:
    """Probe ``config.model`` on each task's fit rows; write ``probe.json`` and ``probe.md`` under
    ``config.out`` (after every task, so a killed run resumes) and return the report: ``{"model",
    "adapter", "config", "level", "tasks": {name: record}}`` (records: :func:`probe_task`, with the
    split's ``seed`` and ``fit_size``)."""
    # loaded as mix learn loads them (a data file's first num_shots labelled rows are demonstrations)
    tasks = load_tasks(config.tasks, seed=config.seed, demonstrations=config.num_shots)
    names = [t.name for t in tasks]
    dup = next((n for n in names if names.count(n) > 1), None)
    if dup is not None:
        raise ValueError(f"two tasks are named {dup!r}: the probe is keyed by task name")
    plans = []
    for task in tasks:  # every error (too few rows, no framing) before the model loads
        fit = fit_rows(task, config.fit_size, config.seed)
        framings = config.task_framings(fit)
        plans.append((task, fit, framings, _key(config, fit, framings)))
    out = Path(config.out) if config.out else None
    previous = {}
    if out is not None and (out / "probe.json").exists():
        from cookbook_datasets.atomic_files import read_json

        previous = read_json(out / "probe.json", "probe report").get("tasks", {})
    report = {"model": config.model, "adapter": config.adapter, "config": config.identity(), "level": LEVEL,
              "tasks": {}}
    for task, fit, framings, key in plans:
        done = previous.get(task.name)
        if done and done.get("key") == key:
            report["tasks"][task.name] = done
            continue
        if model is None:
            from cookbook_datasets.models import load_model

            model, tokenizer = load_model(config.model, adapter=config.adapter, dtype=config.dtype)
        logger.info("probing %s (%s) on %d fit rows in %s", task.name, task.kind, len(fit), ", ".join(framings))
        scores = {f: _score(model, tokenizer, fit, f, config) for f in framings}
        record = probe_task(fit, scores, seed=config.seed)
        record.update(key=key, labelled_rows=len(task.labelled), fit_size=config.fit_size, seed=config.seed)
        report["tasks"][task.name] = record
        if out is not None:
            write_probe(out, report)
    if out is not None:
        write_probe(out, report)
    return report


def write_probe(out: str | os.PathLike, report: dict) -> None:
    """``out/probe.json`` and ``out/probe.md`` (atomic writes)."""
    from cookbook_datasets.atomic_files import atomic_json, atomic_write_text

    out = Path(out)
    atomic_json(out / "probe.json", report)
    title = report.get("model") or "the model"
    if report.get("adapter"):
        title += f" + {report['adapter']}"
    atomic_write_text(out / "probe.md", "\n".join([f"# Does {title} read the task?", *probe_lines(report)]) + "\n")


# -- the report --------------------------------------------------------------------------------------

def _interval(lo: float, hi: float, signed: bool = False) -> str:
    f = "{:+.3f}" if signed else "{:.3f}"
    return f"[{f.format(lo)}, {f.format(hi)}]"


def verdict_text(record: dict) -> str:
    """The verdict as the table writes it (with the rows that would tell, where known)."""
    v = record["verdict"]
    if v == "cannot tell":
        if record.get("chance") is None:
            return "cannot tell (no chance level)"
        needed = record.get("rows_needed")
        return "cannot tell with these rows" + (f" (about {needed} would tell)" if needed
                                                else " (a gap of 0 on these rows: no row count to suggest)")
    return f"**{v}**" if v == "does not" else v


def not_read(report: dict) -> list:
    """The tasks the model does not read (verdict "does not")."""
    return [t for t, r in report["tasks"].items() if r["verdict"] == "does not"]


def probe_report(tasks: Sequence[Task], scores: Mapping[str, Mapping[str, Sequence[float]]], model: str, rows: str,
                 seed: int = 0, metrics: Optional[Mapping[str, str]] = None) -> dict:
    """The probe's report from answers a method already scored (no model runs): ``scores[task name]``
    maps each framing to per-row scores on that task's labelled rows; ``rows`` says which rows they are."""
    return {"model": model, "adapter": None, "level": LEVEL, "seed": seed, "rows": rows,
            "tasks": {t.name: probe_task(t, scores[t.name], seed=seed, metric=(metrics or {}).get(t.name))
                      for t in tasks}}


def warn_not_read(report: dict, log: logging.Logger = logger) -> list:
    """Log, before any training, a warning for each task the report says the model does not read;
    returns those tasks."""
    names = not_read(report)
    for name in names:
        record = report["tasks"][name]
        log.warning("%s: the untuned model does not read the task on %d %s (%s); %s", name, record["n"],
                    report["rows"], record["why"], NOT_READ_WARNING)
    return names


def probe_lines(report: dict, heading: str = "## Does the model read each task? (fit rows)") -> list:
    """The probe as Markdown lines: a heading, the rule, one table row per task and framing
    (score with its 95% interval, chance, the constant answer's score, model - constant with its
    paired 95% interval, the verdict), and the tasks the model does not read."""
    if not report.get("tasks"):
        return []
    pct = f"{report.get('level', LEVEL):.0%}"
    lines = ["", heading, "",
             f"The untuned model on each task's fit rows (the rows training may read), against chance (a uniform "
             f"guess) and the constant answer (the fit rows' most frequent label, or gold position), with {pct} "
             f"intervals (model - constant: paired bootstrap over rows). **reads it**: in some framing both lower "
             "bounds clear their bar; **does not**: in every framing an upper bound is at or below its bar; "
             "otherwise cannot tell (with about how many fit rows would tell).", "",
             f"| task | n | framing | score [{pct}] | chance | constant answer | model - constant [{pct}] | verdict |",
             "|---|---:|---|---|---:|---|---|---|"]
    for name, r in report["tasks"].items():
        first = True
        order = list(FRAMINGS.get(r["kind"], ()))  # a JSON round trip may have sorted them
        for framing, f in sorted(r["framings"].items(), key=lambda kv: order.index(kv[0]) if kv[0] in order else 9):
            score = f"{f['score']:.3f} {_interval(f['low'], f['high'])}"
            c = r.get("constant")
            if c is not None and "vs_constant" in f:
                chance = f"{r['chance']:.3f}"
                const = f"{c['shown']}: {c['score']:.3f}"
                vc = f["vs_constant"]
                diff = f"{vc['diff']:+.3f} {_interval(vc['low'], vc['high'], signed=True)}"
            else:
                chance = const = diff = "none"
            lines.append(f"| {name if first else ''} | {r['n'] if first else ''} | {framing} ({r['metric']}) | "
                         f"{score} | {chance} | {const} | {diff} | {verdict_text(r) if first else ''} |")
            first = False
    unread = not_read(report)
    if unread:
        lines += ["", f"Not read: {', '.join(unread)}: the model does no better than answering without reading; "
                      f"{NOT_READ_WARNING}."]
    return lines


__all__ = ["ALL_FRAMINGS", "LEVEL", "NOT_READ_WARNING", "VERDICTS", "ProbeConfig", "answer_scores", "chance_level",
           "constant_answer", "constant_scores", "fit_rows", "not_read", "probe", "probe_answers", "probe_framing",
           "probe_lines", "probe_task", "rows_needed", "shown_answer", "task_metric", "verdict_of", "verdict_text",
           "write_probe"]
