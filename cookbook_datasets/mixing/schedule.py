"""A weight schedule: a mixture's weights as a piecewise-constant function of the row index.

``WeightSchedule([(0, {"a": 1, "b": 1}), (800, {"a": 3, "b": 1})])`` draws rows 0..799 with the
first weights and rows from 800 on with the second. The ``mixture`` builder takes one
(``schedule=``), so the drawn rows are a function of (seed, schedule): a run whose weights changed
mid-run (``mix learn --method online``) is replayed from its saved ``schedule.json`` without the
callback that chose them. Entries may be given by optimizer step (``from_steps``: row = step x rows
per step). Every entry names the same components (a zero weight leaves one out for a while).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping, Optional, Sequence

import numpy as np

from ..atomic_files import atomic_json
from .components import validate_weights

FORMAT = "cookbook-mix-schedule"
VERSION = 1


class ScheduleMismatchError(ValueError):
    """A schedule made for another mixture (other component names)."""


class WeightSchedule:
    """Ordered ``(start_row, weights)`` entries; the first starts at row 0."""

    def __init__(self, entries: Sequence, rows_per_step: Optional[int] = None):
        self.entries: list[tuple[int, dict]] = []
        self.steps: list[Optional[int]] = []
        self.rows_per_step = rows_per_step
        if rows_per_step is not None and (isinstance(rows_per_step, bool) or not isinstance(rows_per_step, int)
                                          or rows_per_step < 1):
            raise ValueError(f"rows_per_step must be a positive integer (got {rows_per_step!r})")
        if not entries:
            raise ValueError("a weight schedule needs at least one entry (0, weights)")
        for entry in entries:
            if isinstance(entry, Mapping):
                self.append(entry["start_row"], entry["weights"], step=entry.get("step"))
            else:
                start, weights = entry
                self.append(start, weights)

    # -- building -------------------------------------------------------------------------------
    @classmethod
    def constant(cls, weights: Mapping[str, float]) -> "WeightSchedule":
        return cls([(0, weights)])

    @classmethod
    def from_steps(cls, entries: Sequence, rows_per_step: int) -> "WeightSchedule":
        """``[(step, weights), ...]`` with ``rows_per_step`` rows per optimizer step (batch size x
        gradient accumulation x processes)."""
        for step, _ in entries:
            if isinstance(step, bool) or not isinstance(step, int) or step < 0:
                raise ValueError(f"a schedule step must be a non-negative integer (got {step!r})")
        if isinstance(rows_per_step, bool) or not isinstance(rows_per_step, int) or rows_per_step < 1:
            raise ValueError(f"rows_per_step must be a positive integer (got {rows_per_step!r})")
        return cls([{"start_row": step * rows_per_step, "weights": w, "step": step} for step, w in entries],
                   rows_per_step=rows_per_step)

    def append(self, start_row: int, weights: Mapping[str, float], step: Optional[int] = None) -> None:
        """Use ``weights`` from row ``start_row`` on (at or after the last entry's start)."""
        if isinstance(start_row, bool) or not isinstance(start_row, (int, np.integer)) or start_row < 0:
            raise ValueError(f"a schedule entry's start_row must be a non-negative integer (got {start_row!r})")
        start_row = int(start_row)
        weights = validate_weights(dict(weights))
        if not self.entries:
            if start_row != 0:
                raise ValueError(f"a schedule's first entry starts at row 0 (got {start_row})")
        else:
            self.check_components(weights, what="entry at row %d" % start_row)
            last = self.entries[-1][0]
            if start_row < last:
                raise ValueError(f"schedule entries must start in order: row {start_row} comes after row {last}")
            if start_row == last:  # the later weights replace the earlier ones from that row on
                self.entries.pop()
                self.steps.pop()
        self.entries.append((start_row, weights))
        self.steps.append(step)

    # -- reading ----------------------------------------------------------------------------------
    @property
    def components(self) -> list[str]:
        """The components in the order the draws index them (a saved schedule keeps it)."""
        return list(self.entries[0][1])

    def weights_at(self, row: int) -> dict:
        starts = [s for s, _ in self.entries]
        return self.entries[int(np.searchsorted(starts, row, side="right")) - 1][1]

    def active(self) -> list[str]:
        """Components with a positive weight in some entry (the parts a mixture needs), in order."""
        return [c for c in self.components if any(w[c] > 0 for _, w in self.entries)]

    def segments(self, names: Sequence[str]) -> list[tuple[int, np.ndarray]]:
        """``(start_row, probabilities over names)`` per entry."""
        out = []
        for start, weights in self.entries:
            p = np.array([weights[n] for n in names], dtype=np.float64)
            out.append((start, p / p.sum()))
        return out

    def check_components(self, names, what: str = "mixture") -> None:
        """Refuse component names other than this schedule's, naming the difference."""
        mine, theirs = set(self.components), set(names)
        if mine != theirs:
            missing, extra = sorted(mine - theirs), sorted(theirs - mine)
            parts = []
            if missing:
                parts.append(f"the schedule has {', '.join(missing)}, which the {what} does not")
            if extra:
                parts.append(f"the {what} has {', '.join(extra)}, which the schedule does not")
            raise ScheduleMismatchError(f"this weight schedule belongs to another mixture: {'; '.join(parts)} "
                                        f"(schedule components: {', '.join(self.components)}; {what} components: "
                                        f"{', '.join(sorted(theirs))})")

    def __len__(self) -> int:
        return len(self.entries)

    def __eq__(self, other) -> bool:
        return isinstance(other, WeightSchedule) and self.entries == other.entries

    def __repr__(self) -> str:
        return f"WeightSchedule({self.entries!r})"

    # -- files ------------------------------------------------------------------------------------
    def to_dict(self) -> dict:
        entries = []
        for (start, weights), step in zip(self.entries, self.steps):
            entry = {"start_row": start, "weights": weights}
            if step is not None:
                entry["step"] = step
            entries.append(entry)
        return {"format": FORMAT, "version": VERSION, "components": self.components,
                "rows_per_step": self.rows_per_step, "entries": entries}

    def save(self, path: str | os.PathLike) -> Path:
        return atomic_json(Path(path), self.to_dict())

    @classmethod
    def from_dict(cls, data: Mapping, where: str = "schedule") -> "WeightSchedule":
        if not isinstance(data, Mapping) or data.get("format") != FORMAT:
            raise ValueError(f"{where}: not a weight schedule (its 'format' must be {FORMAT!r})")
        if data.get("version") != VERSION:
            raise ValueError(f"{where}: schedule version {data.get('version')!r}; this package reads {VERSION}")
        if not isinstance(data.get("entries"), list) or not data["entries"]:
            raise ValueError(f"{where}: field 'entries' must be a non-empty list of {{start_row, weights}}")
        order = data.get("components") or list(data["entries"][0]["weights"])
        entries = [{**e, "weights": {c: e["weights"][c] for c in order if c in e["weights"]} | e["weights"]}
                   for e in data["entries"]]
        return cls(entries, rows_per_step=data.get("rows_per_step"))

    @classmethod
    def load(cls, path: str | os.PathLike) -> "WeightSchedule":
        from ..atomic_files import read_json

        return cls.from_dict(read_json(path, "schedule file"), where=str(path))


def as_schedule(value) -> Optional[WeightSchedule]:
    """A WeightSchedule from a schedule, a path to a schedule JSON, its dict, or a list of entries."""
    if value is None or isinstance(value, WeightSchedule):
        return value
    if isinstance(value, (str, os.PathLike)):
        return WeightSchedule.load(value)
    if isinstance(value, Mapping):
        return WeightSchedule.from_dict(value)
    if isinstance(value, (list, tuple)):
        return WeightSchedule(value)
    raise ValueError(f"schedule must be a WeightSchedule, a schedule JSON path or a list of (start_row, weights) "
                     f"entries (got {type(value).__name__})")
