"""Subset selection: K-center, the baselines, pool features, diversity figures."""

import json

import numpy as np
import pytest

from cookbook_datasets.selection import (
    STRATEGIES, PoolFeatures, allocate, cached_pool_features, covering_radius, get_strategy, kcenter_greedy,
    naive_kcenter, pool_features, to_space, vendi_score,
)
from cookbook_datasets.selection.embeddings import prefix_groups


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


def _farthest_first(x, k, selected=(), groups=None, quotas=None):
    """The plain O(n*k) loop, in float64: after each pick every row's distance to its nearest selected
    row; the next pick is the farthest row among those whose group still has quota (ties: lowest index)."""
    x = np.asarray(x, dtype=np.float64)
    chosen, picks = list(selected), []
    left = None if groups is None else np.array(quotas)
    groups = np.zeros(len(x), dtype=int) if groups is None else np.asarray(groups)

    def take(i):
        chosen.append(i)
        picks.append(i)
        if left is not None:
            left[groups[i]] -= 1

    def eligible():
        ok = np.ones(len(x), dtype=bool)
        ok[chosen] = False
        return ok if left is None else ok & (left[groups] > 0)

    if not chosen:
        score = np.where(eligible(), ((x - x.mean(0)) ** 2).sum(1), -np.inf)
        take(int(np.argmax(score)))
    nearest = np.min([((x - x[c]) ** 2).sum(1) for c in chosen], axis=0)
    while len(picks) < k:
        best = int(np.argmax(np.where(eligible(), nearest, -np.inf)))
        take(best)
        nearest = np.minimum(nearest, ((x - x[best]) ** 2).sum(1))
    return picks


def _balanced(x, k, sources, selected=(), **params):
    f = PoolFeatures(embeddings=x, sources=np.asarray(sources, dtype=object))
    return get_strategy("kcenter_balanced", **params).select(k, pool_size=len(x), selected=selected, features=f)


@pytest.mark.parametrize("n,d,k,block,n_selected", [(300, 8, 60, 1, 7), (300, 8, 60, 16, 0), (200, 3, 150, 8, 5)])
def test_kcenter_picks_what_the_plain_loop_picks(n, d, k, block, n_selected):
    rng = np.random.default_rng(10 * n + d)
    x = rng.normal(size=(n, d)).astype(np.float32)
    selected = rng.choice(n, n_selected, replace=False).tolist()
    assert kcenter_greedy(x, k, selected, block_size=block).tolist() == _farthest_first(x, k, selected)


@pytest.mark.parametrize("allocation", ["proportional", "equal"])
@pytest.mark.parametrize("n_selected,block", [(0, 512), (9, 1), (9, 4)])
def test_balanced_kcenter_picks_what_the_plain_loop_picks_under_the_same_quotas(allocation, n_selected, block):
    rng = np.random.default_rng(n_selected + block)
    sizes = [150, 90, 40, 20]
    sources = np.repeat(["long", "mid", "short", "tiny"], sizes)
    # a far-spread source next to tight ones: what plain K-center over-picks
    x = np.concatenate([rng.normal(scale=s, size=(m, 6)) for s, m in zip([5, 1, 0.5, 0.2], sizes)]).astype(np.float32)
    selected = rng.choice(len(x), n_selected, replace=False).tolist()
    picks = _balanced(x, 40, sources, selected, allocation=allocation, block_size=block)
    _, groups = np.unique(sources, return_inverse=True)
    quotas = allocate(np.bincount(groups), np.bincount(groups[selected], minlength=4), 40, allocation)
    assert picks.tolist() == _farthest_first(x, 40, selected, groups, quotas)
    assert np.bincount(groups[picks], minlength=4).tolist() == quotas.tolist()


def test_balanced_kcenter_reaches_every_source_where_kcenter_does_not():
    rng = np.random.default_rng(0)
    sources = np.repeat(["far", "near_a", "near_b"], [100, 100, 100])
    x = np.concatenate([rng.normal(scale=20, size=(100, 4)), rng.normal(size=(100, 4)),
                        rng.normal(size=(100, 4)) + 3]).astype(np.float32)
    plain = get_strategy("kcenter").select(30, pool_size=300, features=PoolFeatures(embeddings=x))
    assert (sources[plain] == "far").sum() >= 29 and "near_b" not in set(sources[plain])
    balanced = _balanced(x, 30, sources)
    assert {s: int((sources[balanced] == s).sum()) for s in set(sources)} == {"far": 10, "near_a": 10, "near_b": 10}


def test_balanced_kcenter_with_one_source_is_kcenter():
    x = np.random.default_rng(1).normal(size=(120, 5)).astype(np.float32)
    assert _balanced(x, 25, ["all"] * 120, [3, 4]).tolist() == kcenter_greedy(x, 25, [3, 4]).tolist()


def test_allocation_follows_the_pool_shares_or_splits_equally():
    assert allocate([60, 30, 10], [0, 0, 0], 10).tolist() == [6, 3, 1]
    assert allocate([600, 300, 100], [0, 0, 0], 7).tolist() == [4, 2, 1]  # largest remainders
    assert allocate([60, 30, 10], [0, 0, 0], 10, "equal").tolist() == [4, 3, 3]
    assert allocate([60, 30, 2], [0, 0, 0], 10, "equal").tolist() == [4, 4, 2]  # a small source's rest goes on
    # a source above its share from earlier rounds gets nothing until the others catch up
    assert allocate([60, 30, 10], [10, 0, 0], 10).tolist() == [2, 6, 2]
    assert allocate([60, 30, 10], [0, 0, 0], 10).sum() == 10
    with pytest.raises(ValueError, match="unknown allocation 'even'.*'proportional', 'equal'"):
        allocate([1], [0], 1, "even")


# -- spaces -----------------------------------------------------------------------------------
def _pairwise(x):
    return np.sqrt(np.maximum(((x[:, None] - x[None]) ** 2).sum(-1), 0))


def test_cosine_space_ignores_how_long_a_vector_is():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(80, 6)).astype(np.float32)
    scaled = x * rng.uniform(0.1, 50, size=(80, 1)).astype(np.float32)
    np.testing.assert_allclose(np.linalg.norm(to_space(scaled, "cosine"), axis=1), 1, rtol=1e-5)
    pick = lambda e, space: get_strategy("kcenter", space=space).select(  # noqa: E731
        10, pool_size=80, selected=[0], features=PoolFeatures(embeddings=e)).tolist()
    assert pick(scaled, "cosine") == pick(x, "cosine")
    assert pick(scaled, "raw") != pick(x, "raw")


def test_whitening_is_the_reference_codes_and_undoes_any_linear_map():
    import torch

    rng = np.random.default_rng(3)
    x = rng.normal(size=(200, 8)) @ rng.normal(size=(8, 8))
    # DiverseEvol's utils.py: kernel = u / sqrt(s) from the SVD of torch.cov, y = (x - mu) @ kernel[:, :n], normalised
    t = torch.tensor(x)
    u, s, _ = torch.linalg.svd(torch.cov(t.T))
    ref = ((t - t.mean(0, keepdim=True)) @ (u @ torch.diag(1 / torch.sqrt(s)))[:, :5]).numpy()
    ref /= np.linalg.norm(ref, axis=1, keepdims=True)
    ours = to_space(x, "whiten", 5)
    assert ours.shape == (200, 5)
    np.testing.assert_allclose(_pairwise(ours), _pairwise(ref), atol=1e-4)  # equal up to each axis' sign
    mixed = x @ rng.normal(size=(8, 8)) * [1, 1, 1, 10, 1, 1, 1, 0.1]
    np.testing.assert_allclose(_pairwise(to_space(mixed, "whiten")), _pairwise(to_space(x, "whiten")), atol=1e-3)


def test_spaces_are_validated_and_the_round_report_names_the_distance():
    with pytest.raises(ValueError, match=r"unknown space 'cos'; valid spaces: \['raw', 'cosine', 'whiten'\]"):
        get_strategy("kcenter", space="cos")
    with pytest.raises(ValueError, match="whiten_components only applies to space='whiten'"):
        get_strategy("kcenter", whiten_components=8)
    with pytest.raises(ValueError, match="whiten_components must be a positive integer"):
        get_strategy("kcenter", space="whiten", whiten_components=0)
    strategy = get_strategy("kcenter_balanced", space="whiten", whiten_components=16)
    with pytest.raises(ValueError, match="whiten_components=16 needs a pool of more than 16 rows"):
        strategy.check_pool(_rows(10))
    x = np.random.default_rng(4).normal(size=(40, 20)).astype(np.float32)
    with pytest.raises(ValueError, match="numerical rank 3"):  # rows that vary in 3 directions only
        to_space(x[:, :3] @ np.random.default_rng(5).normal(size=(3, 20)), "whiten", 10)
    info = strategy.describe(PoolFeatures(embeddings=x))
    assert info["space"] == "whiten" and info["whiten_components"] == 16 and "whitened" in info["distance"]
    assert get_strategy("kcenter").describe(PoolFeatures(embeddings=x))["distance"].startswith("Euclidean on the raw")
    assert get_strategy("kcenter", space="whiten").describe(PoolFeatures(embeddings=x))["whiten_components"] == 20


def test_a_pool_without_the_source_column_is_named_with_how_to_add_it():
    ds = _rows(5).remove_columns("source")
    with pytest.raises(ValueError, match=r"no column 'source'.*add_column\('source'.*--source-column"):
        get_strategy("kcenter_balanced").check_pool(ds)
    features = get_strategy("kcenter_balanced", source_column="meta").with_pool_columns(None, ds)
    assert features.sources.tolist() == ["{}"] * 5
    with pytest.raises(ValueError, match="needs the pool's sources"):
        get_strategy("kcenter_balanced").select(1, pool_size=3, features=PoolFeatures(embeddings=np.zeros((3, 2))))


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
    assert set(STRATEGIES) == {"kcenter", "kcenter_balanced", "random", "least_confidence", "margin", "entropy"}


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
    together = pool_features(model, tokenizer, ds, batch_size=4, token_stats=True)
    alone = pool_features(model, tokenizer, ds.select([5]), batch_size=1)
    assert together.embeddings.shape == (6, model.config.hidden_size)
    np.testing.assert_allclose(together.embeddings[5], alone.embeddings[0], rtol=1e-4, atol=1e-5)
    assert np.all((together.max_prob > 0) & (together.max_prob <= 1))
    assert np.all(together.margin <= together.max_prob) and np.all(together.entropy > 0)


def _task_rows(n_tasks=3, per_task=6):
    """Rows of narrow tasks: each task's long instruction repeated on every row, as NIV2 pools are."""
    import datasets

    rows = []
    for t in range(n_tasks):
        for i in range(per_task):
            rows.append({"prompt": [{"role": "system", "content": f"Task {t}. " + "Read the input and answer. " * (4 + 2 * t)},
                                    {"role": "user", "content": f"input {i} " + "more " * (i % 4)}],
                         "completion": [{"role": "assistant", "content": f"label {i % 2}"}], "source": f"t{t}"})
    rows.append(dict(rows[2]))  # a duplicate row
    rows.append({"prompt": [{"role": "user", "content": "a row of its own"}],
                 "completion": [{"role": "assistant", "content": "alone"}], "source": "other"})
    return datasets.Dataset.from_list(rows)


def test_shared_prefixes_give_the_values_of_running_every_row_whole(tiny_model):
    model, tokenizer = tiny_model
    ds = _task_rows()
    whole = pool_features(model, tokenizer, ds, token_stats=True, share_prefixes=False, batch_size=1)
    for kw in ({}, {"max_length": 30}, {"batch_size": 2, "max_batch_tokens": 64}):  # 30: rows lose their start
        shared = pool_features(model, tokenizer, ds, token_stats=True, **kw)
        ref = whole if not kw.get("max_length") else pool_features(
            model, tokenizer, ds, token_stats=True, share_prefixes=False, batch_size=1, **kw)
        # the stated tolerance: float32 rounding of another summation order
        for name in ("embeddings", "max_prob", "margin", "entropy"):
            np.testing.assert_allclose(getattr(shared, name), getattr(ref, name), rtol=1e-5, atol=1e-5, err_msg=name)
    assert pool_features(model, tokenizer, ds).max_prob is None  # statistics only when asked for


def test_prefix_groups_put_rows_that_share_a_start_together():
    task_a = [[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, i, i] for i in range(20, 26)]
    task_b = [[1, 2, 3, 40, 50, 60, 70, 80, 90, 99, i] for i in range(30, 34)]
    alone = [[7, 7, 7]]
    groups = prefix_groups(task_a + task_b + alone, min_prefix=4, group_cost=2)
    # not one group over the 3 tokens both tasks start with: each task's own 10 saves more
    by_first = {min(rows): (p, sorted(rows)) for p, rows in groups}
    assert by_first == {0: (10, [0, 1, 2, 3, 4, 5]), 6: (10, [6, 7, 8, 9]), 10: (0, [10])}
    # every row keeps a token of its own; identical rows share all but the last
    assert prefix_groups([[5] * 40, [5] * 40]) == [(39, [0, 1])]
    assert prefix_groups([[1, 2], [3, 4]]) == [(0, [0, 1])]


def test_an_adapter_is_merged_for_embedding_with_the_same_values(tiny_model, tmp_path):
    import torch
    from peft import LoraConfig, get_peft_model

    from cookbook_datasets.models import load_model
    from cookbook_datasets.selection.embeddings import load_for_features

    base, tokenizer = load_model("tiny-random")
    peft = get_peft_model(base, LoraConfig(r=4, lora_alpha=8, target_modules="all-linear"))
    with torch.no_grad():
        for name, param in peft.named_parameters():
            if "lora_B" in name:
                param.normal_(std=0.05)
    peft.save_pretrained(tmp_path / "adapter")
    unmerged, _ = load_model("tiny-random", adapter=str(tmp_path / "adapter"))
    merged, _ = load_for_features("tiny-random", adapter=str(tmp_path / "adapter"))
    assert not any("lora" in name for name, _ in merged.named_parameters())
    ds = _task_rows(2, 3)
    np.testing.assert_allclose(pool_features(merged, tokenizer, ds).embeddings,
                               pool_features(unmerged, tokenizer, ds, share_prefixes=False).embeddings,
                               rtol=1e-4, atol=1e-4)


def test_only_rows_the_model_has_not_embedded_are_embedded(tiny_model, tmp_path, monkeypatch):
    import cookbook_datasets.selection.embeddings as emb

    ds = _task_rows()
    seen = []
    real = emb.pool_features

    def counting(model, tokenizer, dataset, **kw):
        seen.append(len(dataset))
        return real(model, tokenizer, dataset, **kw)

    monkeypatch.setattr(emb, "pool_features", counting)
    first = cached_pool_features("tiny-random", ds.select(range(10)), cache_dir=tmp_path)
    full = cached_pool_features("tiny-random", ds, cache_dir=tmp_path)
    assert seen == [10, len(ds) - 10 - 1]  # the duplicate of row 2 is not embedded again
    np.testing.assert_array_equal(full.embeddings[:10], first.embeddings)
    np.testing.assert_array_equal(full.embeddings[len(ds) - 2], full.embeddings[2])
    stats = cached_pool_features("tiny-random", ds, cache_dir=tmp_path, token_stats=True)
    assert seen[-1] == len(ds) - 1 and np.isfinite(stats.entropy).all()  # statistics were not there yet
    cached_pool_features("tiny-random", ds, cache_dir=tmp_path)
    cached_pool_features("tiny-random", ds, cache_dir=tmp_path, token_stats=True)
    assert len(seen) == 3
    cached_pool_features("tiny-random", ds, cache_dir=tmp_path, max_length=16)  # another setting: embedded again
    assert len(seen) == 4


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


# -- the round loop and the CLI ---------------------------------------------------------------
def _pool_file(tmp_path, n=24, with_source=True):
    rows = _rows(n)
    rows = rows.map(lambda r, i: {"source": "long" if i % 3 == 0 else "short",
                                  "prompt": [{"role": "user", "content": r["prompt"][0]["content"]
                                              + (" padding words" * 20 if i % 3 == 0 else "")}]},
                    with_indices=True)
    if not with_source:
        rows = rows.remove_columns("source")
    path = tmp_path / "pool.parquet"
    rows.to_parquet(str(path))
    return path


def _loop_config(tmp_path, pool, **kw):
    from cookbook_datasets.trainers import DiverseEvolConfig

    values = dict(pool="parquet", pool_params={"data_files": str(pool)}, output_dir=str(tmp_path / "out"),
                  model="tiny-random", k0=3, per_round=6, rounds=1, diversity=False,
                  features_cache_dir=str(tmp_path / "features"),
                  train={"max_steps": 1, "per_device_train_batch_size": 4, "precision": "fp32"})
    values.update(kw)
    return DiverseEvolConfig(**values)


def test_the_loop_balances_by_source_and_records_the_space(tiny_model, tmp_path):
    from cookbook_datasets.trainers import run_diverse_evol

    report = run_diverse_evol(_loop_config(tmp_path, _pool_file(tmp_path), strategy="kcenter_balanced",
                                           space="cosine"))
    picked = report["rounds"][1]
    assert picked["space"] == "cosine" and "L2-normalised" in picked["distance"]
    assert picked["balanced_by"] == "source" and picked["allocation"] == "proportional"
    state = json.loads((tmp_path / "out" / "state.json").read_text())
    sources = ["long" if i % 3 == 0 else "short" for i in range(24)]
    chosen = [sources[i] for r in state["rounds"] for i in r["new_indices"]]
    assert chosen.count("long") == 3 and chosen.count("short") == 6  # a third of the pool is long rows
    assert state["recipe"]["space"] == "cosine" and "whiten_components" not in state["recipe"]


@pytest.mark.parametrize("kw,with_source,message", [
    ({"strategy": "kcenter_balanced"}, False, r"no column 'source'.*add_column\('source'"),
    ({"strategy": "kcenter", "space": "whiten", "whiten_components": 30}, True,
     r"whiten_components=30 needs a pool of more than 30 rows"),
])
def test_a_pool_the_strategy_cannot_use_fails_before_any_model_is_loaded(tmp_path, monkeypatch, kw, with_source,
                                                                        message):
    import cookbook_datasets.models as models
    from cookbook_datasets.trainers import run_diverse_evol

    monkeypatch.setattr(models, "load_model", lambda *a, **k: pytest.fail("a model was loaded"))
    with pytest.raises(ValueError, match=message):
        run_diverse_evol(_loop_config(tmp_path, _pool_file(tmp_path, with_source=with_source), **kw))
    assert not (tmp_path / "out").exists()


def test_strategy_fields_of_the_config_are_checked():
    from cookbook_datasets.trainers import DiverseEvolConfig

    assert DiverseEvolConfig(pool="p", space="whiten", whiten_components=8).strategy_kwargs() == {
        "space": "whiten", "whiten_components": 8}
    with pytest.raises(ValueError, match="bad parameters for selection strategy 'random'.*space"):
        DiverseEvolConfig(pool="p", strategy="random", space="cosine")
    with pytest.raises(ValueError, match="space is set twice"):
        DiverseEvolConfig(pool="p", space="cosine", strategy_params={"space": "raw"})
    with pytest.raises(ValueError, match="unknown allocation 'even'"):
        DiverseEvolConfig(pool="p", strategy="kcenter_balanced", allocation="even")


def test_cookbook_select_takes_the_space_and_the_balanced_options(tmp_path, capsys):
    from cookbook_datasets.cli import main

    pool = _pool_file(tmp_path, with_source=False)
    args = ["select", "parquet", "--pool-param", f"data_files={pool}", "--model", "tiny-random", "--k0", "3",
            "--per-round", "3", "--rounds", "1", "--out", str(tmp_path / "sel")]
    assert main(args + ["--strategy", "kcenter_balanced", "--source-column", "task", "--space", "whiten",
                        "--whiten-components", "4", "--allocation", "equal"]) == 2
    assert "no column 'task'" in capsys.readouterr().err
    assert main(args + ["--space", "whiten", "--whiten-components", "40"]) == 2
    assert "needs a pool of more than 40 rows" in capsys.readouterr().err
