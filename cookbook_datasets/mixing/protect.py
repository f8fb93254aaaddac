"""Every target task keeps a component that answers exactly as the task is scored.

A fine-tune on template rows alone can teach a model to answer a task in another format (a
sentence where the task wants "Yes."), and then every arm loses on it. So ``mix learn`` gives each
task a **protecting component**, chosen in this order:

1. ``demos[TASK]``: the task's own demonstrations (its examples, never its instances) as a small
   dataset component, each in the prompt the task is scored with (the instruction, the other
   demonstrations as shots, the input; options listed for a multiple-choice task) with its own
   answer. Exactly the task's format, whatever the task; a handful of rows, drawn again and again.
2. Without demonstrations: the template component, set for this task (its label words, its
   answer format), that is most helpful on it among those whose answers lie in the task's answer
   space (``format component``).
3. Without either, for a classification task of 2 or 3 labels: a label template at chance whose
   label words are the task's labels (``label words at chance``: its rule does not read the task,
   its answers are the task's labels); this component is added to the mixture.
4. Otherwise the task is **unprotected**: the log and the report say so and that nothing was added.

**Floor.** However a method weighs the components, each task's protecting component keeps at least
``share`` of the mixture (``MixLearnConfig.protect_share``, default 0.02; a component protecting
several tasks keeps the sum of their shares): :func:`apply_floors` raises what is below its floor
and takes the difference from the other components in proportion to their weights. ``mix learn``
applies it to every method's weights, and the online mixture applies it at every update and to the
weights each interval draws with (methods/online.py, live_mixture.py), so no protecting component ever
underflows to zero.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Mapping, Optional

from .signals import MixSignals

logger = logging.getLogger(__name__)

MAX_TOTAL_FLOOR = 0.5  # the floors together may take at most this share: the method keeps the rest


def demos_name(task: str) -> str:
    return f"demos[{task}]"


def demonstration_rows(task, num_shots: int = 2) -> list[dict]:
    """A task's demonstrations as row-schema rows, each in the task's scored prompt (the other
    demonstrations as its shots) with its own answer."""
    from cookbook_datasets.eval.prompts import LETTERS, options_prompt

    out = []
    for i, demo in enumerate(task.demonstrations):
        if task.kind == "multiple_choice":
            if not demo.choices or demo.gold is None:
                continue
            prompt, answer = options_prompt(task, demo), LETTERS[demo.gold]
        else:
            if not (demo.answer or "").strip():
                continue
            shots = [d for j, d in enumerate(task.demonstrations) if j != i][:num_shots]
            prompt = [{"role": "system", "content": task.instruction}] if task.instruction else []
            for shot in shots:
                prompt += [{"role": "user", "content": shot.input}, {"role": "assistant", "content": shot.answer or ""}]
            prompt.append({"role": "user", "content": demo.input})
            answer = demo.answer.strip()
        out.append({"prompt": prompt, "completion": [{"role": "assistant", "content": str(answer)}],
                    "source": demos_name(task.name), "meta": json.dumps({"task": task.name, "demonstration": i})})
    return out


def write_demonstrations(task, out_dir: Path, num_shots: int = 2) -> Optional[dict]:
    """The demonstrations component's spec (a Parquet file under ``out_dir``), or None without any."""
    import datasets

    from ..atomic_files import atomic_path

    data = demonstration_rows(task, num_shots)
    if not data:
        return None
    path = out_dir / f"{_safe(task.name)}.parquet"
    with atomic_path(path) as tmp:  # never a half-written component
        datasets.Dataset.from_list(data).to_parquet(str(tmp))
    # repeat: a few rows that wrap around, so they never end a mixture (components.py)
    return {"path": "parquet", "data_files": {"train": str(path.resolve())}, "repeat": True}


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)


def speaks(spec: Mapping, rows) -> bool:
    """Whether a template component's answers lie in the task's answer space."""
    from ..templates import get_template_class

    cls = get_template_class(spec["template"])
    if cls.label_roles:
        words = spec.get("label_words") or list(cls.label_roles)
        labels = {str(x) for x in (rows.labels or [])}
        if rows.kind == "multiple_choice":
            labels = {c for i in rows.instances for c in (i.choices or ())}
        return bool(labels) and set(words) <= labels
    if cls.answer_formats:
        return rows.kind in ("multiple_choice", "classification")
    return rows.kind == "generation"


def choose_protection(signals: MixSignals, fit_rows: Mapping, templates, out_dir: Path,
                      num_shots: int = 2) -> tuple[dict, dict]:
    """(task -> {"components", "how", "note"}, new components name -> spec to add to the mixture)."""
    from ..templates import get_template_class
    from ..tasks.label_codes import roles_named
    from .signals import component_name

    help_ = signals.helpfulness()
    protection, added = {}, {}
    for task, rows in fit_rows.items():
        spec = write_demonstrations(rows, out_dir, num_shots)
        if spec is not None:
            name = demos_name(task)
            added[name] = spec
            n = len(rows.demonstrations)
            protection[task] = {"components": [name], "how": "demonstrations",
                                "note": f"the task's {n} demonstrations in its scored prompt"}
            continue
        speaking = [c for c, s in signals.components.items() if "template" in s
                    and signals.coverage.get(c, {}).get(task, 0) > 0 and speaks(s, rows)]
        if speaking:
            best = max(speaking, key=lambda c: (help_[c][task], signals.rule_accuracy[c][task] or 0, c))
            protection[task] = {"components": [best], "how": "format component",
                                "note": "no demonstrations: the template setting in its answer format that helps most"}
            continue
        labels = list(rows.labels or []) if rows.kind == "classification" else []
        chosen = None
        if 2 <= len(labels) <= 3:
            for t in templates:
                roles = get_template_class(t).label_roles
                if len(roles) == len(labels):
                    named = roles_named(rows.instruction, labels, roles)
                    rest = [w for w in labels if w not in named.values()]
                    words = [named.get(r) or rest.pop(0) for r in roles]
                    chosen = (t, words)
                    break
        if chosen is not None:
            t, words = chosen
            name = component_name(t, {"label_words": words})
            added[name] = {"template": t, "label_words": words}
            protection[task] = {"components": [name], "how": "label words at chance",
                                "note": f"no demonstrations and no template in its format: added {name}, "
                                        "whose answers are the task's labels (its rule does not read the task)"}
            logger.warning("%s: no component answers in its format; added %s (its labels at chance)", task, name)
            continue
        protection[task] = {"components": [], "how": "none",
                            "note": "no component can answer in its format (no demonstrations, no template in "
                                    "its answer format, not a 2- or 3-label task); nothing was added"}
        logger.warning("%s: no component can answer in its format and nothing could be added: its format is "
                       "unprotected", task)
    return protection, added


def floors(protection: Mapping, share: float) -> dict:
    """component -> its minimum share: ``share`` for each task it protects (the first of a task's)."""
    if not 0 < share <= MAX_TOTAL_FLOOR:
        raise ValueError(f"protect_share must be in (0, {MAX_TOTAL_FLOOR}] (got {share!r})")
    out: dict = {}
    for p in protection.values():
        if p["components"]:
            c = p["components"][0]
            out[c] = out.get(c, 0.0) + share
    total = sum(out.values())
    if total > MAX_TOTAL_FLOOR:  # many tasks: the floors shrink together, the method keeps half
        out = {c: f * MAX_TOTAL_FLOOR / total for c, f in out.items()}
    return out


def apply_floors(weights: Mapping[str, float], floors_: Optional[Mapping[str, float]]) -> dict:
    """``weights`` (normalised) with every floored component at least its floor; the others give up
    the difference in proportion to their weights. Components the weights lack are added."""
    w = {c: max(0.0, float(v)) for c, v in weights.items()}
    for c in floors_ or {}:
        w.setdefault(c, 0.0)
    total = sum(w.values())
    if total <= 0:
        raise ValueError(f"weights sum to {total}; at least one must be positive")
    w = {c: v / total for c, v in w.items()}
    if not floors_:
        return w
    if sum(floors_.values()) > 1 + 1e-9:
        raise ValueError(f"the floors sum to {sum(floors_.values()):.3f} > 1: {dict(floors_)}")
    fixed: set = set()
    for _ in range(len(w) + 1):  # each round fixes at least one more component at its floor
        low = {c for c, f in floors_.items() if c not in fixed and w[c] < f - 1e-12}
        if not low:
            break
        fixed |= low
        free = [c for c in w if c not in fixed]
        budget = 1.0 - sum(floors_[c] for c in fixed)
        free_total = sum(w[c] for c in free)
        for c in fixed:
            w[c] = floors_[c]
        for c in free:
            w[c] = w[c] / free_total * budget if free_total > 0 else budget / len(free)
    return w
