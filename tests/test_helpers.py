"""The one atomic writer (atomic_files) and the one name registry (registry)."""

import json
import os
import threading

import numpy as np
import pytest

from cookbook_datasets.atomic_files import atomic_dir, atomic_json, atomic_path, atomic_write_bytes, atomic_write_text
from cookbook_datasets.registry import Registry, UnknownNameError, close_match, did_you_mean, unknown_name_error


# -- atomic_files -----------------------------------------------------------------------------------
def test_atomic_writes_leave_only_the_file(tmp_path):
    path = tmp_path / "sub" / "report.json"
    assert atomic_json(path, {"b": 1, "a": 2}) == path
    assert path.read_text() == '{\n  "a": 2,\n  "b": 1\n}'
    atomic_json(path, {"b": 1, "a": 2}, indent=1, sort_keys=False)
    assert path.read_text() == '{\n "b": 1,\n "a": 2\n}'
    atomic_write_text(tmp_path / "t.md", "é\n")
    assert (tmp_path / "t.md").read_text(encoding="utf-8") == "é\n"
    atomic_write_bytes(tmp_path / "b.bin", b"\x00\x01")
    assert (tmp_path / "b.bin").read_bytes() == b"\x00\x01"
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["b.bin", "report.json", "sub", "t.md"]
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask  # as open() makes it, not mkstemp's 0o600


def test_an_error_leaves_the_old_file_and_no_temporary(tmp_path):
    path = tmp_path / "state.json"
    atomic_json(path, {"round": 1})
    with pytest.raises(TypeError):
        atomic_json(path, {"round": object()}, default=None)
    with pytest.raises(RuntimeError):
        with atomic_path(path) as tmp:
            tmp.write_text("half")
            raise RuntimeError("killed")
    assert json.loads(path.read_text()) == {"round": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]


def test_concurrent_writers_never_share_a_temporary_file(tmp_path):
    path = tmp_path / "shared.json"
    payloads = [{"writer": i, "data": "x" * 20_000} for i in range(8)]
    threads = [threading.Thread(target=atomic_json, args=(path, p)) for p in payloads]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert json.loads(path.read_text()) in payloads  # one whole payload, never a mix
    assert [p.name for p in tmp_path.iterdir()] == ["shared.json"]


def test_atomic_path_keeps_the_suffix_writers_read(tmp_path):
    path = tmp_path / "shard.npz"
    with atomic_path(path) as tmp:
        assert tmp.parent == tmp_path and tmp.name.endswith(".tmp.npz") and not tmp.exists()
        np.savez(tmp, keys=np.arange(3))  # np.savez would append .npz to a name without it
    with np.load(path) as f:
        assert f["keys"].tolist() == [0, 1, 2]
    with atomic_path(tmp_path / "empty.png"):
        pass  # nothing written: nothing renamed
    assert sorted(p.name for p in tmp_path.iterdir()) == ["shard.npz"]


def test_atomic_dir_replaces_a_directory_only_when_asked(tmp_path):
    out = tmp_path / "out"
    with atomic_dir(out) as tmp:
        (tmp / "a.txt").write_text("1")
    assert (out / "a.txt").read_text() == "1"
    with pytest.raises(FileExistsError):
        with atomic_dir(out) as tmp:
            (tmp / "b.txt").write_text("2")
    with pytest.raises(RuntimeError):
        with atomic_dir(out, overwrite=True) as tmp:
            (tmp / "b.txt").write_text("2")
            raise RuntimeError("failed half-way")
    assert [p.name for p in out.iterdir()] == ["a.txt"]
    with atomic_dir(out, overwrite=True) as tmp:
        (tmp / "b.txt").write_text("2")
    assert [p.name for p in out.iterdir()] == ["b.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


# -- registry ---------------------------------------------------------------------------------------
def test_registry_lookups_name_the_kind_the_close_match_and_the_valid_names():
    backends = Registry("generation backend", [("transformers", 1), ("openai", 2)], listed="available")

    @backends.register
    class VLLM:
        name = "vllm"

    assert backends.get("vllm") is VLLM and backends["openai"] == 2
    assert list(backends) == ["transformers", "openai", "vllm"] and len(backends) == 3
    assert "openai" in backends and "x" not in backends and [] not in backends
    assert dict(backends.items())["transformers"] == 1
    with pytest.raises(UnknownNameError, match=r"^unknown generation backend 'opnai' \(did you mean 'openai'\?\); "
                                               r"available: transformers, openai, vllm$"):
        backends.get("opnai")
    with pytest.raises(KeyError):  # a dict lookup's error too
        backends["nothing-like-it"]
    with pytest.raises(ValueError, match=r"^unknown generation backend \['x'\]; "):
        backends.get(["x"])  # unhashable: still the clear error
    with pytest.raises(TypeError, match="registered twice"):
        backends.add("vllm", 3)


def test_unknown_name_error_styles():
    e = unknown_name_error("strategy", "k-center", ["kcenter", "random"], plural="strategies")
    assert isinstance(e, UnknownNameError) and isinstance(e, ValueError) and isinstance(e, KeyError)
    assert str(e) == "unknown strategy 'k-center' (did you mean 'kcenter'?); valid strategies: kcenter, random"
    assert str(unknown_name_error("metric", "bleu", ["rouge_l"], sentence=True, listed="available metrics")) == \
        "Unknown metric 'bleu'. Available metrics: rouge_l."
    assert str(unknown_name_error("space", "x", ["raw"], show=str)) == "unknown space 'x'; valid spaces: ['raw']"

    class Mine(UnknownNameError):
        pass

    assert isinstance(unknown_name_error("template", "x", [], error=Mine), Mine)
    assert close_match("rouge-l", ["rouge_l", "exact"]) == "rouge_l" and close_match("zzz", ["abc"]) is None
    assert did_you_mean("budgett", ["budget"]) == " (did you mean 'budget'?)"
    assert did_you_mean("budgett", ["budget"], sentence=True) == " Did you mean 'budget'?"
    assert did_you_mean("zzz", ["budget"]) == ""
