"""What each template says about each target task, measured on the task's fit rows
(:class:`MixSignals`, what every mixing method reads).

- **Speaking the task's language.** A label template's words (``label_words``) are set per task
  to the task's own labels: the assignment of labels to the template's roles whose rule answers
  best match the fit rows' gold labels (or, without labels, the task's demonstrations). A choice
  template answers as the task is scored (option numbers, letters or text). Each distinct setting
  is one mixture component, named after it (``nli[1/0/0]``); default settings keep the bare name.
- **Rule accuracy**: the rule's answers scored with the task's own metric against the gold
  answers, on the rows the rule applies to; **coverage**: the share of rows it applies to.
  Without labels (``use_labels=False``) the accuracy is estimated as agreement with the other
  rules' leave-one-out majority vote, as a weak-supervision label model does.
- **Template alignment** (needs a model): the same metric of the model's answers against the
  rule's answers, on the rows the rule applies to: the share of the model's answers that follow
  the rule (METHODS.md §1).
"""

from __future__ import annotations

import copy
import itertools
import logging
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Optional, Sequence

import numpy as np

from cookbook_datasets.eval.agreement import agreement, chance, gold

from ..tasks import Task
from ..tasks.label_codes import label_meanings, roles_named
from ..templates import get_template, get_template_class

logger = logging.getLogger(__name__)

_MAX_WORD_ASSIGNMENTS = 4096


@dataclass
class MixSignals:
    """Per component and task, measured on the tasks' fit rows only: what every mixing method reads."""

    tasks: list  # task names
    components: dict  # component name -> {"template": T, ...params}
    rule_accuracy: dict = field(default_factory=dict)  # component -> task -> accuracy of the rule (None: n/a)
    coverage: dict = field(default_factory=dict)  # component -> task -> share of fit rows the rule maps
    chance: dict = field(default_factory=dict)  # task -> accuracy of the most frequent answer / 1 / #choices
    estimated: dict = field(default_factory=dict)  # task -> True when rule accuracies come from a label model
    base_scores: dict = field(default_factory=dict)  # task -> the untuned model's score
    runs: list = field(default_factory=list)  # [{"weights": {...}, "scores": {task: score}}]
    fields: dict = field(default_factory=dict)  # task -> the fields found in its inputs and the roles they fill
    label_codes: dict = field(default_factory=dict)  # task -> label roles -> {label: roles the definition gives it}
    protection: dict = field(default_factory=dict)  # task -> its protecting components and how (protect.py)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "MixSignals":
        return cls(**d)

    def replace(self, **changes) -> "MixSignals":
        """A copy with ``changes`` (lists and dicts shallow-copied, so the copy's runs are its own)."""
        return MixSignals(**{**{k: copy.copy(v) for k, v in vars(self).items()}, **changes})

    def helpfulness(self) -> dict:
        """component -> task -> how far the rule beats chance on the rows it maps, times its coverage."""
        out = {}
        for comp in self.components:
            out[comp] = {}
            for task in self.tasks:
                acc = self.rule_accuracy.get(comp, {}).get(task)
                cov = self.coverage.get(comp, {}).get(task, 0.0)
                out[comp][task] = 0.0 if acc is None else max(0.0, acc - self.chance.get(task, 0.0)) * cov
        return out


def rule_answers(template, rows: Task) -> list:
    """The rule's answer per row in the task's answer space (None where it does not apply)."""
    out = []
    for example in rows.field_examples:
        inputs = template.from_task_example(example)
        if inputs is None:
            out.append(None)
        elif rows.kind == "multiple_choice":
            if template.answer_formats:
                out.append(inputs[template.options_key].index(template.rule(inputs)))
            else:  # a label rule picks the option its label word names (BoolQ's "no"/"yes")
                words = [_norm(c) for c in example.get("choices", [])]
                said = _norm(template.format_output(template.rule(inputs), inputs))
                out.append(words.index(said) if said in words else None)
        else:
            out.append(template.predict(example))
    return out


def _applies(answers: Sequence) -> list:
    return [i for i, a in enumerate(answers) if a is not None]


def rule_accuracy(template, rows: Task, targets: Optional[list] = None) -> tuple[Optional[float], float]:
    """(accuracy on the rows the rule applies to, coverage); accuracy None where it applies to none."""
    answers = rule_answers(template, rows)
    keep = _applies(answers)
    if not keep:
        return None, 0.0
    return agreement(rows, answers, gold(rows) if targets is None else targets, keep), len(keep) / len(rows)


def _demo_rows(rows: Task) -> Optional[Task]:
    """The task's demonstrations as rows, read with its layout (for choosing label words without fit labels)."""
    if not rows.demonstrations or rows.kind != "classification":
        return None
    from ..tasks import Instance
    from ..tasks.task import with_unique_ids

    return Task(name=rows.name, kind=rows.kind, labels=rows.labels, layout=rows.layout,
                instances=with_unique_ids([Instance.make(d.input, [d.answer.strip()]) for d in rows.demonstrations]))


def task_params(template_name: str, rows: Task, use_labels: bool = True) -> Optional[dict]:
    """The template parameters that make its rule answer in this task's terms, or None when the
    rule does not apply to the task at all."""
    cls = get_template_class(template_name)
    if not cls.task_fields:
        return None
    if cls.answer_formats:
        if rows.kind == "multiple_choice":
            fmt = "text"
        else:
            labels = rows.labels or []
            fmt = ("number" if labels and all(x.isdigit() for x in labels) else
                   "letter" if labels and all(len(x) == 1 and x.isalpha() for x in labels) else "text")
        params = {"answer_format": fmt} if fmt in cls.answer_formats else None
        if params is None:
            return None
        return params if rule_accuracy(get_template(template_name, **params), rows)[1] > 0 else None
    if cls.label_roles:
        labels = _label_set(rows)
        if not labels:
            return None
        named = {r: next((w for w in labels if _similar(r, w)), None) for r in cls.label_roles}
        # codes ("1"/"0", "A"/"B") spell no role: the definition may say what they mean (tasks/label_codes.py)
        defined = roles_named(rows.instruction, [w for w in labels if w not in named.values()],
                              cls.label_roles)
        named = {r: named[r] or defined.get(r) for r in cls.label_roles}
        if all(named.values()) and len(set(named.values())) >= min(len(cls.label_roles), len(labels)):
            # every role has its word from the labels or the definition: nothing left to judge
            template = get_template(template_name, label_words=[named[r] for r in cls.label_roles])
            return {"label_words": template.label_words} if rule_accuracy(template, rows)[1] > 0 else None
        judge = rows if (use_labels or rows.kind == "multiple_choice") else _demo_rows(rows)
        if judge is None:
            return None
        # A role whose name the task's labels spell (entailment -> "Entailment", yes -> "Yes.", contradiction
        # -> "C") takes that label; the other roles take the labels that make the rule most accurate. Every
        # label the roles can cover is used, so a component never answers one constant label.
        choices = [[named[r]] if named[r] else labels for r in cls.label_roles]
        need = min(len(cls.label_roles), len(labels))
        options = [w for w in itertools.islice(itertools.product(*choices), _MAX_WORD_ASSIGNMENTS) if len(set(w)) >= need]

        # The rule's role per row does not depend on the words: map it once, then name it per candidate.
        template = get_template(template_name)
        roles = []
        for example in judge.field_examples:
            inputs = template.from_task_example(example)
            roles.append(None if inputs is None else template.rule(inputs))
        targets = gold(judge)

        def rank(words):
            said = [None if r is None else words[cls.label_roles.index(r)] for r in roles]
            if judge.kind == "multiple_choice":
                options = [[_norm(c) for c in e.get("choices", [])] for e in judge.field_examples]
                said = [None if w is None or _norm(w) not in o else o.index(_norm(w)) for w, o in zip(said, options)]
            keep = _applies(said)
            return agreement(judge, said, targets, keep) if keep else -1.0

        scored = [(rank(w), w) for w in options]
        if not scored or max(scored)[0] < 0:
            return None
        best = max(scored, key=lambda x: x[0])[1]
        return {"label_words": list(best)}
    return {} if rule_accuracy(get_template(template_name), rows)[1] > 0 else None


def _similar(role: str, word: str) -> bool:
    """Whether a task label spells a role: the role's name ("Entailment", "yes.") or its initial ("C")."""
    w = word.lower().strip(" .")
    return bool(w) and (w == role or (len(w) == 1 and role.startswith(w)) or (len(w) >= 3 and role.startswith(w)))


def _label_set(rows: Task) -> list:
    """A classification task's labels, or a multiple-choice task's options when every row offers the
    same few (BoolQ's "no"/"yes")."""
    if rows.kind == "classification":
        return list(rows.labels or [])
    if rows.kind == "multiple_choice":
        options = {tuple(e.get("choices", [])) for e in rows.field_examples}
        if len(options) == 1:
            return list(next(iter(options)))
    return []


def _norm(text) -> str:
    return " ".join(str(text).lower().split()).strip(" .")


def component_name(template: str, params: dict) -> str:
    """``nli`` for default settings, ``nli[1/0/0]`` or ``multiple_choice_qa[number]`` otherwise."""
    defaults = get_template(template).params()
    changed = {k: v for k, v in params.items() if defaults.get(k) != v}
    if not changed:
        return template
    parts = ["/".join(v) if isinstance(v, list) else str(v) for _, v in sorted(changed.items())]
    return f"{template}[{','.join(parts)}]"


def _label_model_accuracy(answers_by_comp: dict, comp: str, rows: Task) -> Optional[float]:
    """Agreement of ``comp``'s answers with the majority of the other rules on each row."""
    mine = answers_by_comp[comp]
    votes_answers, keep = [], []
    for i, a in enumerate(mine):
        if a is None:
            continue
        others = [answers_by_comp[c][i] for c in answers_by_comp if c != comp and answers_by_comp[c][i] is not None]
        if not others:
            continue
        votes = Counter(str(o) for o in others).most_common()
        if len(votes) > 1 and votes[0][1] == votes[1][1]:
            continue  # no majority
        keep.append(i)
        votes_answers.append(next(o for o in others if str(o) == votes[0][0]))
    if not keep:
        return None
    targets = [None] * len(mine)
    for i, t in zip(keep, votes_answers):
        targets[i] = t if rows.kind == "multiple_choice" else [t]
    return agreement(rows, mine, targets, keep)


def compute_signals(fit_rows: dict, templates: Sequence[str], use_labels: bool = True) -> tuple[MixSignals, dict]:
    """Signals over ``fit_rows`` (task name -> its fit part, a Task with its layout) for
    ``templates``; also returns, per task, the rule answers of every component (for alignment).
    Components are the distinct (template, parameters) settings the tasks need."""
    components, settings = {}, {}  # name -> spec; (template, task) -> component name
    for task, rows in fit_rows.items():
        for template in templates:
            params = task_params(template, rows, use_labels=use_labels)
            if params is None:
                continue
            name = component_name(template, params)
            components.setdefault(name, {"template": template, **params})
            settings[(template, task)] = name
    uncovered = [t for t in fit_rows if not any(task == t for (_, task) in settings)]
    for t in uncovered:
        logger.warning("no template's rule applies to %s (templates: %s)", t, ", ".join(templates))
    signals = MixSignals(tasks=list(fit_rows), components=components)
    for task, rows in fit_rows.items():
        layout = rows.layout
        if layout is not None:
            signals.fields[task] = layout.describe()
        labels = _label_set(rows)
        codes = {}
        for roles in dict.fromkeys(get_template_class(t).label_roles for t in templates):
            meaning = label_meanings(rows.instruction, labels, roles) if roles else {}
            if meaning:
                codes["/".join(roles)] = meaning
        if codes:
            signals.label_codes[task] = codes
    return signals, measure_rules(signals, fit_rows, use_labels)


def measure_rules(signals: MixSignals, fit_rows: dict, use_labels: bool = True) -> dict:
    """Fill ``signals``' chance, rule accuracy and coverage of its template components on
    ``fit_rows`` (dataset components: no rule, accuracy None); returns task -> component -> the
    rule's answer per row."""
    components = {c: s for c, s in signals.components.items() if "template" in s}
    answers = {}
    for task, rows in fit_rows.items():
        signals.chance[task] = chance(rows)
        signals.estimated[task] = not use_labels
        answers[task] = {name: rule_answers(get_template(spec["template"], **_params(spec)), rows)
                         for name, spec in components.items()}
        for name in components:
            keep = _applies(answers[task][name])
            cov = len(keep) / len(rows)
            if use_labels:
                acc = agreement(rows, answers[task][name], gold(rows), keep) if keep else None
            else:
                acc = _label_model_accuracy(answers[task], name, rows)
            signals.rule_accuracy.setdefault(name, {})[task] = acc
            signals.coverage.setdefault(name, {})[task] = cov
    for name in signals.components:
        if name not in components:
            mark_no_rule(signals, name)
    return answers


def mark_no_rule(signals: MixSignals, name: str) -> None:
    """A dataset component has no rule: accuracy None and coverage 0 on every task."""
    signals.rule_accuracy[name] = {t: None for t in signals.tasks}
    signals.coverage[name] = {t: 0.0 for t in signals.tasks}


def _params(spec: dict) -> dict:
    return {k: v for k, v in spec.items() if k != "template"}


def alignment(rows: Task, model_answers: Sequence, rule_answers_: Sequence) -> Optional[float]:
    """Template alignment: the task metric of the model's answers against the rule's, where the rule applies."""
    keep = _applies(rule_answers_)
    if not keep:
        return None
    targets = [a if (a is None or rows.kind == "multiple_choice") else [a] for a in rule_answers_]
    return agreement(rows, model_answers, targets, keep)


def explained_share(acc_before: Sequence[float], acc_after: Sequence[float], align_before: Sequence[float],
                    align_after: Sequence[float]) -> dict:
    """How much of the accuracy change is explained by the alignment change across (template, task)
    pairs: the least-squares slope, R^2 and Pearson r of d(accuracy) on d(alignment)."""
    da = np.asarray(acc_after, float) - np.asarray(acc_before, float)
    dl = np.asarray(align_after, float) - np.asarray(align_before, float)
    ok = np.isfinite(da) & np.isfinite(dl)
    da, dl = da[ok], dl[ok]
    if len(da) < 3 or np.std(dl) == 0 or np.std(da) == 0:
        return {"pairs": int(len(da)), "slope": None, "r2": None, "pearson_r": None}
    slope, intercept = np.polyfit(dl, da, 1)
    r = float(np.corrcoef(dl, da)[0, 1])
    return {"pairs": int(len(da)), "slope": float(slope), "intercept": float(intercept), "r2": r * r, "pearson_r": r}
