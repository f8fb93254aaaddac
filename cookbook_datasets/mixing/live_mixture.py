"""A mixture drawn while a training run reads it, under a weight schedule that may grow.

``LiveMixture(builder)`` streams the ``mixture`` builder's train rows a few at a time (``chunk``
rows per draw, one optimizer step's worth), so weights set with :meth:`set_weights` reach the
rows drawn after the call; ``floors`` (component -> minimum share, protect.py) are applied to
every weight set, so the schedule, and the replay, keep each protecting component's share. Each new entry starts at the first row not yet drawn, so the stream is
at every moment a function of (seed, schedule): the same rows as the ``mixture`` builder given the
saved schedule (``schedule=``), with no callback.

Why an ``IterableDataset`` and not a ``Dataset``: TRL 1's ``SFTTrainer`` tokenizes a ``Dataset``
with ``Dataset.map`` before the first step (rows fixed up front), but an ``IterableDataset``
lazily, example by example (``IterableDataset.map`` with ``batched=False``), so a row is drawn only
when the data loader asks for it: at most a batch or two ahead of the step that trains on it. The
data loader must run in the training process (``dataloader_num_workers=0``, the default), where the
callback changes the weights.
"""

from __future__ import annotations

from typing import Iterator, Mapping, Optional

import datasets
import numpy as np

from ..data_spec import TRAIN_COLUMNS
from ..row_schema import row_features
from .interleave import BLOCK, draw_sources, row_indices, uniform_blocks
from .schedule import WeightSchedule


class LiveMixture:
    """The train rows of a ``mixture`` builder, drawn on demand under ``schedule``."""

    def __init__(self, builder, schedule: Optional[WeightSchedule] = None, chunk: int = 8, split: str = "train",
                 floors: Optional[Mapping[str, float]] = None):
        if isinstance(chunk, bool) or not isinstance(chunk, int) or chunk < 1:
            raise ValueError(f"chunk must be a positive integer (got {chunk!r})")
        self.parts = builder.parts
        self.names = list(self.parts)
        self.schedule = schedule if schedule is not None else builder.config.weight_schedule()
        self.schedule.check_components(builder.config.weights, what="mixture")
        self.seed = builder.config.draw_seed(split)
        self.split, self.chunk, self.format = split, chunk, builder.config.format
        self.floors = dict(floors or {})  # component -> minimum share of every entry set (protect.py)
        unknown = sorted(set(self.floors) - set(self.parts))
        if unknown:
            raise ValueError(f"floors for components this mixture did not build: {', '.join(unknown)} (built: "
                             f"{', '.join(self.names)})")
        self.position = 0  # rows drawn so far (by the furthest reader)
        self._sources = np.zeros(0, dtype=np.int64)  # the source of every row drawn so far

    # -- weights ----------------------------------------------------------------------------------
    def set_weights(self, weights: Mapping[str, float], step: Optional[int] = None) -> int:
        """Draw the rows not yet drawn with ``weights``; returns the row they start at."""
        unknown = sorted(n for n, w in weights.items() if w > 0 and n not in self.parts)
        if unknown:
            raise ValueError(f"weights for components this mixture did not build: {', '.join(unknown)} (built: "
                             f"{', '.join(self.names)}; a component must have a positive weight at the start)")
        if self.floors:  # a protecting component never drops below its floor, whoever sets the weights
            from .protect import apply_floors

            weights = apply_floors(dict(weights), self.floors)
        self.schedule.append(self.position, weights, step=step)
        return self.position

    def counts(self, start: int, stop: int) -> dict:
        """How many of the rows ``start .. stop`` came from each component."""
        if stop > len(self._sources):
            raise ValueError(f"rows up to {stop} were not drawn yet (drawn: {len(self._sources)})")
        counts = np.bincount(self._sources[start:stop], minlength=len(self.names))
        return dict(zip(self.names, map(int, counts)))

    # -- rows -------------------------------------------------------------------------------------
    def _record(self, start: int, sources: np.ndarray) -> None:
        stop = start + len(sources)
        if stop > len(self._sources):
            self._sources = np.concatenate([self._sources, sources[len(self._sources) - start:]])
        self.position = max(self.position, stop)

    def rows(self) -> Iterator[dict]:
        """The stream from row 0 (each reader starts there and sees the same rows)."""
        offsets = np.zeros(len(self.names), dtype=np.int64)
        start = 0
        for block in uniform_blocks(self.seed):
            for a in range(0, BLOCK, self.chunk):
                u = block[a:a + self.chunk]
                segments = self.schedule.segments(self.names)  # read now: the weights may have changed
                sources = draw_sources(u, start, segments)
                self._record(start, sources)
                indices, offsets = row_indices(sources, offsets)
                table = self._table(sources, indices)
                yield from table.to_pylist()
                start += len(u)

    def _table(self, sources: np.ndarray, indices: np.ndarray):
        import pyarrow as pa

        tables, positions = [], []
        for part in np.unique(sources):
            where = np.flatnonzero(sources == part)
            tables.append(self.parts[self.names[part]].rows(self.split, indices[where]).select(list(TRAIN_COLUMNS)))
            positions.append(where)
        table = pa.concat_tables(tables)
        return table.take(pa.array(np.argsort(np.concatenate(positions), kind="stable")))

    def dataset(self) -> datasets.IterableDataset:
        """The stream as an ``IterableDataset`` of prompt/completion rows (what ``SFTTrainer`` reads)."""
        features = datasets.Features({c: row_features(self.format)[c] for c in TRAIN_COLUMNS})
        return datasets.IterableDataset.from_generator(_generate, features=features, gen_kwargs={"live": self})


def _generate(live: LiveMixture):
    yield from live.rows()
