"""Batched greedy generation and log-likelihood scoring with a transformers causal LM.

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


@torch.inference_mode()
def generate(model, tokenizer, prompts: Sequence[list], *, max_new_tokens: int = 32, batch_size: int = 16,
             desc: str = "generating") -> list[str]:
    """Greedy completions of chat prompts (message lists), decoded without special tokens."""
    texts = [tokenizer.apply_chat_template(p, tokenize=False, add_generation_prompt=True) for p in prompts]
    encoded = [tokenizer(t, add_special_tokens=False)["input_ids"] for t in texts]
    order = _by_length([len(e) for e in encoded])
    out: list[str] = [""] * len(prompts)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    device = model.device
    for start in tqdm(range(0, len(order), batch_size), desc=desc, leave=False):
        idx = order[start:start + batch_size]
        width = max(len(encoded[i]) for i in idx)
        # left padding keeps every prompt's last token at the end, where generation continues
        ids = torch.full((len(idx), width), pad, dtype=torch.long)
        mask = torch.zeros((len(idx), width), dtype=torch.long)
        for row, i in enumerate(idx):
            ids[row, width - len(encoded[i]):] = torch.tensor(encoded[i])
            mask[row, width - len(encoded[i]):] = 1
        generated = model.generate(
            input_ids=ids.to(device), attention_mask=mask.to(device), max_new_tokens=max_new_tokens,
            do_sample=False, temperature=None, top_p=None, top_k=None, pad_token_id=pad,
            eos_token_id=tokenizer.eos_token_id,
        )
        for row, i in enumerate(idx):
            out[i] = tokenizer.decode(generated[row, width:], skip_special_tokens=True).strip()
    return out


@torch.inference_mode()
def loglikelihoods(model, tokenizer, requests: Sequence[tuple[str, str]], *, batch_size: int = 16,
                   max_length: int = 2048, desc: str = "scoring") -> list[float]:
    """Sum of log-probabilities of each continuation given its context.

    The model reads ``(context + continuation)[:-1]`` and the continuation is scored at the last
    positions, so requests whose inputs coincide (one-token answers such as " yes" / " no" after
    the same passage) share one forward pass, and only the scored positions reach the LM head.
    """
    groups: dict[tuple, list[tuple[int, list[int]]]] = {}
    for r, (context, continuation) in enumerate(requests):
        ctx = tokenizer(context, add_special_tokens=False)["input_ids"]
        cont = tokenizer(continuation, add_special_tokens=False)["input_ids"]
        if not ctx:
            bos = tokenizer.bos_token_id if tokenizer.bos_token_id is not None else tokenizer.eos_token_id
            ctx = [bos]
        inputs = tuple((ctx + cont)[:-1][-max_length:])  # keep the continuation, cut the context's start
        groups.setdefault(inputs, []).append((r, cont))
    unique = list(groups)
    order = _by_length([len(u) for u in unique])
    scores = [0.0] * len(requests)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    for start in tqdm(range(0, len(order), batch_size), desc=desc, leave=False):
        idx = order[start:start + batch_size]
        width = max(len(unique[i]) for i in idx)
        # left padding puts every scored position at the end, so the LM head runs on the last
        # `keep` positions only
        ids = torch.full((len(idx), width), pad, dtype=torch.long)
        mask = torch.zeros((len(idx), width), dtype=torch.long)
        for row, i in enumerate(idx):
            ids[row, width - len(unique[i]):] = torch.tensor(unique[i])
            mask[row, width - len(unique[i]):] = 1
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        keep = max(len(cont) for i in idx for _, cont in groups[unique[i]])
        logits = model(input_ids=ids.to(model.device), attention_mask=mask.to(model.device),
                       position_ids=positions.to(model.device), logits_to_keep=keep).logits
        for row, i in enumerate(idx):
            for r, cont in groups[unique[i]]:
                rows = torch.log_softmax(logits[row, keep - len(cont):].float(), dim=-1)
                targets = torch.tensor(cont, device=rows.device)
                scores[r] = rows.gather(1, targets[:, None]).sum().item()
    return scores
