"""`mix learn` mixes the templates with your own rows, SELF-GUIDE's output and augmentation's output."""

import json
import logging
from collections import Counter

import datasets
import pytest

from cookbook_datasets import load_dataset
from cookbook_datasets.augmentation.pipeline import to_dataset
from cookbook_datasets.cli import main
from cookbook_datasets.hub_layout import write_hub_layout
from cookbook_datasets.mixing import MixLearnConfig, learn, read_mix
from cookbook_datasets.mixing.user_components import parse_component_arg
from cookbook_datasets.self_guide.config import SelfGuideConfig
from cookbook_datasets.self_guide.pipeline import to_dataset_dict
from cookbook_datasets.tasks import define_task


def _row(prompt: str, answer: str) -> dict:
    return {"prompt": [{"role": "user", "content": prompt}], "completion": [{"role": "assistant", "content": answer}],
            "source": "mine", "meta": "{}"}


@pytest.fixture
def task(tmp_path):
    """A yes/no task whose inputs carry field names no dev file uses."""
    instances = [{"input": f"Claim ({i}): the lamp is lit.\nEvidence ({i}): the lamp is {'lit' if i % 2 else 'dark'}.",
                  "output": ["yes" if i % 2 else "no"]} for i in range(40)]
    data = {"Definition": ["Does the evidence support the claim? Answer yes or no."],
            "Positive Examples": instances[:2], "Instances": instances[2:]}
    path = tmp_path / "toy_claims.json"
    path.write_text(json.dumps(data))
    return path


@pytest.fixture
def three_kinds(tmp_path):
    """Your file, a SELF-GUIDE output directory and an augmentation output directory, as each writes them."""
    own = tmp_path / "own.jsonl"
    own.write_text("\n".join(json.dumps(_row(f"my question {i}", f"my answer {i}")) for i in range(6)))
    spec = define_task(instruction="Answer yes or no.", examples=[{"input": "a?", "output": "yes"}],
                       labels=["yes", "no"], name="claims")
    pairs = [{"input": f"synthetic input {i}", "output": "yes" if i % 2 else "no", "round": 0, "vote_share": 1.0,
              "label": None, "target_label": None} for i in range(8)]
    self_guide = tmp_path / "self_guide" / "claims" / "data"
    write_hub_layout({"claims": to_dataset_dict(pairs, spec, SelfGuideConfig())}, self_guide, {"claims": {}})
    aug_rows = [{**_row(f"rephrased question {i}", f"answer {i}"), "source": "augmentation/question_rephrase"}
                for i in range(5)]
    augmented = tmp_path / "aug"
    write_hub_layout({"question_rephrase": datasets.DatasetDict({"train": to_dataset(aug_rows)})}, augmented,
                     {"question_rephrase": {}})
    return own, self_guide, augmented


def test_uniform_mixes_templates_with_your_file_self_guide_and_augmentation_output(task, three_kinds, tmp_path,
                                                                                   capsys):
    own, self_guide, augmented = three_kinds
    out = tmp_path / "mix"
    assert main(["mix", "learn", "--tasks", str(task), "--templates", "nli", "--no-model", "--method", "uniform",
                 "--fit-size", "20", "--eval-size", "10", "--num-examples", "200", "--out", str(out),
                 "--component", f"mine={own}", "--component", f"synthetic={self_guide}@claims",
                 "--component", f"rephrased={augmented}"]) == 0
    mix = read_mix(out / "mix.json")
    assert {"mine", "synthetic", "rephrased"} <= set(mix["weights"])
    assert mix["weights"]["mine"] == pytest.approx(mix["weights"]["synthetic"]) == pytest.approx(0.2)  # 5 parts
    assert mix["user_components"] == ["mine", "synthetic", "rephrased"]
    assert mix["components"]["synthetic"] == {"path": str(self_guide), "name": "claims", "repeat": True}
    rows = load_dataset("mixture", weights=str(out / "mix.json"), num_examples=200, split="train")
    counts = Counter(rows["source"])
    # each kind takes part at its weight, wrapping around its few rows instead of ending the mixture
    assert len(rows) == 200 and counts["mine"] > 6 and counts["synthetic"] > 8 and counts["rephrased"] > 5
    mine = {p[0]["content"] for p, s in zip(rows["prompt"], rows["source"]) if s == "mine"}
    assert mine == {f"my question {i}" for i in range(6)}
    synthetic = [c[0]["content"] for c, s in zip(rows["completion"], rows["source"]) if s == "synthetic"]
    assert set(synthetic) == {"yes", "no"}
    assert "Your components (mine, synthetic, rephrased)" in (out / "report.md").read_text()


def test_rules_keeps_your_component_and_says_it_cannot_measure_it(task, three_kinds, tmp_path, caplog):
    own, _, _ = three_kinds
    with caplog.at_level(logging.WARNING, logger="cookbook_datasets.mixing.learn"):
        mix = learn(MixLearnConfig(tasks=[str(task)], out=str(tmp_path / "m"), templates=["nli"], use_model=False,
                                   fit_size=20, eval_size=10, num_examples=50, components={"mine": str(own)}))
    assert "mine" in mix["weights"] and "mine" in mix["signals"]["components"]
    assert "rules cannot measure your components (mine)" in caplog.text


def test_a_component_outside_the_row_schema_fails_before_anything_is_written(task, tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"question": "q", "answer": "a"}))
    out = tmp_path / "m"
    with pytest.raises(ValueError, match="mixture component 'mine'.*no column 'prompt'"):
        learn(MixLearnConfig(tasks=[str(task)], out=str(out), templates=["nli"], use_model=False,
                             components={"mine": str(bad)}))
    assert not (out / "mix.json").exists()


@pytest.mark.parametrize("components, message", [
    ({"nli": "x.jsonl"}, "is a template's name"),
    ({"demos[t]": "x.jsonl"}, "protecting components"),
    ({"mine": {"template": "nli"}}, "templates are chosen by `templates`"),
    ({"mine": ""}, "give a data reference"),
])
def test_bad_component_names_and_specs_are_refused(task, tmp_path, components, message):
    with pytest.raises(ValueError, match=message):
        MixLearnConfig(tasks=[str(task)], out=str(tmp_path / "m"), components=components)


def test_the_cli_component_syntax():
    assert parse_component_arg("mine=data/own.jsonl") == ("mine", {"path": "data/own.jsonl"})
    assert parse_component_arg("sg=runs/sg/task/data@task") == ("sg", {"path": "runs/sg/task/data", "name": "task"})
    for bad in ("mine", "=x.jsonl", "mine=", "mine=dir@"):
        with pytest.raises(ValueError, match="--component"):
            parse_component_arg(bad)


def test_the_cli_names_a_component_given_twice(task, tmp_path, capsys):
    assert main(["mix", "learn", "--tasks", str(task), "--no-model", "--out", str(tmp_path / "m"),
                 "--component", "a=x.jsonl", "--component", "a=y.jsonl"]) != 0
    assert "given twice" in capsys.readouterr().err
