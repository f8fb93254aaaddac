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


@torch.inference_mode()
def loglikelihoods(model, tokenizer, requests: Sequence[tuple[str, str]], *, batch_size: int = 16,
                   max_length: int = 2048, desc: str = "scoring") -> list[float]:
    """Sum of log-probabilities of each continuation given its context.

    Requests are grouped by context (the choices of one question): the model reads each context
    once, and its keys and values are reused for all of that context's continuations, which are
    read in one more batched pass (one-token continuations need none: the context's last logits
    score them).
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
    for start in tqdm(range(0, len(order), batch_size), desc=desc, leave=False):
        idx = order[start:start + batch_size]
        ids, ctx_mask = _left_padded([list(contexts[i]) for i in idx], pad)
        positions = (ctx_mask.cumsum(-1) - 1).clamp(min=0)
        result = model(input_ids=ids.to(device), attention_mask=ctx_mask.to(device),
                       position_ids=positions.to(device), use_cache=True, logits_to_keep=1)
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
            base = ctx_mask.sum(-1)[[b for b, _, _ in rows]]
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
