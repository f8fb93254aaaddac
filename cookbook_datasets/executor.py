"""Where a job's model calls run: in this process (``local``) or on a Ray cluster (``ray``).

One setting, :class:`ExecutorConfig`, shared by every job that has a Ray path (a field of its config,
so ``--executor ray --ray-address ADDR --replicas N`` on its command). With ``ray``, the job's work
items (embedding batches, tasks to score, shards of a generation call's prompts) travel as Ray Data
blocks through ``map_batches`` over an actor pool, one model replica per actor: each actor loads the
model once with the project's own loader (:func:`cookbook_datasets.models.load_model`, or
``load_engine`` for generation: generation/ray_engine.py) and then takes items until none are left.
Every item carries its position, and the job puts the results back in that order, so the rows it
writes are the local executor's. An item that fails is caught inside the actor and comes back as an
error, so the rest of the dataset still finishes; an actor that dies is restarted and its items
retried by Ray Data (its actor pools set ``max_restarts=-1`` and ``max_task_retries=-1``; Ray 2.60
deprecates passing them). The job's own row-keyed caches stay what a rerun resumes from. See docs/cluster.md.
"""

from __future__ import annotations

import importlib.util
import logging
import socket
from dataclasses import dataclass, field, fields
from typing import Iterator, Optional

logger = logging.getLogger(__name__)

EXECUTORS = ("local", "ray")
RAY_INSTALL = 'pip install "cookbook-datasets[ray]"'


@dataclass
class ExecutorConfig:
    """Where a job's model calls run. The defaults run them here, as before."""

    executor: str = field(default="local", metadata={
        "help": "Where the model calls run: local (this process) or ray (a Ray Data actor pool, one model "
                "replica per actor; needs " + RAY_INSTALL + ").", "choices": list(EXECUTORS)})
    ray_address: Optional[str] = field(default=None, metadata={
        "help": "executor=ray: the cluster to join (HOST:PORT of `ray start --head`, ray://HOST:10001, or auto); "
                "none: start a local one on this machine."})
    replicas: int = field(default=1, metadata={"help": "executor=ray: model replicas (actors) working at once."})
    num_gpus_per_replica: float = field(default=0.0, metadata={
        "help": "executor=ray: GPUs each replica holds (fractions share a GPU)."})
    num_cpus_per_replica: float = field(default=1.0, metadata={
        "help": "executor=ray: CPUs each replica holds (fractions allowed; leave a CPU free for Ray's tasks)."})
    ray_batch_size: int = field(default=1, metadata={
        "help": "executor=ray: work items (an embedding batch, a task) handed to a replica per call."})
    connect_timeout_s: float = field(default=10.0, metadata={
        "help": "executor=ray: seconds to wait for --ray-address to answer before giving up."})

    def __post_init__(self):
        from .registry import unknown_name_error

        if self.executor not in EXECUTORS:
            raise unknown_name_error("executor", self.executor, list(EXECUTORS))
        if isinstance(self.replicas, bool) or not isinstance(self.replicas, int) or self.replicas < 1:
            raise ValueError(f"replicas must be a positive integer (got {self.replicas!r})")
        if isinstance(self.ray_batch_size, bool) or not isinstance(self.ray_batch_size, int) or self.ray_batch_size < 1:
            raise ValueError(f"ray_batch_size must be a positive integer (got {self.ray_batch_size!r})")
        for name in ("num_gpus_per_replica", "num_cpus_per_replica", "connect_timeout_s"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise ValueError(f"{name} must be a non-negative number (got {value!r})")
        if self.connect_timeout_s <= 0:
            raise ValueError(f"connect_timeout_s must be positive (got {self.connect_timeout_s!r})")
        if self.executor == "ray" and (importlib.util.find_spec("ray") is None
                                       or importlib.util.find_spec("ray.data") is None):
            raise ImportError(f"executor 'ray' needs Ray Data, which is not installed: {RAY_INSTALL}")

    @classmethod
    def from_value(cls, value) -> "ExecutorConfig":
        """An ExecutorConfig from None (the default), a mapping of its fields, or itself."""
        if value is None:
            return cls()
        if isinstance(value, cls):
            return value
        if isinstance(value, dict):
            from .registry import unknown_name_error

            known = [f.name for f in fields(cls)]
            unknown = sorted(set(value) - set(known))
            if unknown:  # a misspelt key in a YAML file names itself, not a TypeError
                raise unknown_name_error("execution field", unknown[0], known)
            return cls(**value)
        raise ValueError(f"execution must be an ExecutorConfig or a mapping of its fields (got {value!r})")

    @property
    def uses_ray(self) -> bool:
        return self.executor == "ray"

    def connect(self) -> dict:
        """Join (or start) the Ray cluster and check it can hold the replicas; return its resources.
        Fails in one line, before any model is loaded, when the address does not answer or the
        cluster lacks the CPUs/GPUs asked for. A Ray session already started here is used as it is."""
        import ray

        if not ray.is_initialized():
            address = self.ray_address
            if address not in (None, "auto", "local"):
                _check_reachable(address, self.connect_timeout_s)
            try:
                ray.init(address=address, logging_level=logging.WARNING, log_to_driver=False)
            except (ConnectionError, RuntimeError, TimeoutError) as e:
                first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
                raise ConnectionError(f"could not join the Ray cluster at {address or 'a new local cluster'}: "
                                      f"{first}") from None
        resources = ray.cluster_resources()
        needs = {"CPU": self.replicas * self.num_cpus_per_replica, "GPU": self.replicas * self.num_gpus_per_replica}
        for name, needed in needs.items():
            have = resources.get(name, 0.0)
            if needed > have + 1e-9:
                raise RuntimeError(
                    f"the Ray cluster has {have:g} {name}s, but {self.replicas} replica(s) x "
                    f"{needed / self.replicas:g} {name} need {needed:g}: lower --replicas or "
                    f"--num-{name.lower()}s-per-replica, or add nodes")
        if needs["CPU"] >= resources.get("CPU", 0.0) - 1e-9:
            logger.warning("the replicas hold all %g CPUs of the Ray cluster: none is left for Ray Data's own "
                           "tasks (give --num-cpus-per-replica a fraction)", resources.get("CPU", 0.0))
        return resources

    def remote_args(self) -> dict:
        """map_batches' resources for one replica."""
        return {"num_cpus": self.num_cpus_per_replica, "num_gpus": self.num_gpus_per_replica}


def _check_reachable(address: str, timeout: float) -> None:
    """A TCP connection to ``address`` (HOST:PORT, or ray://HOST:PORT), else one clear line."""
    where = address.split("://", 1)[-1]
    host, _, port = where.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"ray_address {address!r} is not HOST:PORT, ray://HOST:PORT or auto")
    try:
        with socket.create_connection((host, int(port)), timeout=timeout):
            pass
    except OSError as e:
        raise ConnectionError(f"no Ray cluster answers at {address} ({e.strerror or e}); start one with "
                              f"`ray start --head` or give another --ray-address") from None


def ray_map(config: ExecutorConfig, items, actor_class: type, constructor_kwargs: dict, *,
            max_tasks_in_flight_per_actor: Optional[int] = None) -> Iterator:
    """Run ``actor_class`` (a callable class: built once per replica with ``constructor_kwargs``,
    then called with pyarrow batches of ``items``) over ``items`` on the actor pool; yield its output
    batches (pyarrow Tables) as they finish, in no set order: each item carries its position (an
    ``index`` column the actor copies to its output) and the caller puts the results back in that
    order. ``items``: a ``datasets.Dataset``; its Arrow table travels as the blocks
    (``ray.data.from_huggingface`` with ``override_num_blocks``: a block per item, up to 8 per
    replica, so the work spreads; a small dataset would otherwise be one block for one actor).
    ``max_tasks_in_flight_per_actor``: items queued on a replica at once (Ray Data's default: a
    few); 1 for a few large items, so that a replica that starts late still gets its share instead
    of the first replica up queueing them all."""
    import ray.data

    config.connect()
    blocks = max(1, min(len(items), 8 * config.replicas))
    ds = ray.data.from_huggingface(items, override_num_blocks=blocks)
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False
    mapped = ds.map_batches(actor_class, batch_size=config.ray_batch_size, batch_format="pyarrow",
                            fn_constructor_kwargs=constructor_kwargs,
                            compute=ray.data.ActorPoolStrategy(
                                size=config.replicas, max_tasks_in_flight_per_actor=max_tasks_in_flight_per_actor),
                            **config.remote_args())
    yield from mapped.iter_batches(batch_size=None, batch_format="pyarrow")
