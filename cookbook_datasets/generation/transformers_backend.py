"""The local backend: a transformers causal LM (any ``load_model`` spec, optionally with a PEFT
adapter) and our own decoding loop, written for sharing work between rows.

- Prompts of one call usually share a long prefix (a task's system message and demonstrations):
  its keys and values are computed once and every batch starts from them, reading only each
  prompt's own suffix. Rows are laid out as ``[shared prefix | padding | suffix]`` with explicit
  position ids, so every row sees exactly the positions it would see alone.
- The ``n`` samples of a prompt share one prefill: the prompt is read once and its cache and last
  logits are repeated to ``n`` rows (``Cache.batch_repeat_interleave``).
- Each (seed, prompt index, sample index) has its own random stream, hashed with NumPy's
  ``SeedSequence``; a sample draws one uniform number per step and takes the token where the
  filtered distribution's cumulative sum crosses it. A sample therefore does not depend on which
  other prompts share its batch (up to floating-point differences between batch layouts).
- Rows that have finished are dropped from the batch once they are a quarter of it, so long
  completions do not drag finished rows through every step.
- ``temperature=0`` decodes greedily, one row per prompt, with the same layout and batches as the
  evaluation harness always used (its texts are pinned by tests/test_generation_engine.py).
"""

from __future__ import annotations

import copy
import logging
from typing import Optional, Sequence

import numpy as np
import torch
from tqdm.auto import tqdm

from .base import Engine
from .params import Completion, GenerationOutput, SamplingParams, cut_at_stop

logger = logging.getLogger(__name__)

MIN_SHARED_PREFIX = 16  # tokens; shorter common prefixes are not worth a separate pass
COMPACT_FRACTION = 0.25  # drop finished rows from a batch once they are this share of it


def common_prefix_length(seqs: Sequence[list]) -> int:
    first, n = seqs[0], min(len(s) for s in seqs)
    for i in range(n):
        token = first[i]
        if any(s[i] != token for s in seqs):
            return i
    return n


def shared_prefix_length(encoded: Sequence[list]) -> int:
    """Tokens every prompt starts with, if worth a separate pass (each row keeps one own token)."""
    if len(encoded) < 2:
        return 0
    shared = min(common_prefix_length(encoded), min(len(e) for e in encoded) - 1)
    return shared if shared >= MIN_SHARED_PREFIX else 0


def eos_ids(model, tokenizer) -> set:
    ids = {tokenizer.eos_token_id}
    configured = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    ids.update(configured if isinstance(configured, list) else [configured])
    return {i for i in ids if i is not None}


def filtered_probs(logits: torch.Tensor, params: SamplingParams):
    """(probabilities, token ids or None) after temperature, top-k and top-p, in that order (as
    transformers' ``generate`` applies them). Without top-k/top-p the ids are the columns."""
    scaled = logits.float() / params.temperature
    candidates = None
    if params.top_k and params.top_k < scaled.shape[-1]:
        scaled, candidates = scaled.topk(params.top_k, dim=-1)  # sorted, most likely first
    elif params.top_p < 1:
        scaled, candidates = scaled.sort(dim=-1, descending=True)
    probs = torch.softmax(scaled, dim=-1)
    if params.top_p < 1:
        before = probs.cumsum(-1) - probs  # probability of the more likely tokens
        probs = probs.masked_fill(before >= params.top_p, 0.0)  # the first token always stays
    return probs, candidates


def sample_tokens(logits: torch.Tensor, params: SamplingParams, uniforms: torch.Tensor) -> torch.Tensor:
    """One token per row by inverse transform sampling with the row's own uniform number."""
    probs, candidates = filtered_probs(logits, params)
    cdf = probs.double().cumsum(-1)
    target = uniforms.to(cdf)[:, None] * cdf[:, -1:]
    # the first index whose cumulative probability exceeds the target: never a zero-probability token
    pick = torch.searchsorted(cdf, target, right=True).clamp_(max=cdf.shape[-1] - 1)
    return candidates.gather(1, pick)[:, 0] if candidates is not None else pick[:, 0]


class _StopWatch:
    """Finds stop strings as tokens arrive, decoding only each row's last few tokens."""

    def __init__(self, tokenizer, stop: Sequence[str]):
        self.tokenizer, self.stop = tokenizer, tuple(stop)
        self.window = max((len(s) for s in self.stop), default=0) + 4  # a token is at least one character

    def hit(self, tokens: list) -> bool:
        if not self.stop:
            return False
        tail = self.tokenizer.decode(tokens[-self.window:], skip_special_tokens=True)
        return any(s in tail for s in self.stop)


class TransformersEngine(Engine):
    """A local transformers model behind the engine interface.

    Args:
        model: a ``load_model`` spec (default model, directory, .gguf, Hub id, "tiny-random") or an
            already loaded model (then give ``tokenizer``).
        tokenizer: the tokenizer of a loaded model.
        adapter: a PEFT adapter directory applied on top of the model.
        dtype: weights dtype ("float32", "bfloat16", ...; default fp32 on CPU, bf16 on GPU).
            On CPUs with AVX512-BF16/AMX, bf16 weights roughly halve the time (cpu.cpu_has_fast_bf16).
        device: "cpu", "cuda", ... (default: cuda when available).
        batch_size: most rows (prompts x samples) decoded together.
        progress: show a progress bar over batches.
    """

    name = "transformers"

    def __init__(self, model="smollm2-135m", tokenizer=None, *, adapter: Optional[str] = None, dtype=None,
                 device: Optional[str] = None, batch_size: int = 64, progress: bool = True):
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be an integer >= 1 (got {batch_size!r})")
        if isinstance(model, str) or hasattr(model, "__fspath__"):
            from cookbook_datasets.models import load_model

            model, loaded_tokenizer = load_model(str(model), adapter=adapter, dtype=dtype, device=device)
            tokenizer = tokenizer or loaded_tokenizer
        else:
            if tokenizer is None:
                raise ValueError("a loaded model needs its tokenizer: TransformersEngine(model, tokenizer)")
            if adapter is not None:
                from peft import PeftModel

                from cookbook_datasets.models import peft_without_deprecation_noise

                with peft_without_deprecation_noise():
                    model = PeftModel.from_pretrained(model, adapter)
            if dtype is not None or device is not None:
                model = model.to(**{k: v for k, v in (("dtype", dtype), ("device", device)) if v is not None})
            model.eval()
        self.model, self.tokenizer, self.batch_size, self.progress = model, tokenizer, batch_size, progress

    def __repr__(self):
        config = getattr(self.model, "config", None)
        return (f"TransformersEngine(model={getattr(config, '_name_or_path', type(self.model).__name__)!r}, "
                f"dtype={self.model.dtype}, device={self.model.device}, batch_size={self.batch_size})")

    def encode(self, prompts: list) -> list[list[int]]:
        """Token ids of each chat prompt, with the generation prompt (assistant turn) opened."""
        tok = self.tokenizer
        texts = [tok.apply_chat_template(p, tokenize=False, add_generation_prompt=True) for p in prompts]
        return [tok(t, add_special_tokens=False)["input_ids"] for t in texts]

    @torch.inference_mode()
    def _generate(self, prompts: list, params: SamplingParams, *, desc: str) -> list[GenerationOutput]:
        model, tokenizer = self.model, self.tokenizer
        encoded = self.encode(prompts)
        device = model.device
        shared = shared_prefix_length(encoded)
        prefix_cache = None
        if shared:
            prefix_cache = model(input_ids=torch.tensor([encoded[0][:shared]], device=device), use_cache=True,
                                 logits_to_keep=1).cache
        samples = 1 if params.greedy else params.n  # greedy samples are all the same: decode one
        per_batch = max(1, self.batch_size // samples)  # prompts per batch
        order = sorted(range(len(encoded)), key=lambda i: -len(encoded[i]))  # little padding per batch
        stop_watch = _StopWatch(tokenizer, params.stop)
        eos = eos_ids(model, tokenizer)
        results: list = [None] * len(prompts)
        batches = range(0, len(order), per_batch)
        for start in tqdm(batches, desc=desc, leave=False, disable=not self.progress or len(batches) < 2):
            idx = order[start:start + per_batch]
            tokens, reasons = self._decode_batch(encoded, idx, shared, prefix_cache, samples, params, eos, stop_watch)
            for b, i in enumerate(idx):
                rows = range(b * samples, (b + 1) * samples)
                completions = [self._completion(tokens[r], reasons[r], params) for r in rows]
                if samples < params.n:
                    completions = [copy.deepcopy(completions[0]) for _ in range(params.n)]
                results[i] = GenerationOutput(completions, prompt_tokens=len(encoded[i]),
                                              completion_tokens=sum(c.num_tokens for c in completions))
        return results

    def _completion(self, tokens: list, reason: str, params: SamplingParams) -> Completion:
        eos_token = tokens[-1:] if reason == "eos" else []
        ids = tokens[:len(tokens) - len(eos_token)]
        text = self.tokenizer.decode(ids, skip_special_tokens=True)
        text, stopped = cut_at_stop(text, params.stop) if params.stop else (text, False)
        finish = "stop" if reason == "eos" or stopped else "length"
        return Completion(text=text, finish_reason=finish, num_tokens=len(tokens), token_ids=tokens)

    def _decode_batch(self, encoded, idx, shared, prefix_cache, samples, params, eos, stop_watch):
        """Generated tokens (end-of-sequence token included) and why each row ended ("eos", "stop",
        "length"), for the prompts ``idx`` with ``samples`` rows each, prompt-major."""
        model, tokenizer = self.model, self.tokenizer
        device = model.device
        pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else next(iter(eos))
        prompts = len(idx)
        suffixes = [encoded[i][shared:] for i in idx]
        width = max(len(x) for x in suffixes)
        ids = torch.full((prompts, width), pad, dtype=torch.long)
        mask = torch.zeros((prompts, shared + width), dtype=torch.long)
        mask[:, :shared] = 1
        positions = torch.zeros((prompts, width), dtype=torch.long)
        for row, suffix in enumerate(suffixes):
            ids[row, width - len(suffix):] = torch.tensor(suffix)
            mask[row, shared + width - len(suffix):] = 1
            positions[row, width - len(suffix):] = torch.arange(shared, shared + len(suffix))
        cache = None
        if prefix_cache is not None:
            cache = copy.deepcopy(prefix_cache)
            cache.batch_repeat_interleave(prompts)
        mask, positions = mask.to(device), positions.to(device)
        out = model(input_ids=ids.to(device), attention_mask=mask, position_ids=positions,
                    cache=cache, use_cache=True, logits_to_keep=1)
        cache, logits = out.cache, out.logits[:, -1]
        if samples > 1:  # one prefill per prompt, then its samples go their own ways
            cache.batch_repeat_interleave(samples)
            logits, mask, positions = (t.repeat_interleave(samples, dim=0) for t in (logits, mask, positions))
        rows = prompts * samples
        uniforms = None
        if not params.greedy:
            streams = [params.sample_seed(i, s) for i in idx for s in range(samples)]
            uniforms = torch.from_numpy(np.stack([np.random.default_rng(seed).random(params.max_new_tokens)
                                                  for seed in streams]))
        tokens: list = [[] for _ in range(rows)]
        reasons = ["length"] * rows
        done = [False] * rows
        active = list(range(rows))  # the row each line of the batch belongs to
        for step in range(params.max_new_tokens):
            if params.greedy:
                chosen = logits.argmax(-1)
            else:
                chosen = sample_tokens(logits, params, uniforms[active, step])
            for line, token in enumerate(chosen.tolist()):
                row = active[line]
                if done[row]:
                    continue  # a finished row waiting to be dropped
                tokens[row].append(token)
                if token in eos:
                    reasons[row], done[row] = "eos", True
                elif stop_watch.hit(tokens[row]):
                    reasons[row], done[row] = "stop", True
            if all(done[row] for row in active) or step == params.max_new_tokens - 1:
                break
            keep = [line for line, row in enumerate(active) if not done[row]]
            # drop finished rows once they are worth it (greedy keeps the harness's batches as they were)
            if not params.greedy and len(keep) <= (1 - COMPACT_FRACTION) * len(active):
                keep_t = torch.tensor(keep, device=device)
                cache.batch_select_indices(keep_t)
                chosen, mask, positions = chosen[keep_t], mask[keep_t], positions[keep_t]
                active = [active[line] for line in keep]
            mask = torch.cat([mask, mask.new_ones((mask.shape[0], 1))], dim=1)
            positions = positions[:, -1:] + 1
            result = model(input_ids=chosen[:, None], attention_mask=mask, position_ids=positions,
                           cache=cache, use_cache=True)
            cache, logits = result.cache, result.logits[:, -1]
        return tokens, reasons
