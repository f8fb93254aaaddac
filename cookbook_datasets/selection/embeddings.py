"""What a model says about each pool row, in one forward pass: its embedding and its uncertainty.

- Embedding (DiverseEvol): the mean over all tokens of the row (prompt and response together,
  padding masked) of the last layer's hidden states.
- Token statistics (the reference code's uncertainty baselines): over the response tokens, the
  mean probability of the model's top token, the mean gap between its top two, and the mean
  entropy of its prediction. Computed only when asked (``token_stats=True``): K-center needs none.

Where the time went, and what this module does about it (the values are the same up to float
rounding; ``benchmarks/selection.py`` measures both paths and their largest difference). What it
leaves: on a CPU the matrix products (~60%) and the attention kernel (~25%, far above its share
of the arithmetic) of the tokens that are still run.

- **Shared prefixes are computed once.** A pool of narrow tasks repeats each task's instruction
  (the system message) on every row, often most of the row's tokens (NIV2 dev, 100 rows a task:
  62% of all tokens). A causal model's hidden states over a prefix do not depend on what follows,
  so rows that share a leading run of tokens are run as one forward pass over the prefix, whose
  key/value cache the rows' own tokens then continue. Which rows share what is found from the sorted token sequences
  (:func:`prefix_groups`).
- **Identical rows are embedded once.**
- **Batches are bounded by tokens** as well as rows (``max_batch_tokens``): on a CPU a batch of
  16 long rows is slower per token than a few, its activations no longer fit the caches.
- **A LoRA adapter is merged** into the weights before the pass (in float32, then cast), so each
  layer is one matrix product instead of three plus an add (:func:`load_for_features`).
- **Rows are cached one by one**, keyed by the model (path, adapter weights, dtype, max_length)
  and a fingerprint of the row's prompt and completion: re-selecting with the same model, or a
  pool that shares rows with one embedded before, embeds only the rows it has not seen.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import logging
import os
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
import torch
from tqdm.auto import tqdm

from ..atomic_files import atomic_path
from ..models import cache_root, default_device, default_dtype, load_model, resolve_model_path
from .base import PoolFeatures

logger = logging.getLogger(__name__)

REQUIRED_COLUMNS = ("prompt", "completion")
FEATURES_VERSION = 2  # bump when the computation changes: old cache entries are then ignored
STATS = ("max_prob", "margin", "entropy")


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


def encode_rows(tokenizer, dataset, max_length: int) -> list[tuple[list[int], int]]:
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


# ---------------------------------------------------------------- which rows share a prefix

def _common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    n = min(len(a), len(b))
    if n and a[:n] == b[:n]:
        return n
    lo, hi = 0, n  # a[:lo] == b[:lo], a[:hi] != b[:hi]
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if a[:mid] == b[:mid]:
            lo = mid
        else:
            hi = mid
    return lo


def prefix_groups(seqs: Sequence[Sequence[int]], *, min_prefix: int = 16,
                  group_cost: int = 32) -> list[tuple[int, list[int]]]:
    """Rows that share a leading run of tokens: ``[(prefix_length, rows)]``, every row in exactly one
    group; prefix_length 0 means "shares nothing worth a pass of its own".

    In lexicographic order, rows sharing a prefix are contiguous and the prefix a run of rows shares
    is the smallest common prefix of neighbours in it. A run is split at that smallest one when its
    two halves save more tokens on their own ((rows - 1) x prefix, less ``group_cost`` tokens for the
    extra pass each group costs). A shared prefix leaves every row at least one token of its own.
    """
    n = len(seqs)
    order = sorted(range(n), key=lambda i: seqs[i])
    lcp = np.zeros(n, dtype=np.int64)  # lcp[j]: rows order[j-1] and order[j]
    for j in range(1, n):
        a, b = seqs[order[j - 1]], seqs[order[j]]
        lcp[j] = min(_common_prefix(a, b), len(a) - 1, len(b) - 1)
    best: dict[tuple[int, int], tuple[int, list[tuple[int, int, int]]]] = {}
    stack = [(0, n, False)]
    while stack:  # post-order over the splits (no recursion: a pool can be deep)
        a, b, children_done = stack.pop()
        if b - a < 2:
            best[(a, b)] = (0, [(0, a, b)] if b > a else [])
            continue
        m = a + 1 + int(np.argmin(lcp[a + 1:b]))
        if not children_done:
            stack += [(a, b, True), (a, m, False), (m, b, False)]
            continue
        common = int(lcp[m])
        whole = (b - a - 1) * common - group_cost if common >= min_prefix else 0
        (left, lg), (right, rg) = best.pop((a, m)), best.pop((m, b))
        best[(a, b)] = (whole, [(common, a, b)]) if whole > 0 and whole >= left + right else (left + right, lg + rg)
    groups, alone = [], []
    for prefix, a, b in best[(0, n)][1] if n else []:
        rows = [order[j] for j in range(a, b)]
        if prefix:
            groups.append((prefix, rows))
        else:
            alone.extend(rows)
    return ([(0, sorted(alone))] if alone else []) + groups


# ---------------------------------------------------------------- the forward passes

def _cache_argument(decoder) -> Optional[str]:
    params = inspect.signature(decoder.forward).parameters
    return next((name for name in ("cache", "past_key_values") if name in params), None)


def _prefix_state(decoder, prefix: list[int], device):
    """(key/value tensors per layer, hidden states (p, d)) of ``prefix``, or None when this model's
    cache is not the plain growing kind a prefix can be shared through."""
    from transformers import DynamicCache
    from transformers.cache_utils import DynamicLayer

    argument = _cache_argument(decoder)
    if argument is None:
        return None
    cache = DynamicCache(config=decoder.config)
    ids = torch.tensor([prefix], device=device)
    out = decoder(input_ids=ids, attention_mask=torch.ones_like(ids), use_cache=True, **{argument: cache})
    if not all(type(layer) is DynamicLayer for layer in cache.layers):
        return None  # sliding windows, quantised or offloaded caches: no sharing
    return [(layer.keys, layer.values) for layer in cache.layers], out.last_hidden_state[0]


def _forward(decoder, seqs: list[list[int]], pad: int, device, prefix=None) -> list[torch.Tensor]:
    """Each sequence's last hidden states (len, d), the sequences right-padded into one batch (real
    tokens keep positions 0..len-1, after the prefix's when given, which is then prepended)."""
    width = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), width), pad, dtype=torch.long)
    mask = torch.zeros((len(seqs), width), dtype=torch.long)
    for row, seq in enumerate(seqs):
        ids[row, :len(seq)] = torch.tensor(seq)
        mask[row, :len(seq)] = 1
    if prefix is None:
        hidden = decoder(input_ids=ids.to(device), attention_mask=mask.to(device), use_cache=False).last_hidden_state
        return [hidden[row, :len(seq)] for row, seq in enumerate(seqs)]
    from transformers import DynamicCache

    layers, prefix_hidden = prefix
    b = len(seqs)
    cache = DynamicCache(ddp_cache_data=[(k.expand(b, -1, -1, -1), v.expand(b, -1, -1, -1)) for k, v in layers],
                         config=decoder.config)
    mask = torch.cat([torch.ones((b, len(prefix_hidden)), dtype=torch.long), mask], 1)
    hidden = decoder(input_ids=ids.to(device), attention_mask=mask.to(device), use_cache=True,
                     **{_cache_argument(decoder): cache}).last_hidden_state
    return [torch.cat([prefix_hidden, hidden[row, :len(seq)]]) for row, seq in enumerate(seqs)]


def _batches(rows: list[int], lengths: dict[int, int], batch_size: int, max_batch_tokens: int):
    """Rows longest first, each batch at most ``batch_size`` rows and ``max_batch_tokens`` padded tokens."""
    rows = sorted(rows, key=lambda i: -lengths[i])
    start = 0
    while start < len(rows):
        fit = max(1, min(batch_size, max_batch_tokens // max(1, lengths[rows[start]])))
        yield rows[start:start + fit]
        start += fit


def _token_stats(head, hidden: torch.Tensor, response: int) -> Optional[tuple[float, float, float]]:
    if response >= len(hidden):
        return None  # no response token left: no score
    # the logits at position t predict token t+1
    logits = head(hidden[response - 1 if response else 0:len(hidden) - 1]).float()
    probs = torch.softmax(logits, -1)
    top2 = probs.topk(2, dim=-1).values
    return (top2[:, 0].mean().item(), (top2[:, 0] - top2[:, 1]).mean().item(),
            -(probs * torch.log_softmax(logits, -1)).sum(-1).mean().item())


def plan_units(encoded: list[tuple[list[int], int]], *, batch_size: int, max_batch_tokens: int,
               share_prefixes: bool = True) -> tuple[list[int], list[tuple[int, list[int]]]]:
    """How :func:`pool_features` splits the work: ``(source, units)``. ``source[i]``: the row whose
    result row ``i`` copies (identical rows are run once). A unit is ``(prefix_length, rows)``: a group
    sharing a prefix (run by :func:`embed_unit` as one prefix pass and its batches), or, for rows that
    share nothing, one batch. Units are independent: any process can run any of them, and the
    values are the same as running them in order here."""
    first_of: dict[tuple, int] = {}
    source = [first_of.setdefault((tuple(ids), start), i) for i, (ids, start) in enumerate(encoded)]
    unique = sorted(set(source))
    groups = prefix_groups([encoded[i][0] for i in unique]) if share_prefixes else [(0, list(range(len(unique))))]
    units = []
    for prefix_len, rows in groups:
        rows = [unique[j] for j in rows]
        if prefix_len:
            units.append((prefix_len, rows))
        else:
            lengths = {i: len(encoded[i][0]) for i in rows}
            units += [(0, batch) for batch in _batches(rows, lengths, batch_size, max_batch_tokens)]
    return source, units


@torch.inference_mode()
def embed_unit(model, pad: int, encoded: dict, prefix_len: int, rows: list[int], *, batch_size: int,
               max_batch_tokens: int, token_stats: bool = False) -> dict:
    """Row -> (embedding (float32 vector), (max_prob, margin, entropy) or None) for one unit of
    :func:`plan_units`; ``encoded`` maps each of its rows to ``(token ids, response start)``."""
    head = model.get_output_embeddings()
    # the decoder alone gives the last (normed) hidden states without keeping every layer's;
    # a PEFT model's LoRA layers sit inside it, so an unmerged adapter is applied all the same
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    decoder = base.get_decoder()
    device = model.device
    state = None
    if prefix_len:
        state = _prefix_state(decoder, encoded[rows[0]][0][:prefix_len], device)
        if state is None:
            prefix_len = 0  # this model's cache cannot be shared: run the rows whole
    lengths = {i: len(encoded[i][0]) - prefix_len for i in rows}
    out = {}
    for batch in _batches(rows, lengths, batch_size, max_batch_tokens):
        hidden = _forward(decoder, [encoded[i][0][prefix_len:] for i in batch], pad, device, state)
        mean = torch.stack([h.float().mean(0) for h in hidden]).cpu().numpy()
        for j, (h, i) in enumerate(zip(hidden, batch)):
            out[i] = (mean[j], _token_stats(head, h, encoded[i][1]) if token_stats else None)
    return out


def _check_pool_args(dataset, **values) -> None:
    require_rows(dataset)
    if len(dataset) == 0:
        raise ValueError("the pool is empty: nothing to embed")
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive integer (got {value!r})")


def _assemble(n: int, source: list[int], results: dict, token_stats: bool) -> PoolFeatures:
    """PoolFeatures of ``n`` rows from the unique rows' results (row -> (embedding, stats))."""
    first = next(iter(results.values()))[0]
    embeddings = np.zeros((n, len(first)), dtype=np.float32)
    stats = {key: np.full(n, np.nan, dtype=np.float32) for key in STATS}
    for i, (embedding, values) in results.items():
        embeddings[i] = embedding
        if values is not None:
            for key, value in zip(STATS, values):
                stats[key][i] = value
    copies = np.asarray(source)
    if not token_stats:
        return PoolFeatures(embeddings=embeddings[copies])
    return PoolFeatures(embeddings=embeddings[copies], **{k: v[copies] for k, v in stats.items()})


@torch.inference_mode()
def pool_features(model, tokenizer, dataset, *, batch_size: int = 16, max_length: int = 512,
                  token_stats: bool = False, share_prefixes: bool = True, max_batch_tokens: int = 1024,
                  desc: str = "embedding pool") -> PoolFeatures:
    """Embeddings (and, with ``token_stats``, uncertainty scores) for every row of ``dataset``.

    ``share_prefixes``: run a prefix that several rows share once (see module doc); off, every row
    is run whole, as the reference code does (same values up to float rounding)."""
    _check_pool_args(dataset, batch_size=batch_size, max_length=max_length, max_batch_tokens=max_batch_tokens)
    encoded = encode_rows(tokenizer, dataset, max_length)
    source, units = plan_units(encoded, batch_size=batch_size, max_batch_tokens=max_batch_tokens,
                               share_prefixes=share_prefixes)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    results: dict = {}
    progress = tqdm(total=sum(len(rows) for _, rows in units), desc=desc, leave=False)
    for prefix_len, rows in units:
        results.update(embed_unit(model, pad, encoded, prefix_len, rows, batch_size=batch_size,
                                  max_batch_tokens=max_batch_tokens, token_stats=token_stats))
        progress.update(len(rows))
    progress.close()
    return _assemble(len(encoded), source, results, token_stats)


# ---------------------------------------------------------------- loading and the per-row cache

_DTYPES = {"float32": torch.float32, "fp32": torch.float32, "bfloat16": torch.bfloat16, "bf16": torch.bfloat16,
           "float16": torch.float16, "fp16": torch.float16}


def load_for_features(model_spec: str, adapter: Optional[str] = None, dtype: Optional[str] = None):
    """``(model, tokenizer)`` for embedding: a LoRA adapter merged into the weights (in float32, then
    cast to ``dtype``), so each layer is one matrix product; adapters that cannot merge stay as they are."""
    if adapter is None:
        return load_model(model_spec, dtype=dtype)
    device = default_device()
    target = dtype or default_dtype(device)
    model, tokenizer = load_model(model_spec, adapter=adapter, dtype="float32", device="cpu")
    try:
        model = model.merge_and_unload()
    except (AttributeError, ValueError, NotImplementedError) as e:
        logger.info("adapter %s not merged (%s): embedding through the adapter layers", adapter, e)
    if isinstance(target, str):
        target = _DTYPES[target]
    model.to(device=device, dtype=target)
    model.eval()
    return model, tokenizer


def row_keys(dataset) -> np.ndarray:
    """One fingerprint per row (32 hex digits) of its prompt and completion (stable across processes)."""
    keys = []
    for batch in dataset.select_columns(list(REQUIRED_COLUMNS)).iter(batch_size=1000):
        for prompt, completion in zip(batch["prompt"], batch["completion"]):
            text = json.dumps([prompt, completion], sort_keys=True, ensure_ascii=False)
            keys.append(hashlib.blake2b(text.encode(), digest_size=16).hexdigest())
    return np.asarray(keys, dtype="<U32")


def data_fingerprint(dataset) -> str:
    """A hash of the rows' prompt and completion content (stable across processes, unlike the
    random fingerprints of in-memory datasets)."""
    return hashlib.sha256("".join(row_keys(dataset).tolist()).encode()).hexdigest()[:24]


def _adapter_digest(adapter: Optional[str]) -> Optional[str]:
    if adapter is None:
        return None
    h = hashlib.sha256()
    for f in sorted(Path(adapter).glob("adapter_model.*")):
        h.update(f.read_bytes())
    return h.hexdigest()[:24]


def _read_cache(folder: Path, token_stats: bool) -> dict[str, tuple[np.ndarray, Optional[tuple]]]:
    """row key -> (embedding, (max_prob, margin, entropy) or None), from every shard of ``folder``."""
    found: dict[str, tuple] = {}
    for path in sorted(folder.glob("*.npz")):
        if path.name.endswith(".tmp.npz"):
            continue  # what a killed run was writing (atomic_path's temporary names end so)
        with np.load(path) as f:
            has_stats = all(k in f.files for k in STATS)
            arrays = {k: f[k] for k in f.files}
        for j, key in enumerate(arrays["keys"].tolist()):
            if key in found and found[key][1] is not None:
                continue  # a row with its statistics wins over the same row without
            values = tuple(float(arrays[k][j]) for k in STATS) if has_stats else None
            found[key] = (arrays["embeddings"][j], values)
    return found if not token_stats else {k: v for k, v in found.items() if v[1] is not None}


def _write_shard(folder: Path, shard_keys: list, features: PoolFeatures, token_stats: bool) -> None:
    shard = {"keys": np.asarray(shard_keys, dtype="<U32"), "embeddings": features.embeddings}
    if token_stats:
        shard.update({k: getattr(features, k) for k in STATS})
    name = hashlib.sha256((",".join(shard["keys"].tolist()) + str(token_stats)).encode()).hexdigest()[:24]
    with atomic_path(folder / f"{name}.npz") as tmp:  # a killed run never leaves half a shard
        np.savez(tmp, **shard)


def cached_pool_features(model_spec: str, dataset, *, adapter: Optional[str] = None, dtype: Optional[str] = None,
                         batch_size: int = 16, max_length: int = 512, token_stats: bool = False,
                         cache_dir: Optional[str | os.PathLike] = None, keys: Optional[np.ndarray] = None,
                         share_prefixes: bool = True, execution=None) -> PoolFeatures:
    """:func:`pool_features` of ``model_spec`` (with ``adapter``), row by row from the on-disk cache:
    only rows this model (path, adapter weights, dtype, max_length) has not embedded before are
    computed, and then stored. ``keys``: the pool's :func:`row_keys`, when the caller has them.
    ``execution``: an :class:`~cookbook_datasets.executor.ExecutorConfig`; with ``executor="ray"``
    the rows are embedded on a Ray Data actor pool (:func:`ray_pool_features`), same values."""
    model_key = {"version": FEATURES_VERSION, "model": resolve_model_path(model_spec),
                 "adapter": _adapter_digest(adapter), "dtype": dtype, "max_length": max_length}
    digest = hashlib.sha256(json.dumps(model_key, sort_keys=True).encode()).hexdigest()[:32]
    folder = (Path(cache_dir) if cache_dir else cache_root() / "selection_features") / digest
    keys = (row_keys(dataset) if keys is None else np.asarray(keys, dtype="<U32")).tolist()
    if len(keys) != len(dataset):
        raise ValueError(f"keys has {len(keys)} entries but the pool has {len(dataset)} rows")
    found = _read_cache(folder, token_stats) if folder.exists() else {}
    todo, seen = [], set()  # one row per key: duplicates in the pool are embedded once
    for i, key in enumerate(keys):
        if key not in found and key not in seen:
            seen.add(key)
            todo.append(i)
    if todo and execution is not None and execution.uses_ray:
        logger.info("embedding %d of %d pool rows on Ray (the others are cached)", len(todo), len(keys))
        ray_pool_features(model_spec, dataset.select(todo), [keys[i] for i in todo], folder, found,
                          execution=execution, adapter=adapter, dtype=dtype, batch_size=batch_size,
                          max_length=max_length, token_stats=token_stats, share_prefixes=share_prefixes)
    elif todo:
        logger.info("embedding %d of %d pool rows (the others are cached)", len(todo), len(keys))
        model, tokenizer = load_for_features(model_spec, adapter=adapter, dtype=dtype)
        new = pool_features(model, tokenizer, dataset.select(todo), batch_size=batch_size, max_length=max_length,
                            token_stats=token_stats, share_prefixes=share_prefixes)
        del model
        _write_shard(folder, [keys[i] for i in todo], new, token_stats)
        for j, i in enumerate(todo):
            found[keys[i]] = (new.embeddings[j],
                              tuple(float(getattr(new, k)[j]) for k in STATS) if token_stats else None)
    else:
        logger.info("pool features of all %d rows from cache %s", len(keys), folder)
    rows = [found[key] for key in keys]
    features = PoolFeatures(embeddings=np.stack([r[0] for r in rows]).astype(np.float32))
    if token_stats:
        for j, k in enumerate(STATS):
            setattr(features, k, np.asarray([r[1][j] for r in rows], dtype=np.float32))
    return features


# ---------------------------------------------------------------- the same on a Ray Data actor pool

class EmbeddingReplica:
    """One model replica of :func:`ray_pool_features`: loads the model once, then embeds the units it
    is handed (pyarrow batches with ``index``, ``prefix_len``, ``rows``, ``ids``, ``starts``), one
    output row per pool row (``index``: the row; ``embedding``: ``list<float32>``; the token
    statistics; ``error``: why the row has no embedding). A unit that fails is reported, not raised."""

    def __init__(self, model_spec: str, adapter: Optional[str], dtype: Optional[str], batch_size: int,
                 max_batch_tokens: int, token_stats: bool):
        self.model, tokenizer = load_for_features(model_spec, adapter=adapter, dtype=dtype)
        self.pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
        self.options = {"batch_size": batch_size, "max_batch_tokens": max_batch_tokens, "token_stats": token_stats}

    def __call__(self, batch):
        import pyarrow as pa

        out = {"index": [], "embedding": [], "error": [], **{k: [] for k in STATS}}
        for unit in batch.to_pylist():
            encoded = {i: (ids, start) for i, ids, start in zip(unit["rows"], unit["ids"], unit["starts"])}
            try:
                results = embed_unit(self.model, self.pad, encoded, unit["prefix_len"], unit["rows"], **self.options)
                error = None
            except Exception as e:  # noqa: BLE001 - reported per row; the rest of the pool goes on
                logger.exception("embedding unit %d failed", unit["index"])
                results, error = {}, f"{type(e).__name__}: {e}"
            for i in unit["rows"]:
                embedding, values = results.get(i, (None, None))
                out["index"].append(i)
                out["embedding"].append(None if embedding is None else embedding.tolist())
                out["error"].append(error)
                for j, key in enumerate(STATS):
                    out[key].append(None if values is None else values[j])
        return pa.table({"index": pa.array(out["index"], pa.int64()),
                         "embedding": pa.array(out["embedding"], pa.list_(pa.float32())),
                         "error": pa.array(out["error"], pa.string()),
                         **{k: pa.array(out[k], pa.float32()) for k in STATS}})


def ray_pool_features(model_spec: str, dataset, keys: list, folder: Path, found: dict, *, execution,
                      adapter: Optional[str] = None, dtype: Optional[str] = None, batch_size: int = 16,
                      max_length: int = 512, token_stats: bool = False, share_prefixes: bool = True,
                      max_batch_tokens: int = 1024) -> None:
    """Embed ``dataset`` (rows keyed by ``keys``) on the Ray actor pool of ``execution``: the rows
    are tokenized and planned here (:func:`plan_units`, as :func:`pool_features` does), the units
    travel as Ray Data blocks to the replicas, and each finished block is stored in the cache
    ``folder`` (and ``found``) as it arrives, so a killed driver resumes from it. Rows that failed
    are reported together once every other row is stored."""
    import datasets

    from ..executor import ray_map
    from ..models import load_tokenizer

    _check_pool_args(dataset, batch_size=batch_size, max_length=max_length, max_batch_tokens=max_batch_tokens)
    execution.connect()  # a bad address or too small a cluster fails here, before any model loads
    tokenizer = load_tokenizer(adapter or model_spec)
    encoded = encode_rows(tokenizer, dataset, max_length)
    source, units = plan_units(encoded, batch_size=batch_size, max_batch_tokens=max_batch_tokens,
                               share_prefixes=share_prefixes)
    copies: dict[int, list[int]] = {}
    for i, j in enumerate(source):
        copies.setdefault(j, []).append(i)
    items = datasets.Dataset.from_dict({
        "index": list(range(len(units))), "prefix_len": [p for p, _ in units], "rows": [rows for _, rows in units],
        "ids": [[encoded[i][0] for i in rows] for _, rows in units],
        "starts": [[encoded[i][1] for i in rows] for _, rows in units]})
    replica = {"model_spec": model_spec, "adapter": adapter, "dtype": dtype, "batch_size": batch_size,
               "max_batch_tokens": max_batch_tokens, "token_stats": token_stats}
    failed: list[tuple[int, str]] = []
    done = 0
    progress = tqdm(total=len(encoded), desc="embedding pool (ray)", leave=False)
    for batch in ray_map(execution, items, EmbeddingReplica, replica):
        rows = [r for r in batch.to_pylist()]
        failed += [(r["index"], r["error"]) for r in rows if r["error"] is not None]
        rows = [r for r in rows if r["error"] is None]
        if rows:
            members = [(i, r) for r in rows for i in copies[r["index"]]]
            features = PoolFeatures(embeddings=np.asarray([r["embedding"] for _, r in members], dtype=np.float32))
            if token_stats:
                for key in STATS:
                    setattr(features, key, np.asarray([np.nan if r[key] is None else r[key] for _, r in members],
                                                      dtype=np.float32))
            _write_shard(folder, [keys[i] for i, _ in members], features, token_stats)
            for j, (i, r) in enumerate(members):
                found[keys[i]] = (features.embeddings[j],
                                  tuple(float(getattr(features, k)[j]) for k in STATS) if token_stats else None)
            done += len(members)
        progress.update(sum(len(copies[r["index"]]) for r in batch.to_pylist()))
    progress.close()
    if failed:
        lost = sum(len(copies[i]) for i, _ in failed)
        raise RuntimeError(f"{lost} of {len(encoded)} pool rows failed on the Ray executor (first: {failed[0][1]}); "
                           f"the {done} others are cached: run again to embed only the failed ones")
