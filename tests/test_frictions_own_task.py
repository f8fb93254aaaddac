"""What a new user meets with their own task and their own rows: each behaviour, specified.

Recipes that work on another machine, a learned mix used the way the CLI says, own rows as plain
strings, a failed `mix learn` that does not block its retry, mixtures that give the rows asked,
unlabelled instances counted, the split scored named, headers that tell the truth, the
recommender's extrapolation said, and a quiet, honest `demo` re-run.
"""

import json
import logging
import os
import random
import re
import shutil
import tempfile
import warnings
from collections import Counter
from pathlib import Path

import datasets
import pytest
import yaml

from cookbook_datasets import load_dataset
from cookbook_datasets.cli import main
from cookbook_datasets.mixing import MixLearnConfig, learn, read_mix
from cookbook_datasets.models import DEFAULT_MODEL_HUB_ID, cache_root
from cookbook_datasets.template_data import generate

WORDS = ("river stone lamp garden silver window tiger candle forest mirror violin harbor pepper rocket meadow "
         "saddle lantern orchid canyon falcon").split()


def _nli_task(path: Path, n: int = 70) -> Path:
    """An NIV2 NLI task whose labels (E/N/C) follow the word-overlap rule."""
    rng = random.Random(0)

    def item():
        premise = rng.sample(WORDS, 8)
        label = rng.choice("ENC")
        inside = {"E": 3, "N": 1, "C": 0}[label]
        hyp = rng.sample(premise, inside) + rng.sample([w for w in WORDS if w not in premise], 3 - inside)
        return {"input": f"Premise: The {' '.join(premise)}.\nHypothesis: A {' '.join(hyp)}.", "output": [label]}

    path.write_text(json.dumps({"Definition": ["Answer E (entailment), N (neutral) or C (contradiction)."],
                                "Positive Examples": [item() for _ in range(3)],
                                "Instances": [item() for _ in range(n)]}))
    return path


def _string_rows(path: Path, n: int = 5) -> Path:
    """Own rows as most people write them: plain prompt and completion strings."""
    path.write_text("\n".join(json.dumps({"prompt": f"my question {i}", "completion": f"my answer {i}"})
                              for i in range(n)))
    return path


def _strings_in(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings_in(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings_in(v)


# -- 2. the TRL recipe ----------------------------------------------------------------------------
def test_a_written_trl_recipe_holds_no_path_of_this_machine_and_loads_from_its_own_directory(tmp_path, cache_dir,
                                                                                            monkeypatch):
    from trl.scripts.utils import DatasetMixtureConfig, get_dataset

    out = generate(["nli", "sort_words"], tmp_path / "out", num_examples=20, mixture={}, cache_dir=cache_dir)
    text = (out / "sft_recipe.yaml").read_text()
    recipe = yaml.safe_load(text)
    for here in (str(tmp_path), os.path.expanduser("~"), tempfile.gettempdir(), str(cache_root())):
        assert here not in text
    assert not [s for s in _strings_in(recipe) if os.path.isabs(s)]
    assert recipe["model_name_or_path"] == DEFAULT_MODEL_HUB_ID  # the default model's public id, not a cache dir
    # TRL's sft script hands each entry to datasets.load_dataset as it is, so relative paths are read from
    # the directory it runs in: the header says to run it from the recipe's directory
    assert "run it from the directory holding this file" in text and "trl sft --config sft_recipe.yaml" in text
    # pushed or copied elsewhere under another name, it still loads, the way `trl sft` loads it
    elsewhere = tmp_path / "another" / "machine" / "downloaded-repo"
    shutil.copytree(out, elsewhere)
    shutil.rmtree(out)
    monkeypatch.chdir(elsewhere)
    recipe = yaml.safe_load(Path("sft_recipe.yaml").read_text())
    trained_on = get_dataset(DatasetMixtureConfig(datasets=recipe["datasets"]))["train"]
    written = datasets.load_dataset(str(elsewhere), "mixture", split="train")
    assert trained_on.column_names == ["prompt", "completion"] and len(trained_on) == len(written) > 0
    assert trained_on["prompt"] == written["prompt"]


# -- 3. a learned mix used as the CLI says ----------------------------------------------------------
def test_a_learned_mix_with_demonstrations_and_own_rows_is_used_the_way_mix_learn_says(tmp_path, capsys):
    task, own = _nli_task(tmp_path / "toy_nli.json"), _string_rows(tmp_path / "own.jsonl")
    out = tmp_path / "mix"
    assert main(["mix", "learn", "--tasks", str(task), "--templates", "nli", "shared_words", "--no-model",
                 "--fit-size", "30", "--eval-size", "20", "--num-examples", "60", "--component", f"mine={own}",
                 "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    mix = read_mix(out / "mix.json")
    assert "demos[toy_nli]" in mix["weights"] and "mine" in mix["weights"]
    # the commands it prints work as printed
    assert f"cd {out / 'data'} && trl sft --config sft_recipe.yaml" in printed
    call = re.search(r"cookbook_datasets\.load_dataset\('mixture', weights='([^']+)', num_examples=N\)", printed)
    assert call and Path(call.group(1)) == out / "mix.json"
    rows = load_dataset("mixture", weights=call.group(1), num_examples=80, split="train")
    assert len(rows) == 80 and set(rows["source"]) <= set(mix["weights"])
    # and `cookbook generate TEMPLATES --mix mix.json` takes the demonstrations and own rows along
    plain = [n for n in mix["weights"] if n not in mix["components"]] or ["nli"]
    written = generate(plain, tmp_path / "generated", num_examples=40, mixture=str(out / "mix.json"),
                       recipe_model="tiny-random")
    mixed = datasets.load_dataset(str(written), "mixture", split="train")
    assert len(mixed) == 40 and set(mixed["source"]) <= set(mix["weights"])
    with pytest.raises(ValueError, match="'sort_words', which is not among the generated templates.*add it"):
        generate(["nli"], tmp_path / "refused", num_examples=10, mixture={"nli": 1, "sort_words": 1})


# -- 4. own rows as plain strings --------------------------------------------------------------------
def test_own_rows_as_plain_strings_join_a_chat_mixture_as_messages(tmp_path):
    own = _string_rows(tmp_path / "own.jsonl")
    rows = load_dataset("mixture", weights={"nli": 1, "mine": 1}, components={"mine": str(own)}, num_examples=30,
                        stopping_strategy="all_exhausted", split="train")
    mine = [(p, c) for p, c, s in zip(rows["prompt"], rows["completion"], rows["source"]) if s == "mine"]
    assert mine and all(p == [{"role": "user", "content": p[0]["content"]}] for p, _ in mine)
    assert {p[0]["content"] for p, _ in mine} <= {f"my question {i}" for i in range(5)}
    assert all(c == [{"role": "assistant", "content": c[0]["content"].replace("question", "answer")}]
               and c[0]["content"].startswith("my answer") for _, c in mine)
    # mix learn takes the same file (as `cookbook train` does)
    config = MixLearnConfig(tasks=[str(_nli_task(tmp_path / "toy_nli.json"))], out=str(tmp_path / "m"),
                            templates=["nli"], use_model=False, fit_size=30, eval_size=10, num_examples=40,
                            components={"mine": str(own)})
    assert "mine" in learn(config)["weights"]


def test_message_rows_join_a_text_mixture_as_their_contents(tmp_path):
    chat = tmp_path / "chat.jsonl"
    chat.write_text("\n".join(json.dumps({"prompt": [{"role": "user", "content": f"q{i}"}],
                                          "completion": [{"role": "assistant", "content": f"a{i}"}]})
                              for i in range(4)))
    rows = load_dataset("mixture", weights={"nli": 1, "mine": 1}, components={"mine": str(chat)}, num_examples=20,
                        format="text", stopping_strategy="all_exhausted", split="train")
    mine = [(p, c) for p, c, s in zip(rows["prompt"], rows["completion"], rows["source"]) if s == "mine"]
    assert mine and all(p in {f"q{i}" for i in range(4)} and c == "a" + p[1:] for p, c in mine)
    assert rows.features["prompt"] == datasets.Value("string")


# -- 5. a failed mix learn does not block its retry --------------------------------------------------------
def test_a_mix_learn_that_failed_on_a_bad_component_is_retried_into_the_same_out(tmp_path):
    task = _nli_task(tmp_path / "toy_nli.json")
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"question": "q", "answer": "a"}))
    out = tmp_path / "m"
    settings = dict(tasks=[str(task)], out=str(out), templates=["nli"], use_model=False, fit_size=30, eval_size=10,
                    num_examples=40)
    with pytest.raises(ValueError, match="mixture component 'mine'.*no column 'prompt'"):
        learn(MixLearnConfig(**settings, components={"mine": str(bad)}))
    good = _string_rows(tmp_path / "good.jsonl")
    mix = learn(MixLearnConfig(**settings, components={"mine": str(good)}))  # the same --out, other settings
    assert "mine" in mix["weights"] and (out / "mix.json").exists()
    with pytest.raises(ValueError, match="other settings"):  # finished work with other settings is still protected
        learn(MixLearnConfig(**{**settings, "fit_size": 31}, components={"mine": str(good)}))


def test_settings_left_by_a_run_that_did_no_work_do_not_block_another(tmp_path):
    task = _nli_task(tmp_path / "toy_nli.json")
    out = tmp_path / "m"
    (out / "work").mkdir(parents=True)
    (out / "work" / "config.json").write_text(json.dumps({"tasks": ["elsewhere.json"], "fit_size": 5}))
    mix = learn(MixLearnConfig(tasks=[str(task)], out=str(out), templates=["nli"], use_model=False, fit_size=30,
                               eval_size=10, num_examples=40))
    assert mix["weights"]


# -- 6. the rows asked -------------------------------------------------------------------------------
def test_all_exhausted_gives_the_rows_asked_and_a_short_first_exhausted_mixture_says_why(tmp_path, caplog):
    own = _string_rows(tmp_path / "own.jsonl", n=5)
    kwargs = dict(weights={"nli": 1, "mine": 1}, components={"mine": str(own)}, num_examples=400, split="train")
    full = load_dataset("mixture", stopping_strategy="all_exhausted", **kwargs)
    assert len(full) == 400 and Counter(full["source"])["mine"] > 5  # the 5 rows wrap around
    with caplog.at_level(logging.WARNING):
        short = load_dataset("mixture", stopping_strategy="first_exhausted", **kwargs)
    assert len(short) < 400
    assert f"has {len(short)} rows, not the 400 asked" in caplog.text and "'mine' (5 rows) ran out" in caplog.text
    from cookbook_datasets.loading import load_builder

    builder = load_builder("mixture", "mixture", stopping_strategy="first_exhausted",
                           **{k: v for k, v in kwargs.items() if k != "split"})
    recorded = builder.recipe()["short_splits"]["train"]  # what the card's recipe holds
    assert recorded["rows"] == len(short) and recorded["asked"] == 400 and "all_exhausted" in recorded["why"]


# -- 7. unlabelled instances are counted, a malformed file named -------------------------------------
def test_unlabelled_instances_are_kept_but_every_scorer_says_how_many_it_left_out(tmp_path, tiny_model, caplog):
    from cookbook_datasets.eval import EvalConfig, evaluate_model
    from cookbook_datasets.tasks import TaskFormatError, load_task, split_fit_eval

    instances = [{"input": f"review {i}: {'good' if i % 2 else 'bad'}", "output": "positive" if i % 2 else "negative"}
                 for i in range(6)] + [{"input": "review 6: unknown"}]
    path = tmp_path / "reviews.json"
    path.write_text(json.dumps({"instruction": "Positive or negative?", "labels": ["positive", "negative"],
                                "examples": [{"input": "great", "output": "positive"}], "instances": instances}))
    assert len(load_task(path).instances) == 7  # unlabelled instances are a feature (SELF-GUIDE reads them)
    model, tokenizer = tiny_model
    with caplog.at_level(logging.WARNING):
        results = evaluate_model(EvalConfig(model="tiny-random", tasks=[str(path)]), out=tmp_path / "r.json",
                                 model=model, tokenizer=tokenizer)
    scored = results["tasks"]["reviews"]
    assert scored["num_examples"] == 6 and scored["unlabelled_skipped"] == 1
    assert "reviews: 1 of 7 instances have no output (unlabelled) and were not scored" in caplog.text
    assert "1 instance(s) without an output (unlabelled) not scored" in (tmp_path / "r.md").read_text()
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        split_fit_eval(load_task(path), fit_size=3, eval_size=3)
    assert "1 of 7 instances have no output (unlabelled)" in caplog.text
    # where an output is required (NIV2), its absence names the file, the record and the field
    niv2 = tmp_path / "niv2.json"
    niv2.write_text(json.dumps({"Definition": ["d"], "Positive Examples": [],
                                "Instances": [{"id": "a", "input": "x", "output": ["y"]}, {"id": "b", "input": "x"}]}))
    with pytest.raises(TaskFormatError, match=r"niv2.json: Instances\[1\] is missing the field 'output'"):
        load_task(niv2)


# -- 8. the split scored is named ---------------------------------------------------------------------
def test_cookbook_eval_names_the_split_it_scored(tmp_path, tiny_model, capsys):
    rows = tmp_path / "reviews.csv"
    rows.write_text("input,output\n" + "".join(f"review {i},{'positive' if i % 2 else 'negative'}\n"
                                                for i in range(4)))
    out = tmp_path / "r.json"
    assert main(["eval", "--model", "tiny-random", "--tasks", str(rows), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert f"- reviews: {rows}, split train (its only split" in printed
    assert "split train (its only split" in out.with_suffix(".md").read_text()


# -- 9. mix signals' header ---------------------------------------------------------------------------
def test_mix_signals_says_the_model_ran_when_it_ran(tmp_path, tiny_model, capsys):
    generation = tmp_path / "toy_rewrite.json"  # no template maps to it: no alignment to show, yet the model ran
    generation.write_text(json.dumps({
        "Definition": ["Rewrite the sentence."], "Positive Examples": [{"input": "a b", "output": "b a"}] * 2,
        "Instances": [{"input": f"sentence number {i} to rewrite", "output": [f"rewritten {i}"]} for i in range(30)]}))
    assert main(["mix", "signals", "--tasks", str(generation), "--templates", "nli", "--model", "tiny-random",
                 "--fit-size", "6", "--eval-size", "4", "--out", str(tmp_path / "s")]) == 0
    printed = capsys.readouterr().out
    assert "skipped: --no-model" not in printed and "the untuned model's alignment" in printed
    assert "Untuned model on the fit rows" in printed
    assert main(["mix", "signals", "--tasks", str(generation), "--templates", "nli", "--no-model",
                 "--fit-size", "6", "--eval-size", "4", "--out", str(tmp_path / "s2")]) == 0
    assert "(skipped: --no-model)" in capsys.readouterr().out


# -- 10. the model runs by default, and the log says so ---------------------------------------------------
def test_mix_learn_says_at_the_start_that_it_runs_the_model_and_how_to_skip_it(tmp_path, caplog, monkeypatch):
    import importlib

    learn_module = importlib.import_module("cookbook_datasets.mixing.learn")  # the package's `learn` is the function

    def stop(config):
        raise RuntimeError("stopped after the first stage")

    monkeypatch.setattr(learn_module, "check_user_components", stop)
    config = MixLearnConfig(tasks=[str(_nli_task(tmp_path / "t.json"))], out=str(tmp_path / "m"), method="rules")
    with caplog.at_level(logging.INFO, logger="cookbook_datasets.mixing.learn"), pytest.raises(RuntimeError):
        learn(config)
    assert "runs the model smollm2-135m on every task's fit rows" in caplog.text
    assert "use_model=False (CLI --no-model) skips it" in caplog.text
    assert "--no-model" in MixLearnConfig.__dataclass_fields__["use_model"].metadata["help"]


# -- 12. the recommender says extrapolated ------------------------------------------------------------------
@pytest.mark.parametrize("seed_size, basis", [(60, "extrapolated: |S| = 60 is below"), (100, "measured"),
                                              (300, "interpolated"), (20000, "extrapolated: |S| = 20,000 is above")])
def test_the_recommender_says_when_it_extrapolates_the_switch_point(seed_size, basis, capsys):
    assert main(["augment", "recommend", "--seed-size", str(seed_size), "--budget", "1000"]) == 0
    reason = next(line for line in capsys.readouterr().out.splitlines() if "switch point for |S|" in line)
    assert basis in reason
    assert ("interpolated" in reason) == (basis == "interpolated")


# -- 13. the demo, quiet and honest when it resumes -----------------------------------------------------
def test_template_tasks_are_made_without_a_bar_per_split(capsys):
    from cookbook_datasets.tasks import load_task

    load_task("reverse_words", num_examples=7, seed=424242)  # rows no other test made: generated now
    assert "Generating" not in capsys.readouterr().err


def test_a_resumed_demo_reuses_the_trained_adapter_without_a_trainer(tiny_model, tmp_path, capsys, monkeypatch):
    import cookbook_datasets.trainers as trainers

    out = tmp_path / "demo"
    argv = ["demo", "--out", str(out), "--model", "tiny-random", "--templates", "nli", "--max-steps", "2",
            "--eval-examples", "3"]
    assert main(argv) == 0
    assert "Trained 2 steps" in capsys.readouterr().out

    def no_trainer(*a, **kw):
        raise AssertionError("the finished adapter must be reused, not trained again")

    monkeypatch.setattr(trainers, "train", no_trainer)
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert f"Reused the trained adapter in {out / 'adapter'} (trained earlier: 2 steps" in printed
    assert "Trained" not in printed and json.loads((out / "summary.json").read_text())["train"]["reused"] is True
    # peft reads transformers' deprecated is_gradient_checkpointing when it wraps a model: not shown to users
    from cookbook_datasets.models import load_model

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        load_model("tiny-random", adapter=str(out / "adapter"))
    assert not [w for w in caught if "is_gradient_checkpointing" in str(w.message)]
