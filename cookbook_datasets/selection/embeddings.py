"""What a model says about each pool row, in one forward pass: its embedding and its uncertainty.

- Embedding (DiverseEvol): the mean over all tokens of the row (prompt and response together,
  padding masked) of the last layer's hidden states.
- Token statistics (the reference code's uncertainty baselines): over the response tokens, the
  mean probability of the model's top token, the mean gap between its top two, and the mean
  entropy of its prediction.

Rows are batched by length (little padding). Results are cached on disk per (model, adapter
weights, data content, settings), so re-selecting with the same model reads them back.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path
from typing import Optional

import numpy as np
import torch
from tqdm.auto import tqdm

from ..models import cache_root, load_model, resolve_model_path
from .base import PoolFeatures

logger = logging.getLogger(__name__)

REQUIRED_COLUMNS = ("prompt", "completion")
FEATURES_VERSION = 1  # bump when the computation changes: old cache entries are then ignored


def require_rows(dataset, what: str = "the pool") -> None:
    """Selection needs the project's row schema."""
    missing = [c for c in REQUIRED_COLUMNS if c not in dataset.column_names]
    if missing:
        raise ValueError(f"{what} has no column {missing[0]!r}: selection needs {list(REQUIRED_COLUMNS)} "
                         f"(the project's row schema); it has {dataset.column_names}")


def _texts(tokenizer, prompt, completion) -> tuple[str, str]:
    """(prompt text, prompt + response text) as the model reads them in training."""
    if isinstance(prompt, str):
        return prompt, prompt + completion
    prompt_text = tokenizer.apply_chat_template(prompt, tokenize=False, add_generation_prompt=True)
    full = tokenizer.apply_chat_template(list(prompt) + list(completion), tokenize=False)
    return prompt_text, full


def _encode(tokenizer, dataset, max_length: int) -> list[tuple[list[int], int]]:
    """Token ids per row and where its response starts; long rows lose their beginning (the
    response is what the uncertainty scores read)."""
    out = []
    for row in dataset.select_columns(list(REQUIRED_COLUMNS)):
        prompt_text, full = _texts(tokenizer, row["prompt"], row["completion"])
        ids = tokenizer(full, add_special_tokens=False)["input_ids"]
        start = len(tokenizer(prompt_text, add_special_tokens=False)["input_ids"])
        cut = max(0, len(ids) - max_length)
        out.append((ids[cut:], max(0, start - cut)))
    return out


@torch.inference_mode()
def pool_features(model, tokenizer, dataset, *, batch_size: int = 16, max_length: int = 512,
                  token_stats: bool = True, desc: str = "embedding pool") -> PoolFeatures:
    """Embeddings (and, with ``token_stats``, uncertainty scores) for every row of ``dataset``."""
    require_rows(dataset)
    if len(dataset) == 0:
        raise ValueError("the pool is empty: nothing to embed")
    encoded = _encode(tokenizer, dataset, max_length)
    n = len(encoded)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    head = model.get_output_embeddings()
    # the decoder alone gives the last (normed) hidden states without keeping every layer's;
    # a PEFT model's LoRA layers sit inside it, so the adapter is applied all the same
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    decoder = base.get_decoder()
    device = model.device
    embeddings = None
    stats = {key: np.full(n, np.nan, dtype=np.float32) for key in ("max_prob", "margin", "entropy")}
    order = sorted(range(n), key=lambda i: -len(encoded[i][0]))
    for start in tqdm(range(0, n, batch_size), desc=desc, leave=False):
        idx = order[start:start + batch_size]
        width = max(len(encoded[i][0]) for i in idx)
        ids = torch.full((len(idx), width), pad, dtype=torch.long)
        mask = torch.zeros((len(idx), width), dtype=torch.long)
        for row, i in enumerate(idx):  # right padding: real tokens keep positions 0..len-1
            seq = encoded[i][0]
            ids[row, :len(seq)] = torch.tensor(seq)
            mask[row, :len(seq)] = 1
        hidden = decoder(input_ids=ids.to(device), attention_mask=mask.to(device), use_cache=False).last_hidden_state
        m = mask.to(device=device, dtype=hidden.dtype)[..., None]
        mean = ((hidden * m).sum(1) / m.sum(1)).float().cpu().numpy()
        if embeddings is None:
            embeddings = np.zeros((n, mean.shape[1]), dtype=np.float32)
        embeddings[idx] = mean
        if not token_stats:
            continue
        for row, i in enumerate(idx):
            seq, response = encoded[i]
            if response >= len(seq):
                continue  # no response token left: no score
            # the logits at position t predict token t+1
            logits = head(hidden[row, response - 1 if response else 0:len(seq) - 1]).float()
            probs = torch.softmax(logits, -1)
            top2 = probs.topk(2, dim=-1).values
            stats["max_prob"][i] = top2[:, 0].mean().item()
            stats["margin"][i] = (top2[:, 0] - top2[:, 1]).mean().item()
            stats["entropy"][i] = -(probs * torch.log_softmax(logits, -1)).sum(-1).mean().item()
    if not token_stats:
        return PoolFeatures(embeddings=embeddings)
    return PoolFeatures(embeddings=embeddings, **stats)


def data_fingerprint(dataset) -> str:
    """A hash of the rows' prompt and completion content (stable across processes, unlike the
    random fingerprints of in-memory datasets)."""
    h = hashlib.sha256()
    for batch in dataset.select_columns(list(REQUIRED_COLUMNS)).iter(batch_size=1000):
        h.update(json.dumps(batch, sort_keys=True, ensure_ascii=False).encode())
    return h.hexdigest()[:24]


def _adapter_digest(adapter: Optional[str]) -> Optional[str]:
    if adapter is None:
        return None
    h = hashlib.sha256()
    for f in sorted(Path(adapter).glob("adapter_model.*")):
        h.update(f.read_bytes())
    return h.hexdigest()[:24]


def cached_pool_features(model_spec: str, dataset, *, adapter: Optional[str] = None, dtype: Optional[str] = None,
                         batch_size: int = 16, max_length: int = 512, token_stats: bool = True,
                         cache_dir: Optional[str | os.PathLike] = None,
                         fingerprint: Optional[str] = None) -> PoolFeatures:
    """:func:`pool_features` of ``model_spec`` (with ``adapter``), read from the on-disk cache
    when this model, adapter, data and settings were embedded before. ``fingerprint``: the
    data's :func:`data_fingerprint`, when the caller already has it (it reads every row)."""
    key = {"version": FEATURES_VERSION, "model": resolve_model_path(model_spec), "adapter": _adapter_digest(adapter),
           "data": fingerprint or data_fingerprint(dataset), "dtype": dtype, "max_length": max_length, "token_stats": token_stats}
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:32]
    folder = Path(cache_dir) if cache_dir else cache_root() / "selection_features"
    path = folder / f"{digest}.npz"
    if path.exists():
        logger.info("pool features from cache %s", path)
        with np.load(path) as f:
            return PoolFeatures(**{k: f[k] for k in f.files})
    model, tokenizer = load_model(model_spec, adapter=adapter, dtype=dtype)
    features = pool_features(model, tokenizer, dataset, batch_size=batch_size, max_length=max_length,
                             token_stats=token_stats)
    folder.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, **{k: v for k, v in vars(features).items() if v is not None})
    os.replace(tmp, path)  # atomic: a killed run never leaves half a cache entry
    return features
