"""Cookbook-Mix: signals on real-format tasks, the mixing methods, and `mix learn` end to end."""

import json
import random
from pathlib import Path

import numpy as np
import pytest

from cookbook_datasets import load_dataset
from cookbook_datasets.cli import main
from cookbook_datasets.mixing import MixLearnConfig, MixSignals, get_method, learn, read_mix
from cookbook_datasets.mixing.methods.laws import fit_law
from cookbook_datasets.mixing.signals import compute_signals, explained_share
from cookbook_datasets.tasks import load_task, split_fit_eval

WORDS = ("river stone lamp garden silver window tiger candle forest mirror violin harbor pepper rocket meadow "
         "saddle lantern orchid canyon falcon").split()


def _nli_task(path, n=90, seed=0):
    """An NIV2-format NLI task whose labels (E/N/C) follow the word-overlap rule."""
    rng = random.Random(seed)

    def item():
        premise = rng.sample(WORDS, 8)
        label = rng.choice("ENC")
        inside = {"E": 3, "N": 1, "C": 0}[label]
        outside = [w for w in WORDS if w not in premise]
        hyp = rng.sample(premise, inside) + rng.sample(outside, 3 - inside)
        return {"input": f"Premise: The {' '.join(premise)}.\nHypothesis: A {' '.join(hyp)}.", "output": [label]}

    data = {"Definition": ["Answer E (entailment), N (neutral) or C (contradiction)."],
            "Positive Examples": [item() for _ in range(3)], "Instances": [item() for _ in range(n)]}
    path.write_text(json.dumps(data))
    return path


def _choice_task(path, n=90, seed=1):
    """A multiple-choice task whose answer is the option sharing most words with the question."""
    rng = random.Random(seed)
    lines = []
    for i in range(n):
        q = rng.sample(WORDS, 6)
        right = rng.sample(q, 3) + rng.sample(WORDS, 1)
        options = [right] + [rng.sample([w for w in WORDS if w not in q], 4) for _ in range(2)]
        order = rng.sample(range(3), 3)
        lines.append(json.dumps({"id": str(i), "question": " ".join(q) + "?",
                                 "choices": [" ".join(options[j]) for j in order], "label": order.index(0)}))
    path.write_text("\n".join(lines))
    return path


def _generation_task(path, n=40):
    data = {"Definition": ["Rewrite the sentence."], "Positive Examples": [{"input": "a b", "output": "b a"}] * 2,
            "Instances": [{"input": f"sentence number {i} to rewrite", "output": [f"rewritten {i} " * 3]}
                          for i in range(n)]}
    path.write_text(json.dumps(data))
    return path


@pytest.fixture
def tasks(tmp_path):
    return [_nli_task(tmp_path / "toy_nli.json"), _choice_task(tmp_path / "toy_choice.jsonl")]


# -- rows and signals ------------------------------------------------------------------------------
def test_a_multiple_choice_fit_row_is_answered_and_scored_in_both_framings(tasks, tiny_model, tmp_path):
    from cookbook_datasets.mixing.learner import answer_tasks
    from cookbook_datasets.eval.agreement import agreement
    from cookbook_datasets.eval.framings import model_answers

    fit, _ = split_fit_eval(load_task(tasks[1]), fit_size=6, eval_size=4)
    answers = model_answers(*tiny_model, fit, batch_size=4)
    assert len(answers) == 6 and all(len(a) == 2 and isinstance(a[0], int) for a in answers)
    assert all(a[1] is None or 0 <= a[1] < 3 for a in answers)  # the option its reply names, if any
    # the score is the mean over framings: right in one framing of two is half a point
    assert agreement(fit, [[0, 1], [2, 2]], [0, 2]) == pytest.approx(0.75)
    assert agreement(fit, [0, 1], [0, 2]) == pytest.approx(0.5)  # a rule's answer: one choice
    # an older cache (the log-likelihood choice alone) is answered again, not misread
    cache = tmp_path / "answers.json"
    cache.write_text(json.dumps({fit.name: [0] * 6}))
    config = MixLearnConfig(tasks=[str(tasks[1])], out=str(tmp_path / "m"), model="tiny-random")
    again = answer_tasks("tiny-random", None, {fit.name: fit}, cache, config)[fit.name]
    assert all(isinstance(a, list) for a in again)


def test_fit_rows_and_scored_rows_never_overlap(tasks):
    fit, held = split_fit_eval(load_task(tasks[0]), fit_size=30, eval_size=50, seed=3)
    assert len(fit) == 30 and len(held) == 50 and not set(fit.ids) & set(held.ids)
    with pytest.raises(ValueError, match="fit_size"):
        split_fit_eval(load_task(tasks[0]), fit_size=90, eval_size=5)


def test_label_words_are_the_tasks_own_labels_and_the_rule_solves_a_rule_made_task(tasks):
    fit = {r.name: r for r in (split_fit_eval(load_task(p), 40, 20)[0] for p in tasks)}
    signals, _ = compute_signals(fit, ["nli", "multiple_choice_qa", "sort_words"])
    assert "nli[E/N/C]" in signals.components  # entailment -> "E", neutral -> "N", contradiction -> "C"
    assert signals.components["nli[E/N/C]"] == {"template": "nli", "label_words": ["E", "N", "C"]}
    assert signals.rule_accuracy["nli[E/N/C]"]["toy_nli"] == 1.0
    assert signals.rule_accuracy["multiple_choice_qa"]["toy_choice"] == 1.0
    assert signals.rule_accuracy["nli[E/N/C]"]["toy_choice"] is None  # a label rule cannot pick these options
    assert "sort_words" not in signals.components  # its rule does not apply to real inputs
    help_ = signals.helpfulness()
    assert help_["nli[E/N/C]"]["toy_nli"] > 0.5 and help_["multiple_choice_qa"]["toy_nli"] == 0


def test_without_labels_the_accuracy_is_estimated_from_the_rules_agreement(tasks):
    fit = {r.name: r for r in (split_fit_eval(load_task(p), 40, 20)[0] for p in tasks)}
    signals, _ = compute_signals(fit, ["nli", "entity_matching", "paraphrase_detection"], use_labels=False)
    assert signals.estimated["toy_nli"] is True
    assert "nli[E/N/C]" in signals.components  # named labels still set the words (from the label set)
    assert any(a is not None for a in signals.rule_accuracy["nli[E/N/C]"].values())


# -- methods -----------------------------------------------------------------------------------------
def _signals():
    return MixSignals(tasks=["a", "b"], components={"x": {"template": "nli"}, "y": {"template": "yes_no_qa"},
                                                    "z": {"template": "shared_words"}},
                      rule_accuracy={"x": {"a": 0.9, "b": None}, "y": {"a": 0.5, "b": 0.7}, "z": {"a": None, "b": 0.4}},
                      coverage={"x": {"a": 1.0, "b": 0.0}, "y": {"a": 1.0, "b": 1.0}, "z": {"a": 0.0, "b": 1.0}},
                      chance={"a": 0.5, "b": 0.5}, base_scores={"a": 0.5, "b": 0.5})


def test_rules_gives_every_task_its_most_helpful_template():
    method = get_method("rules")
    w = method.fit(_signals())
    assert w == pytest.approx({"x": 0.5, "y": 0.5, "z": 0.0})  # a: all on x; b: all on y (z is below chance)
    assert method.explain()["tasks_without_a_helpful_rule"] == []


def test_rules_says_when_no_template_helps_a_task_and_spreads_its_share(caplog):
    s = _signals()
    s.rule_accuracy["y"]["b"] = 0.3
    method = get_method("rules")
    w = method.fit(s)
    assert method.explain()["tasks_without_a_helpful_rule"] == ["b"]
    assert w["z"] == pytest.approx(1 / 6) and w["x"] == pytest.approx(0.5 + 1 / 6)
    assert "no template's rule beats chance on b" in caplog.text


def test_mixing_laws_recover_a_known_law_and_pick_by_held_out_error():
    rng = np.random.default_rng(0)
    X = rng.dirichlet(np.ones(3), size=12)
    y = 0.2 + X @ np.array([0.3, -0.1, 0.05])
    law = fit_law(X, y, kind="linear", alpha=1e-8)
    assert law.loo_error < 1e-6 and np.allclose(law.predict(X), y, atol=1e-6)
    y_exp = np.exp(-1.0 + X @ np.array([2.0, 0.0, -1.0])) - 0.05
    assert fit_law(X, y_exp, kind="auto", alpha=1e-8).kind == "log_linear"
    with pytest.raises(ValueError, match="at least 3"):
        fit_law(X[:2], y[:2])


def test_proxy_maximises_the_predicted_gain_and_protects_every_task():
    s = _signals()
    method = get_method("proxy", num_random=4, seed=0)
    runs = method.runs(list(s.components))
    assert len(runs) == 3 + 4 and runs[0] == {"x": 1.0}
    # x helps a a lot but hurts b; y helps b; z does nothing: the best mean keeps b at its base,
    # which the linear truth puts at x = 2/3, y = 1/3
    truth = {"a": np.array([0.4, 0.0, 0.0]), "b": np.array([-0.1, 0.2, 0.0])}
    for r in runs:
        w = np.array([r.get(c, 0.0) for c in s.components])
        s.runs.append({"weights": r, "scores": {t: 0.5 + float(w @ truth[t]) for t in s.tasks}})
    w = method.fit(s)
    gains = method.explain()["predicted_gain"]
    assert min(gains.values()) >= -0.01  # no task predicted below base
    assert 0.5 < w["x"] < 0.7 and w["y"] > 0.25 and w["z"] < 0.1
    assert get_method("uniform").fit(s) == pytest.approx({"x": 1 / 3, "y": 1 / 3, "z": 1 / 3})
    best = get_method("best-single")
    assert best.fit(s) == {"x": 1.0, "y": 0.0, "z": 0.0}  # the best mean over both tasks alone (0.65 vs 0.6)


def test_the_runs_seed_draws_the_proxys_random_mixtures():
    comps = ["x", "y", "z"]
    method = get_method("proxy", num_random=2)
    assert method.runs(comps, seed=0) == method.runs(comps, seed=0)
    one, other = method.runs(comps, seed=0), method.runs(comps, seed=1)
    assert one[:3] == other[:3]  # each component alone, whatever the seed
    assert one[3:] != other[3:]


def test_unknown_methods_and_bad_parameters_are_named():
    with pytest.raises(ValueError, match="did you mean 'rules'"):
        get_method("rule")
    with pytest.raises(ValueError, match="sharpness"):
        get_method("rules", sharpness=0)
    with pytest.raises(ValueError, match="bad parameters for mixing method 'proxy'"):
        get_method("proxy", temperature=1)


def test_explained_share_is_the_regression_of_accuracy_gains_on_alignment_gains():
    before = [0.2, 0.3, 0.4, 0.5]
    out = explained_share(before, [0.3, 0.5, 0.4, 0.8], [0.1, 0.1, 0.1, 0.1], [0.2, 0.3, 0.1, 0.4])
    assert out["slope"] == pytest.approx(1.0) and out["r2"] == pytest.approx(1.0)


# -- mix learn / mix signals end to end --------------------------------------------------------------
def test_mix_learn_rules_writes_the_weights_report_and_a_trainable_mixture(tasks, tmp_path, capsys):
    out = tmp_path / "mix"
    assert main(["mix", "learn", "--tasks", *map(str, tasks), "--templates", "nli", "multiple_choice_qa",
                 "shared_words", "--no-model", "--fit-size", "30", "--eval-size", "20", "--num-examples", "60",
                 "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "nli[E/N/C]" in printed and "multiple_choice_qa" in printed
    mix = read_mix(out / "mix.json")
    # the rules' halves, less the floor of toy_nli's protecting component (its demonstrations);
    # toy_choice has none and is protected by the choice template, already well above its floor
    assert mix["weights"] == pytest.approx({"nli[E/N/C]": 0.49, "multiple_choice_qa": 0.49, "demos[toy_nli]": 0.02})
    assert mix["protection"]["tasks"]["toy_choice"]["components"] == ["multiple_choice_qa"]
    assert mix["method"] == "rules" and len(mix["fit_rows"]["toy_nli"]) == 30
    for name in ("report.md", "weights.png", "signals.png", "data/README.md", "data/sft_recipe.yaml"):
        assert (out / name).exists(), name
    rows = load_dataset("mixture", weights=str(out / "mix.json"), num_examples=40, split="train")
    nli_answers = {r[0]["content"] for r, s in zip(rows["completion"], rows["source"]) if s == "nli[E/N/C]"}
    assert nli_answers <= {"E", "N", "C"}  # template rows answer the way the task is scored


def test_mix_signals_prints_rule_accuracy_and_the_models_alignment(tasks, tmp_path, capsys):
    assert main(["mix", "signals", "--tasks", *map(str, tasks), "--templates", "nli", "multiple_choice_qa",
                 "--model", "tiny-random", "--fit-size", "12", "--eval-size", "5", "--out", str(tmp_path / "s")]) == 0
    lines = capsys.readouterr().out.splitlines()
    row = next(line for line in lines if line.startswith("nli[E/N/C]") and "toy_nli" in line)
    acc, cover, chance, align = row.split()[-4:]
    assert float(acc) == 1.0 and float(cover) == 1.0 and 0 <= float(align) <= 1
    assert any(line.startswith("Untuned model on the fit rows") for line in lines)


def test_a_task_no_template_maps_to_is_reported_and_falls_back(tasks, tmp_path, capsys):
    gen = _generation_task(tmp_path / "toy_rewrite.json")
    assert main(["mix", "signals", "--tasks", str(gen), str(tasks[0]), "--templates", "nli", "--no-model",
                 "--fit-size", "10", "--eval-size", "5", "--out", str(tmp_path / "s")]) == 0
    assert "No template maps to: toy_rewrite" in capsys.readouterr().out
    mix = learn(MixLearnConfig(tasks=[str(gen), str(tasks[0])], out=str(tmp_path / "m"), templates=["nli"],
                               use_model=False, fit_size=10, eval_size=5, num_examples=20))
    assert mix["explanation"]["tasks_without_a_helpful_rule"] == ["toy_rewrite"]
    assert "No rule beats chance on: toy_rewrite" in (tmp_path / "m" / "report.md").read_text()


def test_mix_learn_proxy_trains_each_proxy_once_and_resumes(tasks, tmp_path, monkeypatch):
    import importlib

    learner = importlib.import_module("cookbook_datasets.mixing.learner")  # where the proxy runs are trained
    trained = []
    real = learner.train_mixture

    def counting(weights, *a, **kw):
        trained.append(dict(weights))
        return real(weights, *a, **kw)

    monkeypatch.setattr(learner, "train_mixture", counting)
    config = MixLearnConfig(tasks=[str(t) for t in tasks], out=str(tmp_path / "p"), templates=["nli", "multiple_choice_qa"],
                            model="tiny-random", method="proxy", method_params={"num_random": 1}, fit_size=8,
                            eval_size=4, proxy_steps=1, proxy_rows=16, batch_size=4, num_examples=20)
    mix = learn(config)
    # 3 components alone (2 template settings, toy_nli's demonstrations) + 1 random mixture
    assert len(trained) == 4 and mix["budget"]["proxy_runs"] == 4
    assert {"demos[toy_nli]": 1.0} in trained
    assert set(mix["explanation"]["predicted_gain"]) == {"toy_nli", "toy_choice"}
    learn(config)
    assert len(trained) == 4  # every proxy run was cached
    with pytest.raises(ValueError, match="other settings"):
        learn(MixLearnConfig(**{**config.__dict__, "fit_size": 9}))


def test_bad_learn_configs_are_refused(tasks, tmp_path):
    with pytest.raises(ValueError, match="at least one task"):
        MixLearnConfig(tasks=[], out=str(tmp_path))
    with pytest.raises(ValueError, match="fine-tunes the model"):
        MixLearnConfig(tasks=[str(tasks[0])], out=str(tmp_path), method="proxy", use_model=False)
    with pytest.raises(FileNotFoundError, match="'nope.json' is neither a file"):
        MixLearnConfig(tasks=["nope.json"], out=str(tmp_path)).load_tasks()


@pytest.mark.slow
def test_on_real_tasks_the_rules_speak_each_tasks_labels_and_approximate_it(shared_data):
    import os

    niv2 = os.path.join(shared_data, "niv2", "dev")
    paths = [os.path.join(niv2, f"{t}.json") for t in ("task1344_glue_entailment_classification",
                                                        "task1385_anli_r1_entailment", "task039_qasc_find_overlapping_words")]
    fit = {r.name: r for r in (split_fit_eval(load_task(p), 60, 20)[0] for p in paths)}
    signals, _ = compute_signals(fit, ["nli", "shared_words"])
    words = {c: s.get("label_words") for c, s in signals.components.items() if s["template"] == "nli"}
    assert ["Entailment", "Neutral", "Contradiction"] in words.values()  # anli's labels, by name
    assert any(w is not None and set(w) == {"0", "1"} for w in words.values())  # glue's 0/1, by accuracy
    assert signals.rule_accuracy["shared_words"]["task039_qasc_find_overlapping_words"] > 0.4  # ROUGE-L


# -- your own task as a CSV file ---------------------------------------------------------------------
VERDICTS = Path(__file__).parent / "data" / "verdicts.csv"  # 42 rows, E/N/C by the word-overlap rule
VERDICT_COLUMNS = ["--input-field", "pair", "--output-field", "verdict", "--id-field", "rid"]


def test_a_users_csv_task_goes_through_mix_signals_and_mix_learn(tmp_path, capsys):
    common = ["--tasks", str(VERDICTS), *VERDICT_COLUMNS, "--templates", "nli", "--no-model", "--fit-size", "20",
              "--eval-size", "10"]
    assert main(["mix", "signals", *common, "--out", str(tmp_path / "s")]) == 0
    row = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("nli") and "verdicts" in line)
    assert float(row.split()[-3]) == 1.0  # the rule's accuracy on the fit rows (no model: no alignment column)
    out = tmp_path / "mix"
    assert main(["mix", "learn", *common, "--method", "uniform", "--num-examples", "60", "--out", str(out)]) == 0
    mix = read_mix(out / "mix.json")
    fit_ids = mix["fit_rows"]["verdicts"]
    assert len(fit_ids) == 20 and set(fit_ids) <= {f"v{i:02d}" for i in range(42)}  # the file's own ids
    assert any(c.startswith("nli") for c in mix["weights"]) and (out / "data" / "sft_recipe.yaml").exists()
    # the same columns from --config FILE.yaml (a mapping under dataset_task)
    config = tmp_path / "signals.yaml"
    config.write_text(json.dumps({"tasks": [str(VERDICTS)], "templates": ["nli"], "use_model": False, "fit_size": 20,
                                  "eval_size": 10, "out": str(tmp_path / "s2"),
                                  "dataset_task": {"input_field": "pair", "output_field": "verdict"}}))
    assert main(["mix", "signals", "--config", str(config)]) == 0
    assert any(line.startswith("nli") and "verdicts" in line for line in capsys.readouterr().out.splitlines())


def test_a_csv_task_without_its_columns_named_says_which_option_names_them(tmp_path, capsys):
    assert main(["mix", "signals", "--tasks", str(VERDICTS), "--no-model", "--out", str(tmp_path / "s")]) == 2
    err = capsys.readouterr().err
    assert "no column 'input'" in err and "pair, verdict" in err and "--input-field" in err
