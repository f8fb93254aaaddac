"""The teacher: an :class:`~cookbook_datasets.generation.Engine` behind the budget ledger and the cache.

Every request goes: cache lookup (a hit is charged to the plan, not paid) -> budget charge ->
written down as pending -> sent -> answer appended to the cache (fsync) -> settled in the ledger ->
returned. So an answer that was paid for is on disk before anyone sees it, and a run killed with
``kill -9`` at any point resumes without paying twice (see :mod:`.ledger` for requests in flight).

One request is one completion (``n=1``): a sample index makes the k-th answer to the same messages
its own cache entry, and its seed is hashed from the request's key, so it does not depend on which
other requests share its batch. HTTP engines (the ``openai`` backend) get ``concurrency`` requests
in flight per engine; local engines get batches of ``batch_size`` prompts.

Several engines (one per served teacher, :mod:`.endpoints`): the distinct requests are numbered in
the order the plan asks them, and request ``i`` goes to engine ``i mod n`` (a local batch: its first
request's), so the assignment does not depend on timing. With ``execution`` on Ray the same
requests (or batches) run on a Ray Data actor pool (:mod:`.ray_teacher`); this process still looks
up the cache, charges the ledger and marks them pending before handing them out, and records each
answer as it comes back, so the ledger and the cache files are what a rerun resumes from.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Optional, Sequence

from tqdm.auto import tqdm

from cookbook_datasets.executor import ExecutorConfig
from cookbook_datasets.generation import Engine, SamplingParams

from .cache import ResponseCache, cache_key
from .endpoints import TeacherEndpoint, load_teacher_engine  # noqa: F401 - load_teacher_engine: its old home
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


@dataclass
class Chunk:
    """Distinct requests sent in one engine call: one to a server, or a batch of prompts that share
    their sampling parameters for a local model. ``params`` carry ``n=1`` and the chunk's seed;
    ``endpoint`` is the index of the engine that answers it."""

    endpoint: int
    params: SamplingParams
    items: list  # [(key, Call)]


def _params_dict(params: SamplingParams) -> dict:
    d = dataclasses.asdict(params)
    d.pop("n")
    d["stop"] = list(d["stop"])
    return d


def _seed_of(key: str) -> int:
    return int(key[:8], 16) & 0x7FFFFFFF


def chunk_seed(keys: Sequence[str]) -> int:
    """One request's seed is hashed from its key; a batch's per-prompt streams from one seed hashed
    from its keys."""
    return _seed_of(keys[0]) if len(keys) == 1 else _seed_of(cache_key("", [], {"keys": list(keys)}, 0))


def answer_chunk(engine: Engine, messages: list, params: SamplingParams, desc: str) -> list[dict]:
    """The engine's answers to ``messages`` (one prompt each), as the cache records them (without the
    kind). The one place a request is sent, in this process or in a Ray replica."""
    outs = engine.generate(messages, params, desc=desc)
    return [{"text": out.completions[0].text, "finish_reason": out.completions[0].finish_reason,
             "prompt_tokens": out.prompt_tokens, "completion_tokens": out.completion_tokens} for out in outs]


def engine_model_id(engine) -> str:
    """What names the teacher in cache keys: the served model's name, or a local model's path."""
    if isinstance(engine, TeacherEndpoint):
        return engine.model_id
    model = getattr(engine, "model", None)
    if isinstance(model, str):
        return model
    config = getattr(model, "config", None)
    return str(getattr(config, "_name_or_path", "") or type(engine).__name__)


class Teacher:
    """``Teacher(engine, ledger, cache).ask([Call(...), ...])`` -> one :class:`Reply` per call, in order.

    ``engine``: an engine, or a list of them serving the same model (requests go round robin by
    query index). ``model_id`` names the teacher in the cache keys (default: the engine's model name
    or path; not the server's URL, so a server restarted on another port still hits the cache).
    ``execution``: an :class:`~cookbook_datasets.executor.ExecutorConfig`; with ``executor="ray"`` the
    requests run on Ray replicas, and ``engine`` may hold :class:`~.endpoints.TeacherEndpoint` s,
    which each replica opens itself (a local model then loads in the replicas only).
    """

    def __init__(self, engine, ledger: Ledger, cache: Optional[ResponseCache] = None, *,
                 model_id: Optional[str] = None, concurrency: Optional[int] = None, batch_size: int = 8,
                 progress: bool = True, execution=None):
        self.engines = list(engine) if isinstance(engine, (list, tuple)) else [engine]
        if not self.engines:
            raise ValueError("the teacher needs at least one engine (got an empty list)")
        self.execution = ExecutorConfig.from_value(execution)
        opened_here = [e for e in self.engines if isinstance(e, TeacherEndpoint)]
        if opened_here and not self.execution.uses_ray:
            raise ValueError(f"{opened_here[0]!r} is a recipe for an engine: open it (endpoint.open()) or run with "
                             "executor='ray', whose replicas open it")
        self.engine, self.ledger = self.engines[0], ledger
        self.cache = cache if cache is not None else ResponseCache()
        if model_id is None:
            ids = [engine_model_id(e) for e in self.engines]
            if len(set(ids)) > 1:
                raise ValueError(f"the teacher's engines serve different models ({', '.join(ids)}): a response is "
                                 "cached under the model's name, so every engine must serve the same one")
            model_id = ids[0]
        self.model_id = model_id
        # HTTP engines block on the network: several requests in flight; local ones batch on one device
        self.concurrency = concurrency or getattr(self.engine, "concurrency", None)
        self.batch_size, self.progress = batch_size, progress
        self.queries = 0  # distinct requests planned so far: request i goes to engine i mod len(engines)
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
            chunks = self._plan(todo)
            if self.execution.uses_ray:
                self._send_ray(chunks, desc)
            elif self.concurrency:
                self._send_concurrent(chunks, desc)
            else:
                self._send_batched(chunks, desc)
        out = []
        for key in keys:
            record = self.cache.get(key)
            out.append(Reply(record["text"], record["finish_reason"], key not in todo))
        return out

    def _plan(self, todo: dict) -> list[Chunk]:
        """``todo``'s requests as engine calls, each with its engine: request ``i`` (counted over the
        teacher's life, in the plan's order) goes to engine ``i mod n``."""
        first, n = self.queries, len(self.engines)
        self.queries += len(todo)
        if self.concurrency:
            return [Chunk((first + i) % n, dataclasses.replace(call.params, n=1, seed=chunk_seed([key])),
                          [(key, call)]) for i, (key, call) in enumerate(todo.items())]
        groups: dict = {}  # a batch shares its sampling parameters
        for i, (key, call) in enumerate(todo.items()):
            groups.setdefault(dataclasses.replace(call.params, n=1, seed=0), []).append((i, key, call))
        chunks = []
        for params, items in groups.items():
            for s in range(0, len(items), self.batch_size):
                part = items[s:s + self.batch_size]
                chunks.append(Chunk((first + part[0][0]) % n,
                                    dataclasses.replace(params, seed=chunk_seed([k for _, k, _ in part])),
                                    [(k, c) for _, k, c in part]))
        return chunks

    def _failed(self, error: BaseException, desc: str) -> TeacherError:
        s = self.ledger.summary()
        where = f"the cache {self.cache.path}" if self.cache.path else "memory only (no cache file)"
        return TeacherError(
            f"the teacher ({self.model_id}) failed during {desc}: {error}. Kept: {s['paid_total']} paid "
            f"quer{'y' if s['paid_total'] == 1 else 'ies'} ({s['new_queries']} in this run) whose answers are in "
            f"{where}; ledger {self.ledger.path or '(not persisted)'}. Run again to resume without paying for them.")

    def _record(self, key: str, call: Call, answer: dict) -> None:
        """An answer paid for: into the cache (durable), then settled in the ledger."""
        self.cache.put(key, {**answer, "kind": call.kind})
        self.ledger.settle(key, answer["prompt_tokens"], answer["completion_tokens"])

    def _run(self, chunk: Chunk, desc: str) -> None:
        """Send one chunk from this process."""
        for key, call in chunk.items:
            self.ledger.begin(key, call.kind)
        try:
            answers = answer_chunk(self.engines[chunk.endpoint], [c.messages for _, c in chunk.items], chunk.params,
                                   desc if len(chunk.items) > 1 else chunk.items[0][1].kind)
        except Exception:
            for key, call in chunk.items:
                self.ledger.refund(key, call.kind)
            raise
        for (key, call), answer in zip(chunk.items, answers):
            self._record(key, call, answer)

    def _send_concurrent(self, chunks: list, desc: str) -> None:
        bar = tqdm(total=len(chunks), desc=desc, leave=False, disable=not self.progress or len(chunks) < 2)
        lock, stop = threading.Lock(), threading.Event()

        def run(chunk):
            if stop.is_set():  # an earlier request failed: send nothing more, charge nothing more
                for _, call in chunk.items:
                    self.ledger.uncharge(call.kind)
                return
            try:
                self._run(chunk, desc)
            except BaseException:
                stop.set()
                raise
            with lock:
                bar.update()

        # `concurrency` in flight per engine: several servers take several times as many
        workers = min(self.concurrency * len(self.engines), len(chunks))
        with ThreadPoolExecutor(max_workers=workers) as pool:
            futures = [pool.submit(run, chunk) for chunk in chunks]
            wait(futures, return_when=FIRST_EXCEPTION)
            wait(futures)  # requests in flight finish and are cached; the rest see `stop` and return
        bar.close()
        errors = [f.exception() for f in futures if f.exception() is not None]
        if errors:
            if not isinstance(errors[0], Exception):
                raise errors[0]
            raise self._failed(errors[0], desc) from errors[0]

    def _send_batched(self, chunks: list, desc: str) -> None:
        bar = tqdm(total=sum(len(c.items) for c in chunks), desc=desc, leave=False,
                   disable=not self.progress or len(chunks) < 2)
        for i, chunk in enumerate(chunks):
            try:
                self._run(chunk, desc)
            except Exception as e:
                for later in chunks[i + 1:]:  # never sent: no longer charged
                    for _, call in later.items:
                        self.ledger.uncharge(call.kind)
                bar.close()
                raise self._failed(e, desc) from e
            bar.update(len(chunk.items))
        bar.close()

    def _send_ray(self, chunks: list, desc: str) -> None:
        """The chunks on the Ray actor pool. All are pending in the ledger before any is handed out
        (a replica may send it at any moment), and each answer is recorded as it comes back. A chunk
        that failed is refunded; the others are kept, then one error names the failures."""
        from .ray_teacher import ray_answers

        self.ledger.begin_many([(key, call.kind) for chunk in chunks for key, call in chunk.items])
        failures, done = [], set()
        bar = tqdm(total=sum(len(c.items) for c in chunks), desc=f"{desc} (ray)", leave=False,
                   disable=not self.progress or len(chunks) < 2)
        try:
            for index, answers, error in ray_answers(self.execution, self.engines, chunks, desc):
                chunk = chunks[index]
                if index in done:  # a retried chunk that came back twice: recorded once
                    continue
                done.add(index)
                if error is not None:
                    for key, call in chunk.items:
                        self.ledger.refund(key, call.kind)
                    failures.append((len(chunk.items), error))
                    continue
                for (key, call), answer in zip(chunk.items, answers):
                    self._record(key, call, answer)
                bar.update(len(chunk.items))
        except Exception as e:  # the cluster failed: what is still pending may have been sent, so stays pending
            raise self._failed(e, desc) from e
        finally:
            bar.close()
        missing = [chunk for i, chunk in enumerate(chunks) if i not in done]
        for chunk in missing:  # never came back (not expected of Ray Data): unknown, so refunded and asked again
            for key, call in chunk.items:
                self.ledger.refund(key, call.kind)
            failures.append((len(chunk.items), "no answer came back from the Ray executor"))
        if failures:
            lost = sum(n for n, _ in failures)
            total = sum(len(c.items) for c in chunks)
            raise self._failed(RuntimeError(f"{lost} of {total} request(s) failed on the Ray executor "
                                            f"(first: {failures[0][1]})"), desc)
