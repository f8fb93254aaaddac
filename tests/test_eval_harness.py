"""The evaluation harness: task files, templates, batched scoring, results and comparison."""

import json

import pytest
import torch

from cookbook_datasets.eval import EvalConfig, evaluate_model
from cookbook_datasets.eval import harness
from cookbook_datasets.eval.lm import loglikelihoods
from cookbook_datasets.eval.prompts import chat_prompts, loglik_requests
from cookbook_datasets.tasks import TaskFormatError, load_multiple_choice, load_tasks

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
    task = load_tasks([str(task_dir / "sentiment.json")])[0]
    assert task.kind == "classification" and task.labels == ["negative", "positive"]
    prompts = chat_prompts(task, num_shots=2)
    prompt = prompts[0]
    assert prompt[0] == {"role": "system", "content": NIV2["Definition"][0]}
    assert [m["role"] for m in prompt[1:]] == ["user", "assistant", "user", "assistant", "user"]
    assert len(prompts) == 12 and prompt[-1]["content"] == "sentence 0"
    generation = load_tasks([str(task_dir / "copying.json")], limit=5)[0]
    assert generation.kind == "generation" and len(generation) == 5


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
        return loglik_requests(load_multiple_choice(path))[0]

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


def test_evaluate_writes_json_markdown_rows_and_resumes(tiny_model, task_dir, tmp_path, monkeypatch):
    out = tmp_path / "results" / "res.json"
    config = EvalConfig(model="tiny-random", tasks=[str(task_dir), "nli"], limit=4, batch_size=4)
    results = evaluate_model(config, out=out, model=tiny_model[0], tokenizer=tiny_model[1])
    assert list(results["tasks"]) == ["arc_easy", "copying", "sentiment", "nli"]
    assert set(results["tasks"]["arc_easy"]["metrics"]) == {"acc", "acc_norm", "acc_stderr", "acc_norm_stderr"}
    assert {"rougeL", "rougeL_stderr"} <= set(results["tasks"]["copying"]["metrics"])
    assert {"exact_match", "exact_match_stderr"} <= set(results["tasks"]["sentiment"]["metrics"])
    assert {"exact_match", "template_alignment", "template_alignment_stderr"} <= set(results["tasks"]["nli"]["metrics"])
    assert [results["tasks"][t]["framing"] for t in results["tasks"]] == ["loglik", "generate", "generate", "generate"]
    assert json.loads(out.read_text())["tasks"].keys() == results["tasks"].keys()
    assert "| sentiment | classification | generate | 4 |" in out.with_suffix(".md").read_text()
    # the limit is a recorded seeded split of the task's instances
    assert results["tasks"]["sentiment"]["split"]["part"] == "scored"
    assert results["tasks"]["sentiment"]["split"]["of"] == 12

    rows = [json.loads(line) for line in (tmp_path / "results" / "res.rows.jsonl").read_text().splitlines()]
    assert len(rows) == 16 and all(set(r) == {"task", "id", "prediction", "score", "framing"} for r in rows)
    sentiment = [r for r in rows if r["task"] == "sentiment"]
    task = load_tasks([str(task_dir / "sentiment.json")], limit=4)[0]
    assert [r["id"] for r in sentiment] == task.ids and all(i.startswith("i") for i in task.ids)

    calls = []
    monkeypatch.setattr(harness, "run_task", lambda *a, **k: calls.append(a[2].name))
    evaluate_model(config, out=out, model=tiny_model[0], tokenizer=tiny_model[1])
    assert calls == []  # every task was already scored with this configuration
    assert (tmp_path / "results" / "res.rows.jsonl").read_text().count("\n") == 16  # the rows are kept


def test_standard_error_is_the_per_row_standard_error_of_the_mean(tiny_model, task_dir, tmp_path):
    out = tmp_path / "r.json"
    evaluate_model(EvalConfig(model="tiny-random", tasks=[str(task_dir / "copying.json")], limit=6),
                   out=out, model=tiny_model[0], tokenizer=tiny_model[1])
    metrics = json.loads(out.read_text())["tasks"]["copying"]["metrics"]
    scores = [json.loads(line)["score"] for line in (tmp_path / "r.rows.jsonl").read_text().splitlines()]
    n = len(scores)
    mean = sum(scores) / n
    direct = (sum((x - mean) ** 2 for x in scores) / (n - 1)) ** 0.5 / n ** 0.5
    assert n == 6 and metrics["rougeL"] == pytest.approx(mean)
    assert metrics["rougeL_stderr"] == pytest.approx(direct)


def test_framings_are_validated_and_recorded(tiny_model, task_dir, tmp_path):
    with pytest.raises(ValueError, match=r"mc_framing must be one of \['loglik', 'generate'\]"):
        EvalConfig(tasks=["x"], mc_framing="letters")
    with pytest.raises(ValueError, match=r"cls_framing must be one of \['generate', 'rank'\]"):
        EvalConfig(tasks=["x"], cls_framing="loglik")
    config = EvalConfig(model="tiny-random", tasks=[str(task_dir / "arc_easy.jsonl"), str(task_dir / "sentiment.json")],
                        mc_framing="generate", cls_framing="rank", limit=3)
    results = evaluate_model(config, out=tmp_path / "f.json", model=tiny_model[0], tokenizer=tiny_model[1])
    arc, sentiment = results["tasks"]["arc_easy"], results["tasks"]["sentiment"]
    assert (arc["framing"], sentiment["framing"]) == ("generate", "rank")
    assert {"acc", "acc_stderr", "no_option", "no_option_stderr"} == set(arc["metrics"])
    rows = [json.loads(line) for line in (tmp_path / "f.rows.jsonl").read_text().splitlines()]
    assert {r["prediction"] for r in rows if r["task"] == "sentiment"} <= {"negative", "positive"}
    assert {r["framing"] for r in rows} == {"generate", "rank"}


def test_rank_picks_the_label_with_the_highest_naive_log_probability(tiny_model):
    from cookbook_datasets.eval.framings import cls_rank
    from cookbook_datasets.eval.prompts import chat_prompt
    from cookbook_datasets.tasks import Instance, Task

    model, tokenizer = tiny_model
    labels = ["not entailment", "entailment", "neutral ground", "x"]  # labels of different token lengths
    task = Task(name="nli", instruction="Classify the pair.", labels=labels,
                demonstrations=[Instance.make("a | b", ["entailment"])],
                instances=[Instance.make(f"premise {i} | hypothesis {i * 7}", [labels[i % 4]]) for i in range(6)])
    scored = cls_rank(model, tokenizer, task, batch_size=4, num_shots=1)

    def naive(inst):
        text = tokenizer.apply_chat_template(chat_prompt(task, inst, 1), tokenize=False, add_generation_prompt=True)
        ctx = tokenizer(text, add_special_tokens=False)["input_ids"]
        totals = []
        for label in labels:
            cont = tokenizer(label, add_special_tokens=False)["input_ids"]
            with torch.no_grad():
                logp = model(torch.tensor([ctx + cont])).logits[0].float().log_softmax(-1)
            totals.append(sum(logp[len(ctx) + k - 1, t].item() for k, t in enumerate(cont)))
        return labels[max(range(len(labels)), key=totals.__getitem__)]

    assert scored.predictions == [naive(inst) for inst in task.instances]
    assert scored.per_row["exact_match"] == [float(p == inst.outputs[0])
                                             for p, inst in zip(scored.predictions, task.instances)]


@pytest.mark.parametrize("reply, expected", [
    ("B", 1), ("B.", 1), ("(C)", 2), ("C) blue", 2), ("Answer: B", 1), ("The answer is C", 2), ("a.", 0),
    ("b", 1), ("B is right, because", 1),
    ("blue!", 2), ("I think it is a dark red apple.", 1), ("A dark red apple", 1), ("a red apple", 0),
    ("green", None), ("", None), ("E", None), ("A man walks", None), ("a red apple or blue", None),
])
def test_a_generated_answer_names_an_option_by_letter_or_text(reply, expected):
    from cookbook_datasets.eval.option_answers import parse_option

    assert parse_option(reply, ["a red apple", "a dark red apple", "blue"]) == expected
    assert parse_option("dark red", ["red", "dark red"]) == 1  # an option inside another is not named apart


def test_mc_generate_lists_the_options_and_scores_the_parsed_answer(tiny_model, monkeypatch):
    from cookbook_datasets.eval import framings, lm
    from cookbook_datasets.tasks import Instance, Task

    task = Task(name="quiz", instances=[Instance.make(f"q{i}?", choices=["cat", "dog", "emu"], gold=i % 3)
                                        for i in range(4)])
    seen = []

    def scripted(model, tokenizer, prompts, **kw):
        seen.extend(prompts)
        return ["A", "dog", "no idea", "B"]  # right, right, names nothing, wrong (gold is A)

    monkeypatch.setattr(lm, "generate", scripted)
    scored = framings.mc_generate(*tiny_model, task)
    assert seen[1][-1]["content"].endswith("Question: q1?\nOptions:\nA. cat\nB. dog\nC. emu")
    assert scored.per_row == {"acc": [1.0, 1.0, 0.0, 0.0], "no_option": [0.0, 0.0, 1.0, 0.0]}
    assert scored.predictions == [0, 1, "no idea", 1]


def test_cli_eval_and_compare(tiny_model, task_dir, tmp_path, capsys):
    from cookbook_datasets.cli import main

    out = tmp_path / "results" / "r.json"
    assert main(["eval", "--model", "tiny-random", "--tasks", str(task_dir / "arc_easy.jsonl"), "--limit", "3",
                 "--out", str(out)]) == 0
    assert main(["eval", "--compare", str(out), str(out), "--plot", str(tmp_path / "c.png")]) == 0
    printed = capsys.readouterr().out
    assert "arc_easy" in printed and (tmp_path / "c.png").exists()
    framed = tmp_path / "framed.json"
    assert main(["eval", "--model", "tiny-random", "--tasks", str(task_dir / "arc_easy.jsonl"),
                 str(task_dir / "sentiment.json"), "--limit", "2", "--mc-framing", "generate", "--cls-framing", "rank",
                 "--out", str(framed)]) == 0
    tasks = json.loads(framed.read_text())["tasks"]
    assert (tasks["arc_easy"]["framing"], tasks["sentiment"]["framing"]) == ("generate", "rank")


@pytest.mark.slow
def test_default_model_beats_chance_on_arc_easy(default_model, shared_data):
    config = EvalConfig(model="smollm2-135m", tasks=[f"{shared_data}/gpt4all/dev/arc_easy.jsonl"], limit=60)
    results = evaluate_model(config, model=default_model[0], tokenizer=default_model[1])
    assert results["tasks"]["arc_easy"]["metrics"]["acc"] > 0.35  # 4 choices: chance is 0.25


def test_cli_eval_in_bf16_records_the_dtype(tiny_model, task_dir, tmp_path):
    from cookbook_datasets.cli import main

    out = tmp_path / "bf16.json"
    assert main(["eval", "--model", "tiny-random", "--tasks", str(task_dir / "arc_easy.jsonl"), "--limit", "2",
                 "--dtype", "bfloat16", "--out", str(out)]) == 0
    assert json.loads(out.read_text())["config"]["dtype"] == "bfloat16"


def test_cookbook_eval_reads_a_users_csv_through_a_column_mapping(tiny_model, tmp_path, monkeypatch, capsys):
    """Any data file becomes a task: name its columns; a single-file dataset's rows are its one split."""
    import csv

    from cookbook_datasets.cli import main

    with open(tmp_path / "reviews.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["review", "sentiment", "rid"])
        for i in range(6):
            w.writerow([f"Review number {i}: {'great' if i % 2 else 'bad'} film.", "positive" if i % 2 else "negative",
                        f"r{i}"])
    monkeypatch.chdir(tmp_path)
    assert main(["eval", "--model", "tiny-random", "--tasks", "reviews.csv", "--input-field", "review",
                 "--output-field", "sentiment", "--id-field", "rid", "--instruction", "Is the review positive?",
                 "--cls-framing", "rank", "--out", "r.json"]) == 0
    result = json.loads((tmp_path / "r.json").read_text())["tasks"]["reviews"]
    assert result["kind"] == "classification" and result["framing"] == "rank" and result["num_examples"] == 6
    ids = [json.loads(line)["id"] for line in (tmp_path / "r.rows.jsonl").read_text().splitlines()]
    assert sorted(ids) == [f"r{i}" for i in range(6)]
    assert main(["eval", "--model", "tiny-random", "--tasks", "reviews.csv", "--label-field", "sentiment",
                 "--out", "x.json"]) == 2
    assert "--input-field" in capsys.readouterr().err


def test_a_prefix_every_context_shares_is_read_once_with_the_same_scores(tiny_model, monkeypatch):
    from cookbook_datasets.eval import lm

    model, tokenizer = tiny_model
    shared = "Decide whether the sentence is positive or negative. Example: I loved it. Answer: positive.\n"
    requests = [(shared + f"Sentence {i}: the plot was {w}. Answer:", c)
                for i, w in enumerate(["dull", "fine", "a long and winding mess"]) for c in (" positive", " negative")]
    calls = []
    real = lm._shared_prefix
    monkeypatch.setattr(lm, "_shared_prefix", lambda *a: calls.append(real(*a)) or calls[-1])
    with_prefix = lm.loglikelihoods(model, tokenizer, requests, batch_size=2)
    assert calls[0] is not None and calls[0][0] >= lm.MIN_SHARED_PREFIX
    monkeypatch.setattr(lm, "_shared_prefix", lambda *a: None)
    without = lm.loglikelihoods(model, tokenizer, requests, batch_size=2)
    assert with_prefix == pytest.approx(without, abs=1e-4)
