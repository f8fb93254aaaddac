"""Test setup: offline, and every cache in a throw-away directory."""

import os
import tempfile

_CACHE = tempfile.mkdtemp(prefix="cookbook-tests-")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ["HF_DATASETS_CACHE"] = os.path.join(_CACHE, "datasets")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import pytest  # noqa: E402


@pytest.fixture
def cache_dir(tmp_path):
    return str(tmp_path / "cache")
