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


# -- the mixer -------------------------------------------------------------------------------------
def _simulate(mixer, interaction, updates, rows=64, seed=0):
    """Intervals whose task losses move by ``interaction @ shares`` (relative to the start), plus noise."""
    rng = np.random.default_rng(seed)
    loss = np.ones(len(mixer.tasks))
    mixer.start(dict(zip(mixer.tasks, loss)))
    for _ in range(updates):
        p = np.array([mixer.sampling_weights()[c] for c in mixer.components])
        counts = rng.multinomial(rows, p)
        loss = loss + interaction @ (counts / rows) + rng.normal(0, 0.002, len(loss))
        mixer.update(dict(zip(mixer.components, counts)), dict(zip(mixer.tasks, loss)))
    return mixer


def test_the_mixer_learns_which_component_lowers_the_tasks_loss_and_moves_weight_there():
    from cookbook_datasets.mixing.methods.online import OnlineMixer

    interaction = np.array([[-0.05, 0.0, 0.01], [-0.04, 0.0, 0.01]])  # component a helps both tasks, c hurts
    mixer = _simulate(OnlineMixer(["a", "b", "c"], ["t1", "t2"]), interaction, updates=30)
    w = mixer.current()
    assert w["a"] > 0.6 and w["a"] > w["b"] > w["c"]
    assert np.corrcoef(mixer.interaction.ravel(), interaction.ravel())[0, 1] > 0.8


def test_the_worst_task_pulls_weight_to_the_component_that_helps_it():
    from cookbook_datasets.mixing.methods.online import OnlineMixer

    # a helps t1 a lot, b helps t2 a little: t2 lags, so b (t2's only help) gains weight (DoReMi's focus).
    interaction = np.array([[-0.04, 0.0], [0.0, -0.01]])
    mixer = _simulate(OnlineMixer(["a", "b"], ["t1", "t2"]), interaction, updates=30)
    assert mixer.current()["b"] > 0.5 and mixer.task_weights[1] > 0.9


def test_no_component_underflows_to_zero_however_hard_it_is_pushed():
    from cookbook_datasets.mixing.methods.online import OnlineMixer

    # b is t2's only protecting component but hurts t1 badly; a huge step size and many updates.
    interaction = np.array([[-0.02, 0.05], [0.0, -0.001]])
    mixer = OnlineMixer(["a", "b"], ["t1", "t2"], eta=50.0, min_share=0.1, task_temperature=10.0)
    _simulate(mixer, interaction, updates=200)
    assert mixer.current()["b"] >= mixer.floor == pytest.approx(0.05)
    assert mixer.current()["b"] == pytest.approx(mixer.floor, rel=1e-3)  # pushed down to the floor, not below


def test_bad_mixer_parameters_are_named():
    from cookbook_datasets.mixing import get_method

    with pytest.raises(ValueError, match="eta"):
        get_method("online", eta=0)
    with pytest.raises(ValueError, match="min_share"):
        get_method("online", min_share=1.5)
    with pytest.raises(ValueError, match="update_every"):
        get_method("online", update_every=0)


# -- task losses -----------------------------------------------------------------------------------
def test_task_losses_are_the_answers_completion_loss_and_leave_the_model_as_it_was(tiny_model):
    import torch

    from cookbook_datasets.mixing.task_loss import TaskLosses

    model, tokenizer = tiny_model
    rows = {"short": [{"prompt": [{"role": "user", "content": "Is it?"}],
                       "completion": [{"role": "assistant", "content": "Yes"}]}],
            "long": [{"prompt": [{"role": "user", "content": "Say some words " * 8}],
                      "completion": [{"role": "assistant", "content": "river stone lamp garden"}]}] * 2}
    losses = TaskLosses(rows, tokenizer)
    model.train()
    got = losses.measure(model)
    assert model.training
    # the same loss, row by row, from the full logits of an unpadded forward pass
    for task, task_rows in rows.items():
        ids, start = losses.sequences[losses.task_of.index(losses.tasks.index(task))]
        with torch.no_grad():
            model.eval()
            logits = model(torch.tensor([ids])).logits[0, :-1]
            model.train()
        expected = torch.nn.functional.cross_entropy(logits[start - 1:], torch.tensor(ids[start:]))
        assert got[task] == pytest.approx(float(expected), rel=1e-4)


# -- mix learn --method online ---------------------------------------------------------------------
def _nli_task(path, n=40):
    rng = np.random.default_rng(0)
    words = "river stone lamp garden silver window tiger candle forest mirror violin harbor".split()

    def item():
        premise = list(rng.choice(words, 6, replace=False))
        label = str(rng.choice(list("ENC")))
        inside = {"E": 3, "N": 1, "C": 0}[label]
        outside = [w for w in words if w not in premise]
        hyp = list(rng.choice(premise, inside, replace=False)) + list(rng.choice(outside, 3 - inside, replace=False))
        return {"input": f"Premise: The {' '.join(premise)}.\nHypothesis: A {' '.join(hyp)}.", "output": [label]}

    path.write_text(json.dumps({"Definition": ["Answer E, N or C."], "Positive Examples": [item() for _ in range(2)],
                                "Instances": [item() for _ in range(n)]}))
    return path


def _choice_task(path, n=40):
    rng = np.random.default_rng(1)
    words = "river stone lamp garden silver window tiger candle forest mirror violin harbor".split()
    lines = []
    for i in range(n):
        q = list(rng.choice(words, 5, replace=False))
        right = " ".join(q[:3])
        wrong = [" ".join(w for w in words if w not in q)[:20], " ".join(words[-3:])]
        lines.append(json.dumps({"id": str(i), "question": " ".join(q) + "?", "choices": [wrong[0], right, wrong[1]],
                                 "label": 1}))
    path.write_text("\n".join(lines))
    return path


@pytest.fixture
def tasks(tmp_path):
    return [_nli_task(tmp_path / "toy_nli.json"), _choice_task(tmp_path / "toy_choice.jsonl")]


def test_mix_learn_online_learns_in_one_run_and_its_schedule_replays_the_rows(tasks, tmp_path, capsys, tiny_model):
    from cookbook_datasets.cli import main
    from cookbook_datasets.mixing import read_mix

    out = tmp_path / "online"
    assert main(["mix", "learn", "--tasks", *map(str, tasks), "--templates", "nli", "multiple_choice_qa",
                 "--model", "tiny-random", "--method", "online", "--online-steps", "6", "--update-every", "2",
                 "--eta", "1.0", "--fit-size", "8", "--eval-size", "4", "--num-examples", "20", "--out", str(out)]) == 0
    assert "Weights (online)" in capsys.readouterr().out
    mix = read_mix(out / "mix.json")
    trajectory = json.loads((out / "online" / "trajectory.json").read_text())
    assert [u["step"] for u in trajectory["updates"]] == [0, 2, 4, 6]
    assert mix["weights"] == pytest.approx(trajectory["final_weights"])
    assert set(mix["weights"]) == {"nli[E/N/C]", "multiple_choice_qa", "demos[toy_nli]"}
    floor = mix["protection"]["floors"]["demos[toy_nli]"]
    assert floor == pytest.approx(0.02) and min(mix["weights"].values()) > 0
    # the protecting component kept its floor at every update and in every interval's draws
    assert all(u["weights"]["demos[toy_nli]"] >= floor - 1e-9 for u in trajectory["updates"])
    assert all(w["weights"]["demos[toy_nli]"] >= floor - 1e-9 for w in json.loads(
        (out / "online" / "schedule.json").read_text())["entries"])
    assert set(trajectory["updates"][1]["task_losses"]) == {"toy_nli", "toy_choice"}
    for name in ("online/weights.png", "online/schedule.json", "online/adapter/adapter_config.json", "report.md"):
        assert (out / name).exists(), name
    # The rows the run drew: the schedule replays them without the callback, and they followed its weights.
    schedule = WeightSchedule.load(out / "online" / "schedule.json")
    assert len(schedule) == 4 and schedule.rows_per_step == 8
    replay = load_dataset("mixture", weights=str(out / "mix.json"), schedule=str(out / "online" / "schedule.json"),
                          num_examples=48, seed=0, split="train")
    counts = {u["step"]: u["interval_rows"] for u in trajectory["updates"][1:]}
    for step in (2, 4, 6):
        drawn = replay["source"][(step - 2) * 8:step * 8]
        assert {c: drawn.count(c) for c in counts[step]} == counts[step]


def test_an_update_interval_longer_than_the_run_is_refused_before_training(tasks, tmp_path):
    from cookbook_datasets.mixing import MixLearnConfig
    from cookbook_datasets.mixing.methods.online import OnlineMixer
    from cookbook_datasets.mixing.online_run import train_online

    with pytest.raises(ValueError, match="update_every .30. is larger than the run"):
        MixLearnConfig(tasks=[str(t) for t in tasks], out=str(tmp_path), method="online", online_steps=10,
                       update_every=30)
    with pytest.raises(ValueError, match="larger than the run"):
        train_online({"nli": {"template": "nli"}}, {"t": []}, tmp_path / "o", OnlineMixer(["nli"], ["t"]),
                     model="tiny-random", steps=4, update_every=5)
    assert not (tmp_path / "o").exists()  # nothing written
