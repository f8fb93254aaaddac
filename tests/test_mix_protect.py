"""Every task keeps a component in its own format (mixing/protect.py), floored in every method, and
``--method auto`` picks the arm on the fit rows alone (mixing/methods/auto.py)."""

import importlib
import json
import random

import numpy as np
import pytest

from cookbook_datasets.cli import main
from cookbook_datasets.loading import load_builder
from cookbook_datasets.mixing import MixLearnConfig, get_method, learn, read_mix
from cookbook_datasets.mixing.methods.auto import objective, split_fit_rows
from cookbook_datasets.mixing.live_mixture import LiveMixture
from cookbook_datasets.mixing.methods.online import OnlineMixer
from cookbook_datasets.mixing.protect import apply_floors, demonstration_rows, floors
from cookbook_datasets.mixing.schedule import ScheduleMismatchError, WeightSchedule
from cookbook_datasets.tasks import load_task, split_fit_eval

WORDS = "amber basalt cobalt dune ember fjord glacier heron iris juniper kelp lagoon mesa nectar opal".split()


def _pair_task(path, n=40, demos=3, labels=("Yes.", "No."), seed=0, fmt="Left: {a}\nRight: {b}"):
    """Yes./No. by whether the two texts share their words (the entity-matching rule)."""
    rng = random.Random(seed)

    def item():
        a = rng.sample(WORDS, 5)
        same = rng.random() < 0.5
        b = a if same else rng.sample([w for w in WORDS if w not in a], 5)
        return {"input": fmt.format(a=" ".join(a), b=" ".join(b)), "output": [labels[0] if same else labels[1]]}

    data = {"Definition": ["Say whether the two texts match."],
            "Positive Examples": [{**(x := item()), "output": x["output"][0]} for _ in range(demos)],
            "Instances": [{"id": str(i), **item()} for i in range(n)]}
    path.write_text(json.dumps(data))
    return path


def _choice_task(path, n=40, seed=1):
    rng = random.Random(seed)
    lines = []
    for i in range(n):
        q = rng.sample(WORDS, 5)
        options = [rng.sample(q, 3), rng.sample([w for w in WORDS if w not in q], 3)]
        gold = rng.randrange(2)
        if gold:
            options.reverse()
        lines.append(json.dumps({"id": str(i), "question": " ".join(q) + "?", "choices": [" ".join(o) for o in options],
                                 "label": gold}))
    path.write_text("\n".join(lines))
    return path


def _rewrite_task(path, n=30):
    """A generation task with no demonstrations that no template reads."""
    data = {"Definition": ["Rewrite the sentence."], "Positive Examples": [],
            "Instances": [{"id": str(i), "input": f"sentence number {i} to rewrite", "output": [f"new {i}"]}
                          for i in range(n)]}
    path.write_text(json.dumps(data))
    return path


# -- floors -----------------------------------------------------------------------------------------
def test_a_floor_lifts_an_underflowing_component_and_the_others_pay_in_proportion():
    w = apply_floors({"a": 0.75, "b": 0.25, "p": 1e-300}, {"p": 0.1})
    assert w["p"] == pytest.approx(0.1) and w["a"] == pytest.approx(0.675) and w["b"] == pytest.approx(0.225)
    w = apply_floors({"a": 1.0}, {"p": 0.05, "q": 0.05})  # floored components the weights lack are added
    assert w == pytest.approx({"a": 0.9, "p": 0.05, "q": 0.05})
    w = apply_floors({"a": 0.5, "p": 0.5}, {"p": 0.1})  # above its floor: untouched
    assert w == pytest.approx({"a": 0.5, "p": 0.5})
    w = apply_floors({"a": 0.96, "p": 0.0, "q": 0.04}, {"p": 0.3, "q": 0.3})  # q falls below once p is lifted
    assert w["p"] == pytest.approx(0.3) and w["q"] == pytest.approx(0.3) and w["a"] == pytest.approx(0.4)
    with pytest.raises(ValueError, match="floors sum"):
        apply_floors({"a": 1.0}, {"p": 0.7, "q": 0.7})


def test_each_task_gets_its_share_and_the_floors_together_never_take_more_than_half():
    protection = {"t1": {"components": ["p"]}, "t2": {"components": ["p"]}, "t3": {"components": ["q"]},
                  "t4": {"components": []}}
    assert floors(protection, 0.02) == pytest.approx({"p": 0.04, "q": 0.02})
    many = {f"t{i}": {"components": [f"p{i}"]} for i in range(40)}
    assert sum(floors(many, 0.05).values()) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="protect_share"):
        floors(protection, 0.0)
    with pytest.raises(ValueError, match="protect_share"):
        MixLearnConfig(tasks=["x.json"], out="o", protect_share=0.9)


def test_every_method_s_weights_keep_the_floor_even_all_on_another_component():
    best_single = {"x": 1.0, "p": 0.0}  # what best-single or a proxy optimum can return
    assert apply_floors(best_single, {"p": 0.02})["p"] == pytest.approx(0.02)


def test_online_updates_never_push_a_protecting_component_below_its_floor():
    # p is t2's only protector and hurts t1 badly; a huge step and many updates push it down.
    mixer = OnlineMixer(["a", "p"], ["t1", "t2"], eta=80.0, min_share=0.01, task_temperature=10.0,
                        floors={"p": 0.2})
    rng = np.random.default_rng(0)
    mixer.start({"t1": 1.0, "t2": 1.0})
    loss = np.ones(2)
    interaction = np.array([[-0.02, 0.08], [0.0, -0.001]])
    for _ in range(300):
        sampling = mixer.sampling_weights()
        assert sampling["p"] >= 0.2 - 1e-12  # the exploring lean never starves it either
        counts = rng.multinomial(64, [sampling[c] for c in mixer.components])
        loss = loss + interaction @ (counts / 64)
        mixer.update(dict(zip(mixer.components, counts)), dict(zip(mixer.tasks, loss)))
        assert mixer.current()["p"] >= 0.2 - 1e-12
    assert mixer.current()["p"] == pytest.approx(0.2, rel=1e-3)  # pushed down to its floor, not below
    with pytest.raises(ValueError, match="floors for components the mixer does not have: z"):
        OnlineMixer(["a"], ["t"], floors={"z": 0.1})


def test_the_live_stream_floors_the_weights_it_is_given_and_its_schedule_keeps_them(cache_dir):
    two = {"nli": 1.0, "shared_words": 1.0}
    builder = load_builder("mixture", "mixture", weights=two, num_examples=10, seed=3, cache_dir=cache_dir)
    live = LiveMixture(builder, chunk=8, floors={"shared_words": 0.25})
    live.set_weights({"nli": 1.0, "shared_words": 0.0}, step=1)
    assert live.schedule.entries[-1][1] == pytest.approx({"nli": 0.75, "shared_words": 0.25})
    with pytest.raises(ValueError, match="floors for components this mixture did not build: sort_words"):
        LiveMixture(builder, floors={"sort_words": 0.1})


def test_a_schedule_from_another_mixture_names_both_mixtures_components(cache_dir):
    schedule = WeightSchedule([(0, {"nli": 1.0, "sort_words": 1.0})])
    with pytest.raises(ScheduleMismatchError) as err:
        schedule.check_components(["nli", "shared_words"], what="mixture")
    message = str(err.value)
    assert "schedule components: nli, sort_words" in message and "mixture components: nli, shared_words" in message


def test_an_update_interval_longer_than_the_online_run_is_refused_for_auto_too(tmp_path):
    with pytest.raises(ValueError, match="update_every .30. is larger than the run"):
        MixLearnConfig(tasks=["x.json"], out=str(tmp_path), method="auto", online_steps=10, update_every=30)


# -- protecting components --------------------------------------------------------------------------
def test_demonstrations_become_rows_in_the_prompt_the_task_is_scored_with(tmp_path):
    fit, _ = split_fit_eval(load_task(_pair_task(tmp_path / "toy_pair.json")), 10, 5)
    rows = demonstration_rows(fit, num_shots=2)
    demos = fit.demonstrations
    assert len(rows) == 3 and [r["completion"][0]["content"] for r in rows] == [d.answer for d in demos]
    first = rows[0]["prompt"]
    assert first[0] == {"role": "system", "content": "Say whether the two texts match."}
    assert [m["content"] for m in first[1:]] == [demos[1].input, demos[1].answer, demos[2].input, demos[2].answer,
                                                 demos[0].input]  # the others as shots, never itself
    assert rows[0]["source"] == "demos[toy_pair]"


def test_every_task_is_protected_or_the_report_says_what_is_missing(tmp_path, capsys):
    tasks = [_pair_task(tmp_path / "toy_pair.json"), _choice_task(tmp_path / "toy_choice.jsonl"),
             _pair_task(tmp_path / "toy_bare.json", demos=0, labels=("same", "other"), fmt="{a} {b}"),
             _rewrite_task(tmp_path / "toy_rewrite.json")]
    out = tmp_path / "mix"
    assert main(["mix", "learn", "--tasks", *map(str, tasks), "--templates", "entity_matching", "multiple_choice_qa",
                 "yes_no_qa", "--no-model", "--method", "uniform", "--fit-size", "20", "--eval-size", "5",
                 "--num-examples", "200", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    mix = read_mix(out / "mix.json")
    p = mix["protection"]["tasks"]
    assert p["toy_pair"] == {**p["toy_pair"], "components": ["demos[toy_pair]"], "how": "demonstrations"}
    assert p["toy_choice"]["how"] == "format component" and p["toy_choice"]["components"] == ["multiple_choice_qa"]
    # no demonstrations and no field a rule reads: its labels at chance, added to the mixture
    assert p["toy_bare"]["how"] == "label words at chance"
    added = p["toy_bare"]["components"][0]
    assert mix["components"][added]["label_words"] in (["same", "other"], ["other", "same"])
    assert p["toy_rewrite"] == {**p["toy_rewrite"], "components": [], "how": "none"}
    for c, floor in mix["protection"]["floors"].items():
        assert mix["weights"][c] >= floor - 1e-9
    report = (out / "report.md").read_text()
    assert "## Which component protects which task's format" in report
    assert "| toy_pair | demos[toy_pair] | demonstrations" in report
    assert "No component can answer in the format of: toy_rewrite; nothing was added" in report
    assert "toy_rewrite: no component can answer in its format; nothing was added" in printed
    assert "## Fields found in each task's inputs and the roles they fill" in report
    assert "premise = Left (order)" in report and "sentence1 = Left (same text as premise)" in report
    rows = load_dataset_rows(out)
    demo_answers = {r["completion"][0]["content"] for r in rows if r["source"] == "demos[toy_pair]"}
    assert demo_answers and demo_answers <= {"Yes.", "No."}  # the written mixture has them, in the task's words
    assert len(rows) == 200  # a few demonstration rows never end the mixture: they wrap around


def load_dataset_rows(out):
    from cookbook_datasets import load_dataset

    return list(load_dataset("mixture", weights=str(out / "mix.json"), num_examples=200, split="train"))


# -- auto -------------------------------------------------------------------------------------------
def test_the_fit_rows_split_into_a_learn_half_and_a_judge_half_seeded_and_disjoint(tmp_path):
    fit, _ = split_fit_eval(load_task(_pair_task(tmp_path / "toy_pair.json")), 10, 5)
    learn_idx, judge_idx = split_fit_rows({"toy_pair": fit}, seed=0)
    assert sorted(learn_idx["toy_pair"] + judge_idx["toy_pair"]) == list(range(10))
    assert len(judge_idx["toy_pair"]) == 5 and split_fit_rows({"toy_pair": fit}, seed=0)[1] == judge_idx
    assert split_fit_rows({"toy_pair": fit}, seed=1)[1] != judge_idx
    assert objective({"a": 0.6, "b": 0.4}, {"a": 0.5, "b": 0.5}, penalty=2.0) == pytest.approx(0.0 - 0.2)
    with pytest.raises(ValueError, match="candidate 'best'"):
        get_method("auto", candidates="best,rules")


def test_auto_without_the_model_judges_rules_and_uniform_on_held_out_fit_rows(tmp_path, capsys):
    tasks = [_pair_task(tmp_path / "toy_pair.json"), _choice_task(tmp_path / "toy_choice.jsonl")]
    out = tmp_path / "auto"
    assert main(["mix", "learn", "--tasks", *map(str, tasks), "--templates", "entity_matching", "multiple_choice_qa",
                 "nli", "--no-model", "--method", "auto", "--fit-size", "20", "--eval-size", "5",
                 "--num-examples", "40", "--out", str(out)]) == 0
    assert "auto chose rules" in capsys.readouterr().out
    mix = read_mix(out / "mix.json")
    a = mix["auto"]
    assert a["chosen"] == "rules" and a["candidates"] == ["uniform", "rules"]  # training methods need the model
    assert a["objectives"]["rules"] > a["objectives"]["uniform"]
    assert not set(a["judge_rows"]["toy_pair"]) & set(a["learn_rows"]["toy_pair"])
    assert set(a["judge_rows"]["toy_pair"]) | set(a["learn_rows"]["toy_pair"]) == set(mix["fit_rows"]["toy_pair"])
    assert "## Method chosen by auto" in (out / "report.md").read_text()
    assert "Chosen: **rules**" in (out / "report.md").read_text()


def test_auto_with_the_model_picks_the_candidate_whose_proxy_run_scores_best_on_the_judge_half(tmp_path,
                                                                                               monkeypatch):
    learner = importlib.import_module("cookbook_datasets.mixing.learner")  # the model's answers and proxy runs
    tasks = [_pair_task(tmp_path / "toy_pair.json")]
    fit, _ = split_fit_eval(load_task(tasks[0]), 12, 5)
    gold = [i.answer for i in fit.instances]
    wrong = ["No." if g == "Yes." else "Yes." for g in gold]
    judged = []

    def fake_answers(model, adapter, rows, cache, config):  # the untuned model: always wrong
        return {t: list(wrong) for t in rows}

    def fake_run(weights, components, fit_rows, config, work):  # a run is right in proportion to the demos' weight
        judged.append(dict(weights))
        share = weights.get("demos[toy_pair]", 0.0)
        k = int(round(share * len(gold)))
        return {t: gold[:k] + wrong[k:] for t in fit_rows}

    monkeypatch.setattr(learner, "answer_tasks", fake_answers)
    monkeypatch.setattr(learner, "run_answers", fake_run)
    mix = learn(MixLearnConfig(tasks=[str(t) for t in tasks], out=str(tmp_path / "a"), model="tiny-random",
                               templates=["entity_matching", "nli"], method="auto",
                               method_params={"candidates": "uniform,rules,best-single"}, fit_size=12, eval_size=5,
                               num_examples=20))
    a = mix["auto"]
    assert a["chosen"] == "best-single"  # all on the demonstrations: the most right answers on the judge half
    assert a["candidate_weights"]["best-single"]["demos[toy_pair]"] > 0.9
    assert a["objectives"]["best-single"] > max(a["objectives"]["uniform"], a["objectives"]["rules"])
    assert mix["weights"]["demos[toy_pair]"] > 0.9 and mix["method"] == "auto"
    assert "best-single has the best objective on the judge half" in a["why"]
