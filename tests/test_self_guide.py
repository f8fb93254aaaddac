"""SELF-GUIDE: each stage alone, the checkpointed pipeline, the builder and the command.

Stage and pipeline tests drive the pipeline with a scripted engine (the engine interface, answering
by rule), so that what each filter keeps is known exactly; the builder and the command run the
real transformers backend on the tiny random model.
"""

import dataclasses
import json
import os
import re

import pytest

from cookbook_datasets.generation import Engine, GenerationOutput
from cookbook_datasets.generation.params import Completion
from cookbook_datasets.self_guide import SelfGuideConfig, synthesize
from cookbook_datasets.self_guide.annotation import annotate, annotation_prompt
from cookbook_datasets.self_guide.balancing import balance_classes
from cookbook_datasets.self_guide.input_filters import filter_inputs, length_window
from cookbook_datasets.self_guide.input_generation import generate_inputs, input_prompt, round_rng
from cookbook_datasets.self_guide.pipeline import recipe
from cookbook_datasets.tasks import TaskFormatError, define_task, load_task, task_definition

NLI_EXAMPLES = [{"input": "Premise: a dog runs. Hypothesis: an animal moves.", "output": "yes"},
                {"input": "Premise: it is dark. Hypothesis: the sun is up.", "output": "no"}]
NLI = define_task(instruction="Does the premise entail the hypothesis? Answer yes or no.", examples=NLI_EXAMPLES,
                  labels=["yes", "no"], name="toy_nli")


class ScriptedEngine(Engine):
    """The engine interface answering by rule: ``write(messages, params, prompt_index, sample)``."""

    name = "scripted"

    def __init__(self, write):
        self.write, self.calls = write, []

    def _generate(self, prompts, params, *, desc):
        self.calls.append((desc, len(prompts)))
        return [GenerationOutput([Completion(self.write(p, params, i, s), "stop") for s in range(params.n)])
                for i, p in enumerate(prompts)]


def nli_writer(fail_on_round=None):
    """Inputs: a premise/hypothesis numbered by round and prompt, answers: 'yes' for even numbers."""
    def write(messages, params, i, sample):
        ask = messages[-1]["content"]
        if ask.startswith("Write a new input") or "Inputs written before" in ask:
            round_no = int(re.search(r"round (\d+)", write.desc).group(1)) if hasattr(write, "desc") else 0
            if fail_on_round is not None and round_no == fail_on_round:
                raise KeyboardInterrupt("killed")
            return f"Premise: item {params.seed % 1000} {i} is here. Hypothesis: item {i} exists."
        found = re.search(r"item \d+ (\d+)", ask)
        if found is None:  # a content-free input: the model's bias speaks
            return "yes"
        return "The answer is yes." if int(found.group(1)) % 2 == 0 else "no"
    return write


class RoundAwareEngine(ScriptedEngine):
    def _generate(self, prompts, params, *, desc):
        self.write.desc = desc
        return super()._generate(prompts, params, desc=desc)


# -- the task ---------------------------------------------------------------------------------
def test_niv2_task_reads_definition_demonstrations_and_label_set_only(tmp_path):
    path = tmp_path / "task1_toy.json"
    path.write_text(json.dumps({
        "Definition": ["Classify."], "Positive Examples": [{"input": f"x{i}", "output": "a"} for i in range(5)],
        "Instances": [{"input": "secret input", "output": [label]} for label in ("a", "b", "c")]}))
    task = task_definition(load_task(path), num_demonstrations=3)
    assert task.kind == "classification" and task.labels == ["a", "b", "c"]
    assert [d.input for d in task.demonstrations] == ["x0", "x1", "x2"]
    assert not task.instances and "secret input" not in json.dumps(recipe(task, SelfGuideConfig(model="m")))


def test_task_without_labels_is_generation_and_bad_files_name_the_field(tmp_path):
    plain = tmp_path / "t.json"
    plain.write_text(json.dumps({"instruction": "Summarise.", "examples": [{"input": "a long text", "output": "short"}]}))
    assert task_definition(load_task(plain)).kind == "generation"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"instruction": "x", "examples": [{"input": "only input"}]}))
    with pytest.raises(TaskFormatError, match=r"bad.json.*examples\[0\].*'input' and 'output'"):
        task_definition(load_task(bad))
    with pytest.raises(TaskFormatError, match="'examples'"):
        plain.write_text(json.dumps({"instruction": "x"}))
        task_definition(load_task(plain))
    with pytest.raises(TaskFormatError, match="at least 2 labels"):
        define_task(instruction="x", examples=[{"input": "a", "output": "b"}], labels=["b"])


def test_config_errors_name_the_parameter():
    with pytest.raises(ValueError, match="consistency_threshold must be in"):
        SelfGuideConfig(consistency_threshold=0)
    with pytest.raises(ValueError, match="num_examples must be a positive integer"):
        SelfGuideConfig(num_examples=0)
    with pytest.raises(ValueError, match=r"unknown SELF-GUIDE parameter 'temperature'.*input_temperature"):
        SelfGuideConfig.from_dict({"temperature": 0.5})
    assert SelfGuideConfig().input_temperature_for(True) == 0.7
    assert SelfGuideConfig().input_temperature_for(False) == 0.9


# -- stage 1: input generation ----------------------------------------------------------------
def test_input_prompt_shows_demonstrations_previous_inputs_and_the_target_label():
    messages = input_prompt(NLI, ["an earlier input"], "no", round_rng(SelfGuideConfig(), 0, "inputs"))
    assert NLI.instruction in messages[0]["content"]
    assert {m["content"] for m in messages if m["role"] == "assistant"} == {ex["input"] for ex in NLI_EXAMPLES}
    assert "an earlier input" in messages[-1]["content"] and '"no"' in messages[-1]["content"]


def test_target_labels_are_drawn_uniformly_and_rounds_are_reproducible():
    engine = ScriptedEngine(lambda m, p, i, s: "Premise: x. Hypothesis: y.")
    config = SelfGuideConfig(prompts_per_round=400)
    first = generate_inputs(engine, NLI, config, 0, [], 64)
    share = sum(c["target_label"] == "yes" for c in first) / len(first)
    assert 0.4 < share < 0.6
    assert first == generate_inputs(engine, NLI, config, 0, [], 64)
    assert first != generate_inputs(engine, NLI, config, 1, [], 64)


# -- stage 2: input filters -------------------------------------------------------------------
def test_filters_apply_in_order_and_count_what_each_dropped():
    config = SelfGuideConfig()
    window = (10, 60)
    seen = {"Premise: seen before. Hypothesis: yes."}
    candidates = [{"text": t} for t in [
        "", "short", "Sure, I'd be happy to help! Premise: a. H: b.", "Premise:  seen before.  Hypothesis: yes.",
        "Premise: a cat sleeps. Hypothesis: a cat rests.", "Premise: a cat sleeps. Hypothesis: a cat rests."]]
    kept, counts = filter_inputs(candidates, window, config, seen)
    assert [c["dropped_by"] for c in candidates] == ["empty", "length", "noise", "duplicate", None, "duplicate"]
    assert [c["text"] for c in kept] == ["Premise: a cat sleeps. Hypothesis: a cat rests."]
    assert counts == {"generated": 6, "dropped_empty": 1, "dropped_length": 1, "dropped_noise": 1,
                      "dropped_duplicate": 2, "kept": 1}


def test_length_window_is_mean_plus_minus_two_std_with_a_floor():
    config = SelfGuideConfig()
    low, high = length_window(["x" * 10, "x" * 30], config)  # mean 20, std 10
    assert (low, high) == (0.0, 40.0)
    low, high = length_window(["x" * 100, "x" * 100], config)  # std 0: the 25% floor
    assert (low, high) == (75.0, 125.0)
    assert length_window(["abc"], SelfGuideConfig(length_std=None)) is None


# -- stage 3: annotation ----------------------------------------------------------------------
def test_annotation_keeps_the_majority_label_above_the_threshold():
    answers = {"one": ["yes"] * 4 + ["no"] * 3 + ["maybe"] * 3,  # yes: 0.4 >= 0.3
               "two": ["yes", "no"] + ["I do not know"] * 8,     # best share 0.1 < 0.3
               "three": ["Answer: NO."] * 10}                    # label mentioned last, as the task spells it
    engine = ScriptedEngine(lambda m, p, i, s: answers[m[-1]["content"]][s])
    rows, counts = annotate(engine, NLI, [{"text": t, "target_label": "yes"} for t in answers], SelfGuideConfig(annotation="generate"), 0)
    assert [(r["input"], r["output"], r["vote_share"]) for r in rows] == [("one", "yes", 0.4), ("three", "no", 1.0)]
    assert counts["dropped_inconsistent"] == 1 and counts["samples_dropped"] == 3 + 8


def test_calibration_divides_the_votes_by_the_models_label_prior():
    from cookbook_datasets.self_guide.annotation import label_prior, vote

    # content-free inputs get 'yes' 9 times in 10: the model's bias
    engine = ScriptedEngine(lambda m, p, i, s: "yes" if s < 9 else "no")
    prior = label_prior(engine, NLI, SelfGuideConfig())
    assert prior == {"yes": pytest.approx(28 / 32), "no": pytest.approx(4 / 32)}
    answers = ["yes"] * 6 + ["no"] * 3 + [None]
    assert vote(answers) == ("yes", 0.6)
    label, share = vote(answers, prior)  # 6 / (28/32) < 3 / (4/32): the answer against the bias wins
    assert label == "no" and share == pytest.approx(24 / (24 + 6 * 32 / 28) * 0.9)
    assert vote(answers, {"yes": 0.5, "no": 0.5}) == ("yes", pytest.approx(0.6))


def test_annotation_prompt_poses_the_task_as_evaluation_does():
    messages = annotation_prompt(NLI, "new input")
    assert messages[0] == {"role": "system", "content": NLI.instruction}
    assert messages[1:5] == [{"role": "user", "content": NLI_EXAMPLES[0]["input"]},
                             {"role": "assistant", "content": "yes"},
                             {"role": "user", "content": NLI_EXAMPLES[1]["input"]},
                             {"role": "assistant", "content": "no"}]
    assert messages[-1] == {"role": "user", "content": "new input"}


def test_generation_answers_outside_the_length_window_or_noisy_are_dropped():
    task = define_task(instruction="Fix the grammar.", examples=[{"input": "he go", "output": "He goes."}])
    engine = ScriptedEngine(lambda m, p, i, s: ["He goes home.", "Output: he goes", "x" * 500][s % 3])
    rows, counts = annotate(engine, task, [{"text": "he go home"}], SelfGuideConfig(annotation_samples=9), 0,
                            output_window=(5, 40))
    assert [r["output"] for r in rows] == ["He goes home."] and rows[0]["vote_share"] == pytest.approx(3 / 9, abs=1e-4)
    assert counts["samples_dropped"] == 6


# -- stage 4: balancing -----------------------------------------------------------------------
def test_balancing_downsamples_every_label_to_the_rarest_and_keeps_order():
    rows = [{"label": label, "i": i} for i, label in enumerate("aaaaabbc" + "bb")]
    balanced, counts = balance_classes(rows, seed=0)
    assert counts["per_label_before"] == {"a": 5, "b": 4, "c": 1} and counts["after"] == 3
    assert sorted(r["label"] for r in balanced) == ["a", "b", "c"]
    assert [r["i"] for r in balanced] == sorted(r["i"] for r in balanced)
    assert balanced == balance_classes(rows, seed=0)[0]
    assert balance_classes(rows, seed=0, per_label=3)[1]["per_label_after"] == {"a": 1, "b": 1, "c": 1}
    capped, counts = balance_classes([r for r in rows if r["label"] != "c"], seed=0, per_label=3)
    assert counts["per_label_after"] == {"a": 3, "b": 3} and len(capped) == 6


def test_classification_rounds_go_on_until_every_label_has_its_share(tmp_path):
    # answers: 'yes' for 3 of every 4 inputs, so 'no' needs more rounds to reach 4 (8 / 2 labels)
    def write(messages, params, i, sample):
        ask = messages[-1]["content"]
        if ask.startswith("Write a new input") or "Inputs written before" in ask:
            return f"Premise: item {params.seed % 100000} {i}. Hypothesis: it is."
        return "no" if int(re.search(r"item \d+ (\d+)", ask).group(1)) == 3 else "yes"

    rows, stats = synthesize(NLI, ScriptedEngine(write), SelfGuideConfig(annotation="generate", num_examples=8, prompts_per_round=4,
                                                                         length_std=None))
    assert stats["rounds"] == 4 and stats["pairs_before_balancing"] == 16
    assert stats["balancing"]["per_label_after"] == {"no": 4, "yes": 4} and len(rows) == 8


# -- the pipeline -----------------------------------------------------------------------------
def test_pipeline_counts_every_stage_and_balances(tmp_path):
    engine = RoundAwareEngine(nli_writer())
    config = SelfGuideConfig(annotation="generate", num_examples=12, prompts_per_round=4, length_std=None)
    rows, stats = synthesize(NLI, engine, config, work_dir=tmp_path / "work")
    assert stats["rounds"] == 3 and stats["inputs"]["generated"] == 12
    assert stats["pairs_before_balancing"] == 12
    assert stats["balancing"]["per_label_before"] == {"no": 6, "yes": 6} and stats["kept"] == 12
    assert {r["output"] for r in rows} == {"yes", "no"}
    assert all(r["vote_share"] == 1.0 for r in rows)


def test_a_killed_run_resumes_without_redoing_rounds_and_ends_with_the_same_rows(tmp_path):
    config = SelfGuideConfig(annotation="generate", num_examples=12, prompts_per_round=4, length_std=None)
    reference, _ = synthesize(NLI, RoundAwareEngine(nli_writer()), config, work_dir=tmp_path / "ref")
    with pytest.raises(KeyboardInterrupt):
        synthesize(NLI, RoundAwareEngine(nli_writer(fail_on_round=2)), config, work_dir=tmp_path / "work")
    assert sorted(p.name for p in (tmp_path / "work" / "rounds").iterdir()) == ["round_00000.json", "round_00001.json"]
    engine = RoundAwareEngine(nli_writer())
    resumed, _ = synthesize(NLI, engine, config, work_dir=tmp_path / "work")
    assert resumed == reference
    assert [desc for desc, _ in engine.calls] == ["round 2: inputs", "round 2: answers"]


def test_calibrated_runs_measure_the_prior_once_and_record_it(tmp_path):
    engine = RoundAwareEngine(nli_writer())
    config = SelfGuideConfig(num_examples=4, prompts_per_round=4, length_std=None, calibrate_labels=True)
    rows, stats = synthesize(NLI, engine, config, work_dir=tmp_path)
    assert set(stats["label_prior"]) == {"yes", "no"} and (tmp_path / "label_prior.json").exists()
    assert [desc for desc, _ in engine.calls].count("label prior") == 1
    engine.calls.clear()
    assert synthesize(NLI, engine, config, work_dir=tmp_path)[0] == rows and engine.calls == []


def test_a_work_dir_from_before_a_config_field_existed_is_resumed(tmp_path):
    config = SelfGuideConfig(num_examples=4, prompts_per_round=4)
    rows, _ = synthesize(NLI, RoundAwareEngine(nli_writer()), config, work_dir=tmp_path)
    written = json.loads((tmp_path / "recipe.json").read_text())
    del written["config"]["calibrate_labels"]  # as an older version wrote it
    (tmp_path / "recipe.json").write_text(json.dumps(written))
    engine = RoundAwareEngine(nli_writer())
    assert synthesize(NLI, engine, config, work_dir=tmp_path)[0] == rows and engine.calls == []


def test_a_work_dir_with_another_recipe_is_refused(tmp_path):
    engine = RoundAwareEngine(nli_writer())
    synthesize(NLI, engine, SelfGuideConfig(num_examples=4, prompts_per_round=4), work_dir=tmp_path)
    with pytest.raises(ValueError, match=r"another recipe \(config fields \['num_examples'\] differ\)"):
        synthesize(NLI, engine, SelfGuideConfig(num_examples=8, prompts_per_round=4), work_dir=tmp_path)


# -- builder and command (tiny random model, real transformers backend) --------------------------
COPY_TASK = {"Definition": ["Repeat the input words."],
             "Positive Examples": [{"input": "red green blue", "output": "red green blue"},
                                   {"input": "one two three four", "output": "one two three four"}],
             "Instances": [{"input": f"w{i} v{i}", "output": [f"w{i} v{i}"]} for i in range(12)]}  # > 10 outputs: generation
LOOSE = {"length_std": None, "consistency_threshold": 0.1, "prompts_per_round": 4, "input_max_new_tokens": 10,
         "annotation_max_new_tokens": 6, "annotation_samples": 3}


def test_builder_yields_rows_in_the_schema_with_their_provenance(tmp_path, tiny_model):
    from cookbook_datasets import load_dataset

    path = tmp_path / "copy.json"
    path.write_text(json.dumps(COPY_TASK))
    ds = load_dataset("self_guide", task=str(path), model="tiny-random", num_examples=5, seed=3,
                      cache_dir=str(tmp_path / "cache"), **LOOSE)
    assert set(ds) == {"train"} and len(ds["train"]) == 5  # 10% of 5 rounds to no validation row
    row = ds["train"][0]
    assert row["prompt"][0] == {"role": "system", "content": "Repeat the input words."}
    assert row["source"] == "self_guide/copy"
    meta = json.loads(row["meta"])
    assert set(meta) >= {"round", "vote_share", "label", "filters_passed"} and "length" not in meta["filters_passed"]
    with pytest.raises(ValueError, match="unknown SELF-GUIDE parameter 'rounds'"):
        load_dataset("self_guide", task=str(path), rounds=3)


def test_command_synthesises_tunes_picks_an_epoch_and_scores(tmp_path, tiny_model):
    import datasets

    from cookbook_datasets.cli import main

    path = tmp_path / "task9_copy.json"
    path.write_text(json.dumps(COPY_TASK))
    out = tmp_path / "run"
    args = [str(path), "--model", "tiny-random", "--out", str(out), "--num-examples", "6", "--epochs", "2",
            "--batch-size", "4", "--eval-limit", "3", "--min-validation-rows", "1"]
    args += [f"--param={k}={json.dumps(v)}" for k, v in LOOSE.items()]
    assert main(["self-guide", *args]) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["counts"]["kept"] == 6 and report["training"]["epochs"] == 2
    assert len(report["training"]["per_epoch"]) == 2 and (out / "adapter" / "adapter_model.safetensors").exists()
    # trained as scored: the evaluation's 2 demonstrations in every training row and when scoring
    assert set(report["scores"]) == {"prompting", "self_guide"} and report["scores"]["self_guide"]["num_shots"] == 2
    assert report["training"]["num_shots"] == 2 and report["config"]["train_num_shots"] == 2
    data = datasets.load_dataset(str(out / "data"), "task9_copy")
    assert len(data["train"]) + len(data["validation"]) == 6
    assert data["train"][0]["prompt"][1:5] == [{"role": "user", "content": "red green blue"},
                                               {"role": "assistant", "content": "red green blue"},
                                               {"role": "user", "content": "one two three four"},
                                               {"role": "assistant", "content": "one two three four"}]
    assert "counts" in json.loads((out / "data" / "recipe.json").read_text())["task9_copy"]
    # a second run finds everything done and changes nothing
    before = json.loads((out / "report.json").read_text())
    trained = (out / "model" / "run_card.json").stat().st_mtime_ns
    assert main(["self-guide", *args]) == 0
    assert json.loads((out / "report.json").read_text()) == before
    assert (out / "model" / "run_card.json").stat().st_mtime_ns == trained


def test_command_refuses_to_score_a_task_without_instances(tmp_path, capsys):
    from cookbook_datasets.cli import main

    path = tmp_path / "plain.json"
    path.write_text(json.dumps({"instruction": "Repeat.", "examples": [{"input": "a b", "output": "a b"}]}))
    assert main(["self-guide", str(path), "--out", str(tmp_path / "o")]) == 2
    assert "real instances of an NIV2 task" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_phrases_the_demonstrations_use_are_not_noise_for_that_task():
    task = define_task(instruction="Answer.", examples=[{"input": "Input: 2+2", "output": "4"},
                                                        {"input": "Input: 3+3", "output": "6"}], name="sums")
    engine = ScriptedEngine(lambda m, p, i, s: f"Input: {p.seed % 97}+{i}" if "new input" in m[-1]["content"] else "5")
    rows, stats = synthesize(task, engine, SelfGuideConfig(num_examples=3, prompts_per_round=3, length_std=None))
    assert stats["inputs"]["dropped_noise"] == 0 and len(rows) == 3


@pytest.mark.slow
def test_the_default_model_writes_usable_pairs_for_a_real_task(shared_data, default_model):
    import os

    from cookbook_datasets.generation import TransformersEngine

    task = task_definition(load_task(os.path.join(shared_data, "niv2", "dev",
                                                  "task935_defeasible_nli_atomic_classification.json")))
    engine = TransformersEngine(*default_model)
    rows, stats = synthesize(task, engine, SelfGuideConfig(annotation="generate", num_examples=2, max_rounds=3,
                                                           balance_labels=False))
    # the model writes inputs in the demonstrations' format, and answers some of them consistently
    assert stats["inputs"]["kept"] >= 3
    assert rows and all(r["output"] in task.labels for r in rows)
    assert all("Premise" in r["input"] for r in rows)


# -- annotation by ranking the label set ----------------------------------------------------------
class RankingEngine(RoundAwareEngine):
    """Writes inputs as nli_writer does and scores labels by rule: 'yes' is likelier for even
    items, and content-free inputs lean to 'yes' (the model's bias)."""

    def __init__(self, bias=2.0):
        super().__init__(nli_writer())
        self.bias = bias

    def score_labels(self, prompts, labels):
        self.calls.append(("score labels", len(prompts)))
        scores = []
        for p in prompts:
            found = re.search(r"item \d+ (\d+)", p[-1]["content"])
            lean = self.bias if found is None else (1.0 if int(found.group(1)) % 2 == 0 else -0.5)
            scores.append([lean if label == "yes" else 0.0 for label in labels])
        return scores


def test_rank_annotation_takes_the_label_distribution_as_the_vote():
    import math

    from cookbook_datasets.self_guide.annotation import rank_annotate

    engine = RankingEngine()
    config = SelfGuideConfig(annotation="rank", consistency_threshold=0.6)
    inputs = [{"text": "Premise: item 5 0. H.", "target_label": "no"}, {"text": "Premise: item 5 1. H."}]
    rows, counts = annotate(engine, NLI, inputs, config, 0)
    p_yes = math.exp(1) / (math.exp(1) + 1)  # 0.73 >= 0.6 kept; the odd item's 'no' has 0.62
    assert [(r["output"], r["vote_share"]) for r in rows] == [("yes", round(p_yes, 4)), ("no", pytest.approx(0.6225, abs=1e-4))]
    assert rows[0]["label_probs"] == [round(p_yes, 4), round(1 - p_yes, 4)] and rows[0]["target_label"] == "no"
    assert counts == {"annotated": 2, "samples": 0, "samples_dropped": 0, "dropped_inconsistent": 0,
                      "dropped_disagreeing": 0, "kept": 2}
    assert [d for d, _ in engine.calls] == ["score labels"]  # no sampling
    strict = rank_annotate(engine, NLI, inputs, SelfGuideConfig(annotation="rank", consistency_threshold=0.7), 0)
    assert [r["output"] for r in strict[0]] == ["yes"] and strict[1]["dropped_inconsistent"] == 1


def test_rank_calibration_divides_by_the_content_free_label_distribution():
    import math

    from cookbook_datasets.self_guide.annotation import label_prior, rank_vote

    prior = label_prior(RankingEngine(bias=math.log(3)), NLI, SelfGuideConfig(annotation="rank"))
    assert prior == {"yes": pytest.approx(0.75), "no": pytest.approx(0.25)}
    assert rank_vote([0.6, 0.4], NLI.labels) == ("yes", 0.6)
    label, share = rank_vote([0.6, 0.4], NLI.labels, prior)  # 0.6/0.75 = 0.8 < 0.4/0.25 = 1.6
    assert label == "no" and share == pytest.approx(1.6 / 2.4)
    assert rank_vote([0.5, 0.5], NLI.labels, {"yes": 0.5, "no": 0.5}) == ("yes", 0.5)  # ties: the set's order


def test_target_annotation_takes_each_inputs_target_label_without_asking_the_model():
    engine = RankingEngine()
    inputs = [{"text": "a", "target_label": "no"}, {"text": "b", "target_label": "yes"}]
    rows, counts = annotate(engine, NLI, inputs, SelfGuideConfig(annotation="target"), 3)
    assert [(r["input"], r["output"], r["label"], r["round"]) for r in rows] == [("a", "no", "no", 3), ("b", "yes", "yes", 3)]
    assert engine.calls == [] and counts["kept"] == 2


def test_classification_is_labelled_by_its_target_by_default_and_by_the_model_when_a_remedy_reads_its_annotation():
    assert SelfGuideConfig().annotation == "target"  # measured best on the dev tasks (docs: Remedies)
    assert SelfGuideConfig(agree_with_target=True).annotation == "generate"
    assert SelfGuideConfig(calibrate_labels="batch").annotation == "generate"
    assert SelfGuideConfig(annotation="rank").annotation == "rank"
    assert SelfGuideConfig(annotation="generate").annotation == "generate"


def test_agreement_keeps_only_annotations_that_are_the_inputs_target_label():
    engine = RankingEngine()  # even items lean 'yes', odd ones 'no'
    inputs = [{"text": "Premise: item 5 0. H.", "target_label": "yes"}, {"text": "Premise: item 5 1. H.", "target_label": "yes"},
              {"text": "Premise: item 5 3. H.", "target_label": "no"}]
    rows, counts = annotate(engine, NLI, inputs, SelfGuideConfig(annotation="rank", agree_with_target=True), 0)
    assert [(r["input"], r["label"]) for r in rows] == [("Premise: item 5 0. H.", "yes"), ("Premise: item 5 3. H.", "no")]
    assert counts["dropped_disagreeing"] == 1 and counts["kept"] == 2
    with pytest.raises(ValueError, match="agree_with_target.*annotation='target' has no annotation"):
        SelfGuideConfig(annotation="target", agree_with_target=True)


def test_batch_calibration_divides_by_the_rounds_mean_label_distribution():
    import math

    from cookbook_datasets.self_guide.annotation import batch_prior

    assert batch_prior([[0.9, 0.1], [0.5, 0.5]], ["yes", "no"]) == {"yes": pytest.approx(0.7), "no": pytest.approx(0.3)}
    # every input leans 'yes' (the bias): 3 evens at e^1 : 1, one odd at e^-0.5 : 1
    inputs = [{"text": f"Premise: item 5 {i}. H.", "target_label": None} for i in (0, 2, 4, 1)]
    plain, _ = annotate(RankingEngine(), NLI, inputs, SelfGuideConfig(annotation="rank", consistency_threshold=0.5), 0)
    calibrated, counts = annotate(RankingEngine(), NLI, inputs, SelfGuideConfig(
        annotation="rank", consistency_threshold=0.5, calibrate_labels="batch"), 0)
    p_even, p_odd = math.exp(1) / (math.exp(1) + 1), math.exp(-0.5) / (math.exp(-0.5) + 1)
    assert counts["batch_prior"]["yes"] == pytest.approx((3 * p_even + p_odd) / 4)
    assert [r["label"] for r in plain] == ["yes", "yes", "yes", "no"]
    assert [r["label"] for r in calibrated] == ["yes", "yes", "yes", "no"]  # the odd one stays 'no', more surely
    assert calibrated[3]["vote_share"] > plain[3]["vote_share"]
    # sampled answers: the round's vote shares are the prior
    answers = {0: ["yes"] * 6 + ["no"] * 4, 1: ["yes"] * 9 + ["no"]}
    engine = ScriptedEngine(lambda m, p, i, s: answers[i][s])
    rows, counts = annotate(engine, NLI, [{"text": "x", "target_label": "no"}, {"text": "y", "target_label": "yes"}],
                            SelfGuideConfig(calibrate_labels="batch"), 0)
    assert counts["batch_prior"]["yes"] == pytest.approx((7 / 12 + 10 / 12) / 2)
    assert [r["label"] for r in rows] == ["no", "yes"]  # 6/0.71 < 4/0.29: against the round's bias
    with pytest.raises(ValueError, match="unknown calibrate_labels 'batches'"):
        SelfGuideConfig(calibrate_labels="batches")
    assert SelfGuideConfig(calibrate_labels=True).calibrate_labels == "content-free"


def test_target_annotation_balances_a_run_the_model_would_skew(tmp_path):
    config = SelfGuideConfig(num_examples=8, prompts_per_round=4, length_std=None, annotation="target")
    rows, stats = synthesize(NLI, RoundAwareEngine(nli_writer()), config, work_dir=tmp_path)
    assert stats["annotation_mode"] == "target" and stats["labels_kept"] == {"yes": 4, "no": 4}
    assert all(r["label"] == r["target_label"] for r in rows) and "mean_vote_share" not in stats


def test_rank_scores_labels_as_the_evaluation_does_reading_the_prompt_once(tiny_model):
    import torch

    from cookbook_datasets.generation import TransformersEngine
    from cookbook_datasets.self_guide.annotation import label_loglikelihoods

    model, tok = tiny_model
    texts = ["Premise: a cat. Hypothesis: an animal.", "Premise: rain. Hypothesis: dry."]
    scores = label_loglikelihoods(TransformersEngine(model, tok, batch_size=4), NLI, texts)
    for text, row in zip(texts, scores):
        context = tok.apply_chat_template(annotation_prompt(NLI, text), tokenize=False, add_generation_prompt=True)
        ctx = tok(context, add_special_tokens=False)["input_ids"]
        for label, got in zip(NLI.labels, row):
            cont = tok(label, add_special_tokens=False)["input_ids"]
            with torch.no_grad():
                logits = model(input_ids=torch.tensor([ctx + cont])).logits[0].float().log_softmax(-1)
            want = sum(logits[len(ctx) - 1 + k, t].item() for k, t in enumerate(cont))
            assert got == pytest.approx(want, abs=1e-3)


def test_rank_is_refused_for_generation_tasks_and_sampling_only_engines_before_anything_is_written(tmp_path):
    task = define_task(instruction="Fix the grammar.", examples=[{"input": "he go", "output": "He goes."}])
    with pytest.raises(ValueError, match="annotation='rank' ranks a label set; task is a generation task"):
        synthesize(task, RankingEngine(), SelfGuideConfig(annotation="rank"), work_dir=tmp_path / "a")
    with pytest.raises(ValueError, match="'scripted' engine only samples.*transformers backend"):
        synthesize(NLI, ScriptedEngine(nli_writer()), SelfGuideConfig(annotation="rank"), work_dir=tmp_path / "b")
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
    with pytest.raises(ValueError, match=r"annotation must be one of \['generate', 'rank', 'target'\]"):
        SelfGuideConfig(annotation="vote")


def test_stage_counts_record_the_label_distribution_before_balancing_and_uncovered_labels(tmp_path, caplog):
    task = define_task(instruction=NLI.instruction, examples=NLI_EXAMPLES, labels=["yes", "no", "maybe"], name="toy3")
    config = SelfGuideConfig(num_examples=6, prompts_per_round=4, max_rounds=3, length_std=None, annotation="rank")
    rows, stats = synthesize(task, RankingEngine(), config)
    assert stats["annotation_mode"] == "rank" and stats["labels_without_demonstration"] == ["maybe"]
    assert set(stats["labels_before_balancing"]) == {"yes", "no", "maybe"}
    assert sum(stats["labels_before_balancing"].values()) == stats["pairs_before_balancing"]
    assert stats["labels_before_balancing"] == stats["balancing"]["per_label_before"] | {"maybe": 0}
    assert "no demonstration shows the label(s) ['maybe']" in caplog.text


# -- rounds that stop when they are wasted --------------------------------------------------------
def yes_writer():
    """Unique inputs, every one answered 'yes'."""
    def write(messages, params, i, sample):
        ask = messages[-1]["content"]
        if ask.startswith("Write a new input") or "Inputs written before" in ask:
            return f"Premise: item {params.seed % 100000} {i}. Hypothesis: it is."
        return "yes"
    return write


def test_rounds_stop_when_the_rarest_label_cannot_reach_its_share_at_its_recent_rate():
    never_no = ScriptedEngine(yes_writer())
    config = SelfGuideConfig(annotation="generate", num_examples=8, prompts_per_round=4, max_rounds=50, stop_window=3, length_std=None)
    rows, stats = synthesize(NLI, never_no, config)
    assert stats["rounds"] == 3  # 'no' yielded nothing in 3 rounds: stop, not 50 rounds
    assert stats["stopped"] == {"reason": "projection", "target": "no", "have": 0, "needs": 4, "yield_per_round": 0.0,
                                "rounds_left": 47}
    assert stats["labels_before_balancing"] == {"yes": 12, "no": 0}
    assert synthesize(NLI, ScriptedEngine(yes_writer()), dataclasses.replace(config, stop_window=0, max_rounds=6))[1][
        "stopped"] == {"reason": "max_rounds"}


def test_a_slow_label_goes_on_while_its_rate_can_still_reach_the_share():
    def one_no_a_round(messages, params, i, sample):  # one 'no' per round of 2 inputs: 'no' yields 1 a round
        ask = messages[-1]["content"]
        if ask.startswith("Write a new input") or "Inputs written before" in ask:
            return f"Premise: item {params.seed % 100000} {i}. Hypothesis: it is."
        return "no" if re.search(r"item \d+ (\d+)", ask).group(1) == "0" else "yes"

    config = SelfGuideConfig(annotation="generate", num_examples=10, prompts_per_round=2, stop_window=2, length_std=None)
    short = synthesize(NLI, ScriptedEngine(one_no_a_round), dataclasses.replace(config, max_rounds=4))[1]
    # after 2 rounds 'no' has 2 of 5: 3 more at 1 a round need 3 rounds, and 2 are left
    assert short["rounds"] == 2 and short["stopped"]["reason"] == "projection"
    assert short["stopped"]["rounds_left"] == 2 and short["stopped"]["have"] == 2
    long = synthesize(NLI, ScriptedEngine(one_no_a_round), dataclasses.replace(config, max_rounds=5))[1]
    assert long["rounds"] == 5 and long["stopped"] == {"reason": "enough"}


def test_the_input_window_widens_when_most_inputs_fail_the_length_filter(tmp_path, caplog):
    import logging

    def long_inputs(messages, params, i, sample):
        ask = messages[-1]["content"]
        if ask.startswith("Write a new input") or "Inputs written before" in ask:
            return f"Premise: item {params.seed % 100000} {i}.".ljust(100, "x")
        return "yes" if re.search(r"item \d+ (\d+)", ask).group(1) in "02" else "no"

    config = SelfGuideConfig(annotation="generate", num_examples=8, prompts_per_round=4, max_rounds=6)
    caplog.set_level(logging.INFO, logger="cookbook_datasets.self_guide.pipeline")
    rows, stats = synthesize(NLI, ScriptedEngine(long_inputs), config, work_dir=tmp_path)
    low, high = stats["input_window_chars_initial"]
    assert high < 100  # the demonstrations are ~50 characters: every 100-character input fails at first
    assert [(c["after_round"], c["too_long"], c["to"][1]) for c in stats["input_window_changes"]] == [
        (0, 4, round(high * 1.5, 1)), (1, 4, round(high * 1.5 ** 2, 1))]
    assert stats["input_window_chars"][1] > 100 and stats["rounds"] == 4 and len(rows) == 8
    assert "input window" in caplog.text and "100% of the inputs failed the length filter" in caplog.text
    engine = ScriptedEngine(long_inputs)  # resumed: the same windows, nothing regenerated
    assert synthesize(NLI, engine, config, work_dir=tmp_path) == (rows, stats) and engine.calls == []
    fixed = synthesize(NLI, ScriptedEngine(long_inputs), dataclasses.replace(config, length_adapt_share=None))[1]
    assert fixed["input_window_changes"] == [] and fixed["inputs"]["dropped_length"] == fixed["inputs"]["generated"]


class FakeClock:
    """Seconds that pass only when the engine works: each generate call takes 30 s."""

    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


class SlowEngine(RoundAwareEngine):
    def __init__(self, clock):
        super().__init__(nli_writer())
        self.clock = clock

    def _generate(self, prompts, params, *, desc):
        self.clock.now += 30
        return super()._generate(prompts, params, desc=desc)


def test_a_time_budget_ends_the_run_with_what_it_has_and_a_later_run_resumes(tmp_path):
    config = SelfGuideConfig(annotation="generate", num_examples=12, prompts_per_round=4, length_std=None, max_minutes=1.5)
    clock = FakeClock()
    rows, stats = synthesize(NLI, SlowEngine(clock), config, work_dir=tmp_path, clock=clock)
    # round 0 took 60 s; round 1's inputs end at 90 s = the budget: its annotation does not start
    assert stats["stopped"] == {"reason": "budget"} and stats["rounds"] == 1
    assert (stats["kept"], stats["asked"]) == (4, 12)
    assert sorted(p.name for p in (tmp_path / "rounds").iterdir()) == ["round_00000.json", "round_00001.inputs.json"]
    reference, _ = synthesize(NLI, RoundAwareEngine(nli_writer()), dataclasses.replace(config, max_minutes=None))
    clock = FakeClock()
    engine = SlowEngine(clock)  # another budget is no other recipe: the run resumes
    resumed, stats = synthesize(NLI, engine, dataclasses.replace(config, max_minutes=5), work_dir=tmp_path, clock=clock)
    assert resumed == reference and stats["stopped"] == {"reason": "enough"}
    assert [desc for desc, _ in engine.calls] == ["round 1: answers", "round 2: inputs", "round 2: answers"]
    with pytest.raises(ValueError, match="max_minutes must be a number of minutes > 0"):
        SelfGuideConfig(annotation="generate", max_minutes=0)


def test_a_job_stopped_by_its_budget_reports_it_trains_nothing_and_resumes(tmp_path, tiny_model, monkeypatch):
    from cookbook_datasets.cli import main
    from cookbook_datasets.self_guide import job, pipeline

    def on_a_fake_clock(task, engine, config, **kw):  # each model call takes 30 s
        clock, generate = FakeClock(), engine._generate

        def slow(*a, **k):
            clock.now += 30
            return generate(*a, **k)

        engine._generate = slow
        return pipeline.synthesize(task, engine, config, clock=clock, **kw)

    path = tmp_path / "task9_copy.json"
    path.write_text(json.dumps(COPY_TASK))
    out = tmp_path / "run"
    args = [str(path), "--model", "tiny-random", "--out", str(out), "--num-examples", "6", "--eval-limit", "3"]
    args += [f"--param={k}={json.dumps(v)}" for k, v in {**LOOSE, "consistency_threshold": 0.01}.items()]
    monkeypatch.setattr(job, "synthesize", on_a_fake_clock)
    assert main(["self-guide", *args, "--max-minutes", "1.5"]) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["stopped_on_budget"] == {"pairs": 4, "asked": 6, "max_minutes": 1.5}
    assert report["counts"]["stopped"] == {"reason": "budget"} and "scores" not in report
    assert not (out / "model").exists() and not (out / "adapter").exists()
    assert "Rounds stopped: budget; 4 pairs of 6 asked; run again to resume" in (out / "report.md").read_text()
    monkeypatch.undo()
    assert main(["self-guide", *args, "--max-minutes", "60", "--no-train", "--no-eval"]) == 0
    report = json.loads((out / "report.json").read_text())
    assert "stopped_on_budget" not in report and report["counts"]["kept"] == 6
    assert report["counts"]["stopped"] == {"reason": "enough"}


def test_a_work_dir_written_before_a_field_existed_compares_it_with_its_default(tmp_path):
    config = SelfGuideConfig(num_examples=4, prompts_per_round=4)
    synthesize(NLI, RoundAwareEngine(nli_writer()), config, work_dir=tmp_path)
    written = json.loads((tmp_path / "recipe.json").read_text())
    for name in ("stop_window", "length_adapt_share", "max_minutes"):
        del written["config"][name]  # as a recipe written before these fields existed
    (tmp_path / "recipe.json").write_text(json.dumps(written))
    assert synthesize(NLI, RoundAwareEngine(nli_writer()), config, work_dir=tmp_path)[1]["rounds"] == 1  # resumed
    other = dataclasses.replace(config, stop_window=0, length_adapt_share=None, max_minutes=3)
    with pytest.raises(ValueError, match=r"config fields \['length_adapt_share', 'stop_window'\] differ"):
        synthesize(NLI, RoundAwareEngine(nli_writer()), other, work_dir=tmp_path)
    # the job's fields (model aside) are no part of the recipe: another engine or training resumes the rounds
    job = dataclasses.replace(config, backend="openai", num_train_epochs=5, eval_limit=7, min_validation_rows=2)
    assert synthesize(NLI, RoundAwareEngine(nli_writer()), job, work_dir=tmp_path)[1]["rounds"] == 1
    with pytest.raises(ValueError, match="the model differ"):
        synthesize(NLI, RoundAwareEngine(nli_writer()), dataclasses.replace(config, model="other"), work_dir=tmp_path)


# -- training rows posed as the evaluation poses the task -------------------------------------------
def test_training_rows_are_the_evaluations_prompt_with_its_demonstrations(tmp_path):
    from cookbook_datasets.eval.prompts import chat_prompt
    from cookbook_datasets.self_guide import to_rows
    from cookbook_datasets.tasks import Instance, Task

    real = Task(name="toy_nli", instruction=NLI.instruction, labels=["yes", "no"],
                demonstrations=[Instance.make(ex["input"], [ex["output"]]) for ex in NLI_EXAMPLES],
                instances=[Instance.make("Premise: x. Hypothesis: y.", ["yes"])])
    spec = task_definition(real)
    pair = {"input": "Premise: a new one. Hypothesis: it is.", "output": "no", "round": 0, "vote_share": 1.0,
            "label": "no", "target_label": "no"}
    for shots, config in ((2, SelfGuideConfig()), (1, SelfGuideConfig(train_num_shots=1)),
                          (0, SelfGuideConfig(train_num_shots=0)), (2, SelfGuideConfig(train_num_shots=5))):
        row = to_rows([pair], spec, config)[0]
        assert row["prompt"] == chat_prompt(real, Instance.make(pair["input"]), shots)
        assert row["completion"] == [{"role": "assistant", "content": "no"}]  # the loss is on the output only
        assert json.loads(row["meta"])["num_shots"] == shots
    assert to_rows([pair], spec, SelfGuideConfig(train_num_shots=0))[0]["prompt"] == [
        {"role": "system", "content": NLI.instruction}, {"role": "user", "content": pair["input"]}]
    with pytest.raises(ValueError, match="train_num_shots must be an integer >= 0 or None"):
        SelfGuideConfig(train_num_shots=-1)


def test_another_row_format_or_budget_resumes_the_same_work_dir(tmp_path):
    config = SelfGuideConfig(num_examples=4, prompts_per_round=4)
    rows, _ = synthesize(NLI, RoundAwareEngine(nli_writer()), config, work_dir=tmp_path)
    engine = RoundAwareEngine(nli_writer())
    again = synthesize(NLI, engine, dataclasses.replace(config, train_num_shots=0, max_minutes=9), work_dir=tmp_path)
    assert again[0] == rows and engine.calls == []


# -- fine-tuning: LoRA or the reference's full recipe, the epoch picked on real instances ----------
def copy_writer(messages, params, i, sample):
    """Inputs numbered by round and prompt; answers: the input repeated (the copy task)."""
    ask = messages[-1]["content"]
    if ask.startswith("Write a new input") or "Inputs written before" in ask:
        return f"w{params.seed % 1000} v{i}"
    return ask


@pytest.fixture
def scripted_synthesis(monkeypatch):
    """The job's synthesis answered by the copy writer (training and scoring stay the tiny model's)."""
    import cookbook_datasets.generation as generation

    monkeypatch.setattr(generation, "load_engine", lambda *a, **k: ScriptedEngine(copy_writer))


def copy_task_file(tmp_path):
    path = tmp_path / "task9_copy.json"
    path.write_text(json.dumps(COPY_TASK))
    return path


QUICK_TRAIN = {"num_train_epochs": 2, "per_device_train_batch_size": 4}


def test_full_fine_tuning_takes_the_reference_recipe_and_scores_a_whole_model(tmp_path, tiny_model,
                                                                               scripted_synthesis):
    from cookbook_datasets.cli import main

    out = tmp_path / "run"
    args = [str(copy_task_file(tmp_path)), "--model", "tiny-random", "--out", str(out), "--num-examples", "6",
            "--epochs", "2", "--batch-size", "4", "--eval-limit", "2", "--finetune", "full"]
    assert main(["self-guide", *args] + [f"--param={k}={json.dumps(v)}" for k, v in LOOSE.items()]) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["finetune"] == "full" and report["training"]["finetune"] == "full"
    card = json.loads((out / "model" / "run_card.json").read_text())["config"]
    assert card["use_lora"] is False and card["learning_rate"] == 5e-5 and card["lr_scheduler_type"] == "linear"
    tuned = out / "tuned"
    assert report["tuned"] == str(tuned) and "adapter" not in report and not (out / "adapter").exists()
    assert (tuned / "model.safetensors").exists() and (tuned / "config.json").exists()
    assert not (tuned / "adapter_config.json").exists() and not (tuned / "optimizer.pt").exists()
    assert not list((out / "model").glob("checkpoint-*/optimizer.pt"))  # only resuming needed them
    scored = json.loads((out / "eval" / "self_guide.json").read_text())
    assert scored["model"] == str(tuned) and scored["adapter"] is None  # the tuned weights are the model
    assert report["scores"]["self_guide"]["num_examples"] == 2
    assert "Training: full fine-tuning (learning rate 5e-05), 2 epoch(s)" in (out / "report.md").read_text()
    from cookbook_datasets.self_guide.tuning import finetune_args

    assert finetune_args("full")["num_train_epochs"] == 3 and finetune_args("lora") == {"use_lora": True,
                                                                                        "num_train_epochs": 3}
    with pytest.raises(ValueError, match="use_lora=True contradicts finetune='full'"):
        finetune_args("full", {"use_lora": True})
    with pytest.raises(ValueError, match=r"finetune \(--finetune\) must be one of \['lora', 'full'\]"):
        finetune_args("qlora")


def test_validation_instances_are_a_split_part_disjoint_from_the_scored_rows():
    from cookbook_datasets.self_guide.validation import plan_parts
    from cookbook_datasets.tasks import Instance, Task

    task = Task(name="t", instruction="Repeat.", instances=[Instance.make(f"x{i}", [f"x{i}"]) for i in range(30)])
    parts = plan_parts(task, eval_limit=12, val_instances=8, seed=3)
    validation = parts.validation.ids
    assert len(parts.scored_ids) == 12 and len(validation) == 8 and not set(validation) & set(parts.scored_ids)
    # the scored rows are those the evaluation scores with the same limit and seed, with or without validation
    assert parts.scored_ids == task.sample(12, 3).ids == plan_parts(task, 12, None, 3).scored_ids
    assert parts.to_dict()["ids"] == {"scored": parts.scored_ids, "validation": validation}
    assert parts.to_dict()["epoch_picked_on"] == "real validation instances"
    assert plan_parts(task, 12, None, 3).validation is None


def test_the_epoch_is_picked_on_the_real_validation_part_and_on_the_synthetic_split_without_it(
        tmp_path, tiny_model, scripted_synthesis, monkeypatch):
    from cookbook_datasets.eval import harness
    from cookbook_datasets.self_guide import run_self_guide

    real_run_task, picks = harness.run_task, []

    def run_task(model, tokenizer, task, *a, **k):  # the untuned model, then epoch 1 (the best) and 2 on the real part
        result = real_run_task(model, tokenizer, task, *a, **k)
        if task.source != "synthetic validation split" and task.split_info and task.split_info["part"] == "validation":
            picks.append(task.ids)
            result["metrics"]["rougeL"] = value = [0.5, 0.9, 0.2][len(picks) - 1]
            for row in result["rows"]:
                row["score"] = value
        return result

    monkeypatch.setattr(harness, "run_task", run_task)
    out = tmp_path / "run"
    config = SelfGuideConfig(num_examples=6, **LOOSE, model="tiny-random", **QUICK_TRAIN, eval_limit=2,
                             min_validation_rows=3)
    report = run_self_guide(copy_task_file(tmp_path), out, dataclasses.replace(config, val_instances=3))
    split, training = report["split"], report["training"]
    assert split["sizes"] == {"scored": 2, "validation": 3} and split["of"] == 12
    assert not set(split["ids"]["validation"]) & set(split["ids"]["scored"])
    # the untuned model (before training) and each epoch scored on the validation part, nothing else
    assert picks == [split["ids"]["validation"]] * 3
    assert training["validation"] == "real validation instances" and training["validation_rows"] == 3
    assert training["validation_ids"] == split["ids"]["validation"]
    assert [s["score"] for s in training["per_epoch"]] == [0.9, 0.2] and training["best_epoch"] == 1
    assert report["guard"]["kept"] == "tuned" and report["guard"]["untuned"] == 0.5  # 0.9 beats the untuned 0.5
    first = sorted((out / "model").glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[1]))[0]
    assert (out / "adapter" / "adapter_model.safetensors").read_bytes() == (
        first / "adapter_model.safetensors").read_bytes()
    from cookbook_datasets.eval.compare import load_rows

    scored_ids = set(load_rows(out / "eval" / "self_guide.json")[1]["task9_copy"])
    assert scored_ids == set(split["ids"]["scored"])  # the validation rows are never scored
    assert "3 validation (picks the epoch; disjoint from the scored)" in (out / "report.md").read_text()
    # with --val-instances 0 (no real rows) the same training is picked again on the synthetic split, and re-scored
    trained = (out / "model" / "run_card.json").stat().st_mtime_ns
    scored_at = (out / "eval" / "self_guide.json").stat().st_mtime_ns
    # its 1 synthetic row: fewer than 3, none chosen
    again = run_self_guide(copy_task_file(tmp_path), out, dataclasses.replace(config, val_instances=0))
    assert (out / "model" / "run_card.json").stat().st_mtime_ns == trained and len(picks) == 3
    assert again["training"]["validation"] == "synthetic validation split"
    assert again["split"]["epoch_picked_on"] == "synthetic validation split"
    assert "validation" not in again["split"]["ids"]
    assert again["split"]["ids"]["scored"] == split["ids"]["scored"]
    assert (out / "eval" / "self_guide.json").stat().st_mtime_ns != scored_at  # the model picked may differ


def test_more_validation_instances_than_the_task_holds_beside_its_scored_rows_is_refused_up_front(
        tmp_path, capsys):
    from cookbook_datasets.cli import main
    from cookbook_datasets.self_guide import run_self_guide

    out = tmp_path / "run"
    assert main(["self-guide", str(copy_task_file(tmp_path)), "--out", str(out), "--eval-limit", "10",
                 "--val-instances", "5"]) == 2
    err = capsys.readouterr().err
    assert ("val_instances (--val-instances) = 5 with eval_limit (--eval-limit) = 10 scored rows needs 15 instances; "
            "task 'task9_copy' has 12, so at most 2 validation instances fit") in err
    assert not out.exists()
    with pytest.raises(ValueError, match=r"val_instances .* must be an integer >= 0 \(0: none\) or None"):
        run_self_guide(copy_task_file(tmp_path), out, SelfGuideConfig(val_instances=-1))
    with pytest.raises(ValueError, match="with train=False .* there is none to pick"):
        run_self_guide(copy_task_file(tmp_path), out, SelfGuideConfig(val_instances=2, train=False))
    assert not out.exists()


def test_training_is_reused_only_for_the_same_rows_and_training_config(tmp_path, tiny_model, scripted_synthesis):
    from cookbook_datasets.self_guide import run_self_guide

    out, task = tmp_path / "run", copy_task_file(tmp_path)

    def run(**config):
        config = SelfGuideConfig(num_examples=6, **LOOSE, **config, model="tiny-random", **QUICK_TRAIN, evaluate=False)
        report = run_self_guide(task, out, config)
        marker = json.loads((out / "training.json").read_text())
        return report, marker, (out / "model" / "run_card.json").stat().st_mtime_ns

    zero_shot, marker0, trained0 = run(train_num_shots=0)
    assert marker0["finetune"] == "lora" and marker0["train_config"]["num_train_epochs"] == 2
    k_shot, marker2, trained2 = run()  # the same pairs, now posed with the evaluation's 2 demonstrations
    assert marker2["data_fingerprint"] != marker0["data_fingerprint"] and trained2 != trained0
    assert k_shot["training"]["num_shots"] == 2
    assert run()[2] == trained2  # nothing changed: reused
    (out / "training.json").unlink()  # an out directory from before the record: what it learnt is unknown
    assert run()[2] != trained2


# -- your own task as a CSV file; the epoch is not chosen on a handful of rows --------------------
VERDICTS = os.path.join(os.path.dirname(__file__), "data", "verdicts.csv")  # 42 rows, labels E/N/C
VERDICT_COLUMNS = ["--input-field", "pair", "--output-field", "verdict", "--id-field", "rid"]


def verdict_writer(messages, params, i, sample):
    """Inputs numbered by round and prompt; answers: C, E, N in turn by the prompt's number."""
    ask = messages[-1]["content"]
    if ask.startswith("Write a new input") or "Inputs written before" in ask:
        return f"Premise: item {params.seed % 1000} {i} here.\nHypothesis: item {i}."
    return "CEN"[int(re.search(r"item \d+ (\d+)", ask).group(1)) % 3]


def test_a_users_csv_task_through_self_guide_keeps_the_last_epoch_when_validation_rows_are_too_few(
        tmp_path, tiny_model, monkeypatch, caplog, capsys):
    import csv
    import logging

    import cookbook_datasets.generation as generation
    from cookbook_datasets.cli import main

    out = tmp_path / "run"
    quick = ["--model", "tiny-random", "--num-examples", "6", "--epochs", "2", "--batch-size", "4", "--eval-limit", "3",
             "--val-instances", "0"]  # no real rows: the synthetic split chooses (the guard makes no choice)
    quick += [f"--param={k}={json.dumps(v)}" for k, v in LOOSE.items()]
    # SELF-GUIDE writes from the task's instruction: a data file has none, so it is asked for, before anything runs
    assert main(["self-guide", VERDICTS, *VERDICT_COLUMNS, "--out", str(out), *quick]) == 2
    assert "--instruction" in capsys.readouterr().err and not out.exists()
    monkeypatch.setattr(generation, "load_engine", lambda *a, **k: ScriptedEngine(verdict_writer))
    args = [VERDICTS, *VERDICT_COLUMNS, "--instruction", "Answer E, N or C.", "--out", str(out), *quick]
    with caplog.at_level(logging.WARNING, logger="cookbook_datasets.self_guide"):
        assert main(["self-guide", *args]) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["task"] == "verdicts" and report["kind"] == "classification" and report["counts"]["kept"] == 6
    with open(VERDICTS, newline="") as f:
        rows = list(csv.DictReader(f))
    definition = json.loads((out / "data" / "recipe.json").read_text())["verdicts"]["task"]
    assert [e["input"] for e in definition["examples"]] == [r["pair"] for r in rows[:3]]  # the first 3 rows
    assert sorted(definition["labels"]) == ["C", "E", "N"]
    assert set(report["split"]["ids"]["scored"]) <= {r["rid"] for r in rows[3:]}  # never a demonstration
    assert report["scores"]["self_guide"]["num_examples"] == 3
    training = report["training"]
    # 6 pairs hold out 1 synthetic validation row: no epoch is chosen on it, the last is kept, and it is said
    assert training["validation_rows"] == 1 and training["too_few_validation_rows"] is True
    assert training["per_epoch"] == [] and training["best_epoch"] == 2 and training["min_validation_rows"] == 20
    assert ("epoch 2 kept, the last, unchosen: the synthetic validation split has 1 rows, fewer than the 20 an epoch "
            "is chosen on (min_validation_rows)") in (out / "report.md").read_text()
    assert "fewer than the 20 an epoch is chosen on (min_validation_rows); no epoch is chosen" in caplog.text
    # the same run from a YAML file (the columns under dataset_task): found done, nothing changes
    config = tmp_path / "sg.yaml"
    config.write_text(json.dumps({"model": "tiny-random", "num_examples": 6, "num_train_epochs": 2,
                                  "per_device_train_batch_size": 4, "eval_limit": 3, "val_instances": 0, **LOOSE,
                                  "dataset_task": {"input_field": "pair", "output_field": "verdict",
                                                   "id_field": "rid", "instruction": "Answer E, N or C."}}))
    trained = (out / "model" / "run_card.json").stat().st_mtime_ns
    assert main(["self-guide", VERDICTS, "--config", str(config), "--out", str(out)]) == 0
    assert json.loads((out / "report.json").read_text()) == report
    assert (out / "model" / "run_card.json").stat().st_mtime_ns == trained


def test_the_recipe_holds_the_synthesis_fields_and_the_model_and_no_job_field():
    from cookbook_datasets.self_guide.config import JOB_FIELDS

    names = {f.name for f in dataclasses.fields(SelfGuideConfig)}
    assert set(JOB_FIELDS) <= names
    base = recipe(NLI, SelfGuideConfig())
    assert set(base["config"]) == names - set(JOB_FIELDS) and base["model"] == SelfGuideConfig().model
    job = SelfGuideConfig(backend="openai", base_url="http://h/v1", engine_options={"timeout": 5}, train=False,
                          finetune="full", num_train_epochs=5, learning_rate=1e-3, eval_limit=9, num_shots=1,
                          min_validation_rows=5, evaluate=False, dataset_task={"input_field": "x"})
    assert recipe(NLI, job) == base  # none of these changes the pairs: a run resumes across them
