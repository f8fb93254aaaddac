"""The mixture builder: templates and row-schema datasets drawn by weight, as interleave_datasets does."""

import itertools
import json
import os
import subprocess
from collections import Counter
from pathlib import Path

import datasets
import pytest
import yaml

from cookbook_datasets import load_dataset
from cookbook_datasets.builders import Mixture
from cookbook_datasets.hub_layout import write_hub_layout
from cookbook_datasets.mixing.components import UnknownComponentError
from cookbook_datasets.mixing.mix_file import read_mix, write_mix
from cookbook_datasets.row_schema import row_features
from cookbook_datasets.template_data import generate


def _rows(n: int, tag: str, split: str = "train") -> datasets.Dataset:
    return datasets.Dataset.from_dict({
        "prompt": [[{"role": "user", "content": f"{tag} q{i}"}] for i in range(n)],
        "completion": [[{"role": "assistant", "content": f"{tag} a{i}"}] for i in range(n)],
        "source": [f"origin-{tag}"] * n,
        "meta": [json.dumps({"i": i}) for i in range(n)],
    }, features=row_features("chat"))


@pytest.fixture
def user_data(tmp_path):
    """Two user datasets in the Hub layout (train only), of 7 and 30 rows."""
    dirs = {}
    for tag, n in (("small", 7), ("large", 30)):
        dirs[tag] = write_hub_layout({"default": datasets.DatasetDict({"train": _rows(n, tag)})}, tmp_path / tag,
                                     recipes={"default": {"made": "by hand"}})
    return dirs


def test_rows_are_drawn_by_weight_and_name_their_component(cache_dir):
    ds = load_dataset("mixture", weights={"nli": 3, "shared_words": 1}, num_examples=2000, cache_dir=cache_dir)
    assert set(ds) == {"train", "validation", "test"}
    assert len(ds["train"]) == 2000 and len(ds["validation"]) == len(ds["test"]) == 200
    counts = Counter(ds["train"]["source"])
    assert set(counts) == {"nli", "shared_words"}
    assert 0.70 < counts["nli"] / 2000 < 0.80  # probability 3/4
    assert ds["train"]["source"][:20] != sorted(ds["train"]["source"][:20])  # interleaved, not concatenated
    assert ds["train"].features == row_features("chat")


def test_a_template_component_gives_the_template_builders_own_rows(cache_dir):
    mixed = load_dataset("mixture", weights={"nli": 1, "sort_words": 1}, num_examples=200, seed=3, split="train",
                         cache_dir=cache_dir)
    alone = load_dataset("cookbook", "nli", num_examples=200, seed=3, split="train", cache_dir=cache_dir)
    mine = mixed.filter(lambda r: r["source"] == "nli")
    assert 0 < len(mine) < 200
    assert mine["prompt"] == alone["prompt"][:len(mine)] and mine["completion"] == alone["completion"][:len(mine)]


@pytest.mark.parametrize("stopping_strategy", ["first_exhausted", "all_exhausted"])
def test_finite_parts_mix_exactly_as_datasets_interleave_datasets(user_data, cache_dir, stopping_strategy):
    mixed = load_dataset("mixture", weights={"small": 1, "large": 3}, components={n: str(d) for n, d in user_data.items()},
                         num_examples=None, seed=11, stopping_strategy=stopping_strategy, split="train",
                         cache_dir=cache_dir)
    parts = [datasets.load_dataset(str(user_data[n]), split="train") for n in ("small", "large")]
    reference = datasets.interleave_datasets(parts, probabilities=[0.25, 0.75], seed=11,
                                             stopping_strategy=stopping_strategy)
    assert mixed["prompt"] == reference["prompt"] and mixed["completion"] == reference["completion"]
    assert mixed["meta"] == reference["meta"]
    tags = [p[0]["content"].split()[0] for p in mixed["prompt"]]
    assert mixed["source"] == tags  # the component's name, not the rows' original source
    if stopping_strategy == "first_exhausted":
        assert Counter(tags)["small"] == 7 or Counter(tags)["large"] == 30
    else:
        assert Counter(tags)["small"] >= 7 and Counter(tags)["large"] >= 30


def test_templates_mix_with_a_users_rows_and_num_examples_caps_the_length(user_data, cache_dir):
    ds = load_dataset("mixture", weights={"nli": 1, "mine": 1}, components={"mine": str(user_data["large"])},
                      num_examples=40, stopping_strategy="all_exhausted", seed=0, cache_dir=cache_dir)
    assert list(ds) == ["train"]  # the user's data has only a train split
    assert len(ds["train"]) == 40 and set(ds["train"]["source"]) == {"nli", "mine"}
    short = load_dataset("mixture", weights={"nli": 1, "mine": 9}, components={"mine": str(user_data["small"])},
                         num_examples=1000, stopping_strategy="first_exhausted", split="train", cache_dir=cache_dir)
    assert Counter(short["source"])["mine"] == 7 and len(short) < 1000  # stopped when the user's rows ran out


def test_num_proc_does_not_change_the_rows(tmp_path):
    kwargs = dict(weights={"nli": 2, "reverse_words": 1, "shared_words": 1}, num_examples=3000, seed=5)
    one = Mixture(cache_dir=str(tmp_path / "a"), **kwargs)
    one.download_and_prepare(num_proc=1)
    two = Mixture(cache_dir=str(tmp_path / "b"), **kwargs)
    two.download_and_prepare(num_proc=2)
    for split in ("train", "validation"):
        a, b = one.as_dataset(split), two.as_dataset(split)
        assert a["prompt"] == b["prompt"] and a["source"] == b["source"]


def test_a_template_mixture_streams_without_end():
    stream = load_dataset("mixture", weights={"nli": 1, "sort_words": 1}, num_examples=None, streaming=True,
                          split="train")
    rows = list(itertools.islice(stream, 2500))  # past the first block of 1000 draws
    assert len(rows) == 2500 and {r["source"] for r in rows} == {"nli", "sort_words"}
    bounded = load_dataset("mixture", weights={"nli": 1, "sort_words": 1}, num_examples=2500, split="train")
    assert [r["prompt"] for r in rows] == bounded["prompt"]


def test_the_cache_is_keyed_by_every_weight_and_parameter(tmp_path):
    def cache_dir_of(**kw):
        return Mixture(cache_dir=str(tmp_path), num_examples=50, **kw).cache_dir

    base = cache_dir_of(weights={"nli": 1, "sort_words": 1})
    assert cache_dir_of(weights={"nli": 1, "sort_words": 1}) == base
    assert cache_dir_of(weights={"nli": 1, "sort_words": 2}) != base
    assert cache_dir_of(weights={"nli": 1, "sort_words": 1}, params={"nli": {"premise_length": 8}}) != base
    assert cache_dir_of(weights={"nli": 1, "sort_words": 1}, seed=1) != base


def test_one_template_can_take_part_twice_with_other_parameters(cache_dir):
    ds = load_dataset("mixture", weights={"short": 1, "long": 1}, split="train", num_examples=60, cache_dir=cache_dir,
                      components={"short": {"template": "nli", "premise_length": 4, "hypothesis_length": 2},
                                  "long": {"template": "nli", "premise_length": 20}})
    lengths = {s: {len(json.loads(m)["inputs"]["premise"]) for m, src in zip(ds["meta"], ds["source"]) if src == s}
               for s in ("short", "long")}
    assert lengths == {"short": {4}, "long": {20}}


def test_a_learned_mix_file_is_read_with_its_weights_and_parameters(tmp_path, cache_dir):
    path = write_mix(tmp_path / "mix.json", {"nli": 0.7, "sort_words": 0.3}, params={"nli": {"premise_length": 6}},
                     method="uniform")
    from_file = load_dataset("mixture", weights=str(path), num_examples=80, split="train", cache_dir=cache_dir)
    direct = load_dataset("mixture", weights={"nli": 0.7, "sort_words": 0.3}, params={"nli": {"premise_length": 6}},
                          num_examples=80, split="train", cache_dir=cache_dir)
    assert from_file["prompt"] == direct["prompt"]
    out = generate(["nli", "sort_words"], tmp_path / "gen", num_examples=80, mixture=path, cache_dir=cache_dir,
                   params={"nli": {"premise_length": 6}}, recipe_model="tiny-random")
    assert datasets.load_dataset(str(out), "mixture", split="train")["prompt"] == direct["prompt"]


@pytest.mark.parametrize("kwargs, message", [
    ({"weights": {"nil": 1}}, "Did you mean 'nli'"),
    ({"weights": {"nli": -1, "sort_words": 1}}, "negative"),
    ({"weights": {"nli": 0, "sort_words": 0}}, "all weights are zero"),
    ({"weights": {}}, "non-empty"),
    ({"weights": {"nli": 1}, "stopping_strategy": "longest"}, "first_exhausted"),
    ({"weights": {"nli": 1}, "params": {"sort_words": {"length": 3}}}, "has no weight"),
    ({"weights": {"nli": 1}, "params": {"nli": {"premise_lenght": 3}}}, "premise_length"),
    ({"weights": {"nli": 1}, "premise_length": 3}, "params={component"),
    ({"weights": None}, "give weights="),
])
def test_bad_mixtures_are_refused_with_what_is_allowed(kwargs, message, tmp_path):
    with pytest.raises((ValueError, TypeError)) as err:
        Mixture(cache_dir=str(tmp_path), **kwargs)
    assert message in str(err.value)
    assert not any(tmp_path.iterdir())  # nothing written


def test_unknown_component_lists_the_valid_ones():
    with pytest.raises(UnknownComponentError, match="nli, paraphrase_detection"):
        Mixture(weights={"nope": 1})


def test_a_component_outside_the_row_schema_is_named_with_its_missing_column(tmp_path):
    bad = datasets.Dataset.from_dict({"question": ["q"], "answer": ["a"]})
    write_hub_layout({"default": datasets.DatasetDict({"train": bad})}, tmp_path / "bad", recipes={"default": {}})
    with pytest.raises(ValueError, match=r"component 'theirs'.*no column 'prompt'"):
        Mixture(weights={"nli": 1, "theirs": 1}, components={"theirs": str(tmp_path / "bad")})
    # strings and message lists convert into either format (test_frictions_own_task.py); other types are named
    lists = datasets.Dataset.from_dict({"prompt": [["q"]] * 3, "completion": [["a"]] * 3})
    odd = write_hub_layout({"default": datasets.DatasetDict({"train": lists})}, tmp_path / "odd", recipes={"default": {}})
    with pytest.raises(ValueError, match=r"component 'mine': column 'prompt'.*'text' mixture"):
        Mixture(weights={"mine": 1}, components={"mine": str(odd)}, format="text")


def test_mix_files_from_another_version_or_for_unknown_templates_are_refused(tmp_path):
    path = write_mix(tmp_path / "mix.json", {"nli": 1.0})
    data = json.loads(path.read_text())
    (tmp_path / "v2.json").write_text(json.dumps({**data, "version": 2}))
    with pytest.raises(ValueError, match="version 2.*reads version 1"):
        read_mix(tmp_path / "v2.json")
    (tmp_path / "other.json").write_text(json.dumps({**data, "weights": {"nli": 1, "poem_meter": 2}}))
    with pytest.raises(ValueError, match="poem_meter"):
        Mixture(weights=str(tmp_path / "other.json"))
    (tmp_path / "junk.json").write_text("{}")
    with pytest.raises(ValueError, match="not a Cookbook-Mix file"):
        read_mix(tmp_path / "junk.json")


def test_generate_writes_a_trl_recipe_for_the_mixture(tmp_path, cache_dir):
    out = generate(["nli", "sort_words"], tmp_path / "out", num_examples=40, mixture={"nli": 1, "sort_words": 1},
                   cache_dir=cache_dir, recipe_model="tiny-random")
    recipe = yaml.safe_load((out / "sft_recipe.yaml").read_text())
    # the mixture config's train files, relative to the recipe's directory (where `trl sft` runs)
    assert recipe["datasets"] == [{"path": "parquet", "data_files": "mixture/train-00000-of-00001.parquet",
                                   "split": "train", "columns": ["prompt", "completion"]}]
    # tiny-random has no public id: its local directory, and the header says so
    assert Path(recipe["model_name_or_path"]).is_dir() and recipe["use_peft"] is True
    assert "a directory on the machine that wrote this recipe" in (out / "sft_recipe.yaml").read_text()
    card = (out / "README.md").read_text()
    assert "probabilities" in card and "first_exhausted" in card  # the card records how the mixture was drawn


@pytest.mark.skipif(not __import__("shutil").which("trl"), reason="the trl command is not installed")
def test_trl_sft_runs_the_written_recipe_as_it_is(tmp_path, cache_dir):
    out = generate(["nli", "sort_words"], tmp_path / "out", num_examples=24, mixture={}, cache_dir=cache_dir,
                   recipe_model="tiny-random")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "CUDA_VISIBLE_DEVICES": "",
           "HF_DATASETS_CACHE": str(tmp_path / "hf_cache")}
    # run from the recipe's directory, as its header says (TRL reads `datasets:` paths from its working dir)
    result = subprocess.run(["trl", "sft", "--config", "sft_recipe.yaml", "--max_steps", "2",
                             "--per_device_train_batch_size", "2", "--output_dir", str(tmp_path / "trained")],
                            capture_output=True, text=True, env=env, timeout=600, cwd=out)
    assert result.returncode == 0, result.stderr[-3000:]
    assert (tmp_path / "trained" / "adapter_config.json").exists()


def test_another_builder_of_this_package_is_a_component(cache_dir):
    ds = load_dataset("mixture", weights={"nli": 1, "sorted": 1}, num_examples=None, split="train", cache_dir=cache_dir,
                      components={"sorted": {"path": "cookbook", "name": "sort_words", "num_examples": 10,
                                             "num_eval_examples": 2}})
    counts = Counter(ds["source"])
    assert counts["sorted"] == 10  # first_exhausted: the finite builder's 10 train rows, then the mixture ends
    alone = load_dataset("cookbook", "sort_words", num_examples=10, num_eval_examples=2, split="train",
                         cache_dir=cache_dir)
    assert ds.filter(lambda r: r["source"] == "sorted")["prompt"] == alone["prompt"]
