"""The `cookbook` builder and `cookbook_datasets.load_dataset`."""

import itertools
import json

import datasets
import pytest

import cookbook_datasets
from cookbook_datasets import get_template, list_templates, load_dataset
from cookbook_datasets.builders import Cookbook


def _prompts(ds):
    return [row[0]["content"] for row in ds["prompt"]]


def test_splits_sizes_and_schema(cache_dir):
    dd = load_dataset("cookbook", "document_qa", num_examples=50, num_eval_examples=7, cache_dir=cache_dir)
    assert {k: len(v) for k, v in dd.items()} == {"train": 50, "validation": 7, "test": 7}
    row = dd["train"][0]
    assert row["prompt"][0]["role"] == "user" and row["completion"][0]["role"] == "assistant"
    assert row["source"] == "document_qa"
    meta = json.loads(row["meta"])
    assert {"inputs", "output"} <= set(meta)


@pytest.mark.parametrize("name", list_templates())
def test_every_row_follows_the_template_rule(name, cache_dir):
    ds = load_dataset("cookbook", name, num_examples=300, split="train", cache_dir=cache_dir)
    template = get_template(name)
    for row in ds:
        meta = json.loads(row["meta"])
        assert template.rule(meta["inputs"]) == meta["output"]
        assert row["completion"][0]["content"] == template.format_output(meta["output"])


@pytest.mark.parametrize("name", list_templates())
def test_test_prompts_never_appear_in_train_at_10k_rows(name, cache_dir):
    dd = load_dataset("cookbook", name, num_examples=10_000, num_eval_examples=1000, cache_dir=cache_dir)
    assert not set(_prompts(dd["test"])) & set(_prompts(dd["train"]))


def test_neighbouring_seeds_do_not_overlap(cache_dir):
    a = load_dataset("cookbook", "reverse_words", num_examples=2000, seed=42, split="train", cache_dir=cache_dir)
    b = load_dataset("cookbook", "reverse_words", num_examples=2000, seed=43, split="train", cache_dir=cache_dir)
    assert not set(_prompts(a)) & set(_prompts(b))


def test_num_proc_does_not_change_the_rows(tmp_path):
    kw = dict(num_examples=9000, split="train", seed=7)
    one = load_dataset("cookbook", "multiple_choice_qa", num_proc=1, cache_dir=str(tmp_path / "a"), **kw)
    two = load_dataset("cookbook", "multiple_choice_qa", num_proc=2, cache_dir=str(tmp_path / "b"), **kw)
    assert len(two.cache_files) == 2  # really written by two processes
    assert one["meta"] == two["meta"] and one["prompt"] == two["prompt"]


def test_same_config_is_cached_and_a_changed_parameter_regenerates(cache_dir):
    a = load_dataset("cookbook", "document_qa", num_examples=40, split="train", cache_dir=cache_dir)
    again = load_dataset("cookbook", "document_qa", num_examples=40, split="train", cache_dir=cache_dir)
    changed = load_dataset("cookbook", "document_qa", num_examples=40, split="train", doc_length=20,
                           cache_dir=cache_dir)
    assert again.cache_files == a.cache_files
    assert changed.cache_files != a.cache_files
    assert all(len(json.loads(m)["inputs"]["document"]) == 20 for m in changed["meta"])


def test_streaming_matches_the_built_dataset_and_is_unbounded_without_num_examples(cache_dir):
    built = load_dataset("cookbook", "sort_words", num_examples=30, split="train", cache_dir=cache_dir)
    streamed = load_dataset("cookbook", "sort_words", num_examples=30, split="train", streaming=True)
    assert isinstance(streamed, datasets.IterableDataset)
    assert [r["meta"] for r in streamed] == built["meta"]
    endless = load_dataset("cookbook", "sort_words", num_examples=None, split="train", streaming=True)
    assert sum(1 for _ in itertools.islice(endless, 2500)) == 2500
    assert [r["meta"] for r in itertools.islice(endless, 30)] == built["meta"]


def test_text_format_gives_plain_strings(cache_dir):
    ds = load_dataset("cookbook", "count_word", num_examples=5, format="text", split="train", cache_dir=cache_dir)
    assert isinstance(ds[0]["prompt"], str) and isinstance(ds[0]["completion"], str)
    assert set(ds.column_names) == {"prompt", "completion", "source", "meta"}


def test_outputs_of_different_templates_concatenate(cache_dir):
    parts = [load_dataset("cookbook", n, num_examples=5, split="train", cache_dir=cache_dir) for n in list_templates()]
    mixed = datasets.concatenate_datasets(parts)
    assert len(mixed) == 5 * len(list_templates())


def test_dataset_info_records_the_recipe(cache_dir):
    ds = load_dataset("cookbook", "document_qa", num_examples=5, seed=3, split="train", doc_length=30,
                      cache_dir=cache_dir)
    recipe = json.loads(ds.info.description)
    assert recipe["seed"] == 3 and recipe["params"]["doc_length"] == 30
    assert recipe["package_version"] == cookbook_datasets.__version__
    assert recipe["template_code_hash"] == type(get_template("document_qa")).code_hash()


def test_builder_can_be_used_directly(cache_dir):
    builder = Cookbook(config_name="nli", num_examples=10, cache_dir=cache_dir)
    builder.download_and_prepare()
    assert len(builder.as_dataset("train")) == 10
    assert [c.name for c in Cookbook.BUILDER_CONFIGS] == list_templates()


def test_other_paths_go_to_datasets_load_dataset(tmp_path):
    (tmp_path / "data.jsonl").write_text('{"a": 1}\n{"a": 2}\n')
    ds = load_dataset("json", data_files=str(tmp_path / "data.jsonl"), split="train")
    assert ds["a"] == [1, 2]


@pytest.mark.parametrize("kwargs, message", [
    ({"num_examples": 0}, "num_examples"),
    ({"num_examples": -5}, "num_examples"),
    ({"seed": -1}, "seed"),
    ({"format": "xml"}, "format"),
    ({"doc_length": 2}, "doc_length"),
    ({"question_length": 30, "answer_length": 30}, "question_length"),
    ({"no_such_param": 1}, "no_such_param"),
])
def test_bad_parameters_are_named(kwargs, message, cache_dir):
    with pytest.raises(ValueError, match=message):
        load_dataset("cookbook", "document_qa", cache_dir=cache_dir, **kwargs)


def test_unknown_template_lists_valid_names_and_the_closest(cache_dir):
    with pytest.raises(ValueError, match="Did you mean 'document_qa'.*Valid templates: .*multiple_choice_qa"):
        load_dataset("cookbook", "document_q", cache_dir=cache_dir)


def test_unbounded_needs_streaming(cache_dir):
    with pytest.raises(ValueError, match="streaming"):
        load_dataset("cookbook", "document_qa", num_examples=None, cache_dir=cache_dir)


def test_streaming_splits_across_ranks_without_overlap():
    from datasets.distributed import split_dataset_by_node

    stream = load_dataset("cookbook", "nli", num_examples=400, split="train", streaming=True)
    ranks = [[r["meta"] for r in split_dataset_by_node(stream, rank=k, world_size=2)] for k in range(2)]
    assert ranks[0] and ranks[1] and not set(ranks[0]) & set(ranks[1])
    assert sorted(ranks[0] + ranks[1]) == sorted(r["meta"] for r in stream)
