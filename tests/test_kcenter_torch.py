"""K-center on a tensor's own device picks what the CPU path picks (checked here on CPU tensors;
tests/test_gpu.py checks CUDA tensors)."""

import numpy as np
import pytest
import torch

from cookbook_datasets.selection import kcenter_greedy, naive_kcenter
from cookbook_datasets.selection.kcenter_torch import kcenter_greedy_torch


@pytest.mark.parametrize("block_size", [1, 7, 512])
@pytest.mark.parametrize("selected", [(), (3, 17, 250)])
def test_same_picks_as_the_cpu_path(block_size, selected):
    x = np.random.default_rng(0).standard_normal((600, 24)).astype(np.float32)
    expected = kcenter_greedy(x, 40, selected)
    picks = kcenter_greedy_torch(torch.from_numpy(x), 40, selected, block_size=block_size)
    assert picks.dtype == np.int64 and picks.tolist() == expected.tolist()
    assert picks.tolist() == naive_kcenter(x, 40, selected).tolist()


def test_ties_go_to_the_lowest_index():
    # integer points: every distance is exact in float32, so ties are real ties; the mean is 0
    base = np.random.default_rng(1).integers(-3, 4, size=(100, 8)).astype(np.float32)
    x = np.concatenate([base, -base, base])  # every row three times
    picks = kcenter_greedy_torch(torch.from_numpy(x), 30)
    assert picks.tolist() == kcenter_greedy(x, 30).tolist()
    assert all(p < 200 for p in picks)  # a copy in the third block is never preferred to its original


def test_arrays_and_other_dtypes_are_taken_as_float32_tensors():
    x = np.random.default_rng(2).standard_normal((200, 8))
    assert kcenter_greedy_torch(x, 10).tolist() == kcenter_greedy(x.astype(np.float32), 10).tolist()
    assert kcenter_greedy_torch(torch.from_numpy(x).to(torch.float64), 0).size == 0


def test_bad_requests_are_named():
    with pytest.raises(ValueError, match="2-D tensor"):
        kcenter_greedy_torch(torch.zeros(5), 1)
    with pytest.raises(ValueError, match="k=6 is larger than the 5 unselected rows"):
        kcenter_greedy_torch(torch.zeros(5, 2), 6)
    with pytest.raises(ValueError, match="block_size and chunk_size must be >= 1"):
        kcenter_greedy_torch(torch.zeros(5, 2), 1, block_size=0)
