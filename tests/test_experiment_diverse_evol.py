"""experiments/diverse_evol.py's report reads every arm against the constant answer on the
classification tasks (seeds pooled), so a subset that learned only the label prior shows as such."""

import argparse
import json
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


def test_an_unfinished_arm_keeps_its_state_and_scores_but_not_its_models_and_resumes_from_them(tmp_path):
    recipe = {"strategy": "kcenter", "seed": 0}
    arm = tmp_path / "work" / "kcenter"
    (arm / "rounds" / "round_0" / "model").mkdir(parents=True)
    (arm / "rounds" / "round_0" / "model" / "adapter_model.safetensors").write_bytes(b"weights")
    (arm / "rounds" / "round_0" / "eval.json").write_text("{}")
    (arm / "rounds" / "round_0" / "eval.rows.jsonl").write_text("{}\n")
    (arm / "rounds" / "round_1").mkdir()
    (arm / "rounds" / "round_1" / "eval.json").write_text("{}")  # round 1 still being scored
    (arm / "rounds" / "round_1" / "eval.rows.jsonl").write_text("{}\n")
    rounds = [{"round": 0, "scores": {"t": 0.5}}, {"round": 1}]
    (arm / "state.json").write_text(json.dumps({"recipe": recipe, "rounds": rounds}))

    kept = tmp_path / "out" / "progress" / "kcenter"
    assert de.save_progress(arm, kept) == 3
    assert sorted(str(f.relative_to(kept)) for f in kept.rglob("*") if f.is_file()) == [
        "rounds/round_0/eval.json", "rounds/round_0/eval.rows.jsonl", "state.json"]

    fresh = tmp_path / "fresh" / "kcenter"
    assert not de.restore_progress(kept, fresh, {**recipe, "seed": 1})  # another recipe: not used
    assert de.restore_progress(kept, fresh, recipe)
    assert json.loads((fresh / "state.json").read_text())["rounds"] == rounds
    assert not de.restore_progress(kept, fresh, recipe)  # an arm already started here is left as it is
