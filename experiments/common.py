"""What the experiment scripts share: their common options, arms cached by recipe, reports written
atomically (JSON + Markdown + PNG), and arms compared on the same rows with paired intervals.

An experiment is a set of arms (a method, a baseline, a grid cell) scored on the same rows. Each
arm's result is stored in its own file with the recipe that produced it (``Arms``), so a killed or
repeated run skips every arm whose recipe is unchanged and reruns only the ones whose recipe
changed. The report is rebuilt from the stored arms each time, so the tables follow the current
code. Quality claims go through ``paired_table`` (eval/compare.py): per-row scores of each arm,
paired by row id, with a paired-bootstrap 95% interval per task and on the task average; and
``constant_answer`` is the arm with no model that every classification result is read against.

The scripts import it as ``common`` (they run as ``python experiments/<name>.py``).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import re
from pathlib import Path
from typing import Callable, Mapping, Optional

from cookbook_datasets.atomic_files import atomic_json, atomic_path, atomic_write_text

logger = logging.getLogger(__name__)

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


# -- options -------------------------------------------------------------------------------------------
def experiment_parser(doc: str, name: str, *, model: bool = True) -> argparse.ArgumentParser:
    """The options every experiment has: ``--out`` (reports), ``--work`` (large intermediate files),
    ``--dtype``, ``--seed`` and, with ``model``, ``--model``."""
    p = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default=f"experiments/results/{name}", help="JSON, Markdown and PNG go here")
    p.add_argument("--work", default=f"runs/{name}", help="caches, data, adapters and eval files (large)")
    if model:
        p.add_argument("--model", default="smollm2-135m", help="model spec (see cookbook_datasets.models)")
    p.add_argument("--dtype", default="bfloat16", help="dtype the model answers and scores in")
    p.add_argument("--seed", type=int, default=0)
    return p


def settings(args: argparse.Namespace, exclude=("out", "work")) -> dict:
    """The options that shape the results (where files go does not)."""
    return {k: v for k, v in vars(args).items() if k not in exclude}


# -- arms cached by recipe -----------------------------------------------------------------------------
def recipe_hash(recipe: Mapping) -> str:
    """A short, stable hash of a JSON-able recipe (key order does not matter)."""
    text = json.dumps(recipe, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


class Arms:
    """Arm results stored one file each (``<directory>/<name>.json``) with their recipe and its hash.

    ``run(name, recipe, fn)`` returns the stored result when that file exists with the same recipe
    hash, and otherwise calls ``fn()`` and stores what it returns (atomically, so a killed run
    never leaves half a result to be skipped over).
    """

    def __init__(self, directory: str | os.PathLike):
        self.directory = Path(directory)

    def path(self, name: str) -> Path:
        safe = re.sub(r"[^A-Za-z0-9._=-]+", "_", name).strip("_")
        if not safe:
            raise ValueError(f"arm name {name!r} has no usable character for a file name")
        return self.directory / f"{safe}.json"

    def stored(self, name: str, recipe: Mapping) -> Optional[dict]:
        """The stored result of ``name`` if it was made with ``recipe``, else None."""
        path = self.path(name)
        if not path.exists():
            return None
        entry = json.loads(path.read_text())
        if entry.get("recipe_hash") != recipe_hash(recipe):
            return None
        return entry["result"]

    def run(self, name: str, recipe: Mapping, fn: Callable[[], dict]) -> dict:
        result = self.stored(name, recipe)
        if result is not None:
            logger.info("arm %s: finished with this recipe, kept (%s)", name, self.path(name))
            return result
        if self.path(name).exists():
            logger.info("arm %s: its recipe changed, running it again", name)
        result = fn()
        atomic_json(self.path(name), {"name": name, "recipe": dict(recipe), "recipe_hash": recipe_hash(recipe),
                                      "result": result})
        return result


def machine() -> dict:
    """What an arm's timings depend on: the CPU, its cores, and whether it runs bf16 natively
    (without AVX512-BF16 or AMX, CPU bf16 is emulated and several times slower)."""
    import platform

    from cookbook_datasets.cpu import cpu_has_fast_bf16

    return {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
            "bf16_native": cpu_has_fast_bf16()}


def machine_label(info: Optional[Mapping]) -> str:
    """A short label for a cost table: "2 cores, bf16 native", or "not recorded"."""
    if not info:
        return "not recorded"
    bf16 = {True: "native", False: "emulated", None: "unknown"}[info.get("bf16_native")]
    return f"{info['cores']} cores, bf16 {bf16}"


# -- reports -------------------------------------------------------------------------------------------
def write_report(out: str | os.PathLike, stem: str, data: dict, markdown: str,
                 plots: Optional[Mapping[str, Callable[[Path], None]]] = None) -> dict:
    """Write ``<out>/<stem>.json``, ``<out>/<stem>.md`` and each ``plots[file name](path)``, every file
    atomically (a temporary sibling renamed into place). Returns {kind: path}."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = {"json": atomic_json(out / f"{stem}.json", data), "md": atomic_write_text(out / f"{stem}.md", markdown)}
    for name, draw in (plots or {}).items():
        path = out / name
        with atomic_path(path) as tmp:  # tmp keeps the suffix matplotlib reads the format from
            draw(tmp)
            drawn = tmp.exists()  # a plot with nothing to draw writes no file
        if drawn:
            written[name] = path
    return written


# -- paired intervals ----------------------------------------------------------------------------------
def eval_rows(result_path: str | os.PathLike, task: Optional[str] = None) -> Optional[dict]:
    """Per-row main-metric scores of an ``evaluate_model`` result: ``{task: {id: score}}`` (or one
    task's ``{id: score}``); None when the run has no rows file (scored before rows were recorded)."""
    from cookbook_datasets.eval.compare import load_rows, rows_path

    if not rows_path(result_path).exists():
        logger.warning("%s has no per-row records: it is left out of the paired tables", result_path)
        return None
    _, rows, _ = load_rows(result_path)
    if task is None:
        return rows
    if task not in rows:
        raise ValueError(f"{result_path}: no task {task!r} (it has {sorted(rows)})")
    return rows[task]


def constant_answer(learn, scored) -> Optional[tuple]:
    """What answering without reading scores: the answer ``learn``'s labelled instances make most
    frequent (a label, or a choice index), given on every instance of ``scored`` and scored with the
    task's metric (label exact match, or accuracy). ``(answer, {id: score})``; None for a generation
    task, which has no single answer to repeat. ``learn`` is data an arm may see (fit rows, a pool),
    never the scored rows."""
    from collections import Counter

    from cookbook_datasets.eval.metrics import load_metric

    rows = scored.labelled
    if scored.kind == "multiple_choice":
        answer = Counter(i.gold for i in learn.labelled).most_common(1)[0][0]
        return answer, {str(i.id): float(i.gold == answer) for i in rows}
    if scored.kind != "classification":
        return None
    answer = Counter(i.outputs[0] for i in learn.labelled).most_common(1)[0][0]
    m = load_metric("label_exact_match").compute(predictions=[answer] * len(rows),
                                                 references=[list(i.outputs) for i in rows],
                                                 labels=scored.labels, per_row=True)
    return answer, {str(i.id): v for i, v in zip(rows, m["per_row"]["exact_match"])}


def pool(per_seed_rows: dict) -> dict:
    """{seed: {name: {id: score}}} -> {name: {"seed:id": score}} over the names every seed has: rows of
    several seeds in one paired table, a row being a (seed, id) pair."""
    if not per_seed_rows:
        return {}
    names = set.intersection(*(set(r) for r in per_seed_rows.values()))
    first = next(iter(per_seed_rows.values()))
    return {n: {f"{s}:{i}": v for s, rows in per_seed_rows.items() for i, v in rows[n].items()}
            for n in first if n in names}


def paired_table(arms: Mapping[str, Mapping[str, Mapping]], baseline: Optional[str] = None, **kw):
    """``eval.compare.compare_rows`` over the tasks every arm has rows for: a Comparison, or None when
    fewer than two arms or no shared task remain. ``arms``: {label: {task: {row id: score} or None}}."""
    from cookbook_datasets.eval.compare import compare_rows

    arms = {label: {t: r for t, r in tasks.items() if r} for label, tasks in arms.items() if tasks}
    arms = {label: tasks for label, tasks in arms.items() if tasks}
    if len(arms) < 2 or (baseline is not None and baseline not in arms):
        return None
    shared = [t for t in next(iter(arms.values())) if all(t in tasks for tasks in arms.values())]
    if not shared:
        return None
    return compare_rows({label: {t: tasks[t] for t in shared} for label, tasks in arms.items()}, baseline=baseline,
                        **kw)


def interval_section(comparison, title: str, note: str = "") -> str:
    """A Markdown section with the paired table, or a line saying why there is none."""
    lines = [f"## {title}", ""]
    if comparison is None:
        lines.append("No paired table: fewer than two arms have per-row scores on the same rows.")
    else:
        lines += ([note, ""] if note else []) + [comparison.to_markdown().rstrip("\n")]
    return "\n".join(lines) + "\n"


def plot_intervals(comparison, title: Optional[str] = None) -> Callable[[Path], None]:
    """A ``write_report`` plot that draws ``comparison`` (nothing when it is None)."""
    from cookbook_datasets.eval.compare import plot_comparison

    def draw(path: Path) -> None:
        if comparison is not None:
            plot_comparison(comparison, path, title=title)

    return draw


__all__ = ["Arms", "SHARED", "eval_rows", "experiment_parser", "interval_section", "paired_table", "plot_intervals",
           "recipe_hash", "settings", "write_report"]
