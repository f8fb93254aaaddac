"""Stage 2, input filters, in the paper's order: empty, length, noise, exact duplicates.

Each generated input gets a verdict: ``None`` when it passed every filter, else the name of the
filter that dropped it; the counts per filter go to the dataset card.
"""

from __future__ import annotations

import statistics
from typing import Optional

from .config import SelfGuideConfig

FILTERS = ("empty", "length", "noise", "duplicate")


def length_window(texts: list[str], config: SelfGuideConfig) -> Optional[tuple[float, float]]:
    """(low, high) in characters: the mean +- ``length_std`` standard deviations of ``texts``,
    widened to at least +- ``min_length_margin`` of the mean. None when the filter is off."""
    if config.length_std is None or not texts:
        return None
    lengths = [len(t) for t in texts]
    mean = statistics.fmean(lengths)
    spread = config.length_std * (statistics.pstdev(lengths) if len(lengths) > 1 else 0.0)
    spread = max(spread, config.min_length_margin * mean)
    return max(0.0, mean - spread), mean + spread


def is_noise(text: str, phrases) -> bool:
    lowered = text.lower()
    return any(p in lowered for p in phrases)


def verdict(text: str, window, config: SelfGuideConfig, seen: set) -> Optional[str]:
    """The first filter ``text`` fails, or None."""
    if not text.strip():
        return "empty"
    if window is not None and not window[0] <= len(text) <= window[1]:
        return "length"
    if is_noise(text, config.noise_phrases):
        return "noise"
    if " ".join(text.split()) in seen:
        return "duplicate"
    return None


def filter_inputs(candidates: list[dict], window, config: SelfGuideConfig, seen: set) -> tuple[list[dict], dict]:
    """Mark each candidate with its ``dropped_by`` verdict; return the kept ones and the counts.
    ``seen`` (normalised texts of the demonstrations and of inputs kept so far) grows with the kept ones."""
    counts = {"generated": len(candidates), **{f"dropped_{f}": 0 for f in FILTERS}}
    kept = []
    for cand in candidates:
        cand["dropped_by"] = verdict(cand["text"], window, config, seen)
        if cand["dropped_by"]:
            counts[f"dropped_{cand['dropped_by']}"] += 1
            continue
        seen.add(" ".join(cand["text"].split()))
        kept.append(cand)
    counts["kept"] = len(kept)
    return kept, counts
