"""Per-item randomness derived by hashing (seed, config, split, index).

Seeding an item as ``seed + index`` makes neighbouring seeds produce shifted copies of the same
data; hashing the whole tuple keeps seeds and splits disjoint and makes every item independent of
how the work is sharded across processes.
"""

from __future__ import annotations

import hashlib
import random


def stream_key(seed: int, config: str, split: str) -> bytes:
    """Key of one (seed, config, split) stream; items are drawn from it by index."""
    return hashlib.blake2b(f"{seed}\x00{config}\x00{split}".encode(), digest_size=16).digest()


def item_rng(key: bytes, index: int) -> random.Random:
    """The random generator of item ``index`` of the stream ``key``."""
    digest = hashlib.blake2b(index.to_bytes(8, "little"), key=key, digest_size=8).digest()
    return random.Random(int.from_bytes(digest, "little"))
