"""The teacher's requests on a Ray Data actor pool (``AugmentationConfig(execution={"executor": "ray"})``).

Only the sending moves: :class:`~.teacher.Teacher` plans the requests (:class:`~.teacher.Chunk` s:
one request to a server, or a batch for a local model, each with its endpoint and seed), checks the
cache and charges the ledger here, in the driver, and records each answer that comes back. A work
item is one chunk; a replica (:class:`TeacherReplica`, one per actor) opens the teacher engines it is
handed (a server client per endpoint, or one local model) once, answers its items with the same
:func:`~.teacher.answer_chunk` the local executor calls, and returns each item's answers or the
error that stopped it, never raising, so one failed request does not stop the rest. An actor that
dies is restarted and its items retried by Ray Data.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Iterator, Optional

from .endpoints import TeacherEndpoint, endpoint_of

logger = logging.getLogger(__name__)


class TeacherReplica:
    """One replica: ``endpoints`` are what the driver's engines were (a :class:`TeacherEndpoint` is
    opened here, on first use; anything else is an engine sent as it is). Called with pyarrow
    batches of items (``index``, ``endpoint``, ``messages`` and ``params`` as JSON, ``desc``);
    returns one row per item: ``index``, the answers' ``text``, ``finish_reason``, ``prompt_tokens``,
    ``completion_tokens`` (lists, one per prompt), and ``error`` (why the item has no answers)."""

    def __init__(self, endpoints: list):
        self.endpoints = list(endpoints)
        self.engines: dict = {}
        self._lock = threading.Lock()

    def engine(self, i: int):
        with self._lock:  # opened once, however many threads ask
            if i not in self.engines:
                source = self.endpoints[i]
                self.engines[i] = source.open() if isinstance(source, TeacherEndpoint) else source
            return self.engines[i]

    def answer(self, item: dict) -> tuple[Optional[list], Optional[str]]:
        from cookbook_datasets.generation import SamplingParams

        from .teacher import answer_chunk

        try:
            params = SamplingParams(**json.loads(item["params"]))
            return answer_chunk(self.engine(item["endpoint"]), json.loads(item["messages"]), params, item["desc"]), None
        except Exception as e:  # noqa: BLE001 - reported per item; the driver refunds it and goes on
            logger.exception("teacher request %d failed", item["index"])
            return None, f"{type(e).__name__}: {e}"

    def __call__(self, batch):
        import pyarrow as pa

        items = batch.to_pylist()
        # a server answers several requests at once: a batch's items go out together, as many as
        # its engine's `concurrency`; a local model answers one item (itself a batch) at a time
        concurrency = min((getattr(self.endpoints[i["endpoint"]], "concurrency", None) or 1 for i in items),
                          default=1)
        if len(items) > 1 and concurrency > 1:
            with ThreadPoolExecutor(max_workers=min(concurrency, len(items))) as pool:
                results = list(pool.map(self.answer, items))
        else:
            results = [self.answer(item) for item in items]

        def column(name):
            return [None if answers is None else [a[name] for a in answers] for answers, _ in results]

        return pa.table({"index": pa.array([i["index"] for i in items], pa.int64()),
                         "text": pa.array(column("text"), pa.list_(pa.string())),
                         "finish_reason": pa.array(column("finish_reason"), pa.list_(pa.string())),
                         "prompt_tokens": pa.array(column("prompt_tokens"), pa.list_(pa.int64())),
                         "completion_tokens": pa.array(column("completion_tokens"), pa.list_(pa.int64())),
                         "error": pa.array([error for _, error in results], pa.string())})


def ray_answers(execution, engines: list, chunks: list,
                desc: str) -> Iterator[tuple[int, Optional[list], Optional[str]]]:
    """Answer ``chunks`` on the actor pool of ``execution``; yield ``(chunk index, answers, error)``
    as they finish (in no set order): ``answers`` as :func:`~.teacher.answer_chunk` gives them, or
    None and ``error``."""
    import datasets

    from cookbook_datasets.executor import ray_map

    endpoints = [endpoint_of(e) for e in engines]
    in_flight = execution.replicas * execution.ray_batch_size
    if len(endpoints) > 1 and in_flight < len(endpoints):
        logger.warning("%d teacher endpoints but %d replica(s) x ray_batch_size %d: at most %d request(s) in flight "
                       "at once; raise --replicas to use every endpoint", len(endpoints), execution.replicas,
                       execution.ray_batch_size, in_flight)
    items = datasets.Dataset.from_dict({
        "index": list(range(len(chunks))), "endpoint": [c.endpoint for c in chunks],
        "messages": [json.dumps([call.messages for _, call in c.items], ensure_ascii=False) for c in chunks],
        "params": [json.dumps(_params_json(c.params)) for c in chunks],
        "desc": [desc if len(c.items) > 1 else c.items[0][1].kind for c in chunks]})
    for batch in ray_map(execution, items, TeacherReplica, {"endpoints": endpoints}):
        for row in batch.to_pylist():
            if row["error"] is not None:
                yield row["index"], None, row["error"]
                continue
            answers = [{"text": t, "finish_reason": f, "prompt_tokens": p, "completion_tokens": c}
                       for t, f, p, c in zip(row["text"], row["finish_reason"], row["prompt_tokens"],
                                             row["completion_tokens"])]
            yield row["index"], answers, None


def _params_json(params) -> dict:
    d = dataclasses.asdict(params)
    d["stop"] = list(d["stop"])
    return d
