"""Subset selection: K-center, the baselines, pool features, diversity figures."""

import numpy as np
import pytest

from cookbook_datasets.selection import (
    STRATEGIES, PoolFeatures, cached_pool_features, covering_radius, get_strategy, kcenter_greedy, naive_kcenter,
    pool_features, vendi_score,
)


def _rows(n, with_completion=True):
    import datasets

    rows = []
    for i in range(n):
        row = {"prompt": [{"role": "user", "content": f"item {i} " + "word " * (i % 5)}],
               "source": "toy", "meta": "{}"}
        if with_completion:
            row["completion"] = [{"role": "assistant", "content": f"answer {i % 3}"}]
        rows.append(row)
    return datasets.Dataset.from_list(rows)


# -- K-center --------------------------------------------------------------------------------
@pytest.mark.parametrize("n,d,k,block", [(300, 8, 60, 1), (300, 8, 60, 5), (500, 32, 120, 64), (120, 3, 110, 16)])
def test_kcenter_picks_exactly_what_the_full_distance_matrix_picks(n, d, k, block):
    rng = np.random.default_rng(n + d)
    x = rng.normal(size=(n, d)).astype(np.float32)
    selected = rng.choice(n, 7, replace=False).tolist()
    fast = kcenter_greedy(x, k, selected, block_size=block)
    assert fast.tolist() == naive_kcenter(x, k, selected).tolist()
    assert not set(fast) & set(selected) and len(set(fast)) == k


def test_kcenter_breaks_ties_by_the_lowest_index():
    grid = np.stack(np.meshgrid(np.arange(5), np.arange(5)), -1).reshape(-1, 2).astype(np.float32)
    picks = kcenter_greedy(grid, 12, block_size=3)
    assert picks.tolist() == naive_kcenter(grid, 12).tolist()
    assert picks[0] == 0  # the four corners are equally far from the mean: the first one wins


def test_kcenter_without_a_start_begins_farthest_from_the_mean():
    x = np.array([[0, 0], [1, 0], [0, 1], [10, 10], [1, 1]], dtype=np.float32)
    assert kcenter_greedy(x, 1)[0] == 3


def test_kcenter_covers_better_than_random_rows():
    x = np.random.default_rng(0).normal(size=(400, 4)).astype(np.float32)
    kc = kcenter_greedy(x, 30, [0])
    rand = get_strategy("random", seed=1).select(30, pool_size=400, selected=[0])
    assert covering_radius(x, [0, *kc]) < covering_radius(x, [0, *rand])


def test_k_larger_than_what_is_left_is_an_error_that_says_so():
    x = np.zeros((10, 2), dtype=np.float32)
    with pytest.raises(ValueError, match="k=9 is larger than the 8 unselected rows"):
        kcenter_greedy(x, 9, [0, 1])
    with pytest.raises(ValueError, match="pool is empty"):
        get_strategy("random").select(1, pool_size=0)


# -- baselines --------------------------------------------------------------------------------
def test_random_selection_is_a_function_of_seed_and_selected_rows():
    s = get_strategy("random", seed=3)
    a = s.select(5, pool_size=50, selected=[1, 2])
    assert a.tolist() == get_strategy("random", seed=3).select(5, pool_size=50, selected=[2, 1]).tolist()
    assert a.tolist() != get_strategy("random", seed=4).select(5, pool_size=50, selected=[1, 2]).tolist()
    assert not {1, 2} & set(a.tolist())


def test_uncertainty_baselines_take_the_least_certain_unselected_rows():
    f = PoolFeatures(max_prob=np.array([0.9, 0.2, 0.5, 0.1, np.nan], dtype=np.float32),
                     margin=np.array([0.5, 0.4, 0.01, 0.3, 0.2], dtype=np.float32),
                     entropy=np.array([0.1, 3.0, 2.0, 0.5, 1.0], dtype=np.float32))
    assert get_strategy("least_confidence").select(2, pool_size=5, selected=[3], features=f).tolist() == [1, 2]
    assert get_strategy("margin").select(2, pool_size=5, features=f).tolist() == [2, 4]
    assert get_strategy("entropy").select(2, pool_size=5, selected=[1], features=f).tolist() == [2, 4]
    # a row without a score (no response token) comes last
    assert get_strategy("least_confidence").select(5, pool_size=5, features=f).tolist()[-1] == 4


def test_strategies_say_what_they_need():
    with pytest.raises(ValueError, match="needs the pool's embeddings"):
        get_strategy("kcenter").select(1, pool_size=3)
    with pytest.raises(ValueError, match="needs the pool's entropy"):
        get_strategy("entropy").select(1, pool_size=3, features=PoolFeatures())


def test_an_unknown_strategy_lists_the_valid_ones():
    with pytest.raises(ValueError, match=r"did you mean 'kcenter'.*valid strategies: \['entropy', 'kcenter'"):
        get_strategy("k-center")
    assert set(STRATEGIES) == {"kcenter", "random", "least_confidence", "margin", "entropy"}


# -- diversity --------------------------------------------------------------------------------
def test_vendi_score_counts_effectively_distinct_rows():
    assert vendi_score(np.ones((4, 3))) == pytest.approx(1.0)
    assert vendi_score(np.eye(4)) == pytest.approx(4.0)


def test_covering_radius_is_the_farthest_distance_to_the_subset():
    x = np.array([[0, 0], [3, 4], [0, 1]], dtype=np.float32)
    assert covering_radius(x, [0]) == pytest.approx(5.0)
    assert covering_radius(x, [0, 1]) == pytest.approx(1.0)


# -- pool features ----------------------------------------------------------------------------
def test_pool_features_embed_each_row_as_it_reads_alone(tiny_model):
    model, tokenizer = tiny_model
    ds = _rows(6)
    together = pool_features(model, tokenizer, ds, batch_size=4)
    alone = pool_features(model, tokenizer, ds.select([5]), batch_size=1)
    assert together.embeddings.shape == (6, model.config.hidden_size)
    np.testing.assert_allclose(together.embeddings[5], alone.embeddings[0], rtol=1e-4, atol=1e-5)
    assert np.all((together.max_prob > 0) & (together.max_prob <= 1))
    assert np.all(together.margin <= together.max_prob) and np.all(together.entropy > 0)


def test_pool_features_are_cached_per_model_and_data(tiny_model, tmp_path, monkeypatch):
    import cookbook_datasets.selection.embeddings as emb

    ds = _rows(5)
    first = cached_pool_features("tiny-random", ds, cache_dir=tmp_path, token_stats=False)
    def recompute(*args, **kwargs):
        raise RuntimeError("the features were recomputed")

    monkeypatch.setattr(emb, "load_model", recompute)
    again = cached_pool_features("tiny-random", ds, cache_dir=tmp_path, token_stats=False)
    np.testing.assert_array_equal(first.embeddings, again.embeddings)
    with pytest.raises(RuntimeError, match="recomputed"):  # other data: another cache entry
        cached_pool_features("tiny-random", _rows(6), cache_dir=tmp_path, token_stats=False)


def test_a_pool_without_completions_is_named(tiny_model):
    model, tokenizer = tiny_model
    with pytest.raises(ValueError, match="has no column 'completion'"):
        pool_features(model, tokenizer, _rows(3, with_completion=False))


@pytest.mark.slow
def test_default_model_embeddings_put_rows_of_one_task_together(default_model, shared_data):
    import json
    import os

    import datasets

    model, tokenizer = default_model
    names = ["task190_snli_classification.json", "task1557_jfleg_answer_generation.json",
             "task036_qasc_topic_word_to_generate_related_fact.json"]
    rows = []
    for name in names:
        task = json.load(open(os.path.join(shared_data, "niv2", "dev", name)))
        for inst in task["Instances"][:6]:
            rows.append({"prompt": [{"role": "system", "content": task["Definition"][0]},
                                    {"role": "user", "content": inst["input"]}],
                         "completion": [{"role": "assistant", "content": inst["output"][0]}], "task": name})
    ds = datasets.Dataset.from_list(rows)
    features = pool_features(model, tokenizer, ds, batch_size=8)
    e = features.embeddings
    assert e.shape == (18, 576)
    distances = ((e[:, None] - e[None]) ** 2).sum(-1)
    np.fill_diagonal(distances, np.inf)
    nearest = distances.argmin(1)
    same_task = np.mean([rows[i]["task"] == rows[j]["task"] for i, j in enumerate(nearest)])
    assert same_task >= 0.9
