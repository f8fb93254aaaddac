"""Standard errors and paired-bootstrap intervals (eval/stats.py)."""

import math

import numpy as np
import pytest

from cookbook_datasets.eval.stats import mean_stderr, paired_bootstrap, task_average_bootstrap, task_average_stderr


def test_stderr_matches_a_direct_computation():
    scores = [1, 0, 1, 1, 0, 0, 1, 1, 1, 0]
    n = len(scores)
    mean = sum(scores) / n
    direct = math.sqrt(sum((x - mean) ** 2 for x in scores) / (n - 1)) / math.sqrt(n)
    assert mean_stderr(scores) == pytest.approx(direct)
    # binary rows: sqrt(p (1 - p) / n) up to the n / (n - 1) correction; 50 rows at p = 0.5 is about 7 points
    assert mean_stderr([1, 0] * 25) == pytest.approx(math.sqrt(0.25 / 50 * 50 / 49))
    assert mean_stderr([0.7]) == 0.0


def test_a_constant_shift_on_every_row_has_a_zero_width_interval():
    a = np.random.default_rng(0).integers(0, 5, size=200).astype(float)
    d = paired_bootstrap(a, a + 1)
    assert (d.mean, d.low, d.high) == (1.0, 1.0, 1.0)
    assert d.excludes_zero and d.verdict == "higher" and d.n == 200


def test_a_shift_on_half_the_rows_is_found_and_bracketed():
    a = np.zeros(400)
    b = a.copy()
    b[::2] = 1.0  # half the rows gain one point: mean difference 0.5, per-row sd 0.5
    d = paired_bootstrap(a, b, seed=3)
    assert d.mean == 0.5
    half_width = 1.96 * 0.5 / math.sqrt(400)  # the normal approximation of the 95% interval
    assert d.low == pytest.approx(0.5 - half_width, abs=0.01) and d.high == pytest.approx(0.5 + half_width, abs=0.01)
    assert d.excludes_zero


def test_a_zero_mean_difference_holds_zero():
    rng = np.random.default_rng(1)
    a = rng.random(300)
    noise = rng.normal(0, 0.2, size=150)
    b = a + np.concatenate([noise, -noise])  # differences sum to exactly zero
    d = paired_bootstrap(a, b)
    assert d.mean == pytest.approx(0.0, abs=1e-12)
    assert d.low < 0 < d.high and not d.excludes_zero and d.verdict == "no difference"
    assert paired_bootstrap(b, a).verdict == "no difference"


def test_a_worse_arm_is_lower():
    a = np.ones(50)
    assert paired_bootstrap(a, a - 0.25).verdict == "lower"


def test_bootstrap_is_seeded():
    rng = np.random.default_rng(2)
    a, b = rng.random(80), rng.random(80)
    assert paired_bootstrap(a, b, seed=5) == paired_bootstrap(a, b, seed=5)
    assert paired_bootstrap(a, b, seed=5).low != paired_bootstrap(a, b, seed=6).low


def test_bad_inputs_say_what_is_wrong():
    with pytest.raises(ValueError, match="one length"):
        paired_bootstrap([1, 2], [1, 2, 3])
    with pytest.raises(ValueError, match="empty"):
        paired_bootstrap([], [])
    with pytest.raises(ValueError, match="level"):
        paired_bootstrap([1], [1], level=95)
    with pytest.raises(ValueError, match="num_resamples"):
        paired_bootstrap([1], [1], num_resamples=0)


def test_task_average_weighs_tasks_equally_and_resamples_within_each():
    # task 1: 10 rows, +1 each; task 2: 1000 rows, no change. The task average is 0.5, not 10/1010.
    t1 = (np.zeros(10), np.ones(10))
    t2 = (np.zeros(1000), np.zeros(1000))
    d = task_average_bootstrap([t1, t2])
    assert (d.mean, d.low, d.high, d.n) == (0.5, 0.5, 0.5, 1010)  # every resample keeps each task's constant shift


def test_task_average_interval_matches_its_normal_approximation():
    rng = np.random.default_rng(4)
    pairs, ses = [], []
    for n in (100, 300):
        a = rng.integers(0, 2, size=n).astype(float)
        b = np.where(rng.random(n) < 0.3, 1 - a, a)  # 30% of rows flip
        pairs.append((a, b))
        ses.append(mean_stderr(b - a))
    d = task_average_bootstrap(pairs, seed=0)
    se = task_average_stderr(ses)
    assert se == pytest.approx(math.sqrt(ses[0] ** 2 + ses[1] ** 2) / 2)
    assert d.high - d.low == pytest.approx(2 * 1.96 * se, rel=0.1)
    assert d.low < d.mean < d.high


def test_task_average_needs_tasks_of_matching_rows():
    with pytest.raises(ValueError, match="task 1"):
        task_average_bootstrap([([1.0], [1.0]), ([1.0, 0.0], [1.0])])
    with pytest.raises(ValueError, match="at least one task"):
        task_average_bootstrap([])
