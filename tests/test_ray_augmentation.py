"""Budgeted augmentation on Ray and against a list of teacher endpoints.

The teacher's requests run on a Ray Data actor pool (``--executor ray``) while the driver keeps the
ledger and the response cache: the rows are the local executor's byte for byte, a replica killed
mid-run loses and pays nothing twice, and a driver killed mid-run resumes from its files. Several
servers of one model take the requests round robin by query index, the same way locally and on Ray.
Bad input fails before any query. The servers are the stdlib fake of test_augmentation.py; the slow
tests share one local Ray cluster (``ray.init(num_cpus=2)``), started after the fast ones.
"""

import gc
import json
import os
import sys
from collections import Counter

import pytest

from cookbook_datasets.augmentation import (
    AugmentationConfig, ResponseCache, TeacherEndpoint, load_seed_set, run_augmentation, teacher_endpoints,
)
from cookbook_datasets.augmentation.pipeline import recipe, task_context
from cookbook_datasets.cli import main, parse_args
from cookbook_datasets.executor import ExecutorConfig

HERE = os.path.dirname(__file__)
sys.path.insert(0, HERE)
try:
    from test_augmentation import SEEDS, Killed, RuleServer, seed_file  # noqa: F401 - seed_file: a fixture
finally:
    sys.path.remove(HERE)

RAY = {"executor": "ray", "num_cpus_per_replica": 0.5}  # a fraction: Ray Data's own tasks keep a CPU


@pytest.fixture
def servers():
    """Two servers of the same model."""
    pair = [RuleServer(), RuleServer()]
    yield pair
    for s in pair:
        s.close()


def _run(work, teacher, **config):
    """run_augmentation over SEEDS; ``teacher``: one URL or several."""
    config = AugmentationConfig(**{"budget": 8, **config})
    return run_augmentation(load_seed_set(SEEDS), teacher_endpoints(teacher, progress=False), config, work,
                            progress=False)


def _augment(seed_file, out, teacher, *options):
    """`cookbook augment` (rephrase, Q = 8) into ``out``; returns its exit code."""
    teachers = [a for url in ([teacher] if isinstance(teacher, str) else teacher) for a in ("--teacher", url)]
    return main(["augment", str(seed_file), "--strategy", "rephrase", "--budget", "8", *teachers,
                 "--out", str(out), *options])


def _written(out, strategy="rephrase"):
    return (out / strategy / "train-00000-of-00001.parquet").read_bytes()


# -- the setting ------------------------------------------------------------------------------------

def test_the_executor_is_no_part_of_the_recipe():
    local = AugmentationConfig(budget=8)
    on_ray = AugmentationConfig(budget=8, execution={**RAY, "replicas": 4})
    assert on_ray.execution == ExecutorConfig(executor="ray", replicas=4, num_cpus_per_replica=0.5)
    assert local.execution == ExecutorConfig()
    assert recipe(on_ray, "seeds", "t") == recipe(local, "seeds", "t")  # same cache, work directory and card
    assert AugmentationConfig.from_dict(on_ray.to_dict()) == on_ray
    with pytest.raises(ValueError, match="execution must be an ExecutorConfig or a mapping"):
        AugmentationConfig(execution="ray")


def test_the_command_takes_the_executor_options_and_several_teachers():
    from cookbook_datasets.cli.config_args import config_from_args

    args = parse_args(["augment", "seed.jsonl", "--budget", "5", "--teacher", "http://a:8000/v1", "--teacher",
                       "http://b:8000/v1", "--out", "o", "--executor", "ray", "--ray-address", "10.0.0.1:6379",
                       "--replicas", "3"])
    assert args.teacher == ["http://a:8000/v1", "http://b:8000/v1"]
    config = config_from_args(args, AugmentationConfig)
    assert config.execution == ExecutorConfig(executor="ray", ray_address="10.0.0.1:6379", replicas=3)


def test_a_config_files_teacher_is_replaced_by_the_command_lines(tmp_path):
    (tmp_path / "aug.yaml").write_text("teacher: [http://a:8000/v1, http://b:8000/v1]\nbudget: 5\n")
    common = ["augment", "seed.jsonl", "--out", "o", "--config", str(tmp_path / "aug.yaml")]
    assert parse_args(common).teacher == ["http://a:8000/v1", "http://b:8000/v1"]
    assert parse_args(common + ["--teacher", "http://c:8000/v1"]).teacher == ["http://c:8000/v1"]


# -- a list of teacher endpoints ---------------------------------------------------------------------

def test_several_servers_take_the_queries_round_robin_by_query_index(servers, tmp_path):
    one = RuleServer()
    try:
        rows_one, single = _run(tmp_path / "one", one.url)
    finally:
        one.close()
    rows, summary = _run(tmp_path / "two", [s.url for s in servers])
    assert rows == rows_one and summary["ledger"] == single["ledger"]  # any server's answer is as good
    assert [s.requests for s in servers] == [4, 4]
    # query i (step i of answer_aug: seed order[i mod 4]) went to server i mod 2
    order = task_context(load_seed_set(SEEDS), AugmentationConfig(budget=8)).order
    for k, server in enumerate(servers):
        asked = [json.loads(messages)[-1]["content"] for messages, _ in server.asked]
        assert Counter(asked) == Counter(SEEDS[order[i % 4]]["question"] for i in range(k, 8, 2))


def test_one_teacher_is_still_one_url_or_a_list_of_one(servers, tmp_path):
    rows, _ = _run(tmp_path / "a", servers[0].url)
    rows_list, _ = _run(tmp_path / "b", [servers[1].url])
    assert rows == rows_list and servers[0].requests == servers[1].requests == 8


@pytest.mark.parametrize("teacher,message", [  # GOOD: a server that answers
    ([], r"teacher is an empty list"),
    (["GOOD", "http//localhost:8000/v1"], r"several teachers must all be server URLs.*'http//localhost:8000/v1'"),
    (["GOOD", "http://localhost:80x0/v1"], r"teacher URL 'http://localhost:80x0/v1' is malformed \(Port could not"),
    (["GOOD", "http:///v1"], r"teacher URL 'http:///v1' is malformed \(it names no host\)"),
    (["GOOD", "http://host:8000/v1?x=1"], r"is malformed \(a server address takes no \?query"),
    (["GOOD", "GOOD/"], r"teacher http://127\.0\.0\.1:\d+/v1 is listed twice"),
    (["GOOD", "tiny-random"], r"several teachers must all be server URLs.*'tiny-random' is not"),
])
def test_a_bad_teacher_list_is_a_clear_error_before_any_query(seed_file, tmp_path, servers, teacher, message):
    from cookbook_datasets.augmentation import augment_to_hub

    teacher = [t.replace("GOOD", servers[0].url) for t in teacher]
    with pytest.raises(ValueError, match=message):
        augment_to_hub(seed_file, tmp_path / "out", teacher=teacher, budget=4)
    assert servers[0].requests == 0 and not (tmp_path / "out.work").exists()


def test_servers_of_different_models_are_refused_before_any_query(seed_file, tmp_path, capsys):
    a, b = RuleServer(model="teacher-a"), RuleServer(model="teacher-b")
    try:
        assert _augment(seed_file, tmp_path / "out", [a.url, b.url]) == 2
        error = capsys.readouterr().err
        assert f"the teachers serve different models ({a.url} serves 'teacher-a', {b.url} serves 'teacher-b')" in error
        assert a.requests == b.requests == 0 and not (tmp_path / "out.work").exists()
    finally:
        a.close()
        b.close()


def test_a_malformed_url_on_the_command_line_is_one_line(seed_file, tmp_path, servers, capsys):
    assert _augment(seed_file, tmp_path / "out", [servers[0].url, "http://localhost:99999/v1"]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "teacher URL 'http://localhost:99999/v1' is malformed" in error
    assert servers[0].requests == 0


def test_an_unreachable_ray_cluster_is_one_line_before_any_query(seed_file, tmp_path, servers, capsys):
    ray = pytest.importorskip("ray")
    assert not ray.is_initialized(), "runs before the module's cluster starts (it would join that one)"
    code = _augment(seed_file, tmp_path / "out", servers[0].url, "--executor", "ray", "--ray-address",
                    "127.0.0.1:1", "--connect-timeout-s", "2")
    error = capsys.readouterr().err
    assert code == 1 and error.count("\n") == 1 and "no Ray cluster answers at 127.0.0.1:1" in error
    assert servers[0].requests == 0 and not (tmp_path / "out.work").exists()


def test_a_replica_reports_a_failed_request_and_answers_the_others(servers):
    """The replica itself, without a cluster: an item whose server fails comes back as an error."""
    import pyarrow as pa

    from cookbook_datasets.augmentation.ray_teacher import TeacherReplica

    broken = RuleServer(fail=[500] * 4)
    try:
        endpoints = [TeacherEndpoint(servers[0].url, "rule-teacher", {"progress": False}),
                     TeacherEndpoint(broken.url, "rule-teacher", {"progress": False, "max_retries": 0})]
        params = json.dumps({"temperature": 0.7, "max_new_tokens": 16, "seed": 3})
        ask = json.dumps([[{"role": "system", "content": "Solve."}, {"role": "user", "content": "What is 2 + 3?"}]])
        batch = pa.table({"index": [0, 1], "endpoint": [0, 1], "messages": [ask, ask], "params": [params, params],
                          "desc": ["answer", "answer"]})
        out = TeacherReplica(endpoints)(batch).to_pylist()
    finally:
        broken.close()
    assert [r["index"] for r in out] == [0, 1]
    assert out[0]["error"] is None and out[0]["text"] == ["First 2 + 3 = 5.\n#### 5\nHope this helps!"]
    assert out[1]["text"] is None and "HTTP 500: boom 500" in out[1]["error"]


# -- on a local Ray cluster ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def ray_cluster():
    ray = pytest.importorskip("ray")
    pytest.importorskip("ray.data")
    ray.init(num_cpus=2, include_dashboard=False, logging_level="ERROR", log_to_driver=False)
    try:
        yield ray
    finally:
        ray.shutdown()


@pytest.mark.slow
@pytest.mark.parametrize("replicas", [1, 2])
def test_cookbook_augment_on_ray_writes_the_local_rows_byte_for_byte(ray_cluster, seed_file, tmp_path, replicas,
                                                                      capsys):
    server = RuleServer()
    try:
        assert _augment(seed_file, tmp_path / "local", server.url) == 0
        assert _augment(seed_file, tmp_path / "ray", server.url, "--executor", "ray", "--replicas", str(replicas),
                        "--num-cpus-per-replica", "0.5") == 0
        printed = capsys.readouterr().out
    finally:
        server.close()
    assert _written(tmp_path / "ray") == _written(tmp_path / "local")
    assert (tmp_path / "ray" / "README.md").read_text().replace("/ray", "/local") == \
        (tmp_path / "local" / "README.md").read_text()  # the same recipe and ledger on the card
    assert printed.count("sent now 8, from the cache 0; paid in all 8") == 2 and server.requests == 16
    for name in ("local", "ray"):  # the same answers in the same cache, whoever sent them
        cache = ResponseCache(tmp_path / f"{name}.work" / "cache.jsonl")
        assert len(cache) == 8
    assert ResponseCache(tmp_path / "ray.work" / "cache.jsonl")._records == \
        ResponseCache(tmp_path / "local.work" / "cache.jsonl")._records


@pytest.mark.slow
def test_new_questions_on_ray_over_two_servers_are_the_local_rows(ray_cluster, servers, tmp_path):
    """Three kinds of query, each an ask of its own; every server gets on Ray what it got locally."""
    rows, local = _run(tmp_path / "local", [s.url for s in servers], strategy="new_question", budget=12)
    asked_locally = [Counter(s.asked) for s in servers]
    for s in servers:
        s.asked.clear()
    rows_ray, on_ray = _run(tmp_path / "ray", [s.url for s in servers], strategy="new_question", budget=12,
                            execution={**RAY, "replicas": 2})
    assert rows_ray == rows and on_ray["ledger"] == local["ledger"]
    assert [Counter(s.asked) for s in servers] == asked_locally  # round robin by query index, not by timing


@pytest.mark.slow
def test_a_replica_killed_mid_run_loses_nothing_and_pays_nothing_twice(ray_cluster, tmp_path):
    from cookbook_datasets.generation import Engine

    marker = str(tmp_path / "died")

    class DyingEndpoint(TeacherEndpoint):  # a class of a test: cloudpickle sends it by value
        MARKER = marker

        def open(self):
            inner, marker = super().open(), self.MARKER

            class Dying(Engine):  # dies before its 4th request is sent, once
                name, model, concurrency, sent = "dying", inner.model, inner.concurrency, 0

                def _generate(self, prompts, params, *, desc):
                    if self.sent == 3 and not os.path.exists(marker):
                        open(marker, "w").close()
                        os._exit(1)
                    self.sent += 1
                    return inner.generate(prompts, params, desc=desc)

            return Dying()

    server = RuleServer()
    try:
        rows, local = _run(tmp_path / "local", server.url)
        sent_locally = server.requests
        config = AugmentationConfig(budget=8, execution={**RAY, "replicas": 1})
        rows_ray, on_ray = run_augmentation(load_seed_set(SEEDS), [DyingEndpoint(server.url, "rule-teacher")],
                                            config, tmp_path / "ray", progress=False)
    finally:
        server.close()
    assert os.path.exists(marker)  # the replica did die, and was replaced
    assert rows_ray == rows
    assert on_ray["ledger"] == local["ledger"] and on_ray["ledger"]["paid_total"] == 8
    assert server.requests == 2 * sent_locally  # the request it died before was sent once, by its successor


@pytest.mark.slow
def test_a_driver_killed_mid_run_resumes_without_paying_twice(ray_cluster, servers, tmp_path, monkeypatch):
    rows, local = _run(tmp_path / "local", servers[0].url)
    put, recorded = ResponseCache.put, []

    def killed_after_four(cache, key, record):  # stands for kill -9 of the driver, at its 5th answer
        if len(recorded) == 4:
            raise Killed("killed")
        recorded.append(key)
        put(cache, key, record)

    server = servers[1]
    with monkeypatch.context() as patch:
        patch.setattr(ResponseCache, "put", killed_after_four)
        with pytest.raises(Killed):
            _run(tmp_path / "ray", server.url, execution={**RAY, "replicas": 2})
    gc.collect()  # the killed run's Ray Data pipeline lets its replicas go
    killed = json.loads((tmp_path / "ray" / "ledger.json").read_text())
    assert killed["paid_total"] == 4 and len(killed["pending"]) == 4  # handed out, answers not recorded
    sent_before = server.requests
    rows_again, resumed = _run(tmp_path / "ray", server.url, execution={**RAY, "replicas": 2})
    assert rows_again == rows
    assert resumed["ledger"]["cache_hits"] == 4 and resumed["ledger"]["new_queries"] == 4
    asked_again = {messages for messages, _ in server.asked[sent_before:]}
    cache = ResponseCache(tmp_path / "ray" / "cache.jsonl")
    assert len(asked_again) == 4 and len(cache) == 8  # none of the 4 recorded answers was asked again
    # honest: the 4 handed out but not recorded may have been billed, and were asked again
    assert resumed["ledger"]["lost_in_flight"] == 4 and resumed["ledger"]["paid_total"] == 8 + 4


@pytest.mark.slow  # about 20 s on 2 CPUs: the replica imports torch and loads the model
def test_a_local_model_teacher_loads_in_the_replica_and_writes_the_local_rows(ray_cluster, tiny_model, seed_file,
                                                                               tmp_path):
    from cookbook_datasets.augmentation import augment_to_hub

    common = dict(teacher="tiny-random", strategy="answer_aug", budget=4, max_new_tokens=8, checker="none",
                  engine_options={"progress": False}, progress=False)
    local = augment_to_hub(seed_file, tmp_path / "local", **common)
    on_ray = augment_to_hub(seed_file, tmp_path / "ray", **common, execution={**RAY, "replicas": 1})
    assert _written(tmp_path / "ray", "answer_aug") == _written(tmp_path / "local", "answer_aug")
    assert on_ray["ledger"] == local["ledger"] and on_ray["teacher"] == local["teacher"]
    assert on_ray["kept"] == local["kept"] > 0
