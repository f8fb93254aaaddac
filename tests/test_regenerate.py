"""`cookbook regenerate`: a dataset rebuilt from its card alone, checked byte for byte."""

import json

import datasets
import pyarrow.parquet as pq
import pytest

from cookbook_datasets.cli import main
from cookbook_datasets.hub_layout import write_hub_layout
from cookbook_datasets.rebuild import regenerate
from cookbook_datasets.row_schema import row_features
from cookbook_datasets.template_data import generate

# The mixture's weights are given out of alphabetical order: its draws depend on that order.
MIXTURE = {"nli": 2.0, "document_qa": 1.0}


@pytest.fixture
def source(tmp_path, cache_dir):
    return generate(["document_qa", "nli"], tmp_path / "src", num_examples=20, seed=3,
                    params={"document_qa": {"doc_length": 16}}, mixture=MIXTURE, cache_dir=cache_dir)


def _parquet_files(root):
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*.parquet"))}


def test_template_and_mixture_data_regenerate_byte_identical(source, tmp_path, capsys):
    new = tmp_path / "new"
    assert main(["regenerate", str(source), "--out", str(new), "--check"]) == 0
    out = capsys.readouterr().out
    for config in ("document_qa", "nli", "mixture"):
        for split in ("train", "validation", "test"):
            assert f"ok   {config}/{split}: byte-identical" in out
    assert "Check passed" in out
    assert _parquet_files(new) == _parquet_files(source)
    assert len(datasets.load_dataset(str(new), "mixture", split="train")) == 20


def test_a_differently_ordered_mixture_in_the_cache_is_not_served_instead(source, tmp_path, cache_dir):
    other_order = dict(reversed(list(MIXTURE.items())))
    other = generate(["document_qa", "nli"], tmp_path / "other", num_examples=20, seed=3,
                     params={"document_qa": {"doc_length": 16}}, mixture=other_order, cache_dir=cache_dir)
    assert regenerate(other, tmp_path / "other_new", check=True, cache_dir=cache_dir).ok
    result = regenerate(source, tmp_path / "new", check=True, cache_dir=cache_dir)
    assert result.ok, result.format()
    assert result.rebuilt == ["document_qa", "nli", "mixture"] and not result.not_reproducible


def _tamper(path, row, content="tampered"):
    rows = pq.read_table(path).to_pylist()
    rows[row]["completion"][0]["content"] = content
    datasets.Dataset.from_list(rows, features=row_features("chat")).to_parquet(str(path))


def test_one_tampered_row_fails_the_check_naming_config_split_and_row(source, tmp_path, capsys):
    _tamper(source / "nli" / "train-00000-of-00001.parquet", row=3)
    assert main(["regenerate", str(source), "--out", str(tmp_path / "new"), "--check"]) == 1
    out = capsys.readouterr().out
    assert "FAIL nli/train: train-00000-of-00001.parquet is not the rebuilt Parquet: row 3 differs" in out
    assert "ok   nli/validation" in out and "ok   mixture/train" in out
    assert "Check failed: nli/train" in out


def test_without_check_it_only_rebuilds(source, tmp_path, capsys):
    _tamper(source / "nli" / "train-00000-of-00001.parquet", row=0)
    assert main(["regenerate", str(source), "--out", str(tmp_path / "new")]) == 0
    assert "FAIL" not in capsys.readouterr().out
    assert datasets.load_dataset(str(tmp_path / "new"), "nli", split="train")[0]["completion"][0]["content"] \
        != "tampered"


@pytest.fixture
def augmented(tmp_path):
    """A directory as `cookbook augment` writes it (its recipe and rows), without running a teacher."""
    from cookbook_datasets.augmentation.config import AugmentationConfig
    from cookbook_datasets.augmentation.pipeline import recipe, to_dataset
    from cookbook_datasets.augmentation.seed_data import load_seed_set, seed_fingerprint

    seed_file = tmp_path / "seed.jsonl"
    seed_file.write_text("".join(json.dumps({"question": f"What is {i} + 1?", "answer": str(i + 1)}) + "\n"
                                 for i in range(4)))
    config = AugmentationConfig.from_dict({"strategy": "answer_aug", "budget": 4})
    rec = {**recipe(config, seed_fingerprint(load_seed_set(str(seed_file))), "teacher-x"), "seed_data": str(seed_file)}
    rows = [{"prompt": [{"role": "user", "content": f"What is {i} + 1?"}],
             "completion": [{"role": "assistant", "content": str(i + 1)}],
             "source": "augmentation/answer_aug", "meta": "{}"} for i in range(4)]
    out = write_hub_layout({"answer_aug": datasets.DatasetDict({"train": to_dataset(rows)})}, tmp_path / "aug",
                           {"answer_aug": rec})
    return out, seed_file


def test_model_made_data_names_what_needs_the_model_and_checks_the_rest(augmented, tmp_path):
    out, seed_file = augmented
    result = regenerate(out, tmp_path / "new", check=True)
    assert result.rebuilt == [] and not (tmp_path / "new").exists()
    assert "teacher `teacher-x`" in result.not_reproducible["answer_aug"]
    assert result.ok, result.format()
    assert [(c.config, c.split) for c in result.checks] == [("answer_aug", "train"), ("answer_aug", "seed set")]

    seed_file.write_text(seed_file.read_text().replace('"answer": "2"', '"answer": "3"'))
    result = regenerate(out, tmp_path / "new", check=True)
    assert [c.split for c in result.checks if not c.ok] == ["seed set"]

    _tamper(out / "answer_aug" / "train-00000-of-00001.parquet", row=1)
    result = regenerate(out, tmp_path / "new", check=True)
    failed = {c.split: c.detail for c in result.checks if not c.ok}
    assert "changed since it was written" in failed["train"]


def test_a_source_that_is_nowhere_is_one_line(tmp_path, capsys):
    assert main(["regenerate", "me/no-such-dataset", "--out", str(tmp_path / "new")]) == 2
    err = capsys.readouterr().err
    assert "no such directory" in err and "offline" in err and err.count("\n") == 1
