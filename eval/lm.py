"""Batched greedy generation (on the generation engine) and log-likelihood scoring with a
transformers causal LM.

Requests are sorted by length so each batch pads little, and results come back in the
caller's order. ``batch_size=1`` runs the same code one request at a time (for throughput
comparisons).
"""

from __future__ import annotations

from typing import Sequence

import torch
from tqdm.auto import tqdm


def _by_length(lengths: Sequence[int]) -> list[int]:
    return sorted(range(len(lengths)), key=lambda i: -lengths[i])


def generate(model, tokenizer, prompts: Sequence[list], *, max_new_tokens: int = 32, batch_size: int = 16,
             desc: str = "generating") -> list[str]:
    """Greedy completions of chat prompts (message lists), decoded without special tokens and stripped.

    Runs on the generation engine's transformers backend (cookbook_datasets.generation), which
    reads a prefix shared by all prompts (system message and demonstrations) once.
    """
    from cookbook_datasets.generation import SamplingParams, TransformersEngine

    engine = TransformersEngine(model, tokenizer, batch_size=batch_size)
    outputs = engine.generate(prompts, SamplingParams(temperature=0.0, max_new_tokens=max_new_tokens), desc=desc)
    return [out.completions[0].text.strip() for out in outputs]


def _left_padded(seqs: Sequence[list[int]], pad: int):
    width = max(len(x) for x in seqs)
    ids = torch.full((len(seqs), width), pad, dtype=torch.long)
    mask = torch.zeros((len(seqs), width), dtype=torch.long)
    for row, seq in enumerate(seqs):
        ids[row, width - len(seq):] = torch.tensor(seq)
        mask[row, width - len(seq):] = 1
    return ids, mask


MIN_SHARED_PREFIX = 8  # tokens; a shorter common prefix is not worth its own pass


def _shared_prefix(model, contexts: Sequence[tuple], device):
    """(length, per-layer keys and values) of the token prefix every context shares, or None.

    A task's prompts repeat its instruction and demonstrations: a causal model's keys and values
    over that prefix do not depend on what follows, so it is read once for all rows. Each context
    keeps at least one token of its own (its last logits score the continuation's first token).
    """
    if len(contexts) < 2:
        return None
    first, length = contexts[0], min(len(c) for c in contexts) - 1
    for c in contexts[1:]:
        length = next((k for k in range(length) if c[k] != first[k]), length)
        if length < MIN_SHARED_PREFIX:
            return None
    from transformers import DynamicCache
    from transformers.cache_utils import DynamicLayer

    cache = DynamicCache(config=model.config)
    ids = torch.tensor([list(first[:length])], device=device)
    model(input_ids=ids, attention_mask=torch.ones_like(ids), cache=cache, use_cache=True, logits_to_keep=1)
    if not all(type(layer) is DynamicLayer for layer in cache.layers):
        return None  # sliding windows, quantised or offloaded caches: each row reads its whole context
    return length, [(layer.keys, layer.values) for layer in cache.layers]


@torch.inference_mode()
def loglikelihoods(model, tokenizer, requests: Sequence[tuple[str, str]], *, batch_size: int = 16,
                   max_length: int = 2048, desc: str = "scoring") -> list[float]:
    """Sum of log-probabilities of each continuation given its context.

    Requests are grouped by context (the choices of one question): the model reads each context
    once, and its keys and values are reused for all of that context's continuations, which are
    read in one more batched pass (one-token continuations need none: the context's last logits
    score them). A prefix all contexts share (a task's instruction and demonstrations) is read
    once for the whole call.
    """
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    bos = tokenizer.bos_token_id if tokenizer.bos_token_id is not None else tokenizer.eos_token_id
    groups: dict[tuple, list[tuple[int, list[int]]]] = {}
    for r, (context, continuation) in enumerate(requests):
        ctx = tokenizer(context, add_special_tokens=False)["input_ids"] or [bos]
        cont = tokenizer(continuation, add_special_tokens=False)["input_ids"]
        ctx = ctx[-max(1, max_length - len(cont)):]  # keep the continuation, cut the context's start
        groups.setdefault(tuple(ctx), []).append((r, cont))
    contexts = list(groups)
    order = _by_length([len(c) + max(len(x) for _, x in groups[c]) for c in contexts])
    scores = [0.0] * len(requests)
    device = model.device
    shared = _shared_prefix(model, contexts, device)
    p = shared[0] if shared else 0
    for start in tqdm(range(0, len(order), batch_size), desc=desc, leave=False):
        idx = order[start:start + batch_size]
        ids, ctx_mask = _left_padded([list(contexts[i][p:]) for i in idx], pad)
        positions = p + (ctx_mask.cumsum(-1) - 1).clamp(min=0)
        extra = {}
        if shared:  # the rows continue from the prefix's keys and values: [prefix][pads][own tokens]
            from transformers import DynamicCache

            b = len(idx)
            extra["cache"] = DynamicCache(ddp_cache_data=[(k.expand(b, -1, -1, -1), v.expand(b, -1, -1, -1))
                                                          for k, v in shared[1]], config=model.config)
            ctx_mask = torch.cat([torch.ones((b, p), dtype=torch.long), ctx_mask], dim=1)
        result = model(input_ids=ids.to(device), attention_mask=ctx_mask.to(device),
                       position_ids=positions.to(device), use_cache=True, logits_to_keep=1, **extra)
        first = torch.log_softmax(result.logits[:, -1].float(), dim=-1)  # scores each first token
        # one row per continuation, on top of its context's cached keys and values
        rows = [(b, r, cont) for b, i in enumerate(idx) for r, cont in groups[contexts[i]]]
        longest = max(len(cont) for _, _, cont in rows)  # (rows with no continuation score 0)
        if longest > 1:
            cache = result.cache
            cache.batch_select_indices(torch.tensor([b for b, _, _ in rows], device=device))
            width = longest - 1
            cont_ids = torch.full((len(rows), width), pad, dtype=torch.long)
            cont_mask = torch.zeros((len(rows), width), dtype=torch.long)
            for k, (_, _, cont) in enumerate(rows):
                cont_ids[k, :len(cont) - 1] = torch.tensor(cont[:-1], dtype=torch.long)
                cont_mask[k, :len(cont) - 1] = 1
            base = (p + (ctx_mask[:, p:].sum(-1)))[[b for b, _, _ in rows]]
            cont_positions = base[:, None] + torch.arange(width)[None, :]
            mask = torch.cat([ctx_mask[[b for b, _, _ in rows]], cont_mask], dim=1)
            rest = model(input_ids=cont_ids.to(device), attention_mask=mask.to(device),
                         position_ids=cont_positions.to(device), cache=cache, use_cache=True).logits
        for k, (b, r, cont) in enumerate(rows):
            if not cont:
                continue  # an empty continuation has probability 1
            total = first[b, cont[0]].item()
            if len(cont) > 1:
                logprobs = torch.log_softmax(rest[k, :len(cont) - 1].float(), dim=-1)
                total += logprobs.gather(1, torch.tensor(cont[1:], device=logprobs.device)[:, None]).sum().item()
            scores[r] = total
    return scores
