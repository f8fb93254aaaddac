"""The engine on a Ray Data actor pool: one call's prompts split across model replicas.

:class:`RayEngine` is an :class:`~cookbook_datasets.generation.Engine` whose ``generate`` (and, on
the transformers backend, ``score_labels``) sends the call's prompts to
:func:`cookbook_datasets.executor.ray_map` as shards: each replica (an actor, :class:`EngineReplica`)
builds the project's own engine once with ``load_engine(model, backend, **options)`` (transformers,
or vLLM where the backend is vllm) and answers the shards it is handed; the driver puts the answers
back in the prompts' order. Sampling is seeded per (seed, prompt index, sample index), and a shard
samples with its prompts' indices *in the whole call* (:class:`ShardParams`), so the completions do
not depend on how the prompts were split: the same as one local engine's, whatever ``replicas``.
On the transformers backend that is exact up to floating-point differences between batch layouts
(a shard's batches are not the whole call's), which the tests find equal byte for byte on the tiny
model; vLLM seeds each request but does not promise bitwise equal samples across batch shapes.

Ray Data's actor pool lives for one dataset, so each call starts its replicas (and loads the model)
afresh: a job should make few, large calls (SELF-GUIDE makes two a round). A shard that fails
comes back as an error and the call raises once every other shard is done; a replica that dies is
restarted and its shard retried by Ray Data (see executor.py).
"""

from __future__ import annotations

import dataclasses
import json
import logging
from pathlib import Path
from typing import Callable, Optional, Sequence

from .base import Engine, GenerationError, load_engine
from .params import Completion, GenerationOutput, SamplingParams

logger = logging.getLogger(__name__)

RAY_BACKENDS = ("transformers", "vllm")  # the backends that hold a model in the process

# label_scorer(engine, prompts, labels) -> per prompt, each label's log-likelihood as the answer
LabelScorer = Callable[[Engine, list, list], list]


@dataclasses.dataclass(frozen=True)
class ShardParams(SamplingParams):
    """:class:`SamplingParams` for a shard of a call: the shard's prompt ``i`` samples as prompt
    ``indices[i]`` of the whole call, so its random streams are the ones a local engine gives it."""

    indices: tuple = ()

    def sample_seed(self, prompt_index: int, sample_index: int = 0) -> Optional[int]:
        return super().sample_seed(self.indices[prompt_index], sample_index)


def chat_label_scores(engine: Engine, prompts: list, labels: list) -> list[list[float]]:
    """Per chat prompt, each label's log-likelihood as the assistant's answer (the evaluation's
    ``rank`` scoring: the prompt rendered with the chat template, read once for all its labels)."""
    from cookbook_datasets.eval.lm import loglikelihoods

    tokenizer = engine.tokenizer
    contexts = [tokenizer.apply_chat_template(p, tokenize=False, add_generation_prompt=True) for p in prompts]
    batch = max(1, getattr(engine, "batch_size", 16) // len(labels))  # contexts per pass, as annotation.py
    flat = loglikelihoods(engine.model, tokenizer, [(c, label) for c in contexts for label in labels],
                          batch_size=batch, desc="ranking labels")
    return [flat[i * len(labels):(i + 1) * len(labels)] for i in range(len(prompts))]


class EngineReplica:
    """One model replica: ``load_engine(model, backend, **options)`` once, then the shards it is
    handed (pyarrow batches with ``index``, ``kind``, ``positions``, ``prompts``, ``args``), one
    output row each (``result``: JSON; ``error``: why there is none). A shard that fails is
    reported, not raised, so the other shards of the call still finish."""

    def __init__(self, model: str, backend: str, options: dict, label_scorer: Optional[LabelScorer] = None):
        self.engine = load_engine(model, backend=backend, **options)
        self.label_scorer = label_scorer or chat_label_scores

    def __call__(self, batch):
        import pyarrow as pa

        out: dict[str, list] = {"index": [], "result": [], "error": []}
        for shard in batch.to_pylist():
            try:
                result, error = self.answer(shard), None
            except Exception as e:  # noqa: BLE001 - reported per shard; the rest of the call goes on
                logger.exception("shard %d failed", shard["index"])
                result, error = None, f"{type(e).__name__}: {e}"
            out["index"].append(shard["index"])
            out["result"].append(result)
            out["error"].append(error)
        return pa.table({"index": pa.array(out["index"], pa.int64()), "result": pa.array(out["result"], pa.string()),
                         "error": pa.array(out["error"], pa.string())})

    def answer(self, shard: dict) -> str:
        prompts, args = json.loads(shard["prompts"]), json.loads(shard["args"])
        if shard["kind"] == "generate":
            params = ShardParams(**args, indices=tuple(shard["positions"]))
            outputs = self.engine.generate(prompts, params, desc=f"shard {shard['index']}")
            return json.dumps([dataclasses.asdict(o) for o in outputs])
        return json.dumps(self.label_scorer(self.engine, prompts, args))  # floats as repr: read back exactly


def driver_tokenizer(model: str, adapter: Optional[str]):
    """The tokenizer ``load_model`` gives the replicas (no model loaded here): what a job reads
    from ``engine.tokenizer`` (SELF-GUIDE's characters per token) is then what it reads locally."""
    from cookbook_datasets.models import load_tokenizer

    if adapter is not None and (Path(adapter) / "tokenizer_config.json").exists():
        return load_tokenizer(str(adapter))
    return load_tokenizer(str(model))


class RayEngine(Engine):
    """``backend``'s engine on the Ray Data actor pool of ``execution``, one replica per actor.

    Args:
        model: a ``load_model`` spec (each replica loads it; a loaded model cannot travel).
        backend: ``transformers`` or ``vllm`` (``openai`` already serves many clients from its server).
        execution: the :class:`~cookbook_datasets.executor.ExecutorConfig` (``executor="ray"``);
            the job calls its ``connect()`` before anything loads.
        label_scorer: how a replica scores labels (``score_labels``; transformers backend only):
            ``label_scorer(replica_engine, prompts, labels)``; default :func:`chat_label_scores`.
            A job passes its own local scoring code here so the numbers are its local ones.
        shards_per_replica: shards a call is split into, per replica (1: a replica's shard is as
            large as it can be, and with one replica it is the whole call, as locally).
        **options: the backend's ``load_engine`` options (``batch_size``, ``dtype``, ``adapter``, ...).
    """

    name = "ray"

    def __init__(self, model: str, *, backend: str = "transformers", execution,
                 label_scorer: Optional[LabelScorer] = None, shards_per_replica: int = 1, **options):
        if not getattr(execution, "uses_ray", False):
            raise ValueError(f"RayEngine needs an ExecutorConfig with executor='ray' (got {execution!r})")
        if backend not in RAY_BACKENDS:
            raise ValueError(f"the {backend!r} backend calls a server, which serves many clients itself: run it with "
                             f"the local executor (executor='ray' takes the backends {list(RAY_BACKENDS)})")
        if not isinstance(model, (str, Path)):
            raise ValueError("executor='ray' loads the model on each replica: give a model spec (a name, directory, "
                             f".gguf file or Hub id), not a loaded model")
        if isinstance(shards_per_replica, bool) or not isinstance(shards_per_replica, int) or shards_per_replica < 1:
            raise ValueError(f"shards_per_replica must be a positive integer (got {shards_per_replica!r})")
        self.model_spec, self.backend, self.execution = str(model), backend, execution
        self.shards_per_replica = shards_per_replica
        self.name = f"{backend} on ray"
        options.setdefault("progress", False)  # a replica's progress bar would only clutter its log
        self.replica = {"model": self.model_spec, "backend": backend, "options": options,
                        "label_scorer": label_scorer}
        # what a job reads off a local engine: its tokenizer (transformers only; vLLM's engine has none)
        if backend == "transformers":
            self.tokenizer = driver_tokenizer(self.model_spec, options.get("adapter"))
        else:
            self.tokenizer = None
            self.score_labels = None  # vLLM's engine only samples, here as locally

    def __repr__(self):
        return (f"RayEngine(model={self.model_spec!r}, backend={self.backend!r}, replicas={self.execution.replicas}, "
                f"ray_address={self.execution.ray_address!r})")

    def shards(self, count: int) -> list[list[int]]:
        """The prompt positions of each shard: position ``i`` goes to shard ``i % shards`` (each
        shard a like mix of short and long prompts), ``shards_per_replica`` shards per replica."""
        k = max(1, min(count, self.execution.replicas * self.shards_per_replica))
        return [list(range(s, count, k)) for s in range(k)]

    def _generate(self, prompts: list, params: SamplingParams, *, desc: str) -> list[GenerationOutput]:
        answers = self._on_replicas("generate", prompts, dataclasses.asdict(params), desc)
        return [GenerationOutput(completions=[Completion(**c) for c in a["completions"]],
                                 prompt_tokens=a["prompt_tokens"], completion_tokens=a["completion_tokens"])
                for a in answers]

    def score_labels(self, prompts: Sequence, labels: Sequence[str]) -> list[list[float]]:
        """Per chat prompt, each label's log-likelihood as the answer, computed on the replicas
        (by ``label_scorer``)."""
        from .params import normalize_prompts

        prompts = normalize_prompts(prompts)
        return self._on_replicas("score", prompts, list(labels), "scoring labels") if prompts else []

    def _on_replicas(self, kind: str, prompts: list, args, desc: str) -> list:
        import datasets

        from cookbook_datasets.executor import ray_map

        shards = self.shards(len(prompts))
        args = json.dumps(args)
        items = datasets.Dataset.from_dict({
            "index": list(range(len(shards))), "kind": [kind] * len(shards), "positions": shards,
            "prompts": [json.dumps([prompts[i] for i in shard]) for shard in shards], "args": [args] * len(shards)})
        logger.info("%s: %d prompt(s) in %d shard(s) on %d Ray replica(s)", desc, len(prompts), len(shards),
                    self.execution.replicas)
        found: dict[int, list] = {}
        failed: list[tuple[int, str]] = []
        for batch in ray_map(self.execution, items, EngineReplica, self.replica, max_tasks_in_flight_per_actor=1):
            for row in batch.to_pylist():
                if row["error"] is not None:
                    failed.append((row["index"], row["error"]))
                else:
                    found[row["index"]] = json.loads(row["result"])
        if failed:
            failed.sort()
            lost = sum(len(shards[i]) for i, _ in failed)
            raise GenerationError(f"{desc}: {len(failed)} of {len(shards)} shard(s) ({lost} of {len(prompts)} prompts) "
                                  f"failed on the Ray executor (first: {failed[0][1]})")
        out: list = [None] * len(prompts)
        for s, shard in enumerate(shards):
            for position, answer in zip(shard, found[s]):
                out[position] = answer
        return out
