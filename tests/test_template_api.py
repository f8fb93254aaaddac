"""The two ways to write a template: item by item (simple) or vectorised (fast)."""

from dataclasses import dataclass

import numpy as np

from cookbook_datasets.seeding import stream_key
from cookbook_datasets.templates import Template
from cookbook_datasets.templates.base import join, param
from cookbook_datasets.templates.columns import BatchRandom, item_keys


@dataclass
class LastWord(Template):
    """A template written item by item: generate + rule + render, nothing vectorised."""

    name = "last_word_example"
    family = "search"
    description = "Answer with the last word."
    instructions = ("Write the last word of the sequence.", "Which word comes last?")
    length: int = param(6, "Tokens in the sequence.", range=(2, 64))

    def generate(self, rng):
        return {"sequence": self.draw(rng, self.length)}

    def rule(self, inputs):
        return inputs["sequence"][-1]

    def render(self, inputs):
        return f"Sequence: {join(inputs['sequence'])}"


def test_an_item_by_item_template_needs_no_vectorised_code():
    template = LastWord(length=5)
    assert not LastWord.vectorized()
    rows = template.sample_rows(range(200))
    for row in rows:
        assert template.rule(row["inputs"]) == row["output"] == row["completion"]
        assert row["prompt"].split("\n\n", 1)[1] == template.render(row["inputs"])
    assert template.sample_rows(range(50, 60)) == rows[50:60]  # an item does not depend on its batch


def test_batch_random_rows_depend_only_on_their_item():
    keys = item_keys(stream_key(0, "x", "train"), np.arange(100))
    whole, part = BatchRandom(keys), BatchRandom(keys[40:45])
    a = [whole.integers(0, 10, 3), whole.distinct(50, 8), whole.random(2)]
    b = [part.integers(0, 10, 3), part.distinct(50, 8), part.random(2)]
    for x, y in zip(a, b):
        assert np.array_equal(x[40:45], y)


def test_distinct_draws_never_repeat_and_avoid_the_excluded():
    rng = BatchRandom(item_keys(stream_key(1, "x", "train"), np.arange(2000)))
    exclude = rng.integers(0, 30, 10)
    ids = rng.distinct(40, 25, exclude=exclude)  # crowded: most rows need the exact fallback
    for row, banned in zip(ids, exclude):
        assert len(set(row)) == 25 and not set(row) & set(banned)
        assert all(0 <= i < 40 for i in row)


def test_seeds_and_splits_give_unrelated_streams():
    a = item_keys(stream_key(42, "nli", "train"), np.arange(1000))
    assert not set(a) & set(item_keys(stream_key(43, "nli", "train"), np.arange(1000)))
    assert not set(a) & set(item_keys(stream_key(42, "nli", "test"), np.arange(1000)))
