"""Per-item randomness derived by hashing (seed, config, split, index).

``stream_key`` hashes (seed, config, split); templates/columns.py derives each item's key from it
and the item's index.

Seeding an item as ``seed + index`` makes neighbouring seeds produce shifted copies of the same
data; hashing the whole tuple keeps seeds and splits disjoint and makes every item independent of
how the work is sharded across processes.
"""

from __future__ import annotations

import hashlib


def stream_key(seed: int, config: str, split: str) -> bytes:
    """Key of one (seed, config, split) stream (16 bytes); items are drawn from it by index."""
    return hashlib.blake2b(f"{seed}\x00{config}\x00{split}".encode(), digest_size=16).digest()
