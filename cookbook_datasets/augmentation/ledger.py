"""The budget ledger: every teacher query charged by kind, a hard stop at the budget, persisted.

Two numbers are kept apart, because a cache makes them differ:

- ``used``: queries the run's plan consumed, cached or not. This is what the budget ``Q`` bounds:
  the data a recipe makes is what ``Q`` queries buy, whether they were paid today or last week.
- ``paid``: requests actually sent to the teacher (cumulative over the ledger's file). A re-run
  served from the cache adds nothing; a request in flight when the process died is counted as
  ``lost_in_flight`` (it may have been billed) and asked again on resume.

A request is written down as pending *before* it is sent and settled once its answer is in the
cache, so after ``kill -9`` the ledger still accounts for every request that left the process.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections import Counter
from pathlib import Path
from typing import Optional

from ..atomic_files import atomic_json

logger = logging.getLogger(__name__)

KINDS = ("answer", "rephrase", "new_question", "check")


class BudgetExhausted(RuntimeError):
    """A query was asked for past the budget; nothing was sent."""


class Ledger:
    """Charges queries against ``budget``; persisted atomically to ``path`` (JSON) after every change.

    ``charge(kind)`` counts one query of the plan (raises :class:`BudgetExhausted` past the budget),
    ``begin(key, kind)`` / ``settle(key, ...)`` bracket a request really sent, ``refund(key, kind)``
    undoes a charge whose request failed (an error is not an answer; servers do not bill them).
    """

    def __init__(self, budget: int, path: Optional[str | os.PathLike] = None):
        if isinstance(budget, bool) or not isinstance(budget, int) or budget < 1:
            raise ValueError(f"budget must be an integer >= 1 (got {budget!r})")
        self.budget, self.path = budget, Path(path) if path else None
        self._lock = threading.RLock()
        self.used: Counter = Counter()
        self.cache_hits = 0
        self.new_queries = 0  # requests sent by this process
        self.paid: Counter = Counter()
        self.pending: dict = {}
        self.lost_in_flight = 0
        self.failed = 0
        self.prompt_tokens = 0
        self.completion_tokens = 0
        if self.path is not None and self.path.exists():
            state = json.loads(self.path.read_text())
            self.paid = Counter(state.get("paid", {}))
            self.pending = dict(state.get("pending", {}))
            self.lost_in_flight = int(state.get("lost_in_flight", 0))
            self.failed = int(state.get("failed", 0))
            self.prompt_tokens = int(state.get("prompt_tokens", 0))
            self.completion_tokens = int(state.get("completion_tokens", 0))

    # -- the plan's budget ---------------------------------------------------------------------------
    @property
    def used_total(self) -> int:
        return sum(self.used.values())

    @property
    def remaining(self) -> int:
        return self.budget - self.used_total

    def charge(self, kind: str, n: int = 1, cached: bool = False) -> None:
        if kind not in KINDS:
            raise ValueError(f"query kind must be one of {list(KINDS)} (got {kind!r})")
        with self._lock:
            if self.used_total + n > self.budget:
                raise BudgetExhausted(f"{n} more {kind} quer{'y' if n == 1 else 'ies'} would pass the budget of "
                                      f"{self.budget} ({self.used_total} used: {dict(self.used)})")
            self.used[kind] += n
            if cached:
                self.cache_hits += n

    def uncharge(self, kind: str, n: int = 1) -> None:
        with self._lock:
            self.used[kind] -= n

    # -- requests really sent --------------------------------------------------------------------------
    def begin(self, key: str, kind: str) -> None:
        with self._lock:
            self.pending[key] = kind
            self.save()

    def begin_many(self, requests) -> None:
        """``begin`` for each ``(key, kind)``, written once: requests handed out together (to Ray replicas)."""
        with self._lock:
            for key, kind in requests:
                self.pending[key] = kind
            self.save()

    def settle(self, key: str, prompt_tokens: Optional[int] = None, completion_tokens: Optional[int] = None) -> None:
        with self._lock:
            kind = self.pending.pop(key)
            self.paid[kind] += 1
            self.new_queries += 1
            self.prompt_tokens += prompt_tokens or 0
            self.completion_tokens += completion_tokens or 0
            self.save()

    def refund(self, key: str, kind: str) -> None:
        with self._lock:
            self.pending.pop(key, None)
            self.used[kind] -= 1
            self.failed += 1
            self.save()

    def recover(self, cache) -> None:
        """Settle what a killed run left pending: answered (in the cache) or lost in flight."""
        with self._lock:
            if not self.pending:
                return
            for key, kind in list(self.pending.items()):
                del self.pending[key]
                self.paid[kind] += 1  # it left the process: assume it was billed
                if key not in cache:
                    self.lost_in_flight += 1
            logger.warning("ledger %s: a previous run stopped with requests in flight; %d of them were lost "
                           "(charged as paid, asked again)", self.path, self.lost_in_flight)
            self.save()

    # -- reporting ------------------------------------------------------------------------------------
    def summary(self) -> dict:
        with self._lock:
            return {
                "budget": self.budget,
                "used": {k: self.used[k] for k in KINDS if self.used[k]},
                "used_total": self.used_total,
                "unspent": self.remaining,
                "cache_hits": self.cache_hits,
                "new_queries": self.new_queries,
                "paid": {k: self.paid[k] for k in KINDS if self.paid[k]},
                "paid_total": sum(self.paid.values()),
                "lost_in_flight": self.lost_in_flight,
                "failed_requests": self.failed,
                "prompt_tokens": self.prompt_tokens,
                "completion_tokens": self.completion_tokens,
            }

    def save(self) -> None:
        if self.path is None:
            return
        with self._lock:
            atomic_json(self.path, {**self.summary(), "pending": self.pending}, indent=1)
