"""Budgeted augmentation (arXiv 2409.19759): the ledger, the response cache, resuming, the three
strategies' prompts and parsing, bad input, the recommender, the builder and `cookbook augment`
against a local HTTP server, and one slow test against a real `transformers serve`."""

import json
import os
import re
import shutil
import socket
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import datasets
import pytest

from cookbook_datasets.augmentation import (
    AugmentationConfig, BudgetExhausted, BudgetTooSmall, Ledger, ResponseCache, SeedDataError, Teacher,
    augment, get_strategy, load_curves, load_seed_set, recommend, run_augmentation,
)
from cookbook_datasets.augmentation.checkers import detect_checker, get_checker
from cookbook_datasets.augmentation.recommender import paper_switch_point
from cookbook_datasets.cli import main
from cookbook_datasets.generation import Completion, Engine, GenerationOutput
from cookbook_datasets.loading import load_dataset

SEEDS = [{"question": f"What is {a} + {b}?", "answer": f"{a} + {b} = {a + b}.\n#### {a + b}"}
         for a, b in ((2, 3), (10, 4), (7, 7), (1, 20))]


def teacher_rules(messages, seed):
    """A teacher that follows the prompts by rule: rewrites, new questions, checks and sums."""
    system, ask = messages[0]["content"], messages[-1]["content"]
    if system.startswith("You rewrite"):
        question = ask.split("\n\n", 1)[1]
        return f"Rewritten problem: Please work out {question[8:]}"
    if system.startswith("You write new"):
        a, b = map(int, re.findall(r"\d+", ask.split("Example answer")[0])[:2])
        return f"What is {a + 1 + seed % 5} + {b}?"
    if system.startswith("You review"):
        return "NO" if "bad" in ask else "YES"
    if "garble" in ask:
        return "I am not sure."
    a, b = map(int, re.findall(r"\d+", ask)[:2])
    return f"First {a} + {b} = {a + b}.\n#### {a + b}\nHope this helps!"


class ScriptedEngine(Engine):
    """The engine interface answering by ``teacher_rules``; ``kill_after``: raise after that many answers."""

    name = "scripted"
    model = "scripted-teacher"

    def __init__(self, rules=teacher_rules, kill_after=None):
        self.rules, self.kill_after, self.answered = rules, kill_after, 0

    def _generate(self, prompts, params, *, desc):
        outs = []
        for i, p in enumerate(prompts):
            if self.kill_after is not None and self.answered >= self.kill_after:
                raise Killed("killed")
            outs.append(GenerationOutput([Completion(self.rules(p, params.sample_seed(i)), "stop")],
                                         prompt_tokens=10, completion_tokens=5))
            self.answered += 1
        return outs


class HTTPLikeEngine(ScriptedEngine):
    concurrency = 1  # the teacher sends one request at a time, as to a server


class Killed(BaseException):
    """Stands for kill -9: nothing below catches it."""


def _run(tmp_path, engine=None, name="work", **config):
    config = AugmentationConfig(**{"budget": 8, **config})
    return run_augmentation(load_seed_set(SEEDS), engine or ScriptedEngine(), config, tmp_path / name, progress=False)


# -- ledger and cache ------------------------------------------------------------------------------
def test_ledger_refuses_a_query_past_the_budget_and_persists_what_was_paid(tmp_path):
    ledger = Ledger(3, tmp_path / "ledger.json")
    for kind in ("answer", "rephrase", "check"):
        ledger.charge(kind)
        ledger.begin(kind + "-key", kind)
        ledger.settle(kind + "-key", prompt_tokens=7, completion_tokens=2)
    with pytest.raises(BudgetExhausted, match="would pass the budget of 3"):
        ledger.charge("answer")
    with pytest.raises(ValueError, match="query kind must be one of"):
        ledger.charge("bribe")
    again = Ledger(3, tmp_path / "ledger.json")
    assert again.summary()["paid"] == {"answer": 1, "rephrase": 1, "check": 1}
    assert again.summary()["prompt_tokens"] == 21 and again.used_total == 0  # a new run's plan starts at 0


def test_a_request_in_flight_when_killed_is_counted_as_lost(tmp_path):
    ledger = Ledger(5, tmp_path / "ledger.json")
    ledger.charge("answer")
    ledger.begin("k1", "answer")  # sent, then the process died
    cache = ResponseCache(tmp_path / "cache.jsonl")
    again = Ledger(5, tmp_path / "ledger.json")
    again.recover(cache)
    assert again.summary()["lost_in_flight"] == 1 and again.summary()["paid_total"] == 1 and not again.pending


def test_cache_skips_a_torn_last_line_and_appends_after_it(tmp_path):
    cache = ResponseCache(tmp_path / "c.jsonl")
    cache.put("a", {"text": "x", "finish_reason": "stop"})
    with open(tmp_path / "c.jsonl", "a") as f:
        f.write('{"key": "b", "te')  # killed mid-write
    cache = ResponseCache(tmp_path / "c.jsonl")
    assert "a" in cache and "b" not in cache and cache.torn_lines == 1
    cache.put("c", {"text": "y", "finish_reason": "stop"})
    assert set(ResponseCache(tmp_path / "c.jsonl")._records) == {"a", "c"}


def test_a_rerun_is_served_from_the_cache_and_costs_no_query(tmp_path):
    rows, first = _run(tmp_path, strategy="rephrase")
    rows_again, second = _run(tmp_path, strategy="rephrase")
    assert rows_again == rows
    assert first["ledger"]["new_queries"] == first["ledger"]["used_total"] == 8
    assert second["ledger"]["new_queries"] == 0 and second["ledger"]["cache_hits"] == 8
    assert second["ledger"]["paid_total"] == 8  # the bill of the work directory did not grow


def test_a_bigger_budget_reuses_a_smaller_runs_answers(tmp_path):
    cache = tmp_path / "shared.jsonl"
    seeds = load_seed_set(SEEDS)
    run_augmentation(seeds, ScriptedEngine(), AugmentationConfig(budget=4), tmp_path / "q4", cache_path=cache)
    rows, summary = run_augmentation(seeds, ScriptedEngine(), AugmentationConfig(budget=8), tmp_path / "q8",
                                     cache_path=cache)
    assert summary["ledger"]["cache_hits"] == 4 and summary["ledger"]["new_queries"] == 4


def test_a_killed_run_resumes_without_paying_twice_or_losing_an_answer(tmp_path):
    full_rows, full = _run(tmp_path, HTTPLikeEngine(), name="reference", strategy="new_question", budget=12)
    with pytest.raises(Killed):
        _run(tmp_path, HTTPLikeEngine(kill_after=5), strategy="new_question", budget=12)
    killed = json.loads((tmp_path / "work" / "ledger.json").read_text())
    in_flight = len(killed["pending"])
    assert killed["paid_total"] == 5 and in_flight == 1  # the 6th request was in flight
    rows, resumed = _run(tmp_path, HTTPLikeEngine(), strategy="new_question", budget=12)
    assert rows == full_rows
    assert resumed["ledger"]["cache_hits"] == 5  # the 5 answers paid before the kill
    assert resumed["ledger"]["new_queries"] == full["ledger"]["new_queries"] - 5 == 7
    # honest: the requests in flight at the kill may have been billed, and were asked again
    assert resumed["ledger"]["lost_in_flight"] == in_flight and resumed["ledger"]["paid_total"] == 12 + in_flight


# -- strategies ------------------------------------------------------------------------------------
def test_answer_augmentation_samples_new_answers_for_seed_questions(tmp_path):
    rows, summary = _run(tmp_path, budget=6, include_seed=False)
    assert len(rows) == 6 and summary["steps"] == 6 and summary["checker"] == "final_number" and summary["reasoning"]
    questions = [r["prompt"][-1]["content"] for r in rows]
    assert set(questions) == {s["question"] for s in SEEDS}  # every seed once before any twice
    assert all(questions.count(q) in (1, 2) for q in questions)
    first = rows[0]["completion"][0]["content"]
    assert first.endswith(f"#### {first.split('= ')[1].split('.')[0]}") and "Hope this helps" not in first
    meta = json.loads(rows[0]["meta"])
    assert meta["strategy"] == "answer_aug" and meta["calls"] == {"answer": 1} and "seed_index" in meta
    assert rows[0]["source"] == "augmentation/answer_aug"


def test_answer_prompts_show_seed_demonstrations_and_ask_for_the_format():
    engine = ScriptedEngine()
    seen = []
    engine.rules = lambda messages, seed: seen.append(messages) or teacher_rules(messages, seed)
    config = AugmentationConfig(budget=1, num_demonstrations=2)
    teacher = Teacher(engine, Ledger(1), progress=False)
    augment(load_seed_set(SEEDS), teacher, config)
    messages = seen[0]
    assert "#### <answer>" in messages[0]["content"]
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user", "assistant", "user"]
    assert messages[-1]["content"] not in (messages[1]["content"], messages[3]["content"])  # not its own demo


def test_rephrase_rewrites_then_answers(tmp_path):
    rows, summary = _run(tmp_path, strategy="rephrase", budget=8, include_seed=False)
    assert len(rows) == 4 and summary["ledger"]["used"] == {"rephrase": 4, "answer": 4}
    assert all(r["prompt"][-1]["content"].startswith("Please work out") for r in rows)  # label stripped
    assert json.loads(rows[0]["meta"])["calls"] == {"rephrase": 1, "answer": 1}


def test_new_question_writes_checks_and_answers_and_keeps_only_different_answers(tmp_path):
    rows, summary = _run(tmp_path, strategy="new_question", budget=9, include_seed=False)
    assert summary["ledger"]["used"] == {"new_question": 3, "check": 3, "answer": 3}
    assert summary["ledger"]["unspent"] == 0
    for row in rows:
        meta = json.loads(row["meta"])
        seed = SEEDS[meta["seed_index"]]
        assert row["prompt"][-1]["content"] != seed["question"]
        assert meta["final_answer"] != seed["answer"].split("#### ")[1]
        assert meta["calls"] == {"new_question": 1, "check": 1, "answer": 1}


def test_a_question_the_check_rejects_spends_only_what_it_used(tmp_path):
    def rules(messages, seed):
        if messages[0]["content"].startswith("You write new"):
            return "A bad question?"
        return teacher_rules(messages, seed)

    rows, summary = _run(tmp_path, ScriptedEngine(rules), strategy="new_question", budget=10, include_seed=False)
    # a rejected step uses 2 queries, so 4 steps fit in 10 (3 full steps would), and 2 are left: less than a step
    assert rows == [] and summary["dropped"] == {"rejected_by_check": 4} and summary["steps"] == 4
    assert summary["ledger"]["used"] == {"new_question": 4, "check": 4} and summary["ledger"]["unspent"] == 2


def test_unparseable_answers_are_dropped_and_counted(tmp_path):
    seeds = SEEDS + [{"question": "garble 1 + 1?", "answer": "#### 2"}]
    config = AugmentationConfig(budget=10, include_seed=False)
    rows, summary = run_augmentation(load_seed_set(seeds), ScriptedEngine(), config, tmp_path / "w")
    assert summary["dropped"] == {"unparseable_answer": 2} and len(rows) == 8
    assert not any("not sure" in r["completion"][0]["content"] for r in rows)


def test_gold_verification_drops_answers_that_disagree_with_the_seed(tmp_path):
    seeds = [{"question": "What is 2 + 3?", "answer": "#### 6"}]  # a seed whose gold the teacher contradicts
    config = AugmentationConfig(budget=2, verify="gold", include_seed=False)
    rows, summary = run_augmentation(seeds, ScriptedEngine(), config, tmp_path / "w")
    assert rows == [] and summary["dropped"] == {"wrong_answer": 2} and summary["ledger"]["used_total"] == 2


def test_a_budget_smaller_than_one_step_is_a_clear_error(tmp_path):
    with pytest.raises(BudgetTooSmall, match=r"budget 2 is smaller than one new_question step \(3 queries"):
        _run(tmp_path, strategy="new_question", budget=2)
    with pytest.raises(BudgetTooSmall, match=r"one rephrase step \(2 queries"):
        _run(tmp_path, strategy="rephrase", budget=1)
    assert not (tmp_path / "work" / "ledger.json").exists()  # nothing was charged


def test_the_ledger_stops_cleanly_at_the_budget(tmp_path):
    _, summary = _run(tmp_path, strategy="rephrase", budget=7)
    assert summary["ledger"]["used_total"] == 6 and summary["ledger"]["unspent"] == 1 and summary["steps"] == 3


def test_unknown_names_list_the_valid_ones():
    with pytest.raises(ValueError, match="did you mean 'rephrase'.*answer_aug, rephrase, new_question"):
        get_strategy("rephrse")
    with pytest.raises(ValueError, match=r"AugmentationConfig.strategy must be one of"):
        AugmentationConfig(strategy="more")
    with pytest.raises(ValueError, match=r"AugmentationConfig.budget must be an integer >= 1"):
        AugmentationConfig(budget=0)
    with pytest.raises(ValueError, match="unknown augmentation parameter 'budgett' .did you mean 'budget'"):
        AugmentationConfig.from_dict({"budgett": 3})


def test_checkers_find_final_answers():
    number = get_checker("final_number")
    assert number.extract("so 1,200 apples\n#### 1,200") == "1200" and number.extract("it is 4.50 then 7") == "7"
    assert number.extract("no digits") is None and number.matches("7.0", "7")
    assert detect_checker(["#### 3", "12"]) == "final_number" and detect_checker(["Paris", "Rome"]) == "exact"


# -- seed data -------------------------------------------------------------------------------------
def test_bad_seed_files_name_the_file_and_the_field(tmp_path):
    path = tmp_path / "seed.jsonl"
    path.write_text('{"question": "q1", "answer": "a1"}\n{"question": "q2", "solution_text": "a2"}\n')
    with pytest.raises(SeedDataError, match=r"seed.jsonl, line 2: no answer field .*'solution_text'.*answer_field="):
        load_seed_set(path)
    with pytest.raises(SeedDataError, match=r"line 1: no answer field \(looked for 'solution_text'"):
        load_seed_set(path, answer_field="solution_text")
    path.write_text('{"question": "q1", "answer": "a1"}\n{"question": "q2", "answer": \n')
    with pytest.raises(SeedDataError, match=r"seed.jsonl, line 2: not valid JSON"):
        load_seed_set(path)
    path.write_text('{"question": "q1", "answer": ["3"]}\n')
    with pytest.raises(SeedDataError, match=r"line 1: field 'answer' must be a non-empty string"):
        load_seed_set(path)
    path.write_text('{"question": "q1", "answer": 3}\n')  # numbers (as CSV/Parquet type them) are their text
    assert load_seed_set(path)[0]["answer"] == "3"
    path.write_text("\n")
    with pytest.raises(SeedDataError, match=r"seed.jsonl holds no seed examples"):
        load_seed_set(path)
    with pytest.raises(FileNotFoundError, match="missing.jsonl does not exist"):
        load_seed_set(tmp_path / "missing.jsonl")


def test_seed_sets_in_the_row_schema_and_as_json_lists(tmp_path):
    rows = [{"prompt": [{"role": "user", "content": "What is 1 + 1?"}],
             "completion": [{"role": "assistant", "content": "#### 2"}], "source": "x", "meta": "{}"}]
    (tmp_path / "rows.json").write_text(json.dumps({"examples": rows}))
    assert load_seed_set(tmp_path / "rows.json") == [{"seed_index": 0, "question": "What is 1 + 1?", "answer": "#### 2"}]
    ds = datasets.Dataset.from_list([{"input": "q", "output": "a"}])
    assert load_seed_set(ds)[0]["question"] == "q"


# -- recommender -----------------------------------------------------------------------------------
def test_recommender_follows_the_papers_switch_points():
    assert paper_switch_point(1000)[0] == pytest.approx(17.6) and paper_switch_point(50000)[0] == 16.4
    assert 17.6 < paper_switch_point(300)[0] < 37.1
    low = recommend(100, 500)  # BR 5
    assert low.strategy == "answer_aug" and low.split == {"answer_aug": 1.0} and low.source == "paper"
    high = recommend(1000, 60000)  # BR 60
    assert high.strategy == "new_question" and high.split == {"new_question": 1.0}
    near = recommend(1000, 18000)  # BR 18, right at the switch point: a split
    assert set(near.split) == {"answer_aug", "new_question"} and sum(near.queries().values()) == 18000
    assert "17.6" in near.format() and "BR = Q/|S| = 18000/1000 = 18.00" in near.format()


def test_recommender_fits_pilot_curves_and_finds_the_crossing(tmp_path):
    import math

    lines = ["strategy,budget,score"]
    for q in (100, 400, 1600, 6400):  # answer_aug flat-ish, new_question steeper: they cross at Q = 1000
        lines.append(f"answer_aug,{q},{0.5 + 0.02 * math.log(q / 1000):.6f}")
        lines.append(f"new_question,{q},{0.5 + 0.08 * math.log(q / 1000):.6f}")
    (tmp_path / "pilot.csv").write_text("\n".join(lines) + "\n")
    assert set(load_curves(tmp_path)) == {"answer_aug", "new_question"}
    below, above = recommend(100, 300, curves=tmp_path), recommend(100, 5000, curves=tmp_path)
    assert below.strategy == "answer_aug" and above.strategy == "new_question"
    crossing = above.numbers["crossings"]["answer_aug|new_question"]
    assert crossing["budget"] == pytest.approx(1000, rel=1e-3) and crossing["budget_ratio"] == pytest.approx(10, rel=1e-3)
    assert "cross at Q ≈ 1000" in above.format()
    (tmp_path / "bad.json").write_text(json.dumps([{"strategy": "rephrase", "budget": 10}]))
    with pytest.raises(ValueError, match=r"bad.json, record 0: no 'score' field"):
        load_curves(tmp_path)


# -- an OpenAI-compatible server: the builder and the command line -----------------------------------
class RuleServer:
    """A stdlib HTTP server answering /v1/chat/completions by ``teacher_rules``; ``fail``: statuses to
    answer first, in order, from the ``fail_after``-th request on. ``asked``: the (messages, seed) of
    every request it answered."""

    def __init__(self, fail=(), fail_after=0, model="rule-teacher"):
        self.fail, self.fail_after, self.model, self.requests = list(fail), fail_after, model, 0
        self.asked = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _send(self, status, body):
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                if self.path == "/v1/models":
                    self._send(200, {"object": "list", "data": [{"id": outer.model}]})
                else:
                    self._send(404, {"error": {"message": "not found"}})

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.requests += 1
                if outer.requests > outer.fail_after and outer.fail:
                    status = outer.fail.pop(0)
                    return self._send(status, {"error": {"message": f"boom {status}"}})
                text = teacher_rules(body["messages"], body.get("seed", 0))
                outer.asked.append((json.dumps(body["messages"]), body.get("seed")))
                self._send(200, {"choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                                              "finish_reason": "stop"}],
                                 "usage": {"prompt_tokens": 12, "completion_tokens": 6}})

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    s = RuleServer()
    yield s
    s.close()


@pytest.fixture
def seed_file(tmp_path):
    path = tmp_path / "seed.jsonl"
    path.write_text("".join(json.dumps(s) + "\n" for s in SEEDS))
    return path


def test_builder_through_load_dataset_against_a_server(server, seed_file, cache_dir):
    ds = load_dataset("augmentation", seed_data=str(seed_file), strategy="new_question", budget=9,
                      teacher=server.url, split="train", cache_dir=cache_dir)
    assert len(ds) == 4 + 3 and set(ds["source"]) == {"augmentation/seed", "augmentation/new_question"}
    meta = [json.loads(m) for m in ds["meta"]]
    assert [m["strategy"] for m in meta].count("new_question") == 3 and meta[-1]["teacher"] == "rule-teacher"
    assert server.requests == 9
    again = load_dataset("augmentation", seed_data=str(seed_file), strategy="new_question", budget=9,
                         teacher=server.url, split="train", cache_dir=cache_dir)
    assert again["meta"] == ds["meta"] and server.requests == 9  # prepared once


def test_builder_names_a_bad_parameter_before_anything_runs(seed_file, cache_dir):
    with pytest.raises(ValueError, match="unknown augmentation parameter 'budjet'"):
        load_dataset("augmentation", seed_data=str(seed_file), budjet=3, teacher="http://x", cache_dir=cache_dir)


def test_cli_augment_writes_the_hub_layout_with_the_ledger_and_a_rerun_costs_nothing(server, seed_file, tmp_path,
                                                                                       capsys):
    out = tmp_path / "out"
    args = ["augment", str(seed_file), "--strategy", "rephrase", "--budget", "6", "--teacher", server.url,
            "--out", str(out)]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "rephrase: 3 new examples from 3 steps over 4 seeds" in printed and "sent now 6" in printed
    ds = datasets.load_dataset(str(out), "rephrase", split="train")
    assert len(ds) == 7 and json.loads(ds[-1]["meta"])["calls"] == {"rephrase": 1, "answer": 1}
    card = (out / "README.md").read_text()
    assert '"ledger"' in card and '"used_total": 6' in card and '"strategy": "rephrase"' in card
    assert main(args + ["--overwrite"]) == 0
    assert "sent now 0, from the cache 6" in capsys.readouterr().out and server.requests == 6


def test_cli_augment_recommend(tmp_path, capsys):
    assert main(["augment", "recommend", "--seed-size", "100", "--budget", "10000"]) == 0
    printed = capsys.readouterr().out
    assert "BR = Q/|S| = 10000/100 = 100.00" in printed and "new_question 100%" in printed and "37.1" in printed
    assert main(["augment", "recommend", "--seed-size", "0", "--budget", "10"]) == 2


def test_a_failing_server_is_retried_then_a_clear_error_keeps_what_was_paid(seed_file, tmp_path, capsys):
    flaky = RuleServer(fail=[503], fail_after=2)  # one 503, retried
    try:
        assert main(["augment", str(seed_file), "--budget", "4", "--teacher", flaky.url, "--out", str(tmp_path / "a"),
                     "--concurrency", "1", "--engine-option", "backoff=0.01"]) == 0
    finally:
        flaky.close()
    broken = RuleServer(fail=[500] * 10, fail_after=3)
    try:
        code = main(["augment", str(seed_file), "--budget", "8", "--teacher", broken.url, "--out", str(tmp_path / "b"),
                     "--concurrency", "1", "--engine-option", "backoff=0.01", "--engine-option", "max_retries=1"])
        error = capsys.readouterr().err
        assert code == 1 and "HTTP 500: boom 500" in error and "Kept: 3 paid queries" in error and "Run again" in error
        assert not (tmp_path / "b").exists()  # nothing written half-way
        ledger = json.loads((tmp_path / "b.work" / "ledger.json").read_text())
        assert ledger["paid_total"] == 3 and ledger["failed_requests"] == 1 and not ledger["pending"]
        assert broken.requests == 3 + 2  # the failed request and its one retry; nothing sent after it
    finally:
        broken.close()
    fixed = RuleServer()
    try:
        assert main(["augment", str(seed_file), "--budget", "8", "--teacher", fixed.url, "--out", str(tmp_path / "b")]) == 0
        assert fixed.requests == 5  # the 3 paid before the failure came from the cache
    finally:
        fixed.close()


def test_a_server_that_is_down_is_named(seed_file, tmp_path, capsys):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    code = main(["augment", str(seed_file), "--budget", "4", "--teacher", f"http://127.0.0.1:{port}",
                 "--teacher-model", "m", "--out", str(tmp_path / "o"), "--engine-option", "max_retries=0"])
    assert code == 1 and f"cannot connect to http://127.0.0.1:{port}/v1/chat/completions" in capsys.readouterr().err


# -- a real server ---------------------------------------------------------------------------------
@pytest.mark.slow
def test_augmentation_against_transformers_serve(tiny_model, seed_file, tmp_path):
    """`transformers serve` (the transformers[serving] extra) on the tiny model, offline: the tiny model's
    text does not parse, so the point is the ledger and the cache against a real server."""
    import requests

    pytest.importorskip("fastapi")
    pytest.importorskip("uvicorn")
    if shutil.which("transformers") is None:
        pytest.skip("the transformers command is not on PATH")
    from cookbook_datasets.models import resolve_model_path

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    path = resolve_model_path("tiny-random")
    proc = subprocess.Popen(["transformers", "serve", path, "--port", str(port)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    try:
        for _ in range(120):
            try:
                if requests.get(f"http://127.0.0.1:{port}/health", timeout=1).ok:
                    break
            except requests.ConnectionError:
                time.sleep(0.5)
        else:
            pytest.fail("transformers serve did not start within 60 s")
        url = f"http://127.0.0.1:{port}/v1"
        common = dict(seed_data=str(seed_file), teacher=url, teacher_model=path, strategy="answer_aug", budget=4,
                      work_dir=tmp_path / "work", max_new_tokens=8, checker="none", concurrency=4)
        from cookbook_datasets.augmentation import augment_to_hub

        first = augment_to_hub(out=tmp_path / "a", **common)
        assert first["ledger"]["new_queries"] == 4 and first["ledger"]["completion_tokens"] > 0
        second = augment_to_hub(out=tmp_path / "b", **common)
        assert second["ledger"]["new_queries"] == 0 and second["ledger"]["cache_hits"] == 4
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_the_check_shows_a_well_formed_seed_and_a_half_question_first():
    from cookbook_datasets.augmentation.strategies.new_question import check_messages

    messages = check_messages("Ann has 4 pens and buys 2. How many now?", "Bob has 3 cups. He buys 5 more. How many?")
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user", "assistant", "user"]
    assert messages[2]["content"] == "YES" and messages[4]["content"] == "NO"
    assert messages[3]["content"] == "Bob has 3 cups. He"  # the seed's first half asks nothing
    assert messages[-1]["content"] == "Ann has 4 pens and buys 2. How many now?"


def test_a_written_statement_that_asks_nothing_is_not_a_question():
    from cookbook_datasets.augmentation.strategies.base import parse_question

    assert parse_question("Lena has 33 shells now.", "Lena has 3 shells. How many now?") == (None, "not_a_question")
    assert parse_question("Tom has 4 cups. How many now?", "Lena has 3 shells. How many now?")[1] is None


def test_the_new_question_request_shows_another_seed_problem_as_the_kind_of_reply_wanted():
    from cookbook_datasets.augmentation.strategies.new_question import new_question_messages

    a, b, seed = ({"question": f"Q{i}?", "answer": f"#### {i}"} for i in range(3))
    messages = new_question_messages(seed, (a, b))
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user"]
    assert "Q0?" in messages[1]["content"] and messages[2]["content"] == "Q1?" and "Q2?" in messages[3]["content"]
    assert len(new_question_messages(seed)) == 2  # a one-seed set has no demonstration to show
