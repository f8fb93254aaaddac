"""The executor setting and the Ray path of DiverseEvol's pool embeddings, the evaluation harness and
Cookbook-Mix's model answers (SELF-GUIDE's and augmentation's: test_ray_self_guide.py, test_ray_augmentation.py). On a local Ray cluster (``ray.init(num_cpus=2)``, started and shut down
per test) with the tiny random model, each job's Ray run writes what its local run writes."""

import json
import os
import sys
import time

import numpy as np
import pytest

from cookbook_datasets.executor import ExecutorConfig

HERE = os.path.dirname(__file__)


def _ray(replicas: int) -> ExecutorConfig:
    # a fraction of a CPU per replica: Ray Data's own tasks keep a CPU (DESIGN.md)
    return ExecutorConfig(executor="ray", replicas=replicas, num_cpus_per_replica=0.5)


# -- the setting ---------------------------------------------------------------------------------

def test_unknown_executor_lists_the_allowed_ones():
    with pytest.raises(ValueError, match=r"unknown executor 'rey'.*did you mean 'ray'.*local, ray"):
        ExecutorConfig(executor="rey")


@pytest.mark.parametrize("field,value,message", [
    ("replicas", 0, "replicas must be a positive integer"),
    ("num_gpus_per_replica", -1, "num_gpus_per_replica must be a non-negative number"),
    ("ray_batch_size", 0, "ray_batch_size must be a positive integer"),
])
def test_bad_values_name_the_field(field, value, message):
    with pytest.raises(ValueError, match=message):
        ExecutorConfig(**{field: value})


def test_ray_not_installed_names_the_pip_command(monkeypatch):
    import importlib.util

    from cookbook_datasets import executor

    real = importlib.util.find_spec
    monkeypatch.setattr(executor.importlib.util, "find_spec",
                        lambda name, *a: None if name.split(".")[0] == "ray" else real(name, *a))
    with pytest.raises(ImportError, match=r'pip install "cookbook-datasets\[ray\]"'):
        ExecutorConfig(executor="ray")
    ExecutorConfig()  # the local executor needs nothing


@pytest.mark.parametrize("address", ["127.0.0.1:1", "ray://127.0.0.1:1"])
def test_an_unreachable_address_fails_fast_in_one_line(address):
    pytest.importorskip("ray")
    config = ExecutorConfig(executor="ray", ray_address=address, connect_timeout_s=2)
    start = time.time()
    with pytest.raises(ConnectionError, match=rf"no Ray cluster answers at {address}.*ray start --head"):
        config.connect()
    assert time.time() - start < 10


def test_the_commands_take_the_executor_options():
    from cookbook_datasets.cli import parse_args
    from cookbook_datasets.cli.config_args import config_from_args
    from cookbook_datasets.eval import EvalConfig
    from cookbook_datasets.trainers import DiverseEvolConfig

    args = parse_args(["select", "pool", "--out", "o", "--executor", "ray", "--ray-address", "10.0.0.1:6379",
                       "--replicas", "3", "--num-gpus-per-replica", "1"])
    config = config_from_args(args, DiverseEvolConfig)
    assert config.execution == ExecutorConfig(executor="ray", ray_address="10.0.0.1:6379", replicas=3,
                                              num_gpus_per_replica=1.0)
    assert "execution" not in config.recipe()  # where it ran is no part of what was selected
    args = parse_args(["eval", "--tasks", "nli", "--out", "r.json", "--executor", "ray", "--replicas", "2"])
    config = config_from_args(args, EvalConfig)
    assert (config.execution.executor, config.execution.replicas) == ("ray", 2)
    assert "execution" not in config.identity()  # results from either executor resume each other
    assert config_from_args(parse_args(["eval", "--tasks", "nli"]), EvalConfig).execution == ExecutorConfig()


# -- on a local Ray cluster ----------------------------------------------------------------------

def test_a_cluster_without_the_asked_gpus_fails_before_any_model_loads(ray_cluster):
    config = ExecutorConfig(executor="ray", replicas=2, num_gpus_per_replica=1)
    with pytest.raises(RuntimeError, match=r"the Ray cluster has 0 GPUs, but 2 replica\(s\) x 1 GPU need 2"):
        config.connect()


def test_items_spread_over_the_replicas_and_come_back_by_position(ray_cluster):
    """ray_map itself, with a replica that loads no model: every item once, from both replicas."""
    import datasets
    import pyarrow as pa

    from cookbook_datasets.executor import ray_map

    class Square:  # a class of a test: cloudpickle sends it by value
        def __init__(self, offset):
            self.offset = offset

        def __call__(self, batch):
            time.sleep(0.1)  # an item takes a while, as a model call does
            index = batch["index"].to_pylist()
            return pa.table({"index": index, "value": [i * i + self.offset for i in index],
                             "pid": [os.getpid()] * len(index)})

    items = datasets.Dataset.from_dict({"index": list(range(16))})
    context = ray_cluster.data.DataContext.get_current()
    wait, context.wait_for_min_actors_s = context.wait_for_min_actors_s, 60  # both replicas up before any item
    try:
        rows = [r for batch in ray_map(_ray(2), items, Square, {"offset": 1}) for r in batch.to_pylist()]
    finally:
        context.wait_for_min_actors_s = wait
    rows.sort(key=lambda r: r["index"])
    assert [r["index"] for r in rows] == list(range(16))
    assert [r["value"] for r in rows] == [i * i + 1 for i in range(16)]
    assert len({r["pid"] for r in rows}) == 2  # both replicas worked


def _pool():
    sys.path.insert(0, HERE)
    try:
        from test_selection import _task_rows
    finally:
        sys.path.remove(HERE)
    return _task_rows(n_tasks=3, per_task=6)  # shared prefixes, a duplicate row and a row of its own


@pytest.mark.slow  # over 20 s on 2 CPUs: each Ray replica imports torch and loads the model
def test_pool_embeddings_on_ray_equal_the_local_ones_byte_for_byte(ray_cluster, tmp_path):
    from cookbook_datasets.selection import cached_pool_features

    pool = _pool()
    kwargs = {"token_stats": True, "batch_size": 4}
    local = cached_pool_features("tiny-random", pool, cache_dir=tmp_path / "local", **kwargs)
    for replicas in (1, 2):
        cache = tmp_path / f"ray{replicas}"
        on_ray = cached_pool_features("tiny-random", pool, cache_dir=cache, execution=_ray(replicas), **kwargs)
        assert on_ray.embeddings.tobytes() == local.embeddings.tobytes()
        for key in ("max_prob", "margin", "entropy"):
            assert getattr(on_ray, key).tobytes() == getattr(local, key).tobytes()
        # what the Ray run cached is what a rerun (with either executor) reads back, nothing recomputed
        again = cached_pool_features("tiny-random", pool, cache_dir=cache, **kwargs)
        assert again.embeddings.tobytes() == local.embeddings.tobytes()


def _strip_timings(results: dict) -> dict:
    results = json.loads(json.dumps(results))
    for task in results["tasks"].values():
        task.pop("seconds"), task.pop("examples_per_second")
    return results


@pytest.fixture
def eval_tasks(tmp_path):
    sys.path.insert(0, HERE)
    try:
        from test_eval_harness import NIV2
    finally:
        sys.path.remove(HERE)
    folder = tmp_path / "tasks"
    folder.mkdir()
    (folder / "sentiment.json").write_text(json.dumps(NIV2))
    rows = [{"id": str(i), "question": f"q{i}", "choices": ["a", "bb", "ccc"], "label": i % 3} for i in range(6)]
    (folder / "arc_easy.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    return [str(folder), "nli"]


@pytest.mark.slow  # over 20 s on 2 CPUs: each Ray replica imports torch and loads the model
def test_evaluation_on_ray_writes_the_local_results_and_rows(ray_cluster, eval_tasks, tmp_path):
    from cookbook_datasets.eval import EvalConfig, evaluate_model

    common = {"model": "tiny-random", "tasks": eval_tasks, "limit": 4, "batch_size": 4}
    evaluate_model(EvalConfig(**common), out=tmp_path / "local.json")
    evaluate_model(EvalConfig(**common, execution=_ray(2)), out=tmp_path / "ray.json")
    local, on_ray = (json.loads((tmp_path / f"{n}.json").read_text()) for n in ("local", "ray"))
    assert list(on_ray["tasks"]) == list(local["tasks"]) and len(local["tasks"]) == 3
    assert _strip_timings(on_ray) == _strip_timings(local)
    assert (tmp_path / "ray.rows.jsonl").read_bytes() == (tmp_path / "local.rows.jsonl").read_bytes()


def _dying_task(task, marker):
    from cookbook_datasets.tasks import Task

    class DyingTask(Task):  # a class of a function's: cloudpickle sends it by value, workers need no test file
        MARKER = marker

        def describe(self):
            if not os.path.exists(self.MARKER):
                open(self.MARKER, "w").close()
                os._exit(1)  # the replica's process dies mid-job
            return super().describe()

    dying = DyingTask.__new__(DyingTask)
    dying.__dict__.update(task.__dict__)
    return dying


@pytest.mark.slow  # over 20 s on 2 CPUs: each Ray replica imports torch and loads the model
def test_a_replica_killed_mid_job_loses_and_doubles_nothing(ray_cluster, eval_tasks, tmp_path):
    from cookbook_datasets.eval import EvalConfig, evaluate_model
    from cookbook_datasets.tasks import load_tasks

    tasks = load_tasks(eval_tasks, limit=4, seed=0)
    marker = str(tmp_path / "died")
    dying = tasks[:1] + [_dying_task(tasks[1], marker)] + tasks[2:]
    common = {"model": "tiny-random", "batch_size": 4}
    evaluate_model(EvalConfig(tasks=dying, **common, execution=_ray(2)), out=tmp_path / "ray.json")
    assert os.path.exists(marker)  # a replica did die, and was replaced
    evaluate_model(EvalConfig(tasks=tasks, **common), out=tmp_path / "local.json")
    assert (tmp_path / "ray.rows.jsonl").read_bytes() == (tmp_path / "local.rows.jsonl").read_bytes()
    local, on_ray = (json.loads((tmp_path / f"{n}.json").read_text()) for n in ("local", "ray"))
    assert _strip_timings(on_ray) == _strip_timings(local)


@pytest.mark.slow  # over 20 s on 2 CPUs: each Ray replica imports torch and loads the model
def test_a_failing_task_is_reported_and_the_others_are_written(ray_cluster, eval_tasks, tmp_path, monkeypatch):
    from cookbook_datasets.eval import EvalConfig, evaluate_model
    from cookbook_datasets.tasks import load_tasks

    tasks = load_tasks(eval_tasks, limit=4, seed=0)
    tasks[0].kind = "no such kind"  # scoring it raises inside the replica
    config = EvalConfig(model="tiny-random", tasks=tasks, limit=4, batch_size=4, execution=_ray(1))
    with pytest.raises(RuntimeError, match=r"1 of 3 task\(s\) failed on the Ray executor \(arc_easy; first: "):
        evaluate_model(config, out=tmp_path / "r.json")
    written = json.loads((tmp_path / "r.json").read_text())
    assert sorted(written["tasks"]) == ["nli", "sentiment"]


def test_an_embedding_unit_that_fails_comes_back_as_errors_not_an_exception(tiny_model):
    """The replica itself, without a cluster: a unit whose tokens the model cannot read reports each
    of its rows' error; the unit beside it is embedded as the local executor embeds it."""
    import pyarrow as pa

    from cookbook_datasets.selection.embeddings import EmbeddingReplica, embed_unit

    replica = EmbeddingReplica("tiny-random", None, None, batch_size=4, max_batch_tokens=1024, token_stats=False)
    good = {0: ([1, 2, 3, 4], 2), 1: ([1, 2, 5], 2)}
    batch = pa.table({"index": [0, 1], "prefix_len": [0, 0], "rows": [[0, 1], [2]],
                      "ids": [[good[0][0], good[1][0]], [[10 ** 9]]], "starts": [[2, 2], [0]]})
    out = replica(batch).to_pylist()
    assert [r["index"] for r in out] == [0, 1, 2]
    assert out[0]["error"] is None and out[1]["error"] is None
    assert out[2]["embedding"] is None and "IndexError" in out[2]["error"]
    expected = embed_unit(tiny_model[0], replica.pad, good, 0, [0, 1], batch_size=4, max_batch_tokens=1024)
    assert np.asarray(out[0]["embedding"], dtype=np.float32).tobytes() == expected[0][0].tobytes()


@pytest.mark.slow  # each Ray replica imports torch and loads the model
def test_mix_signals_model_answers_on_ray_equal_the_local_ones(ray_cluster, tmp_path):
    """Cookbook-Mix's model calls (the untuned model's answers on every task's fit rows; the proxy
    fine-tunes are answered by the same function) on 2 replicas, a task per work item: the cached
    answers equal the local ones."""
    sys.path.insert(0, HERE)
    try:
        from test_mix_learn import _choice_task, _nli_task
    finally:
        sys.path.remove(HERE)
    from cookbook_datasets.mixing import MixLearnConfig
    from cookbook_datasets.mixing.learner import answer_tasks
    from cookbook_datasets.tasks import load_task

    _nli_task(tmp_path / "nli.json", n=12)
    _choice_task(tmp_path / "mc.jsonl", n=12)
    rows = {t.name: t for t in (load_task(tmp_path / "nli.json"), load_task(tmp_path / "mc.jsonl"))}
    common = {"tasks": [str(tmp_path)], "model": "tiny-random", "eval_batch_size": 4}
    local = answer_tasks("tiny-random", None, rows, tmp_path / "local.json",
                         MixLearnConfig(out=str(tmp_path / "a"), **common))
    on_ray = answer_tasks("tiny-random", None, rows, tmp_path / "ray.json",
                          MixLearnConfig(out=str(tmp_path / "b"), execution=_ray(2), **common))
    assert json.loads(json.dumps(local)) == on_ray and set(on_ray) == set(rows)
    assert json.loads((tmp_path / "ray.json").read_text()) == json.loads((tmp_path / "local.json").read_text())
