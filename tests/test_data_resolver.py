"""One resolver for every data reference: a user's own file works wherever data is taken."""

import json

import datasets
import pytest

from cookbook_datasets import load_dataset
from cookbook_datasets.cli import main
from cookbook_datasets.loading import DataNotFoundError


def _rows(n=12, source="mine"):
    return [{"prompt": [{"role": "user", "content": f"Repeat the number {i}."}],
             "completion": [{"role": "assistant", "content": str(i)}], "source": source, "meta": "{}"}
            for i in range(n)]


@pytest.fixture
def rows_jsonl(tmp_path):
    path = tmp_path / "rows.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in _rows()) + "\n")
    return path


def _write_every_kind(tmp_path) -> dict:
    """The same 12 rows as every kind of local reference a user may hold."""
    ds = datasets.Dataset.from_list(_rows())
    kinds = {}
    kinds["jsonl"] = tmp_path / "rows.jsonl"
    ds.to_json(kinds["jsonl"])
    kinds["json"] = tmp_path / "rows.json"
    kinds["json"].write_text(json.dumps(_rows()))
    kinds["parquet"] = tmp_path / "rows.parquet"
    ds.to_parquet(kinds["parquet"])
    flat = datasets.Dataset.from_list([{"question": f"q{i}", "answer": str(i)} for i in range(12)])
    kinds["csv"] = tmp_path / "rows.csv"
    flat.to_csv(kinds["csv"], index=False)
    saved = tmp_path / "saved"
    ds.save_to_disk(saved)
    kinds["arrow"] = next(saved.glob("*.arrow"))
    kinds["save_to_disk"] = saved
    plain = tmp_path / "plain_dir"
    plain.mkdir()
    ds.to_parquet(plain / "train.parquet")
    kinds["plain_dir"] = plain
    from cookbook_datasets.template_data import generate

    generate(["reverse_words"], tmp_path / "hub", num_examples=12, num_eval_examples=2)
    kinds["hub_layout"] = tmp_path / "hub"
    return kinds


def test_every_kind_of_local_reference_loads(tmp_path, monkeypatch):
    kinds = _write_every_kind(tmp_path)
    monkeypatch.chdir(tmp_path)
    for kind, path in kinds.items():
        name = "reverse_words" if kind == "hub_layout" else None
        for ref in (str(path), str(path.relative_to(tmp_path))):  # absolute, and relative to the working directory
            ds = load_dataset(ref, name, split="train")
            assert len(ds) == 12, (kind, ref)
    assert load_dataset("rows.jsonl", split="train")[3]["completion"][0]["content"] == "3"


def test_a_packaged_module_with_data_files_and_an_owned_builder_still_load(rows_jsonl):
    assert len(load_dataset("json", data_files=str(rows_jsonl), split="train")) == 12
    assert len(load_dataset("cookbook", "nli", num_examples=5, num_eval_examples=1, split="train")) == 5


@pytest.mark.parametrize("ref, said", [
    ("missing.jsonl", "no file or directory"),
    ("./not/here", "no file or directory"),
    ("someone/no-such-dataset", "the Hub is offline"),
])
def test_a_reference_that_exists_nowhere_is_one_line_naming_what_was_tried(ref, said, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(DataNotFoundError) as e:
        load_dataset(ref, split="train")
    message = str(e.value)
    assert said in message and "\n" not in message and "not a builder of this package" in message
    if said == "no file or directory":
        assert "Hub" not in message  # a path is never looked up on the Hub


def test_files_of_an_unknown_kind_and_empty_directories_are_named(tmp_path):
    (tmp_path / "rows.xlsx").write_text("x")
    with pytest.raises(ValueError, match=r"rows.xlsx.*\.jsonl, \.json, \.parquet"):
        load_dataset(str(tmp_path / "rows.xlsx"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataNotFoundError, match="holds no data files"):
        load_dataset(str(tmp_path / "empty"))


def test_cookbook_train_takes_a_jsonl_file_of_rows(tiny_model, rows_jsonl, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(rows_jsonl.parent)
    assert main(["train", "--model", "tiny-random", "--dataset", "rows.jsonl", "--out", str(tmp_path / "run"),
                 "--max-steps", "1", "--batch-size", "4", "--no-eval"]) == 0
    assert (tmp_path / "run" / "adapter_config.json").exists()


def test_cookbook_select_takes_a_jsonl_file_of_rows(tiny_model, rows_jsonl, tmp_path, monkeypatch):
    monkeypatch.chdir(rows_jsonl.parent)
    assert main(["select", "rows.jsonl", "--model", "tiny-random", "--k0", "4", "--per-round", "2", "--rounds", "1",
                 "--max-steps", "1", "--batch-size", "4", "--strategy", "random", "--out", str(tmp_path / "sel"),
                 "--no-diversity"]) == 0
    subset = datasets.load_dataset(str(tmp_path / "sel" / "data"), "round_1", split="train")
    assert len(subset) == 6


def test_a_mixture_component_may_be_a_jsonl_file(rows_jsonl):
    mix = load_dataset("mixture", weights={"nli": 1, "mine": 1}, components={"mine": str(rows_jsonl)},
                       num_examples=20, split="train")
    mine = [r for r in mix if r["source"] == "mine"]
    assert mine and all(r["completion"][0]["content"].isdigit() for r in mine)


def test_augmentation_seeds_may_be_any_local_data(tmp_path):
    from cookbook_datasets.augmentation.seed_data import load_seed_set

    kinds = _write_every_kind(tmp_path)
    for kind in ("jsonl", "parquet", "csv", "plain_dir"):
        seeds = load_seed_set(str(kinds[kind]))
        assert len(seeds) == 12 and seeds[5]["answer"] == "5", kind


@pytest.mark.parametrize("argv", [
    ["train", "--model", "tiny-random", "--dataset", "nowhere.jsonl", "--out", "{tmp}/t", "--max-steps", "1"],
    ["select", "nowhere.jsonl", "--model", "tiny-random", "--out", "{tmp}/s"],
])
def test_commands_given_missing_data_print_one_line_and_write_nothing(argv, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main([a.format(tmp=tmp_path) for a in argv]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: cannot load data 'nowhere.jsonl'") and "\n" not in err
    assert "Traceback" not in err
