"""The evaluation harness: task files, templates, batched scoring, results and comparison."""

import json

import pytest
import torch

from cookbook_datasets.cli import main
from cookbook_datasets.eval import EvalConfig, TaskFormatError, evaluate_model, load_tasks
from cookbook_datasets.eval import harness
from cookbook_datasets.eval.lm import loglikelihoods
from cookbook_datasets.eval.tasks import load_multiple_choice

NIV2 = {
    "Definition": ["Say whether the sentence is positive or negative."],
    "Positive Examples": [{"input": "I love it.", "output": "positive", "explanation": ""},
                          {"input": "Awful.", "output": "negative", "explanation": ""},
                          {"input": "Great!", "output": "positive", "explanation": ""}],
    "Negative Examples": [],
    "Instances": [{"id": f"i{i}", "input": f"sentence {i}", "output": ["positive" if i % 2 else "negative"]}
                  for i in range(12)],
}


@pytest.fixture
def task_dir(tmp_path):
    (tmp_path / "sentiment.json").write_text(json.dumps(NIV2))
    gen = dict(NIV2, Instances=[{"id": str(i), "input": f"copy {i}", "output": [f"copy number {i}"]}
                                for i in range(20)])
    (tmp_path / "copying.json").write_text(json.dumps(gen))
    rows = [{"id": str(i), "question": f"q{i}", "choices": ["a", "bb", "ccc"], "label": i % 3} for i in range(6)]
    (tmp_path / "arc_easy.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    return tmp_path


def test_niv2_files_become_few_shot_chat_prompts(task_dir):
    task = load_tasks([str(task_dir / "sentiment.json")], num_shots=2)[0]
    assert task.kind == "classification" and task.labels == ["negative", "positive"]
    prompt = task.prompts[0]
    assert prompt[0] == {"role": "system", "content": NIV2["Definition"][0]}
    assert [m["role"] for m in prompt[1:]] == ["user", "assistant", "user", "assistant", "user"]
    assert len(task.prompts) == 12
    generation = load_tasks([str(task_dir / "copying.json")], limit=5)[0]
    assert generation.kind == "generation" and len(generation.prompts) == 5


def test_a_directory_expands_to_its_task_files(task_dir):
    assert [t.name for t in load_tasks([str(task_dir)])] == ["arc_easy", "copying", "sentiment"]


@pytest.mark.parametrize("broken, message", [
    ({"Definition": ["x"], "Positive Examples": []}, "missing the field 'Instances'"),
    (dict(NIV2, Instances=[{"id": "1", "input": "x"}]), r"Instances\[0\] is missing the field 'output'"),
])
def test_malformed_niv2_file_names_the_file_and_the_field(broken, message, tmp_path):
    path = tmp_path / "broken_task.json"
    path.write_text(json.dumps(broken))
    with pytest.raises(TaskFormatError, match=f"broken_task.json.*{message}"):
        load_tasks([str(path)])


def test_malformed_multiple_choice_line_is_named(tmp_path):
    path = tmp_path / "piqa.jsonl"
    path.write_text('{"question": "q", "choices": ["a", "b"], "label": 0}\n{"question": "q", "choices": ["a"]}\n')
    with pytest.raises(TaskFormatError, match="piqa.jsonl: line 2 is missing the field 'label'"):
        load_tasks([str(path)])


def test_unknown_task_spec(tmp_path):
    with pytest.raises(ValueError, match="Valid templates"):
        load_tasks(["reverse_wrds"])
    with pytest.raises(FileNotFoundError, match="neither a file"):
        load_tasks([str(tmp_path / "nope.json")])


def test_multiple_choice_framing_follows_lm_evaluation_harness(tmp_path):
    def framed(name, question, choices):
        path = tmp_path / f"{name}.jsonl"
        path.write_text(json.dumps({"question": question, "choices": choices, "label": 0}))
        return load_multiple_choice(path).requests[0]

    assert framed("arc_easy", "Why?", ["because", "no"]) == [("Question: Why?\nAnswer:", " because"),
                                                             ("Question: Why?\nAnswer:", " no")]
    assert framed("boolq", "Passage.\nQuestion: is it?", ["no", "yes"])[1] == (
        "Passage.\nQuestion: is it?\nAnswer:", " yes")
    assert framed("hellaswag", "Cooking: he stirs", ["the pot.", "x"])[0] == ("Cooking: he stirs", " the pot.")
    assert framed("winogrande", "Ann gave Bo a gift because _ was kind.", ["Ann", "Bo"]) == [
        ("Ann gave Bo a gift because Ann", " was kind."), ("Ann gave Bo a gift because Bo", " was kind.")]


def test_batched_log_likelihoods_equal_one_at_a_time(tiny_model):
    model, tokenizer = tiny_model
    requests = [("Question: what is it?\nAnswer:", " a cat"), ("Hi", " there my friend"),
                ("A much longer context with many more words in it than the others", " yes"), ("", " empty"),
                ("Is it? Answer:", " yes"), ("Is it? Answer:", " no")]  # one-token answers share a pass
    one = loglikelihoods(model, tokenizer, requests, batch_size=1)
    batched = loglikelihoods(model, tokenizer, requests, batch_size=4)
    assert torch.allclose(torch.tensor(one), torch.tensor(batched), atol=1e-3)
    # summed log-probabilities of the continuation tokens
    ids = tokenizer("Hi there my friend", add_special_tokens=False)["input_ids"]
    logits = model(torch.tensor([ids])).logits[0].log_softmax(-1)
    n_ctx = len(tokenizer("Hi", add_special_tokens=False)["input_ids"])
    expected = sum(logits[t - 1, ids[t]].item() for t in range(n_ctx, len(ids)))
    assert one[1] == pytest.approx(expected, abs=1e-3)


def test_batched_generation_with_a_shared_prefix_equals_one_at_a_time(tiny_model):
    from cookbook_datasets.eval.lm import generate

    model, tokenizer = tiny_model
    system = {"role": "system", "content": "Answer briefly. " * 12}  # a long prefix shared by all prompts
    prompts = [[system, {"role": "user", "content": text}] for text in ("hi", "a longer question here", "ok?")]
    alone = []
    for p in prompts:
        ids = tokenizer.apply_chat_template(p, add_generation_prompt=True, return_tensors="pt", return_dict=True)
        out = model.generate(**ids, max_new_tokens=6, do_sample=False)
        alone.append(tokenizer.decode(out[0, ids["input_ids"].shape[1]:], skip_special_tokens=True).strip())
    assert generate(model, tokenizer, prompts, max_new_tokens=6, batch_size=3) == alone
    assert generate(model, tokenizer, prompts, max_new_tokens=6, batch_size=1) == alone


def test_evaluate_writes_json_and_markdown_and_resumes(tiny_model, task_dir, tmp_path, monkeypatch):
    out = tmp_path / "results" / "res.json"
    config = EvalConfig(model="tiny-random", tasks=[str(task_dir), "nli"], limit=4, batch_size=4)
    results = evaluate_model(config, out=out, model=tiny_model[0], tokenizer=tiny_model[1])
    assert list(results["tasks"]) == ["arc_easy", "copying", "sentiment", "nli"]
    assert set(results["tasks"]["arc_easy"]["metrics"]) == {"acc", "acc_norm"}
    assert "rougeL" in results["tasks"]["copying"]["metrics"]
    assert "exact_match" in results["tasks"]["sentiment"]["metrics"]
    assert {"exact_match", "template_alignment"} <= set(results["tasks"]["nli"]["metrics"])
    assert json.loads(out.read_text())["tasks"].keys() == results["tasks"].keys()
    assert "| sentiment | classification | 4 |" in out.with_suffix(".md").read_text()

    calls = []
    monkeypatch.setattr(harness, "run_task", lambda *a, **k: calls.append(a[2].name))
    evaluate_model(config, out=out, model=tiny_model[0], tokenizer=tiny_model[1])
    assert calls == []  # every task was already scored with this configuration


def test_cli_eval_and_compare(tiny_model, task_dir, tmp_path, capsys):
    out = tmp_path / "results" / "r.json"
    assert main(["eval", "--model", "tiny-random", "--tasks", str(task_dir / "arc_easy.jsonl"), "--limit", "3",
                 "--out", str(out)]) == 0
    assert main(["eval", "--compare", str(out), str(out), "--plot", str(tmp_path / "c.png")]) == 0
    printed = capsys.readouterr().out
    assert "arc_easy" in printed and (tmp_path / "c.png").exists()


@pytest.mark.slow
def test_default_model_beats_chance_on_arc_easy(default_model, shared_data):
    config = EvalConfig(model="smollm2-135m", tasks=[f"{shared_data}/gpt4all/dev/arc_easy.jsonl"], limit=60)
    results = evaluate_model(config, model=default_model[0], tokenizer=default_model[1])
    assert results["tasks"]["arc_easy"]["metrics"]["acc"] > 0.35  # 4 choices: chance is 0.25


def test_cli_eval_in_bf16_records_the_dtype(tiny_model, task_dir, tmp_path):
    out = tmp_path / "bf16.json"
    assert main(["eval", "--model", "tiny-random", "--tasks", str(task_dir / "arc_easy.jsonl"), "--limit", "2",
                 "--dtype", "bfloat16", "--out", str(out)]) == 0
    assert json.loads(out.read_text())["config"]["dtype"] == "bfloat16"
