"""experiments/diverse_evol.py's report reads every arm against the constant answer on the
classification tasks (seeds pooled), so a subset that learned only the label prior shows as such."""

import argparse
import importlib
import sys
from pathlib import Path

EXPERIMENTS = Path(__file__).resolve().parents[1] / "experiments"
sys.path.insert(0, str(EXPERIMENTS))
de = importlib.import_module("diverse_evol")


def test_an_arm_is_compared_with_the_constant_answer_on_the_classification_tasks_only():
    n = 40
    prior = {str(i): float(i % 4 != 0) for i in range(n)}  # the constant answer is right on 75% of rows
    reads = {str(i): 1.0 for i in range(n)}
    per_seed = {s: {"prior_only": {"rounds": [{"rows": {"cls": prior, "gen": reads}}]},
                    "reads": {"rounds": [{"rows": {"cls": reads, "gen": prior}}]}} for s in (0, 1)}
    consts = {s: {"cls": {"answer": "yes", "rows": prior}} for s in (0, 1)}
    data: dict = {}
    lines = de.constant_lines(per_seed, consts, ["prior_only", "reads"], False, argparse.Namespace(rounds=0), data)
    diffs = data["vs_constant"]["differences"]
    assert data["vs_constant"]["tasks"] == ["cls"]  # the generation task has no constant answer
    assert diffs["prior_only"]["diff"] == 0.0 and diffs["reads"]["low"] > 0
    assert "Against the constant answer" in lines[-1]
    assert de.constant_lines(per_seed, {0: consts[0]}, ["reads"], False, argparse.Namespace(rounds=0), {}) == []


def test_training_precision_is_part_of_the_recipe_so_machines_do_not_change_it():
    args = argparse.Namespace(epochs=2.0, lr=2e-4, max_length=384, precision="bf16")
    assert de.train_fields(args)["precision"] == "bf16"  # never "auto": that differs by CPU
