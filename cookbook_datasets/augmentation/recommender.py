"""Which strategy fits a budget ratio BR = Q / |S|: from the paper's switch points, or from pilot curves.

The paper (arXiv 2409.19759, METHODS.md §3) finds answer augmentation best at low BR and new
questions best at high BR, and reports where they cross: BR ≈ 27–51 with |S| = 100, ≈ 17.6 with
|S| = 1,000, ≈ 16.4 with the full GSM8K train set (7,473). Between those seed-set sizes the switch
point is interpolated linearly in log |S|; outside them it is extrapolated, held at the nearest
measured size's (the recommendation says which). Near the switch point (within
``band`` of it, in log BR) the budget is split between the two, moving linearly in log BR from
all answer augmentation to all new questions, since neither is clearly ahead there.

With pilot curves (scores the user measured at a few budgets per strategy), each strategy's score
is fitted as ``a + b·ln(Q)`` (least squares) and the recommender picks the highest predicted score
at ``Q``, and reports where the fitted curves cross.
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

# (|S|, switch BR, low, high): where new questions overtake answer augmentation in the paper
PAPER_SWITCH_POINTS = ((100, math.sqrt(27 * 51), 27.0, 51.0), (1000, 17.6, 17.6, 17.6), (7473, 16.4, 16.4, 16.4))


@dataclass
class Recommendation:
    budget: int
    seed_size: int
    strategy: str  # the strategy with the largest share
    split: dict  # strategy -> share of the budget (sums to 1)
    source: str  # "paper" or "pilot curves"
    reasons: list = field(default_factory=list)
    numbers: dict = field(default_factory=dict)

    @property
    def budget_ratio(self) -> float:
        return self.budget / self.seed_size

    def queries(self) -> dict:
        """The split as query counts (rounded down; the remainder to the main strategy)."""
        counts = {s: int(self.budget * share) for s, share in self.split.items()}
        counts[self.strategy] += self.budget - sum(counts.values())
        return {s: q for s, q in counts.items() if q}

    def to_dict(self) -> dict:
        return {"budget": self.budget, "seed_size": self.seed_size, "budget_ratio": round(self.budget_ratio, 3),
                "strategy": self.strategy, "split": self.split, "queries": self.queries(), "source": self.source,
                "reasons": self.reasons, "numbers": self.numbers}

    def format(self) -> str:
        split = ", ".join(f"{s} {share:.0%} ({self.queries().get(s, 0)} queries)" for s, share in self.split.items())
        lines = [f"Budget ratio BR = Q/|S| = {self.budget}/{self.seed_size} = {self.budget_ratio:.2f}",
                 f"Recommended: {split}", f"Why ({self.source}):"]
        return "\n".join(lines + [f"  - {r}" for r in self.reasons])


def paper_switch_point(seed_size: int) -> tuple[float, float, float]:
    """(switch BR, low, high) for a seed set of ``seed_size``, interpolated in log |S| between the
    paper's sizes, the nearest one's outside them (:func:`switch_point_basis` says which)."""
    points = PAPER_SWITCH_POINTS
    if seed_size <= points[0][0]:
        return points[0][1:]
    if seed_size >= points[-1][0]:
        return points[-1][1:]
    for (s0, *v0), (s1, *v1) in zip(points, points[1:]):
        if s0 <= seed_size <= s1:
            t = (math.log(seed_size) - math.log(s0)) / (math.log(s1) - math.log(s0))
            return tuple(a + t * (b - a) for a, b in zip(v0, v1))
    raise AssertionError("unreachable")


def switch_point_basis(seed_size: int) -> str:
    """How :func:`paper_switch_point` got the switch point for ``seed_size``, in words: measured (one of
    the paper's seed-set sizes), interpolated (between two of them) or extrapolated (outside them)."""
    sizes = [p[0] for p in PAPER_SWITCH_POINTS]
    if seed_size in sizes:
        return f"measured in the paper at |S| = {seed_size:,}"
    if seed_size < sizes[0]:
        return (f"extrapolated: |S| = {seed_size:,} is below the smallest measured seed set (|S| = {sizes[0]:,}), "
                f"so the |S| = {sizes[0]:,} values are used as they are")
    if seed_size > sizes[-1]:
        return (f"extrapolated: |S| = {seed_size:,} is above the largest measured seed set (|S| = {sizes[-1]:,}), "
                f"so the |S| = {sizes[-1]:,} values are used as they are")
    return "interpolated in log |S|"


def _check(seed_size: int, budget: int) -> None:
    for name, value in (("seed_size", seed_size), ("budget", budget)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be an integer >= 1 (got {value!r})")


def recommend_from_paper(seed_size: int, budget: int, band: float = 1.5) -> Recommendation:
    """Answer augmentation below the paper's switch point, new questions above, a split within ``band``
    (a factor on BR) of it."""
    _check(seed_size, budget)
    if not band >= 1:
        raise ValueError(f"band must be >= 1 (a factor on the budget ratio; got {band!r})")
    br = budget / seed_size
    switch, low, high = paper_switch_point(seed_size)
    lo, hi = min(low, switch / band), max(high, switch * band)
    if br <= lo:
        share = 0.0
    elif br >= hi:
        share = 1.0
    else:
        share = (math.log(br) - math.log(lo)) / (math.log(hi) - math.log(lo))
    share = round(share, 3)
    split = {s: v for s, v in (("answer_aug", round(1 - share, 3)), ("new_question", share)) if v > 0}
    main = max(split, key=split.get)
    where = ("the paper's switch points: BR ≈ 27–51 at |S| = 100, ≈ 17.6 at |S| = 1,000, ≈ 16.4 on the full set "
             "(GSM8K, Llama-3.1-70B teacher, Llama-2-7B student; ≈ 12 with a Mistral-7B student)")
    reasons = [f"switch point for |S| = {seed_size}: BR ≈ {switch:.1f} (range {low:.1f}–{high:.1f}), "
               f"{switch_point_basis(seed_size)}; from {where}"]
    if share == 0:
        reasons.append(f"BR = {br:.2f} is below {lo:.1f}: answer augmentation wins at low budget ratios "
                       "(more answers per seed question beat fewer, noisier new questions)")
    elif share == 1:
        reasons.append(f"BR = {br:.2f} is above {hi:.1f}: new questions win at high budget ratios and keep improving "
                       "where the other strategies plateau")
        reasons.append("a weak teacher hurts New Question (about -15% in the paper) but not Rephrase: with a weak "
                       "teacher consider rephrase instead")
    else:
        reasons.append(f"BR = {br:.2f} is within the band {lo:.1f}–{hi:.1f} around the switch point where neither "
                       f"is clearly ahead: {share:.0%} of the budget to new questions (linear in log BR across the band)")
    return Recommendation(budget=budget, seed_size=seed_size, strategy=main, split=split, source="paper",
                          reasons=reasons, numbers={"switch_br": round(switch, 2), "switch_range": [low, high],
                                                    "band": [round(lo, 2), round(hi, 2)], "budget_ratio": round(br, 3)})


# -- pilot curves ---------------------------------------------------------------------------------------
def load_curves(path: str | Path) -> dict:
    """``{strategy: [(budget, score), ...]}`` from a directory (or a file) of CSV (``strategy,budget,score``)
    or JSON (``{strategy: {budget: score}}`` or ``[{strategy, budget, score}, ...]``) files."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"pilot curves {path} do not exist")
    files = sorted(p for p in path.iterdir() if p.suffix in (".csv", ".json")) if path.is_dir() else [path]
    if not files:
        raise ValueError(f"{path} holds no .csv or .json pilot curves")
    curves: dict = {}

    def add(record, where):
        missing = [k for k in ("strategy", "budget", "score") if k not in record or record[k] in (None, "")]
        if missing:
            raise ValueError(f"{where}: no {missing[0]!r} field (a pilot point needs strategy, budget, score)")
        try:
            budget, score = float(record["budget"]), float(record["score"])
        except (TypeError, ValueError):
            raise ValueError(f"{where}: budget and score must be numbers (got {record['budget']!r}, "
                             f"{record['score']!r})") from None
        if budget <= 0:
            raise ValueError(f"{where}: budget must be > 0 (got {budget})")
        curves.setdefault(str(record["strategy"]), []).append((budget, score))

    for f in files:
        if f.suffix == ".csv":
            with open(f, newline="") as handle:
                for i, record in enumerate(csv.DictReader(handle), 2):
                    add(record, f"{f}, line {i}")
        else:
            data = json.loads(f.read_text())
            if isinstance(data, dict):
                for strategy, points in data.items():
                    if not isinstance(points, dict):
                        raise ValueError(f"{f}: {strategy!r} must map budget -> score (got {type(points).__name__})")
                    for budget, score in points.items():
                        add({"strategy": strategy, "budget": budget, "score": score}, f"{f}, {strategy}")
            elif isinstance(data, list):
                for i, record in enumerate(data):
                    add(record if isinstance(record, dict) else {}, f"{f}, record {i}")
            else:
                raise ValueError(f"{f}: expected {{strategy: {{budget: score}}}} or a list of records")
    return {s: sorted(points) for s, points in curves.items()}


def fit_log_curve(points: list) -> tuple[float, float]:
    """(a, b) of score ≈ a + b·ln(budget), least squares."""
    xs = [math.log(b) for b, _ in points]
    ys = [s for _, s in points]
    if len(set(xs)) < 2:
        raise ValueError("a curve needs scores at two or more different budgets to fit")
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    b = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)
    return my - b * mx, b


def crossing(fit1: tuple, fit2: tuple) -> Optional[float]:
    """The budget where two fitted curves meet, or None when they are parallel."""
    (a1, b1), (a2, b2) = fit1, fit2
    if abs(b1 - b2) < 1e-12:
        return None
    return math.exp((a1 - a2) / (b2 - b1))


def recommend_from_curves(seed_size: int, budget: int, curves: dict) -> Recommendation:
    _check(seed_size, budget)
    fits, reasons = {}, []
    for strategy, points in curves.items():
        try:
            fits[strategy] = fit_log_curve(points)
        except ValueError as e:
            reasons.append(f"{strategy}: not fitted ({e})")
    if not fits:
        raise ValueError("no pilot curve could be fitted: each strategy needs scores at two or more budgets")
    x = math.log(budget)
    predicted = {s: a + b * x for s, (a, b) in fits.items()}
    best = max(predicted, key=predicted.get)
    for s, (a, b) in fits.items():
        budgets = [p[0] for p in curves[s]]
        reasons.append(f"{s}: score ≈ {a:.4f} + {b:.4f}·ln(Q) from {len(curves[s])} points (Q {min(budgets):g}–"
                       f"{max(budgets):g}); predicted {predicted[s]:.4f} at Q = {budget}")
    crossings = {}
    names = sorted(fits)
    for i, s1 in enumerate(names):
        for s2 in names[i + 1:]:
            q = crossing(fits[s1], fits[s2])
            if q is None:
                reasons.append(f"{s1} and {s2} do not cross (parallel fits)")
                continue
            ahead = s1 if fits[s1][1] > fits[s2][1] else s2
            crossings[f"{s1}|{s2}"] = {"budget": round(q, 2), "budget_ratio": round(q / seed_size, 3),
                                       "ahead_above": ahead}
            reasons.append(f"{s1} and {s2} cross at Q ≈ {q:.1f} (BR ≈ {q / seed_size:.2f}); above it {ahead} is ahead")
    span = [p[0] for pts in curves.values() for p in pts]
    if not min(span) <= budget <= max(span):
        reasons.append(f"Q = {budget} is outside the pilot budgets ({min(span):g}–{max(span):g}): an extrapolation")
    reasons.append(f"highest predicted score at Q = {budget}: {best}")
    return Recommendation(budget=budget, seed_size=seed_size, strategy=best, split={best: 1.0}, source="pilot curves",
                          reasons=reasons, numbers={"fits": {s: {"a": round(a, 6), "b": round(b, 6)}
                                                             for s, (a, b) in fits.items()},
                                                    "predicted": {s: round(v, 6) for s, v in predicted.items()},
                                                    "crossings": crossings})


def recommend(seed_size: int, budget: int, curves: Optional[str | Path | dict] = None) -> Recommendation:
    """The strategy (or split) for ``budget`` queries over ``seed_size`` seeds: from pilot ``curves``
    (a directory, a file or ``{strategy: [(budget, score), ...]}``) when given, else the paper's switch points."""
    if curves is None:
        return recommend_from_paper(seed_size, budget)
    if not isinstance(curves, dict):
        curves = load_curves(curves)
    return recommend_from_curves(seed_size, budget, curves)
