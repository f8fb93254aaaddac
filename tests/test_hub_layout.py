"""`generate` writes the Hub layout that plain `datasets.load_dataset` reads."""

import json
from collections import Counter

import datasets
import pyarrow.parquet as pq
import pytest

import cookbook_datasets
from cookbook_datasets import hub_layout, load_dataset
from cookbook_datasets.template_data import generate
from cookbook_datasets.templates import get_template_class


def test_plain_datasets_reads_what_generate_wrote(tmp_path, cache_dir):
    out = generate(["document_qa", "nli"], tmp_path / "out", num_examples=40, seed=5,
                   params={"document_qa": {"doc_length": 24}}, cache_dir=cache_dir)
    for name, kw in [("document_qa", {"doc_length": 24}), ("nli", {})]:
        reread = datasets.load_dataset(str(out), name)
        built = load_dataset("cookbook", name, num_examples=40, seed=5, cache_dir=cache_dir, **kw)
        assert set(reread) == {"train", "validation", "test"}
        for split in built:
            assert reread[split]["meta"] == built[split]["meta"]
            assert reread[split]["prompt"] == built[split]["prompt"]
    assert sorted(p.name for p in (out / "nli").iterdir()) == [
        "test-00000-of-00001.parquet", "train-00000-of-00001.parquet", "validation-00000-of-00001.parquet"]


def test_a_rewritten_directory_is_read_back_with_its_new_rows(tmp_path, cache_dir):
    # datasets caches a local directory under a hash of its card's YAML: the split sizes recorded
    # there keep a rewrite (other seed, same configs) from being served from the stale cache
    out = tmp_path / "out"
    first = generate(["reverse_words"], out, num_examples=8, seed=0, cache_dir=cache_dir)
    before = datasets.load_dataset(str(first), "reverse_words", split="train")["completion"]
    generate(["reverse_words"], out, num_examples=8, seed=1, cache_dir=cache_dir, overwrite=True)
    after = datasets.load_dataset(str(out), "reverse_words", split="train")["completion"]
    assert after != before
    assert after == load_dataset("cookbook", "reverse_words", num_examples=8, seed=1, cache_dir=cache_dir,
                                 split="train")["completion"]


def test_card_records_how_the_data_was_made(tmp_path, cache_dir):
    out = generate(["document_qa"], tmp_path / "out", num_examples=10, seed=9, cache_dir=cache_dir)
    card = (out / "README.md").read_text()
    assert card.startswith("---\n") and "config_name: document_qa" in card
    recipe = json.loads((out / "recipe.json").read_text())["document_qa"]
    assert recipe["seed"] == 9 and recipe["package_version"] == cookbook_datasets.__version__
    assert recipe["template_code_hash"] == get_template_class("document_qa").code_hash()
    assert recipe["template_code_hash"] in card and '"doc_length": 48' in card


def test_mixture_follows_the_weights(tmp_path, cache_dir):
    out = generate(["reverse_words", "sort_words"], tmp_path / "out", num_examples=100, cache_dir=cache_dir,
                   mixture={"reverse_words": 3, "sort_words": 1})
    mixed = datasets.load_dataset(str(out), "mixture", split="train")
    counts = Counter(mixed["source"])
    assert set(counts) == {"reverse_words", "sort_words"} and sum(counts.values()) == 100
    assert 60 <= counts["reverse_words"] <= 90  # drawn with probability 3/4, not cut to exact counts
    assert mixed["source"][:10] != sorted(mixed["source"][:10]) or len(set(mixed["source"][:10])) > 1
    # each template's rows in the mixture are that template's own rows, in order
    alone = datasets.load_dataset(str(out), "sort_words", split="train")
    mine = mixed.filter(lambda r: r["source"] == "sort_words")
    assert mine["prompt"] == alone["prompt"][:len(mine)]


def test_a_failed_generate_leaves_nothing_behind(tmp_path, cache_dir, monkeypatch):
    calls = []

    def failing(ds, directory, split):
        calls.append(split)
        if len(calls) == 2:
            raise OSError("disk full")
        return real(ds, directory, split)

    real = hub_layout.write_parquet_shards
    monkeypatch.setattr(hub_layout, "write_parquet_shards", failing)
    with pytest.raises(OSError):
        generate(["document_qa"], tmp_path / "out", num_examples=10, cache_dir=cache_dir)
    assert list(tmp_path.iterdir()) == [tmp_path / "cache"]


def test_existing_output_is_kept_unless_overwrite(tmp_path, cache_dir):
    out = generate(["nli"], tmp_path / "out", num_examples=10, cache_dir=cache_dir)
    with pytest.raises(FileExistsError, match="overwrite"):
        generate(["nli"], out, num_examples=20, cache_dir=cache_dir)
    assert len(datasets.load_dataset(str(out), "nli", split="train")) == 10
    generate(["nli"], out, num_examples=20, cache_dir=cache_dir, overwrite=True)
    assert pq.read_metadata(next((out / "nli").glob("train-*.parquet"))).num_rows == 20


def test_bad_input_fails_before_writing(tmp_path, cache_dir):
    with pytest.raises(ValueError, match="Valid templates"):
        generate(["document_qa", "nope"], tmp_path / "out", cache_dir=cache_dir)
    with pytest.raises(ValueError, match="num_examples"):
        generate(["document_qa"], tmp_path / "out", num_examples=0, cache_dir=cache_dir)
    with pytest.raises(ValueError, match="not among"):
        generate(["document_qa"], tmp_path / "out", mixture={"nli": 1}, cache_dir=cache_dir)
    assert not (tmp_path / "out").exists()
