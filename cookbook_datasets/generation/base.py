"""The engine interface every backend implements, and ``load_engine`` to pick one by name."""

from __future__ import annotations

import dataclasses
import importlib
from abc import ABC, abstractmethod
from typing import Optional, Sequence

from ..registry import Registry
from .params import GenerationOutput, Prompt, SamplingParams, normalize_prompts

# name -> "module:class", imported on first use so that e.g. vllm is only imported when asked for
BACKENDS: Registry[str] = Registry("generation backend", [
    ("transformers", "cookbook_datasets.generation.transformers_backend:TransformersEngine"),
    ("openai", "cookbook_datasets.generation.openai_backend:OpenAIEngine"),
    ("vllm", "cookbook_datasets.generation.vllm_backend:VLLMEngine"),
], listed="available")


class GenerationError(RuntimeError):
    """A backend could not produce completions (the message says why and what to check)."""


class Engine(ABC):
    """Chat prompts + :class:`SamplingParams` -> ``n`` completions per prompt, with token counts.

    ``engine.generate(prompts, params)`` or ``engine.generate(prompts, n=10, temperature=0.7)``.
    Results come back in the prompts' order. Engines hold resources (a model, connections):
    ``close()`` them, or use them as context managers.
    """

    name: str = ""

    def generate(self, prompts: Sequence[Prompt], params: Optional[SamplingParams] = None, *,
                 desc: str = "generating", **overrides) -> list[GenerationOutput]:
        if params is None:
            params = SamplingParams(**overrides)
        elif overrides:
            params = dataclasses.replace(params, **overrides)
        prompts = normalize_prompts(prompts)
        if not prompts:
            return []
        return self._generate(prompts, params, desc=desc)

    @abstractmethod
    def _generate(self, prompts: list, params: SamplingParams, *, desc: str) -> list[GenerationOutput]:
        ...

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def engine_class(backend: str) -> type:
    module, cls = BACKENDS.get(backend).split(":")
    return getattr(importlib.import_module(module), cls)


def load_engine(model=None, backend: str = "transformers", **options) -> Engine:
    """An engine for ``model`` on ``backend``.

    - ``transformers``: ``model`` is any ``load_model`` spec (default: the embedded default model)
      or a loaded model (then pass ``tokenizer=``); options: ``adapter``, ``dtype``, ``device``,
      ``batch_size``.
    - ``openai``: ``model`` is the name the server serves; options: ``base_url``, ``api_key_env``,
      ``concurrency``, ``timeout``, ``max_retries``.
    - ``vllm``: ``model`` is a ``load_model`` spec; options: ``adapter``, ``dtype`` and ``vllm.LLM``'s.
    """
    cls = engine_class(backend)
    return cls(model, **options) if model is not None else cls(**options)
