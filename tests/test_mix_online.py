"""The online learned mixture: weight schedules the mixture builder replays, a stream a training run
reads while its weights change, the exponentiated-gradient mixer, and ``mix learn --method online``."""

import json

import numpy as np
import pytest

from cookbook_datasets import load_dataset
from cookbook_datasets.loading import load_builder
from cookbook_datasets.mixing.interleave import draws
from cookbook_datasets.mixing.live_mixture import LiveMixture
from cookbook_datasets.mixing.schedule import ScheduleMismatchError, WeightSchedule

TWO = {"nli": 1.0, "shared_words": 1.0}


def _train(schedule=None, weights=TWO, n=300, seed=3, cache_dir=None):
    return load_dataset("mixture", weights=weights, schedule=schedule, num_examples=n, seed=seed, split="train",
                        cache_dir=cache_dir)


# -- the schedule and the builder ------------------------------------------------------------------
def test_a_row_s_source_is_the_one_generator_choice_draws():
    for seed in range(10):
        rng = np.random.default_rng(100 + seed)
        p = rng.dirichlet(np.ones(int(rng.integers(1, 6))))
        mine = draws(p, seed, 2500)
        theirs = np.random.default_rng(seed)
        theirs = np.concatenate([theirs.choice(len(p), size=1000, p=p) for _ in range(3)])[:2500]
        assert (mine == theirs).all()


def test_a_one_entry_schedule_gives_the_rows_of_its_weights(cache_dir):
    plain = _train(weights={"nli": 3.0, "shared_words": 1.0}, cache_dir=cache_dir)
    scheduled = _train(schedule=[(0, {"nli": 3.0, "shared_words": 1.0})], cache_dir=cache_dir)
    assert scheduled["prompt"] == plain["prompt"] and scheduled["source"] == plain["source"]


def test_the_same_seed_and_schedule_give_the_same_rows_and_weights_change_where_it_says(cache_dir, tmp_path):
    schedule = WeightSchedule([(0, {"nli": 1.0, "shared_words": 0.0}), (100, {"nli": 0.0, "shared_words": 1.0}),
                               (200, {"nli": 1.0, "shared_words": 1.0})])
    path = schedule.save(tmp_path / "schedule.json")
    a = _train(schedule=str(path), cache_dir=cache_dir)
    b = _train(schedule=schedule.entries, cache_dir=str(tmp_path / "other_cache"))
    assert a["prompt"] == b["prompt"] and a["completion"] == b["completion"]
    assert set(a["source"][:100]) == {"nli"} and set(a["source"][100:200]) == {"shared_words"}
    assert set(a["source"][200:]) == {"nli", "shared_words"}
    # Rows before the first change are the plain weights' rows (a row depends on the weights at its row only).
    assert a["prompt"][:100] == _train(weights={"nli": 1.0}, n=100, cache_dir=cache_dir)["prompt"]


def test_a_schedule_by_step_starts_its_entries_at_step_times_rows_per_step():
    schedule = WeightSchedule.from_steps([(0, TWO), (5, {"nli": 2.0, "shared_words": 1.0})], rows_per_step=8)
    assert [s for s, _ in schedule.entries] == [0, 40] and schedule.weights_at(39) == TWO
    assert WeightSchedule.from_dict(json.loads(json.dumps(schedule.to_dict()))) == schedule


def test_a_schedule_from_another_mixture_is_refused_naming_the_difference(cache_dir):
    with pytest.raises(ScheduleMismatchError, match="sort_words.*the mixture's weights has shared_words"):
        _train(schedule=[(0, {"nli": 1.0, "sort_words": 1.0})], cache_dir=cache_dir)
    with pytest.raises(ValueError, match="in order"):
        WeightSchedule([(0, TWO), (50, TWO), (10, TWO)])
    with pytest.raises(ValueError, match="first entry starts at row 0"):
        WeightSchedule([(5, TWO)])


# -- the live stream -------------------------------------------------------------------------------
def test_the_live_stream_picks_up_new_weights_and_its_schedule_replays_it(cache_dir):
    builder = load_builder("mixture", "mixture", weights=TWO, num_examples=10, seed=3, cache_dir=cache_dir)
    live = LiveMixture(builder, chunk=8)
    stream = iter(live.dataset())
    rows = [next(stream) for _ in range(20)]
    start = live.set_weights({"nli": 0.0, "shared_words": 1.0}, step=2)
    assert start == 24  # the first row not yet drawn (three chunks of 8)
    rows += [next(stream) for _ in range(80)]
    assert live.counts(24, 100) == {"nli": 0, "shared_words": 76}
    replay = _train(schedule=live.schedule.to_dict(), n=100, cache_dir=cache_dir)
    assert replay["prompt"] == [r["prompt"] for r in rows] and replay["completion"] == [r["completion"] for r in rows]
    again = iter(live.dataset())  # a second reader (TRL peeks at the first row) sees the same rows
    assert [next(again)["prompt"] for _ in range(100)] == replay["prompt"]
