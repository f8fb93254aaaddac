"""The teacher: an :class:`~cookbook_datasets.generation.Engine` behind the budget ledger and the cache.

Every request goes: cache lookup (a hit is charged to the plan, not paid) -> budget charge ->
written down as pending -> sent -> answer appended to the cache (fsync) -> settled in the ledger ->
returned. So an answer that was paid for is on disk before anyone sees it, and a run killed with
``kill -9`` at any point resumes without paying twice (see :mod:`.ledger` for requests in flight).

One request is one completion (``n=1``): a sample index makes the k-th answer to the same messages
its own cache entry, and its seed is hashed from the request's key, so it does not depend on which
other requests share its batch. HTTP engines (the ``openai`` backend) get ``concurrency`` requests
in flight; local engines get batches of ``batch_size`` prompts.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Optional, Sequence

from tqdm.auto import tqdm

from cookbook_datasets.generation import Engine, SamplingParams

from .cache import ResponseCache, cache_key
from .ledger import Ledger

logger = logging.getLogger(__name__)


class TeacherError(RuntimeError):
    """The teacher failed after its retries; what was paid for is kept (the message says where)."""


@dataclass
class Call:
    """One teacher request: its kind (for the ledger), the chat messages, how to sample, which sample."""

    kind: str
    messages: list
    params: SamplingParams
    sample_index: int = 0


@dataclass
class Reply:
    text: str
    finish_reason: str
    cached: bool


def _params_dict(params: SamplingParams) -> dict:
    d = dataclasses.asdict(params)
    d.pop("n")
    d["stop"] = list(d["stop"])
    return d


def _seed_of(key: str) -> int:
    return int(key[:8], 16) & 0x7FFFFFFF


def engine_model_id(engine: Engine) -> str:
    """What names the teacher in cache keys: the served model's name, or a local model's path."""
    model = getattr(engine, "model", None)
    if isinstance(model, str):
        return model
    config = getattr(model, "config", None)
    return str(getattr(config, "_name_or_path", "") or type(engine).__name__)


class Teacher:
    """``Teacher(engine, ledger, cache).ask([Call(...), ...])`` -> one :class:`Reply` per call, in order.

    ``model_id`` names the teacher in the cache keys (default: the engine's model name or path; not
    the server's URL, so a server restarted on another port still hits the cache).
    """

    def __init__(self, engine: Engine, ledger: Ledger, cache: Optional[ResponseCache] = None, *,
                 model_id: Optional[str] = None, concurrency: Optional[int] = None, batch_size: int = 8,
                 progress: bool = True):
        self.engine, self.ledger = engine, ledger
        self.cache = cache if cache is not None else ResponseCache()
        self.model_id = model_id or engine_model_id(engine)
        # HTTP engines block on the network: several requests in flight; local ones batch on one device
        self.concurrency = concurrency or getattr(engine, "concurrency", None)
        self.batch_size, self.progress = batch_size, progress
        ledger.recover(self.cache)

    def key(self, call: Call) -> str:
        return cache_key(self.model_id, call.messages, _params_dict(call.params), call.sample_index)

    def ask(self, calls: Sequence[Call], desc: str = "teacher") -> list[Reply]:
        """Answer ``calls``; the whole batch is charged first and refused (nothing sent) if it does not fit."""
        keys = [self.key(c) for c in calls]
        charged, seen = [], set()
        try:
            for call, key in zip(calls, keys):
                # the same request twice in a batch is sent once: the second is served like a cache hit
                self.ledger.charge(call.kind, cached=key in self.cache or key in seen)
                seen.add(key)
                charged.append(call)
        except BaseException:
            for call in charged:
                self.ledger.uncharge(call.kind)
            raise
        todo = {}  # key -> call, each distinct request once
        for call, key in zip(calls, keys):
            if key not in self.cache:
                todo.setdefault(key, call)
        if todo:
            logger.info("%s: %d request(s) to the teacher, %d from the cache", desc, len(todo), len(calls) - len(todo))
            if self.concurrency:
                self._send_concurrent(todo, desc)
            else:
                self._send_batched(todo, desc)
        out = []
        for key in keys:
            record = self.cache.get(key)
            out.append(Reply(record["text"], record["finish_reason"], key not in todo))
        return out

    def _failed(self, error: BaseException, desc: str) -> TeacherError:
        s = self.ledger.summary()
        where = f"the cache {self.cache.path}" if self.cache.path else "memory only (no cache file)"
        return TeacherError(
            f"the teacher ({self.model_id}) failed during {desc}: {error}. Kept: {s['paid_total']} paid "
            f"quer{'y' if s['paid_total'] == 1 else 'ies'} ({s['new_queries']} in this run) whose answers are in "
            f"{where}; ledger {self.ledger.path or '(not persisted)'}. Run again to resume without paying for them.")

    def _one(self, key: str, call: Call) -> None:
        self.ledger.begin(key, call.kind)
        params = dataclasses.replace(call.params, n=1, seed=_seed_of(key))
        try:
            out = self.engine.generate([call.messages], params, desc=call.kind)[0]
        except Exception:
            self.ledger.refund(key, call.kind)
            raise
        completion = out.completions[0]
        self.cache.put(key, {"text": completion.text, "finish_reason": completion.finish_reason,
                             "prompt_tokens": out.prompt_tokens, "completion_tokens": out.completion_tokens,
                             "kind": call.kind})
        self.ledger.settle(key, out.prompt_tokens, out.completion_tokens)

    def _send_concurrent(self, todo: dict, desc: str) -> None:
        bar = tqdm(total=len(todo), desc=desc, leave=False, disable=not self.progress or len(todo) < 2)
        lock, stop = threading.Lock(), threading.Event()

        def run(key, call):
            if stop.is_set():  # an earlier request failed: send nothing more, charge nothing more
                self.ledger.uncharge(call.kind)
                return
            try:
                self._one(key, call)
            except BaseException:
                stop.set()
                raise
            with lock:
                bar.update()

        with ThreadPoolExecutor(max_workers=min(self.concurrency, len(todo))) as pool:
            futures = [pool.submit(run, key, call) for key, call in todo.items()]
            wait(futures, return_when=FIRST_EXCEPTION)
            wait(futures)  # requests in flight finish and are cached; the rest see `stop` and return
        bar.close()
        errors = [f.exception() for f in futures if f.exception() is not None]
        if errors:
            if not isinstance(errors[0], Exception):
                raise errors[0]
            raise self._failed(errors[0], desc) from errors[0]

    def _send_batched(self, todo: dict, desc: str) -> None:
        groups: dict = {}  # a batch shares its sampling parameters
        for key, call in todo.items():
            groups.setdefault(dataclasses.replace(call.params, n=1, seed=0), []).append((key, call))
        chunks = [(params, items[s:s + self.batch_size]) for params, items in groups.items()
                  for s in range(0, len(items), self.batch_size)]
        bar = tqdm(total=len(todo), desc=desc, leave=False, disable=not self.progress or len(todo) < 2)
        for i, (params, chunk) in enumerate(chunks):
            try:
                if len(chunk) == 1:
                    self._one(*chunk[0])
                else:
                    self._batch(params, chunk, desc)
            except Exception as e:
                for _, later in chunks[i + 1:]:  # never sent: no longer charged
                    for _, call in later:
                        self.ledger.uncharge(call.kind)
                bar.close()
                raise self._failed(e, desc) from e
            bar.update(len(chunk))
        bar.close()

    def _batch(self, params: SamplingParams, chunk: list, desc: str) -> None:
        for key, call in chunk:
            self.ledger.begin(key, call.kind)
        # a batch's per-prompt streams are hashed from one seed: take it from the batch's keys
        seed = _seed_of(cache_key("", [], {"keys": [k for k, _ in chunk]}, 0))
        try:
            outs = self.engine.generate([c.messages for _, c in chunk], dataclasses.replace(params, seed=seed),
                                        desc=desc)
        except Exception:
            for key, call in chunk:
                self.ledger.refund(key, call.kind)
            raise
        for (key, call), out in zip(chunk, outs):
            c = out.completions[0]
            self.cache.put(key, {"text": c.text, "finish_reason": c.finish_reason, "prompt_tokens": out.prompt_tokens,
                                 "completion_tokens": out.completion_tokens, "kind": call.kind})
            self.ledger.settle(key, out.prompt_tokens, out.completion_tokens)


def load_teacher_engine(teacher: str, *, model: Optional[str] = None, **options) -> Engine:
    """An engine for ``teacher``: an ``http(s)://`` URL is an OpenAI-compatible server (``model``: the
    served model's name; default: the only one it serves), anything else a local model spec
    (``load_model``) on the ``transformers`` backend. ``options`` go to the engine."""
    from cookbook_datasets.generation import load_engine

    if not isinstance(teacher, str) or not teacher:
        raise ValueError(f"teacher must be a server URL (http://host:port/v1) or a model spec (got {teacher!r})")
    if not teacher.startswith(("http://", "https://")):
        return load_engine(teacher, backend="transformers", **options)
    base_url = teacher.rstrip("/")
    if not base_url.endswith("/v1"):
        base_url += "/v1"  # the API root; `transformers serve`, vLLM and hosted APIs all serve under /v1
    engine = load_engine(model or "unknown", backend="openai", base_url=base_url, **options)
    if model is None:
        served = engine.served_models()
        if not served:
            engine.close()
            raise ValueError(f"{base_url}/models lists no model (or the server does not answer): name the served "
                             "model with teacher_model= (--teacher-model)")
        if len(served) > 1:
            engine.close()
            raise ValueError(f"{base_url} serves several models ({', '.join(served)}): pick one with "
                             "teacher_model= (--teacher-model)")
        engine.model = served[0]
    return engine
