"""experiments/cookbook_mix.py's pure helpers: scored tasks per framing, rows pooled over seeds as
(seed, row id), losses read off a paired comparison, and the cost estimate's arithmetic."""

import argparse
import importlib
import sys
from pathlib import Path

EXPERIMENTS = Path(__file__).resolve().parents[1] / "experiments"
sys.path.insert(0, str(EXPERIMENTS))
cm = importlib.import_module("cookbook_mix")


def test_a_multiple_choice_task_is_scored_once_per_framing_and_others_once():
    kinds = {"arc_easy": "multiple_choice", "task1344": "classification", "task039": "generation"}
    scored = cm.scored_names(kinds)
    assert scored == {"arc_easy (loglik)": ("arc_easy", "loglik"), "arc_easy (generate)": ("arc_easy", "generate"),
                      "task1344": ("task1344", "generate"), "task039": ("task039", "generate")}
    sets = cm.framing_sets(scored, kinds)
    assert sets["generative"] == ["arc_easy (generate)", "task1344", "task039"]
    assert sets["loglik"] == ["arc_easy (loglik)"] and len(sets["all"]) == 4


def test_rows_pool_over_seeds_as_seed_and_id_and_keep_only_shared_tasks():
    pooled = cm.pool({0: {"a": {"r1": 1.0, "r2": 0.0}, "b": {"r1": 1.0}}, 1: {"a": {"r1": 0.0}}})
    assert pooled == {"a": {"0:r1": 1.0, "0:r2": 0.0, "1:r1": 0.0}}  # the same id in two seeds stays two rows
    per_seed = {0: {"arms": {"base": {"rows": {"a": {"r": 1.0}}}}}, 1: {"arms": {}}}
    assert cm.arm_rows(per_seed, "base", ["a"]) == {}  # an arm is pooled only once every seed has it
    both = {0: {"arms": {"x": {"rows": {"b": {"r": 1.0}, "a": {"r": 0.0}}}}},
            1: {"arms": {"x": {"rows": {"a": {"r": 1.0}, "b": {"r": 0.0}}}}}}
    assert list(cm.arm_rows(both, "x", ["a", "b"])) == ["a", "b"]  # the order asked for, whatever the stored order


def test_a_loss_is_an_interval_entirely_below_zero():
    from cookbook_datasets.eval.compare import compare_rows

    n = 60
    base = {"down": {str(i): 1.0 for i in range(n)}, "same": {str(i): float(i % 2) for i in range(n)}}
    arm = {"down": {str(i): float(i < 10) for i in range(n)}, "same": {str(i): float(i % 2) for i in range(n)}}
    comparison = compare_rows({"base": base, "arm": arm}, baseline="base", num_resamples=500)
    lost = cm.losses(comparison, ["arm"])
    assert [x["task"] for x in lost["arm"]] == ["down"] and lost["arm"][0]["high"] < 0
    assert cm.losses(None, ["arm"]) == {}


def test_the_estimate_grows_with_components_and_steps_and_sums_its_parts():
    args = argparse.Namespace(steps=24, batch_size=8, update_every=8)
    counts = {"components": 10, "kinds": {"arc": "multiple_choice", "nli": "classification"},
              "fit": {"arc": 50, "nli": 50}, "scored": {"arc": 250, "nli": 200}, "singles": {"nli_t": ["nli"]}}
    small = cm.estimate(counts, args)
    assert abs(small["total"] - sum(v for k, v in small.items() if k != "total")) < 0.5
    more = cm.estimate({**counts, "components": 20}, args)
    assert more["proxy_runs"] > small["proxy_runs"] and more["arms_eval"] == small["arms_eval"]
    longer = cm.estimate(counts, argparse.Namespace(steps=48, batch_size=8, update_every=8))
    assert longer["proxy_runs"] > small["proxy_runs"] and longer["base_scores"] == small["base_scores"]


def test_an_arm_that_gives_one_label_everywhere_scores_no_better_than_the_constant_answer():
    n = 80
    gold_yes = [i % 4 != 0 for i in range(n)]  # 75% "yes"
    constant = {str(i): float(g) for i, g in enumerate(gold_yes)}  # "yes" on every row
    reads = {str(i): 1.0 for i in range(n)}  # an arm that reads the task: right on every row
    per_seed = {s: {"prior": {"constant": {"t": {"answer": "yes", "rows": constant}},
                              "top_share": {"always_yes": {"t": 1.0}, "reads": {"t": 0.75}}},
                    "arms": {"always_yes": {"rows": {"t": constant}}, "reads": {"rows": {"t": reads}}}}
                for s in (0, 1)}
    prior = cm.prior_summary(per_seed, ["always_yes", "reads"], {"num_resamples": 500})
    assert prior["per_task"]["t"]["always_yes"]["diff"] == 0.0
    assert prior["per_task"]["t"]["reads"]["low"] > 0  # only reading the task beats the label prior
    assert prior["top_share"]["always_yes"]["t"] == 1.0 and prior["answers"]["t"] == ["yes", "yes"]
    assert "Is it more than a label prior?" in "\n".join(cm.prior_lines(prior))
    assert cm.prior_summary({0: {"prior": None, "arms": {}}}, ["reads"], {}) == {}  # not until every seed has it
