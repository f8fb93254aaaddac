"""The generation engine: sampling parameters, the transformers backend (samples, seeds, stop
strings, token counts, greedy text as the evaluation harness always gave it), the OpenAI backend
against a local HTTP server, and the vLLM backend where vLLM is installed."""

import copy
import json
import os
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import torch

from cookbook_datasets.generation import (
    GenerationError, SamplingParams, TransformersEngine, engine_class, load_engine,
)
from cookbook_datasets.generation.openai_backend import (
    AuthenticationError, ModelNotFoundError, OpenAIEngine, ServerUnreachableError,
)
from cookbook_datasets.generation.transformers_backend import filtered_probs, sample_tokens

BASELINE = json.loads((Path(__file__).parent / "data" / "greedy_baseline.json").read_text())
SYSTEM = {"role": "system", "content": "Answer the question in one short sentence. " * 4}
PROMPTS = [[SYSTEM, {"role": "user", "content": text}]
           for text in ("hi", "What is the capital of France?", "Name three colours, please.", "ok")]


def _perturbed(model):
    """tiny-random with N(0, 0.1) noise on every weight: its greedy text is varied, not empty
    (how tests/data/greedy_baseline.json's tiny-random+noise0.1 was made)."""
    model = copy.deepcopy(model)
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn(p.shape, generator=g) * 0.1)
    return model


@pytest.fixture(scope="module")
def engine(tiny_model):
    model, tokenizer = tiny_model
    return TransformersEngine(_perturbed(model), tokenizer, batch_size=64, progress=False)


# -- parameters -----------------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs, message", [
    ({"n": 0}, r"n must be an integer >= 1 \(got 0\)"),
    ({"n": 2.5}, "n must be an integer"),
    ({"temperature": -0.1}, r"temperature must be a number >= 0"),
    ({"top_p": 0}, r"top_p must be in \(0, 1\]"),
    ({"top_p": 1.5}, r"top_p must be in \(0, 1\]"),
    ({"top_k": -1}, "top_k must be an integer >= 0"),
    ({"max_new_tokens": 0}, "max_new_tokens must be an integer >= 1"),
    ({"stop": ["", "x"]}, "stop must be non-empty strings"),
    ({"seed": -3}, "seed must be an integer >= 0"),
])
def test_sampling_params_name_the_field_and_its_range(kwargs, message):
    with pytest.raises(ValueError, match=f"SamplingParams.{message}"):
        SamplingParams(**kwargs)


def test_sampling_params_normalise_and_hash_seeds():
    params = SamplingParams(stop="###", temperature=0)
    assert params.stop == ("###",) and params.greedy
    seeds = {SamplingParams(seed=s).sample_seed(p, k) for s in (0, 1) for p in (0, 1) for k in (0, 1)}
    assert len(seeds) == 8  # (seed, prompt, sample) streams do not collide as seed + index would
    assert SamplingParams(seed=None).sample_seed(0) is None


def test_unknown_backend_lists_the_known_ones():
    with pytest.raises(ValueError, match=r"unknown generation backend 'transformer' \(did you mean 'transformers'\?\);"
                                         r" available: transformers, openai, vllm"):
        load_engine("tiny-random", backend="transformer")


def test_bad_prompts_are_named(engine):
    with pytest.raises(ValueError, match="prompt 1, message 0 must be a dict with 'role' and 'content'"):
        engine.generate([[{"role": "user", "content": "x"}], [{"text": "y"}]])
    with pytest.raises(TypeError, match="prompts must be a list"):
        engine.generate("just a string")


# -- sampling -------------------------------------------------------------------------------------
@pytest.mark.parametrize("params", [SamplingParams(temperature=0.7), SamplingParams(temperature=1.3, top_k=5),
                                    SamplingParams(temperature=0.9, top_p=0.6),
                                    SamplingParams(temperature=0.5, top_k=20, top_p=0.8)])
def test_filtered_distribution_matches_transformers_warpers(params):
    from transformers import LogitsProcessorList, TemperatureLogitsWarper, TopKLogitsWarper, TopPLogitsWarper

    logits = torch.randn(3, 50, generator=torch.Generator().manual_seed(1)) * 3
    warpers = LogitsProcessorList([TemperatureLogitsWarper(params.temperature)])
    if params.top_k:
        warpers.append(TopKLogitsWarper(params.top_k))
    if params.top_p < 1:
        warpers.append(TopPLogitsWarper(params.top_p))
    expected = torch.softmax(warpers(None, logits.clone()), dim=-1)
    probs, ids = filtered_probs(logits, params)
    probs = probs / probs.sum(-1, keepdim=True)
    ours = torch.zeros_like(expected).scatter_(1, ids, probs) if ids is not None else probs
    assert torch.allclose(ours, expected, atol=1e-6)


def test_inverse_transform_sampling_follows_the_distribution():
    logits = torch.tensor([[2.0, 1.0, 0.0, -1.0, -30.0]]).repeat(20000, 1)
    uniforms = torch.rand(20000, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    params = SamplingParams(temperature=1.0, top_k=4)
    counts = torch.bincount(sample_tokens(logits, params, uniforms), minlength=5).double() / 20000
    expected = torch.softmax(torch.tensor([2.0, 1.0, 0.0, -1.0]), dim=0).double()
    assert torch.allclose(counts[:4], expected, atol=0.015) and counts[4] == 0


def test_n_completions_per_prompt_with_token_counts(engine):
    params = SamplingParams(n=3, temperature=1.0, max_new_tokens=6, seed=0)
    outs = engine.generate(PROMPTS, params)
    assert len(outs) == len(PROMPTS) and all(len(o.completions) == 3 for o in outs)
    encoded = engine.encode(PROMPTS)
    for out, ids in zip(outs, encoded):
        assert out.prompt_tokens == len(ids)
        assert out.completion_tokens == sum(c.num_tokens for c in out.completions)
        for c in out.completions:
            assert c.num_tokens == len(c.token_ids) <= 6
            assert c.finish_reason == ("length" if c.num_tokens == 6 else "stop")
            assert c.text == engine.tokenizer.decode(c.token_ids, skip_special_tokens=True)
    assert len({tuple(c.token_ids) for o in outs for c in o.completions}) > len(PROMPTS)  # samples differ


def test_same_seed_same_samples_whatever_the_batch(engine, tiny_model):
    params = SamplingParams(n=4, temperature=1.0, top_k=50, max_new_tokens=8, seed=7)
    first = [o.completions for o in engine.generate(PROMPTS, params)]
    assert [o.completions for o in engine.generate(PROMPTS, params)] == first
    small = TransformersEngine(engine.model, engine.tokenizer, batch_size=4, progress=False)  # one prompt a batch
    assert [o.completions for o in small.generate(PROMPTS, params)] == first
    # a prompt's samples do not depend on the other prompts of the call
    alone = engine.generate(PROMPTS[1:2], params)[0].completions
    reordered = engine.generate([PROMPTS[0], PROMPTS[1]], params)[1].completions
    assert reordered == first[1] and [c.token_ids for c in alone] != [c.token_ids for c in first[1]]  # index 0 vs 1
    other = [o.completions for o in engine.generate(PROMPTS, params, seed=8)]
    assert other != first


def test_greedy_samples_are_identical_and_match_transformers_generate(engine):
    outs = engine.generate(PROMPTS, SamplingParams(n=3, temperature=0, max_new_tokens=6))
    for prompt, out in zip(PROMPTS, outs):
        assert len({c.text for c in out.completions}) == 1
        ids = engine.tokenizer.apply_chat_template(prompt, add_generation_prompt=True, return_tensors="pt",
                                                   return_dict=True)
        ref = engine.model.generate(**ids, max_new_tokens=6, do_sample=False)
        assert out.completions[0].token_ids == ref[0, ids["input_ids"].shape[1]:].tolist()


def test_stop_strings_cut_the_text_and_end_the_completion(engine):
    params = SamplingParams(temperature=0, max_new_tokens=12)
    full = engine.generate(PROMPTS[:1], params)[0].completions[0]
    assert full.finish_reason == "length" and len(full.text) > 12
    stop = full.text[6:9]
    cut = engine.generate(PROMPTS[:1], SamplingParams(temperature=0, max_new_tokens=12, stop=[stop, "never"]))
    c = cut[0].completions[0]
    assert c.finish_reason == "stop" and c.text == full.text[:full.text.index(stop)]
    assert c.num_tokens < full.num_tokens and c.token_ids == full.token_ids[:c.num_tokens]


def _baseline_cases(model_name):
    run = next(r for r in BASELINE["runs"] if r["model"] == model_name)
    return [(run["dtype"], case) for case in run["cases"].values()]


def test_eval_greedy_text_is_what_the_harness_gave_before_the_engine(tiny_model):
    """tests/data/greedy_baseline.json holds the greedy texts of eval/lm.py::generate as it was
    before the engine (its own decoding loop); the harness's generation must not change them."""
    from cookbook_datasets.eval.lm import generate

    model, tokenizer = tiny_model
    model = _perturbed(model)
    for _, case in _baseline_cases("tiny-random+noise0.1"):
        if case["batch_size"] != 16 and not case["case"].startswith("synthetic"):
            continue  # (small batches of the long NIV2 prompts: covered by the synthetic cases, and slow)
        prompts = BASELINE["prompts"][case["case"]][:len(case["outputs"])]
        assert generate(model, tokenizer, prompts, max_new_tokens=case["max_new_tokens"],
                        batch_size=case["batch_size"]) == case["outputs"], case["case"]


@pytest.mark.slow
def test_eval_greedy_text_of_the_default_model_is_unchanged(default_model):
    from cookbook_datasets.eval.lm import generate
    from cookbook_datasets.models import load_model

    model, tokenizer = default_model
    for dtype, case in _baseline_cases("smollm2-135m"):
        if dtype != "None":
            model, tokenizer = load_model("smollm2-135m", dtype=dtype)
        prompts = BASELINE["prompts"][case["case"]]
        assert generate(model, tokenizer, prompts, max_new_tokens=case["max_new_tokens"],
                        batch_size=case["batch_size"]) == case["outputs"], (dtype, case["case"])


def test_engine_from_a_spec_with_an_adapter(tiny_model, tmp_path):
    from peft import LoraConfig, get_peft_model

    model, tokenizer = tiny_model
    peft_model = get_peft_model(copy.deepcopy(model), LoraConfig(r=2, target_modules=["q_proj"]))
    peft_model.save_pretrained(str(tmp_path / "adapter"))
    engine = load_engine("tiny-random", adapter=str(tmp_path / "adapter"), progress=False)
    assert type(engine.model).__name__.startswith("Peft")
    out = engine.generate(PROMPTS[:2], n=2, temperature=1.0, max_new_tokens=3)
    assert [len(o.completions) for o in out] == [2, 2]
    assert "tiny-random" in repr(engine) or "TransformersEngine" in repr(engine)


# -- OpenAI-compatible server ----------------------------------------------------------------------
class _Server:
    """A stdlib HTTP server answering /v1 requests from a script of (status, body) replies."""

    def __init__(self, replies, models=("served-model",)):
        self.replies, self.models, self.requests = list(replies), list(models), []
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
                if self.path == "/v1/models" and outer.models is not None:
                    self._send(200, {"object": "list", "data": [{"id": m} for m in outer.models]})
                else:
                    self._send(404, {"error": {"message": "not found"}})

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.requests.append({"path": self.path, "body": body, "auth": self.headers.get("Authorization")})
                reply = outer.replies.pop(0) if outer.replies else "ok"
                if reply == "ok":
                    n = body.get("n", 1)
                    self._send(200, _chat_reply(n, body["messages"][-1]["content"]))
                elif reply == "ignore_n":
                    self._send(200, _chat_reply(1, body["messages"][-1]["content"]))
                else:
                    self._send(*reply)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def _chat_reply(n, content):
    return {"choices": [{"index": i, "message": {"role": "assistant", "content": f"{content} #{i}"},
                         "finish_reason": "stop" if i else "length"} for i in range(n)],
            "usage": {"prompt_tokens": 11, "completion_tokens": 3 * n}}


@pytest.fixture
def server(request):
    replies = getattr(request, "param", [])
    s = _Server(replies)
    yield s
    s.close()


def _client(server, **kw):
    return OpenAIEngine("served-model", base_url=server.url, backoff=0.01, progress=False, **kw)


def test_openai_backend_returns_n_completions_in_prompt_order(server):
    engine = _client(server, concurrency=3)
    outs = engine.generate([f"prompt {i}" for i in range(5)], n=2, temperature=0.7, top_k=40, stop=["\n"], seed=3)
    assert [o.texts for o in outs] == [[f"prompt {i} #0", f"prompt {i} #1"] for i in range(5)]
    assert [c.finish_reason for c in outs[0].completions] == ["length", "stop"]
    assert outs[0].prompt_tokens == 11 and outs[0].completion_tokens == 6
    body = server.requests[0]["body"]
    assert body["n"] == 2 and body["top_k"] == 40 and body["stop"] == ["\n"] and body["max_tokens"] == 64
    assert len({r["body"]["seed"] for r in server.requests}) == 5  # one hashed seed per prompt


@pytest.mark.parametrize("server", [[(429, {"error": {"message": "slow down"}}), (503, {}), "ok"]], indirect=True)
def test_openai_backend_retries_rate_limits_and_server_errors(server):
    out = _client(server).generate(["hello"], temperature=0)
    assert out[0].texts == ["hello #0"] and len(server.requests) == 3


@pytest.mark.parametrize("server", [[(500, {"error": {"message": "boom"}})] * 3], indirect=True)
def test_openai_backend_gives_up_after_max_retries(server):
    with pytest.raises(GenerationError, match="HTTP 500: boom"):
        _client(server, max_retries=2).generate(["hello"])
    assert len(server.requests) == 3


@pytest.mark.parametrize("server", [[(401, {"error": {"message": "invalid api key"}})]], indirect=True)
def test_openai_backend_bad_key_names_the_variable_never_the_key(server, monkeypatch):
    monkeypatch.setenv("MY_TEACHER_KEY", "sk-secret-123")
    engine = _client(server, api_key_env="MY_TEACHER_KEY")
    assert "sk-secret" not in repr(engine) and "MY_TEACHER_KEY" in repr(engine)
    with pytest.raises(AuthenticationError, match="environment variable MY_TEACHER_KEY") as error:
        engine.generate(["hello"])
    assert "sk-secret" not in str(error.value)
    assert server.requests[0]["auth"] == "Bearer sk-secret-123"


@pytest.mark.parametrize("server", [[(404, {"error": {"message": "The model `nope` does not exist."}})]],
                         indirect=True)
def test_openai_backend_unknown_model_lists_the_served_ones(server):
    engine = OpenAIEngine("nope", base_url=server.url, backoff=0.01, progress=False)
    with pytest.raises(ModelNotFoundError, match="model 'nope' is not served by .*; served: served-model"):
        engine.generate(["hello"])


@pytest.mark.parametrize("server", [["ignore_n"] * 4], indirect=True)
def test_openai_backend_falls_back_to_one_request_per_sample(server):
    engine = _client(server)
    out = engine.generate(["a", "b"], n=3, temperature=0.9)
    assert [len(o.completions) for o in out] == [3, 3]
    out = engine.generate(["c"], n=2, temperature=0.9)  # now known: n=1 requests only
    assert len(out[0].completions) == 2 and all(r["body"]["n"] == 1 for r in server.requests[-2:])


def test_openai_backend_unreachable_server_names_the_url():
    url = f"http://127.0.0.1:{_free_port()}/v1"  # nothing listens there
    engine = OpenAIEngine("m", base_url=url, max_retries=1, backoff=0.01, progress=False)
    with pytest.raises(ServerUnreachableError, match=f"cannot connect to {url}/chat/completions"):
        engine.generate(["hello"])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_openai_backend_against_transformers_serve(tiny_model):
    """A real OpenAI-compatible server (``pip install "transformers[serving]"``) on the tiny model."""
    import shutil
    import subprocess
    import time

    import requests

    pytest.importorskip("fastapi")
    pytest.importorskip("uvicorn")
    if shutil.which("transformers") is None:
        pytest.skip("the transformers command is not on PATH")
    from cookbook_datasets.models import resolve_model_path

    path, port = resolve_model_path("tiny-random"), _free_port()
    proc = subprocess.Popen(["transformers", "serve", path, "--port", str(port)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    try:
        url = f"http://127.0.0.1:{port}"
        for _ in range(120):
            try:
                if requests.get(f"{url}/health", timeout=1).ok:
                    break
            except requests.ConnectionError:
                time.sleep(0.5)
        else:
            pytest.fail("transformers serve did not start within 60 s")
        engine = OpenAIEngine(path, base_url=f"{url}/v1", progress=False)
        outs = engine.generate(PROMPTS[:2], n=2, temperature=0.8, max_new_tokens=4, seed=0)
        assert [len(o.completions) for o in outs] == [2, 2]  # it answers n=2 with one choice: one request each
        assert all(o.prompt_tokens > 0 and o.completion_tokens > 0 for o in outs)
        with pytest.raises(ModelNotFoundError, match="'nope'"):
            OpenAIEngine("nope", base_url=f"{url}/v1", progress=False).generate(["hi"])
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_vllm_backend_where_installed():
    pytest.importorskip("vllm")
    if not torch.cuda.is_available():
        pytest.skip("vLLM needs a GPU")
    engine = load_engine("smollm2-135m", backend="vllm")
    outs = engine.generate(PROMPTS[:2], n=3, temperature=0.7, max_new_tokens=8, seed=0)
    assert [len(o.completions) for o in outs] == [3, 3] and outs[0].prompt_tokens > 0


def test_vllm_backend_missing_says_how_to_install(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_vllm(name, *args, **kwargs):
        if name == "vllm" or name.startswith("vllm."):
            raise ImportError("No module named 'vllm'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_vllm)
    with pytest.raises(ImportError, match=r"vllm is not installed \(pip install vllm; needs a GPU\)"):
        engine_class("vllm")()
