"""``--method auto``: pick the arm among ``rules``, ``proxy``, ``online``, ``uniform`` and
``best-single`` on the fit rows alone, so the headline arm is chosen before any scored row is seen.

**The rule.** Each task's fit rows are split once (seeded by the run's seed and the task's name)
into a *learn* half and a *judge* half. Every candidate method learns its weights from the learn
half only (rule signals, proxy runs scored there, the online run's task losses measured there),
and each task's protecting component keeps its floor (protect.py). Each candidate's mixture is then
judged on the judge half:

- with the model (``use_model``): a proxy fine-tune of that mixture (the proxy budget:
  ``proxy_steps`` steps on ``proxy_rows`` rows, the same for every candidate, cached by recipe, so
  best-single's and uniform's runs are the proxy runs themselves) answers the judge rows;
  objective = the mean gain over the untuned model minus ``penalty`` (default 2) times the sum of
  the tasks' losses below it, i.e. the ``proxy`` method's own objective, measured instead of
  predicted, on rows no candidate learned from;
- without the model: only ``rules`` and ``uniform`` can be learned; objective = the mean over
  tasks of the mixture's rule helpfulness (accuracy above chance times coverage, signals.py)
  measured on the judge half.

The best objective wins; ties go to the simpler method (``uniform``, ``rules``, ``best-single``,
``proxy``, ``online``, in that order). The chosen method then learns its final weights on all the
fit rows (its proxy runs are reused; the online run is the one made on the learn half). ``mix.json``
records the candidates' weights, their judge-half scores and objectives, the rows of each half,
the chosen method and why (``auto``); ``report.md`` says the same in words.

Through the method interface (base.py): ``training = "methods"``; ``train`` gets all it needs from
the learner (the fit rows, the model's answers, each candidate learned on the learn half through
``learner.part(...).learn``, proxy fine-tunes of their mixtures), and ``fit`` returns the chosen
method's weights.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Optional, Sequence

import numpy as np

from cookbook_datasets.eval.agreement import score

from ..signals import MixSignals, measure_rules
from .base import Learned, Learner, MixingMethod

logger = logging.getLogger(__name__)

CANDIDATES = ("uniform", "rules", "best-single", "proxy", "online")  # also the tie-break order: simpler first
JUDGE_SHARE = 0.5  # the judge half's share of each task's fit rows (also where mix learn's guard judges, learn.py)
MIN_SPLIT_ROWS = 4  # fit rows a task needs to be split: at least 2 to learn on and 2 to judge on
RULE = ("each candidate learns on one half of every task's fit rows and is judged on the other half: with the "
        "model, a proxy fine-tune of its mixture is scored there (mean gain over the untuned model minus "
        "penalty x the losses below it); without it, its mixture's rule helpfulness there; the best wins, "
        "ties to the simpler method")


class Auto(MixingMethod):
    """Chooses a method on held-out fit rows (see the module doc): ``train`` chooses, ``fit`` returns
    the chosen method's weights."""

    name = "auto"
    training = "methods"

    def __init__(self, candidates: Sequence[str] | str = CANDIDATES, judge_share: float = JUDGE_SHARE,
                 penalty: float = 2.0):
        if isinstance(candidates, str):
            candidates = [c.strip() for c in candidates.split(",") if c.strip()]
        unknown = [c for c in candidates if c not in CANDIDATES]
        if unknown or not candidates:
            raise ValueError(f"auto: unknown candidate {unknown[0] if unknown else None!r}; candidates are "
                             f"{', '.join(CANDIDATES)} (a comma-separated list)")
        if not 0 < judge_share < 1:
            raise ValueError(f"auto: judge_share must be in (0, 1) (got {judge_share!r})")
        if not penalty >= 0:
            raise ValueError(f"auto: penalty must be >= 0 (got {penalty!r})")
        self.candidates = [c for c in CANDIDATES if c in candidates]
        self.judge_share, self.penalty = float(judge_share), float(penalty)
        self.chosen: Optional[Learned] = None  # the chosen method learned on all the learner's rows (``train``)

    def train(self, signals: MixSignals, learner: Learner) -> MixSignals:
        """Learn every candidate on the learn half, judge it on the judge half, learn the best on all
        the rows; returns the signals the chosen method read."""
        candidates = [c for c in self.candidates if learner.use_model or not learner.method(c).fine_tunes()]
        if not candidates:
            raise ValueError(f"auto: none of the candidates {self.candidates} can be learned without the model "
                             "(use_model=False leaves rules and uniform)")
        fit = learner.rows
        learn_idx, judge_idx = split_fit_rows(fit, learner.seed, self.judge_share)
        learn_rows = {t: fit[t].take(learn_idx[t]) for t in fit}
        judge_rows = {t: fit[t].take(judge_idx[t]) for t in fit}
        on_learn = signals.replace(runs=[], rule_accuracy={}, coverage={}, chance={}, estimated={})
        measure_rules(on_learn, learn_rows, use_labels=learner.use_labels)
        on_judge = signals.replace(runs=[], rule_accuracy={}, coverage={}, chance={}, estimated={})
        measure_rules(on_judge, judge_rows, use_labels=learner.use_labels)
        base_judge = {}
        if learner.use_model:
            base = learner.base_answers()
            on_learn.base_scores = {t: score(learn_rows[t], [base[t][i] for i in learn_idx[t]]) for t in fit}
            base_judge = {t: score(judge_rows[t], [base[t][i] for i in judge_idx[t]]) for t in fit}

        on_learn_half = learner.part(learn_idx, "auto")  # its online run: <out>/auto/online
        learned, scores, objectives = {}, {}, {}
        for name in candidates:
            learned[name] = on_learn_half.learn(learner.method(name), on_learn)
            weights = learned[name].weights
            if learner.use_model:
                answers = learner.proxy_answers(weights, signals.components)
                scores[name] = {t: score(judge_rows[t], [answers[t][i] for i in judge_idx[t]]) for t in fit}
                objectives[name] = objective(scores[name], base_judge, self.penalty)
            else:
                help_ = on_judge.helpfulness()
                scores[name] = {t: float(sum(w * help_.get(c, {}).get(t, 0.0) for c, w in weights.items()))
                                for t in fit}
                objectives[name] = float(np.mean(list(scores[name].values())))
            logger.info("auto: %s scores %.4f on the judge half", name, objectives[name])
        best = max(objectives.values())
        chosen = next(c for c in candidates if objectives[c] >= best - 1e-12)  # ties: the simpler method
        # the online run (on the learn half) is the method's one run: not redone on all the rows
        self.chosen = learned["online"] if chosen == "online" else learner.learn(learner.method(chosen), signals)
        others = ", ".join(f"{c} {objectives[c]:+.4f}" for c in candidates if c != chosen)
        how = "a proxy fine-tune's score" if learner.use_model else "rule helpfulness"
        self._explanation = {
            "auto": {"chosen": chosen, "rule": RULE, "judged_by": how, "objectives": objectives,
                     "judge_scores": scores, "base_judge_scores": base_judge,
                     "candidate_weights": {n: x.weights for n, x in learned.items()},
                     "candidates": candidates, "penalty": self.penalty,
                     "learn_rows": {t: [fit[t].ids[i] for i in learn_idx[t]] for t in fit},
                     "judge_rows": {t: [fit[t].ids[i] for i in judge_idx[t]] for t in fit},
                     "why": f"{chosen} has the best objective on the judge half of the fit rows ({how}): "
                            f"{objectives[chosen]:+.4f}" + (f" vs {others}" if others else "")},
            "chosen_explanation": self.chosen.method.explain(),
        }
        return self.chosen.signals

    def fit(self, signals: MixSignals) -> dict:
        if self.chosen is None:
            raise ValueError("auto chooses its method in train(signals, learner) before fit: run it through mix "
                             "learn (learn(MixLearnConfig(..., method='auto')) or `cookbook mix learn --method auto`)")
        return dict(self.chosen.raw)

    def params(self) -> dict:
        return {"candidates": list(self.candidates), "judge_share": self.judge_share, "penalty": self.penalty}


def split_fit_rows(fit: dict, seed: int, judge_share: float = JUDGE_SHARE) -> tuple[dict, dict]:
    """task -> (learn indices, judge indices) into its fit rows: a seeded split per task (by the run's
    seed and the task's name, so a task's halves do not depend on the other tasks)."""
    learn, judge = {}, {}
    for task, rows in fit.items():
        n = len(rows)
        if n < MIN_SPLIT_ROWS:
            raise ValueError(f"auto needs at least 4 fit rows a task to learn on some and judge on others "
                             f"({task} has {n}); raise fit_size")
        salt = int(hashlib.sha256(task.encode()).hexdigest()[:8], 16)
        order = np.random.default_rng(np.random.SeedSequence([seed, salt])).permutation(n)
        k = min(n - 2, max(2, int(round(n * judge_share))))
        judge[task] = sorted(int(i) for i in order[:k])
        learn[task] = sorted(int(i) for i in order[k:])
    return learn, judge


def objective(scores: dict, base: dict, penalty: float) -> float:
    gain = np.array([scores[t] - base[t] for t in scores])
    return float(gain.mean() - penalty * np.clip(-gain, 0, None).sum())
