"""Every method takes a Task: evaluation, Cookbook-Mix rows, SELF-GUIDE's definition, augmentation's
seed set, DiverseEvol's recipe."""

import json

import pytest

from cookbook_datasets.tasks import Instance, Task

SENTIMENT = Task(name="sentiment", instruction="Positive or negative?",
                 demonstrations=[Instance.make("I love it.", ["positive"]), Instance.make("Awful.", ["negative"])],
                 instances=[Instance.make(f"secret sentence {i}", ["positive" if i % 2 else "negative"], id=f"s{i}")
                            for i in range(30)], source="test")


def test_self_guide_definition_of_a_task_holds_no_instance():
    from cookbook_datasets.self_guide.config import SelfGuideConfig
    from cookbook_datasets.self_guide.pipeline import recipe
    from cookbook_datasets.tasks import TaskFormatError, task_definition

    definition = task_definition(SENTIMENT, num_demonstrations=1)
    assert (definition.kind, definition.labels) == ("classification", ["negative", "positive"])
    assert [(d.input, d.answer) for d in definition.demonstrations] == [("I love it.", "positive")]
    assert not definition.instances and "secret" not in json.dumps(recipe(definition, SelfGuideConfig(model="m")))
    quiz = Task(name="quiz", instances=[Instance.make("q", choices=["a", "b"], gold=0)])
    with pytest.raises(TaskFormatError, match="classification or generation"):
        task_definition(quiz)


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
    from cookbook_datasets.eval.agreement import gold
    from cookbook_datasets.tasks import split_fit_eval

    fit, held = split_fit_eval(SENTIMENT, fit_size=10, eval_size=100, seed=1)
    assert (len(fit), len(held)) == (10, 20) and not set(fit.ids) & set(held.ids)
    assert fit.ids == SENTIMENT.split(seed=1, fit=10, eval=20)["fit"].ids
    assert gold(held) == [list(SENTIMENT.select([i]).instances[0].outputs) for i in held.ids]
    assert held.layout is fit.layout is not None  # the scored rows are read as the fit rows chose


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
