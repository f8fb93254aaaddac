"""SELF-GUIDE synthesis on Ray: the engine's calls split across model replicas (generation/ray_engine.py).

What holds: the same config writes the same pairs with the local executor and with Ray at one or two
replicas (sampling is seeded per prompt's index in the whole call, and rank annotation scores with
its local code on the replicas); a replica that dies mid-call is restarted and its shard retried; a
driver killed mid-job resumes from the per-round checkpoints, on either executor; a bad address or
setting fails in one line before any model loads. The replica itself is tested without a cluster;
the tests marked ``slow`` start a local Ray cluster (``ray.init(num_cpus=2)``) with the tiny model.
"""

import dataclasses
import json
import os

import pytest

from cookbook_datasets.executor import ExecutorConfig
from cookbook_datasets.generation import Engine, SamplingParams
from cookbook_datasets.self_guide import SelfGuideConfig, synthesize
from cookbook_datasets.self_guide.annotation import annotation_prompt, label_loglikelihoods
from cookbook_datasets.self_guide.job import synthesize_to_hub_layout
from cookbook_datasets.tasks import define_task

SYSTEM = {"role": "system", "content": "Answer the question in one short sentence. " * 4}
PROMPTS = [[SYSTEM, {"role": "user", "content": f"question {i} " * (1 + i % 3)}] for i in range(5)]
COPY = define_task(instruction="Repeat the input words.", kind="generation", name="copy",
                   examples=[{"input": "red green blue", "output": "red green blue"},
                             {"input": "one two three four", "output": "one two three four"}])
NLI = define_task(instruction="Does the premise entail the hypothesis? Answer yes or no.", labels=["yes", "no"],
                  name="toy_nli",
                  examples=[{"input": "Premise: a dog runs. Hypothesis: an animal moves.", "output": "yes"},
                            {"input": "Premise: it is dark. Hypothesis: the sun is up.", "output": "no"}])
# tiny-random writes noise: no length window, a low threshold, short outputs, one or two rounds
SMALL = {"model": "tiny-random", "prompts_per_round": 4, "max_rounds": 1, "length_std": None,
         "consistency_threshold": 0.1, "input_max_new_tokens": 10, "annotation_max_new_tokens": 6,
         "annotation_samples": 3, "engine_options": {"batch_size": 8}}


def _ray(replicas: int) -> ExecutorConfig:
    # a fraction of a CPU per replica: Ray Data's own tasks keep a CPU (DESIGN.md)
    return ExecutorConfig(executor="ray", replicas=replicas, num_cpus_per_replica=0.5)


def _shard(kind: str, positions: list, prompts: list, args) -> "object":
    import pyarrow as pa

    return pa.table({"index": [0], "kind": [kind], "positions": [positions],
                     "prompts": [json.dumps([prompts[i] for i in positions])], "args": [json.dumps(args)]})


def _rows(data_dir, name: str) -> dict:
    import datasets

    ds = datasets.load_dataset(str(data_dir), name)
    return {split: ds[split].to_list() for split in ds}


def _untimed(value):
    if isinstance(value, dict):
        return {k: _untimed(v) for k, v in value.items() if "seconds" not in k}
    if isinstance(value, list):
        return [_untimed(v) for v in value]
    return value


# -- a replica, without a cluster ------------------------------------------------------------------

def test_a_shard_samples_its_prompts_as_the_whole_call_does(tiny_model):
    """The seed of a sample is (seed, the prompt's index in the whole call, sample index): a shard of
    prompts 3 and 1 gets exactly the completions those prompts get in one local call."""
    from cookbook_datasets.generation.ray_engine import EngineReplica

    replica = EngineReplica("tiny-random", "transformers", {"batch_size": 8, "progress": False})
    params = SamplingParams(n=2, temperature=1.0, top_k=40, max_new_tokens=8, seed=7)
    whole = replica.engine.generate(PROMPTS, params)
    (row,) = replica(_shard("generate", [3, 1], PROMPTS, dataclasses.asdict(params))).to_pylist()
    assert row["error"] is None
    answers = json.loads(row["result"])
    assert [[c["token_ids"] for c in a["completions"]] for a in answers] == \
        [[c.token_ids for c in whole[i].completions] for i in (3, 1)]
    assert [[c["text"] for c in a["completions"]] for a in answers] == [whole[i].texts for i in (3, 1)]
    # the first prompt of the shard, sampled as the call's prompt 0, would differ: the index matters
    first = replica.engine.generate([PROMPTS[3]], params)
    assert [c.token_ids for c in first[0].completions] != [c.token_ids for c in whole[3].completions]


def test_a_replica_scores_labels_with_the_local_rank_numbers(tiny_model):
    """Scoring the annotation prompts on a replica (the default scorer) gives the numbers rank
    annotation computes locally, float for float."""
    from cookbook_datasets.generation import TransformersEngine
    from cookbook_datasets.generation.ray_engine import EngineReplica

    texts = ["Premise: a cat. Hypothesis: an animal.", "Premise: rain. Hypothesis: dry.", "N/A"]
    local = label_loglikelihoods(TransformersEngine(*tiny_model, batch_size=8, progress=False), NLI, texts)
    replica = EngineReplica("tiny-random", "transformers", {"batch_size": 8, "progress": False})
    prompts = [annotation_prompt(NLI, t) for t in texts]
    (row,) = replica(_shard("score", [0, 1, 2], prompts, NLI.labels)).to_pylist()
    assert json.loads(row["result"]) == local


def test_a_shard_that_fails_comes_back_as_an_error_not_an_exception(tiny_model):
    from cookbook_datasets.generation.ray_engine import EngineReplica

    replica = EngineReplica("tiny-random", "transformers", {"batch_size": 8, "progress": False})
    (row,) = replica(_shard("generate", [0], PROMPTS, {"n": 0})).to_pylist()
    assert row["result"] is None and row["error"].startswith("ValueError: SamplingParams.n must be an integer >= 1")


# -- settings and refusals -------------------------------------------------------------------------

def test_the_self_guide_command_takes_the_executor_options(capsys):
    from cookbook_datasets.cli import parse_args
    from cookbook_datasets.cli.config_args import config_from_args

    args = parse_args(["self-guide", "task.json", "--out", "o", "--executor", "ray", "--ray-address", "10.0.0.1:6379",
                       "--replicas", "2", "--num-cpus-per-replica", "0.5"])
    config = config_from_args(args, SelfGuideConfig)
    assert config.execution == ExecutorConfig(executor="ray", ray_address="10.0.0.1:6379", replicas=2,
                                              num_cpus_per_replica=0.5)
    # where the calls ran is no part of the recipe: the same pairs, so a local run's data is reused
    assert "execution" not in config.recipe_dict()
    assert config_from_args(parse_args(["self-guide", "t.json", "--out", "o"]), SelfGuideConfig).execution \
        == ExecutorConfig()
    with pytest.raises(SystemExit):
        parse_args(["self-guide", "--help"])
    shown = capsys.readouterr().out
    assert all(option in shown for option in ("--executor {local,ray}", "--ray-address", "--replicas N"))


@pytest.mark.parametrize("execution,message", [
    ({"executor": "rey"}, r"unknown executor 'rey' \(did you mean 'ray'\?\); valid executors: local, ray"),
    ({"replica": 2}, r"unknown execution field 'replica' \(did you mean 'replicas'\?\)"),
    ({"replicas": 0}, r"replicas must be a positive integer \(got 0\)"),
    ({"num_cpus_per_replica": -1}, r"num_cpus_per_replica must be a non-negative number"),
    ("ray", r"execution must be an ExecutorConfig or a mapping of its fields"),
])
def test_a_bad_execution_setting_is_refused_naming_it(execution, message):
    with pytest.raises(ValueError, match=message):
        SelfGuideConfig(execution=execution)


def test_the_ray_engine_refuses_what_cannot_run_on_replicas(tiny_model):
    pytest.importorskip("ray.data")
    from cookbook_datasets.generation.ray_engine import RayEngine

    with pytest.raises(ValueError, match="the 'openai' backend calls a server.*run it with the local executor"):
        RayEngine("gpt-4o-mini", backend="openai", execution=_ray(2))
    with pytest.raises(ValueError, match="give a model spec .* not a loaded model"):
        RayEngine(tiny_model[0], execution=_ray(2))
    with pytest.raises(ValueError, match="RayEngine needs an ExecutorConfig with executor='ray'"):
        RayEngine("tiny-random", execution=ExecutorConfig())
    # vLLM replicas only sample, as a local vLLM engine does: rank annotation is refused up front
    from cookbook_datasets.self_guide.annotation import check_can_rank

    with pytest.raises(ValueError, match="the 'vllm on ray' engine only samples"):
        check_can_rank(RayEngine("tiny-random", backend="vllm", execution=_ray(2)))


def test_an_unreachable_address_stops_synthesis_in_one_line_before_any_model_loads(tmp_path, monkeypatch):
    pytest.importorskip("ray.data")
    import ray

    from cookbook_datasets import models

    assert not ray.is_initialized()  # else connect() would use that session and never read the address

    def no_loading(*args, **kwargs):
        raise AssertionError("a model or tokenizer was loaded")

    for name in ("load_model", "load_tokenizer", "resolve_model_path"):
        monkeypatch.setattr(models, name, no_loading)
    config = SelfGuideConfig(**SMALL, execution={"executor": "ray", "ray_address": "127.0.0.1:1",
                                                 "connect_timeout_s": 2})
    with pytest.raises(ConnectionError) as failed:
        synthesize_to_hub_layout(COPY, tmp_path, config)
    message = str(failed.value)
    assert message.startswith("no Ray cluster answers at 127.0.0.1:1") and "ray start --head" in message
    assert "\n" not in message
    assert list(tmp_path.iterdir()) == []  # nothing written


# -- on a local Ray cluster ------------------------------------------------------------------------

@pytest.mark.slow  # ~80 s on 2 busy CPUs: each of its 4 Ray calls starts replicas, which import torch
def test_ray_at_one_and_two_replicas_writes_the_local_pairs(ray_cluster, tmp_path):
    config = SelfGuideConfig(**SMALL)
    local_dir, local_counts = synthesize_to_hub_layout(COPY, tmp_path / "local", config)
    local = _rows(local_dir, "copy")
    assert sum(len(rows) for rows in local.values()) >= 2  # pairs to compare, not an empty set
    for replicas in (1, 2):
        on_ray = dataclasses.replace(config, execution=_ray(replicas))
        data_dir, counts = synthesize_to_hub_layout(COPY, tmp_path / f"ray{replicas}", on_ray)
        assert _rows(data_dir, "copy") == local
        for name in ("train", "validation"):
            written = sorted(data_dir.glob(f"copy/{name}-*.parquet"))
            assert [p.read_bytes() for p in written] == \
                [p.read_bytes() for p in sorted(local_dir.glob(f"copy/{name}-*.parquet"))]
        assert _untimed(counts) == _untimed(local_counts)  # the card's counts per stage, but for the timings


@pytest.mark.slow  # ~45 s on 2 busy CPUs (two Ray calls)
def test_rank_annotation_on_ray_gives_the_local_labels_and_probabilities(ray_cluster, tmp_path):
    config = SelfGuideConfig(**SMALL, annotation="rank", balance_labels=False)
    local = _rows(synthesize_to_hub_layout(NLI, tmp_path / "local", config)[0], "toy_nli")
    on_ray = dataclasses.replace(config, execution=_ray(2))
    assert _rows(synthesize_to_hub_layout(NLI, tmp_path / "ray", on_ray)[0], "toy_nli") == local
    shares = [json.loads(r["meta"])["vote_share"] for rows in local.values() for r in rows]
    assert shares and all(0.5 <= s < 1 for s in shares)  # the top label's probability, compared to 4 decimals


class KilledAtRound(Engine):
    """The local engine, until the driver "dies" at round ``r``'s annotation (rank scoring)."""

    def __init__(self, inner, round_index: int):
        self.inner, self.round_index, self.scored = inner, round_index, 0
        self.tokenizer = inner.tokenizer

    def _generate(self, prompts, params, *, desc):
        return self.inner.generate(prompts, params, desc=desc)

    def score_labels(self, prompts, labels):
        if self.scored == self.round_index:
            raise KeyboardInterrupt("the driver is killed")
        self.scored += 1
        return label_loglikelihoods(self.inner, NLI, [p[-1]["content"] for p in prompts])


def dying_scorer(marker: str):
    """Rank scoring that kills its replica's process the first time (a marker file says it did)."""
    def score(replica, prompts, labels):
        if not os.path.exists(marker):
            open(marker, "w").close()
            os._exit(1)  # the replica's process dies mid-call
        return label_loglikelihoods(replica, NLI, [p[-1]["content"] for p in prompts])
    return score


@pytest.mark.slow  # ~40 s on 2 busy CPUs (one Ray call, a replica restarted)
def test_a_killed_driver_resumes_on_ray_and_a_killed_replica_is_retried_with_the_same_pairs(ray_cluster, tiny_model,
                                                                                          tmp_path):
    """A local run killed in round 1 resumes on Ray from its checkpoints (round 0's pairs, round 1's
    inputs); there a replica dies while scoring and is restarted by Ray Data: the pairs are those of
    an uninterrupted local run."""
    from cookbook_datasets.generation import TransformersEngine
    from cookbook_datasets.generation.ray_engine import RayEngine

    config = SelfGuideConfig(**{**SMALL, "max_rounds": 2}, annotation="rank", balance_labels=False, num_examples=50,
                             stop_window=0)
    local = TransformersEngine(*tiny_model, batch_size=8, progress=False)
    reference, _ = synthesize(NLI, local, config, work_dir=tmp_path / "reference")
    assert {r["round"] for r in reference} == {0, 1}
    with pytest.raises(KeyboardInterrupt):
        synthesize(NLI, KilledAtRound(local, 1), config, work_dir=tmp_path / "work")
    assert (tmp_path / "work" / "rounds" / "round_00001.inputs.json").exists()
    marker = str(tmp_path / "died")
    engine = RayEngine("tiny-random", execution=_ray(2), label_scorer=dying_scorer(marker), batch_size=8)
    resumed, _ = synthesize(NLI, engine, config, work_dir=tmp_path / "work")
    assert os.path.exists(marker)  # a replica did die, and its shard was retried
    assert resumed == reference
