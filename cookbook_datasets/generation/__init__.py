"""One generation engine for every model call in the project.

Chat prompts + :class:`SamplingParams` -> ``n`` completions per prompt, with token counts, on one of
three backends (one file each): ``transformers`` (a local model, our own batched decoding loop),
``openai`` (any OpenAI-compatible server) and ``vllm`` (where vLLM is installed)::

    from cookbook_datasets.generation import SamplingParams, load_engine

    engine = load_engine("smollm2-135m")                      # backend="transformers"
    outs = engine.generate(prompts, SamplingParams(n=10, temperature=0.7, top_k=40, max_new_tokens=64))
    outs[0].texts, outs[0].prompt_tokens, outs[0].completions[0].finish_reason
"""

from .base import BACKENDS, Engine, GenerationError, engine_class, load_engine
from .params import Completion, GenerationOutput, SamplingParams, normalize_prompts


def __getattr__(name):  # the backend classes, imported on first use (vllm only where installed)
    lazy = {"TransformersEngine": "transformers", "OpenAIEngine": "openai", "VLLMEngine": "vllm"}
    if name in lazy:
        return engine_class(lazy[name])
    if name == "RayEngine":  # a backend's engine on Ray replicas (executor="ray"; imports ray when used)
        from .ray_engine import RayEngine

        return RayEngine
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["BACKENDS", "Completion", "Engine", "GenerationError", "GenerationOutput", "OpenAIEngine",
           "RayEngine", "SamplingParams", "TransformersEngine", "VLLMEngine", "engine_class", "load_engine", "normalize_prompts"]
