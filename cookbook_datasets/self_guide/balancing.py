"""Stage 4, class balancing (classification): down-sample every label to the rarest label's count,
so the tuned model does not learn the synthetic data's label skew."""

from __future__ import annotations

from collections import defaultdict

import numpy as np


def balance_classes(rows: list[dict], seed: int = 0, per_label: int | None = None) -> tuple[list[dict], dict]:
    """Rows with an equal number per label (the labels that occur, at most ``per_label`` each),
    in their original order."""
    by_label = defaultdict(list)
    for i, row in enumerate(rows):
        by_label[row["label"]].append(i)
    counts = {"before": len(rows), "per_label_before": {k: len(v) for k, v in sorted(by_label.items())}}
    if not rows:
        counts.update(after=len(rows), per_label_after=counts["per_label_before"])
        return rows, counts
    smallest = min(min(len(v) for v in by_label.values()), per_label or len(rows))
    rng = np.random.default_rng(np.random.SeedSequence([seed, 4]))
    keep = sorted(int(i) for idx in by_label.values() for i in rng.choice(idx, size=smallest, replace=False))
    balanced = [rows[i] for i in keep]
    counts.update(after=len(balanced), per_label_after={k: smallest for k in sorted(by_label)})
    return balanced, counts
