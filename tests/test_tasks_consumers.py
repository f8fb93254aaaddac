"""Every method takes a Task: evaluation, Cookbook-Mix rows, SELF-GUIDE's spec, augmentation's seed
set, DiverseEvol's recipe."""

import json

import pytest

from cookbook_datasets.tasks import Instance, Task

SENTIMENT = Task(name="sentiment", instruction="Positive or negative?",
                 demonstrations=[Instance.make("I love it.", ["positive"]), Instance.make("Awful.", ["negative"])],
                 instances=[Instance.make(f"secret sentence {i}", ["positive" if i % 2 else "negative"], id=f"s{i}")
                            for i in range(30)], source="test")


def test_self_guide_spec_from_a_task_holds_no_instance():
    from cookbook_datasets.self_guide import TaskSpec

    spec = TaskSpec.from_task(SENTIMENT, num_demonstrations=1)
    assert (spec.kind, spec.labels, spec.examples) == ("classification", ["negative", "positive"],
                                                       [{"input": "I love it.", "output": "positive"}])
    assert "secret" not in json.dumps(spec.to_dict())
    quiz = Task(name="quiz", instances=[Instance.make("q", choices=["a", "b"], gold=0)])
    with pytest.raises(ValueError, match="classification or generation"):
        TaskSpec.from_task(quiz)


def test_augmentation_seed_set_is_the_tasks_labelled_instances():
    from cookbook_datasets.augmentation.seed_data import load_seed_set

    task = Task(name="math", instruction="Solve.", instances=[
        Instance.make("2+2?", ["4"], id="a"), Instance.make("unlabelled"), Instance.make("3+3?", [" 6 "], id="b")])
    assert load_seed_set(task) == [{"seed_index": 0, "seed_id": "a", "question": "2+2?", "answer": "4"},
                                   {"seed_index": 1, "seed_id": "b", "question": "3+3?", "answer": "6"}]
    quiz = Task(name="quiz", instances=[Instance.make("Which?", choices=["x", "y"], gold=1, id="q")])
    assert load_seed_set(quiz)[0]["question"] == "Question: Which?\nOptions:\nA. x\nB. y"
    assert load_seed_set(quiz)[0]["answer"] == "y"


def test_mix_rows_of_a_task_are_a_recorded_disjoint_split():
    from cookbook_datasets.mixing.task_rows import gold, load_task_rows

    fit, held = load_task_rows(SENTIMENT, fit_size=10, eval_size=100, seed=1)
    assert (len(fit), len(held)) == (10, 20) and not set(fit.rows) & set(held.rows)
    assert fit.rows == SENTIMENT.split(seed=1, fit=10, eval=20)["fit"].ids
    assert gold(held) == [list(SENTIMENT.select([i]).instances[0].outputs) for i in held.rows]


def test_evaluation_takes_task_objects_and_records_their_split(tiny_model, tmp_path):
    from cookbook_datasets.eval import EvalConfig, evaluate_model

    test = SENTIMENT.split(fit=10, test=8, seed=0)["test"]
    results = evaluate_model(EvalConfig(model="tiny-random", tasks=[test], cls_framing="rank", num_shots=1),
                             out=tmp_path / "r.json", model=tiny_model[0], tokenizer=tiny_model[1])
    res = results["tasks"]["sentiment"]
    assert res["num_examples"] == 8 and res["split"]["part"] == "test" and res["ids_hash"] == test.ids_hash()
    rows = [json.loads(line) for line in (tmp_path / "r.rows.jsonl").read_text().splitlines()]
    assert [r["id"] for r in rows] == test.ids


def test_diverse_evol_recipe_records_a_task_by_its_ids(tmp_path):
    from cookbook_datasets.trainers.diverse_evol import DiverseEvolConfig

    test = SENTIMENT.split(test=5, seed=0)["test"]
    recipe = DiverseEvolConfig(pool="p", eval_tasks=[test, "nli"]).recipe()
    assert recipe["eval_tasks"][0]["ids_hash"] == test.ids_hash() and recipe["eval_tasks"][1] == "nli"
    json.dumps(recipe)  # what state.json holds
    with pytest.raises(ValueError, match="eval_tasks holds 3"):
        DiverseEvolConfig(pool="p", eval_tasks=[3])
