"""The HTTP backend: any OpenAI-compatible chat-completions server (``transformers serve``, vLLM's
and llama.cpp's servers, hosted APIs).

One ``POST {base_url}/chat/completions`` per prompt, ``concurrency`` of them in flight (a thread
pool: requests block, and a few threads are all a server's queue needs). Rate limits (429),
server errors (5xx), timeouts and dropped connections are retried with exponential backoff
(honouring ``Retry-After``); a wrong URL, an unknown model and a refused key fail at once with a
message that says what to fix. The API key is read from an environment variable and is never
logged or shown in ``repr``.
"""

from __future__ import annotations

import logging
import os
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Optional

import requests
from tqdm.auto import tqdm

from .base import Engine, GenerationError
from .params import Completion, GenerationOutput, SamplingParams

logger = logging.getLogger(__name__)

RETRY_STATUS = {408, 409, 425, 429, 500, 502, 503, 504}


class ServerUnreachableError(GenerationError):
    pass


class AuthenticationError(GenerationError):
    pass


class ModelNotFoundError(GenerationError):
    pass


class OpenAIEngine(Engine):
    """An OpenAI-compatible server behind the engine interface.

    Args:
        model: the model name the server serves (``GET {base_url}/models`` lists them).
        base_url: the API root, usually ending in ``/v1``.
        api_key_env: the environment variable holding the API key; unset or empty sends no key
            (local servers need none).
        concurrency: requests in flight at once.
        timeout: seconds to wait for one response.
        max_retries: retries of one request after a 429, a 5xx, a timeout or a dropped connection.
        backoff: first retry delay in seconds, doubled at every retry (with jitter), at most ``max_backoff``.
        extra_body: more fields sent with every request (server-specific options).
        progress: show a progress bar over prompts.

    ``top_k`` is sent only when set (> 0): vLLM and ``transformers serve`` accept it, hosted
    OpenAI models reject it. ``seed`` is hashed per prompt (and per sample when requests go one by
    one), as the local backends do; servers that honour it are reproducible.
    """

    name = "openai"

    def __init__(self, model: str, *, base_url: str = "http://localhost:8000/v1", api_key_env: str = "OPENAI_API_KEY",
                 concurrency: int = 8, timeout: float = 120.0, max_retries: int = 5, backoff: float = 1.0,
                 max_backoff: float = 60.0, extra_body: Optional[dict] = None, progress: bool = True):
        for name, value, low in (("concurrency", concurrency, 1), ("max_retries", max_retries, 0)):
            if not isinstance(value, int) or value < low:
                raise ValueError(f"{name} must be an integer >= {low} (got {value!r})")
        if not timeout > 0 or backoff < 0:
            raise ValueError(f"timeout must be > 0 and backoff >= 0 (got {timeout!r}, {backoff!r})")
        self.model, self.base_url = str(model), base_url.rstrip("/")
        self.api_key_env, self.concurrency, self.timeout = api_key_env, concurrency, timeout
        self.max_retries, self.backoff, self.max_backoff = max_retries, backoff, max_backoff
        self.extra_body, self.progress = dict(extra_body or {}), progress
        self._api_key = os.environ.get(api_key_env) or None  # kept out of repr and logs
        self._local = threading.local()
        self._ignores_n = False  # set once the server answers n > 1 with fewer choices

    def __repr__(self):
        key = f"from ${self.api_key_env}" if self._api_key else "none"
        return (f"OpenAIEngine(model={self.model!r}, base_url={self.base_url!r}, key={key}, "
                f"concurrency={self.concurrency})")

    # -- HTTP --------------------------------------------------------------------------------------
    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:  # one per thread: requests' Session is not meant to be shared across threads
            session = self._local.session = requests.Session()
            if self._api_key:
                session.headers["Authorization"] = f"Bearer {self._api_key}"
        return session

    def _delay(self, attempt: int, response=None) -> float:
        retry_after = response.headers.get("Retry-After") if response is not None else None
        if retry_after:
            try:
                return min(float(retry_after), self.max_backoff)
            except ValueError:
                pass
        return min(self.backoff * 2 ** attempt, self.max_backoff) * (0.5 + random.random() / 2)

    def _request(self, method: str, path: str, body: Optional[dict] = None, retry: bool = True) -> dict:
        url = f"{self.base_url}{path}"
        attempts = self.max_retries + 1 if retry else 1
        for attempt in range(attempts):
            last = attempt == attempts - 1
            try:
                response = self._session().request(method, url, json=body, timeout=self.timeout)
            except requests.ConnectionError as e:
                if last:
                    raise ServerUnreachableError(
                        f"cannot connect to {url} ({_reason(e)}): is the server running and is base_url "
                        f"{self.base_url!r} right?") from None
                logger.warning("%s: connection failed, retrying (%d/%d)", url, attempt + 1, self.max_retries)
                time.sleep(self._delay(attempt))
                continue
            except requests.Timeout:
                if last:
                    raise ServerUnreachableError(f"{url} did not answer within {self.timeout} s "
                                                 f"({attempts} attempts); raise timeout= or check the server") from None
                logger.warning("%s: timed out, retrying (%d/%d)", url, attempt + 1, self.max_retries)
                time.sleep(self._delay(attempt))
                continue
            if response.status_code == 200:
                try:
                    return response.json()
                except ValueError:
                    raise GenerationError(f"{url} answered 200 with a body that is not JSON: "
                                          f"{response.text[:200]!r}") from None
            if response.status_code in RETRY_STATUS and not last:
                logger.warning("%s: HTTP %d, retrying (%d/%d)", url, response.status_code, attempt + 1,
                               self.max_retries)
                time.sleep(self._delay(attempt, response))
                continue
            self._raise_for(response, url)
        raise AssertionError("unreachable")

    def _raise_for(self, response, url: str):
        status, message = response.status_code, _error_message(response)
        if status in (401, 403):
            where = (f"the key came from the environment variable {self.api_key_env}" if self._api_key else
                     f"no key was sent: the environment variable {self.api_key_env} is not set")
            raise AuthenticationError(f"{url} refused the request (HTTP {status}: {message}); {where} "
                                      "(api_key_env= names another variable)")
        if status in (400, 404, 422):
            served = self.served_models()
            if served is not None and self.model not in served:
                raise ModelNotFoundError(f"model {self.model!r} is not served by {self.base_url}; "
                                         f"served: {', '.join(served) or '(none)'}")
            if status == 404:
                raise ModelNotFoundError(
                    f"{url} answered 404 ({message}) for model {self.model!r}: check the model name and that "
                    f"base_url {self.base_url!r} is the API root (it usually ends in /v1)")
            if any(f"{q}{self.model}{q}" in message for q in "'`\""):  # e.g. a server pinned to another model
                raise ModelNotFoundError(f"{self.base_url} refused model {self.model!r} (HTTP {status}: {message})")
        raise GenerationError(f"{url} answered HTTP {status}: {message}")

    def served_models(self) -> Optional[list]:
        """The model ids ``GET {base_url}/models`` lists, or None when it does not answer."""
        try:
            data = self._request("GET", "/models", retry=False)
            return [m.get("id") for m in data.get("data", [])]
        except GenerationError:
            return None

    # -- generation ----------------------------------------------------------------------------------
    def _body(self, messages: list, params: SamplingParams, n: int, seed: Optional[int]) -> dict:
        body = {"model": self.model, "messages": messages, "n": n, "temperature": params.temperature,
                "top_p": params.top_p, "max_tokens": params.max_new_tokens}
        if params.stop:
            body["stop"] = list(params.stop)
        if params.top_k:
            body["top_k"] = params.top_k
        if seed is not None:
            body["seed"] = seed
        return {**body, **self.extra_body}

    def _one(self, index: int, messages: list, params: SamplingParams) -> GenerationOutput:
        n = 1 if params.greedy else params.n  # greedy samples are all the same
        choices, prompt_tokens, completion_tokens = [], None, 0
        if not self._ignores_n:
            data = self._request("POST", "/chat/completions", self._body(messages, params, n, params.sample_seed(index)))
            choices = sorted(data.get("choices", []), key=lambda c: c.get("index", 0))
            usage = data.get("usage") or {}
            prompt_tokens, completion_tokens = usage.get("prompt_tokens"), usage.get("completion_tokens") or 0
            if 0 < len(choices) < n:
                if not self._ignores_n:
                    logger.warning("%s answers n=%d with %d choice(s): sending one request per sample",
                                   self.base_url, n, len(choices))
                self._ignores_n = True
        for sample in range(len(choices), n):  # a server that ignores n: the missing samples one by one
            data = self._request("POST", "/chat/completions",
                                 self._body(messages, params, 1, params.sample_seed(index, sample)))
            choices += data.get("choices", [])[:1]
            usage = data.get("usage") or {}
            prompt_tokens = prompt_tokens if prompt_tokens is not None else usage.get("prompt_tokens")
            completion_tokens += usage.get("completion_tokens") or 0
        completions = []
        for choice in choices:
            reason = choice.get("finish_reason") or "stop"
            completions.append(Completion(text=(choice.get("message") or {}).get("content") or "",
                                          finish_reason="length" if reason == "length" else "stop",
                                          num_tokens=completion_tokens if len(choices) == 1 else None))
        if n < params.n:
            completions = [Completion(**c.__dict__) for c in completions for _ in range(params.n)]
        return GenerationOutput(completions, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens or None)

    def _generate(self, prompts: list, params: SamplingParams, *, desc: str) -> list[GenerationOutput]:
        with ThreadPoolExecutor(max_workers=min(self.concurrency, len(prompts))) as pool:
            futures = [pool.submit(self._one, i, p, params) for i, p in enumerate(prompts)]
            try:
                for _ in tqdm(futures, desc=desc, leave=False, disable=not self.progress or len(futures) < 2):
                    _.exception()  # wait in order; errors surface below
                return [f.result() for f in futures]
            except BaseException:
                for f in futures:
                    f.cancel()
                raise

    def close(self) -> None:
        session = getattr(self._local, "session", None)
        if session is not None:
            session.close()


def _reason(error: Exception) -> str:
    text = str(error)
    for known in ("Connection refused", "Name or service not known", "nodename nor servname",
                  "Temporary failure in name resolution", "No route to host"):
        if known in text:
            return known.lower()
    return type(error).__name__


def _error_message(response) -> str:
    try:
        data = response.json()
        error = data.get("error", data) if isinstance(data, dict) else data
        if isinstance(error, dict):
            error = error.get("message") or error.get("detail") or error
        return str(error)[:300]
    except ValueError:
        return response.text[:300] or response.reason or ""
