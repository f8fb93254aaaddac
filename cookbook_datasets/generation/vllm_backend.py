"""The vLLM backend, for GPU machines where ``vllm`` is installed (imported only when used).

vLLM batches continuously, shares prompt prefixes (automatic prefix caching) and samples the ``n``
completions of a prompt from one prefill, so this file only translates parameters and results.
Each prompt gets the seed hashed from (seed, prompt index), as the other backends do.
"""

from __future__ import annotations

import logging
from typing import Optional

from .base import Engine
from .params import Completion, GenerationOutput, SamplingParams

logger = logging.getLogger(__name__)


def _import_vllm():
    try:
        import vllm
    except ImportError:
        raise ImportError("vllm is not installed (pip install vllm; needs a GPU); the 'transformers' backend "
                          "runs anywhere") from None
    return vllm


class VLLMEngine(Engine):
    """A model served in-process by ``vllm.LLM``.

    Args:
        model: a ``load_model`` spec (GGUF specs are converted once, as for the other backends).
        adapter: a PEFT LoRA adapter directory (enables vLLM's LoRA support).
        dtype: "auto", "bfloat16", "float16", "float32".
        progress: show vLLM's progress bar.
        **llm_kwargs: passed to ``vllm.LLM`` (gpu_memory_utilization, max_model_len, tensor_parallel_size, ...).
    """

    name = "vllm"

    def __init__(self, model="smollm2-135m", *, adapter: Optional[str] = None, dtype: str = "auto",
                 progress: bool = True, **llm_kwargs):
        vllm = _import_vllm()
        from cookbook_datasets.models import resolve_model_path

        self.model_path = resolve_model_path(str(model))
        self.progress = progress
        self.lora = None
        if adapter is not None:
            from vllm.lora.request import LoRARequest

            llm_kwargs.setdefault("enable_lora", True)
            self.lora = LoRARequest("adapter", 1, str(adapter))
        self.llm = vllm.LLM(model=self.model_path, dtype=dtype, **llm_kwargs)

    def __repr__(self):
        return f"VLLMEngine(model={self.model_path!r}, adapter={self.lora.lora_path if self.lora else None!r})"

    def _generate(self, prompts: list, params: SamplingParams, *, desc: str) -> list[GenerationOutput]:
        vllm = _import_vllm()
        per_prompt = [vllm.SamplingParams(
            n=params.n, temperature=params.temperature, top_p=params.top_p,
            top_k=params.top_k if params.top_k else -1,  # -1: no top-k (also accepted where 0 is the default)
            max_tokens=params.max_new_tokens, stop=list(params.stop) or None, seed=params.sample_seed(i),
        ) for i in range(len(prompts))]
        results = self.llm.chat(prompts, sampling_params=per_prompt, use_tqdm=self.progress, lora_request=self.lora)
        outputs = []
        for result in results:
            completions = [Completion(text=o.text, finish_reason="length" if o.finish_reason == "length" else "stop",
                                      num_tokens=len(o.token_ids), token_ids=list(o.token_ids))
                           for o in sorted(result.outputs, key=lambda o: o.index)]
            outputs.append(GenerationOutput(completions, prompt_tokens=len(result.prompt_token_ids or []),
                                            completion_tokens=sum(c.num_tokens for c in completions)))
        return outputs
