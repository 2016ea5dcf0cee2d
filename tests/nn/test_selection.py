"""The k-th smallest value along a short last dimension (sklearn_sain._nn.selection)."""

import pytest
import torch

from sklearn_sain._nn import selection as _selection
from sklearn_sain._nn.selection import kth_smallest, sorting_network


def _apply(network, values):
    columns = list(values.T.contiguous().unbind(0))
    for i, j in network:
        low = torch.minimum(columns[i], columns[j])
        columns[j] = torch.maximum(columns[i], columns[j])
        columns[i] = low
    return torch.stack(columns, dim=-1)


@pytest.mark.parametrize("n", range(1, 17))
def test_sorting_network_sorts_every_zero_one_input(n):
    # the 0-1 principle: a comparator network that sorts all 2**n inputs of
    # zeros and ones sorts every input of n values
    codes = torch.arange(2**n)
    bits = ((codes.unsqueeze(1) >> torch.arange(n)) & 1).float()
    network = sorting_network(n)
    assert all(0 <= i < j < n for i, j in network)
    torch.testing.assert_close(_apply(network, bits), bits.sort(dim=-1).values, rtol=0, atol=0)


@pytest.mark.parametrize("n_rows", [10, 5000])  # kthvalue's path, then the network's
@pytest.mark.parametrize("n", [1, 5, 12, 16, 20])
def test_kth_smallest_equals_kthvalue(n_rows, n):
    generator = torch.Generator().manual_seed(n)
    values = torch.randn(n_rows, 3, n, generator=generator)
    values[values > 1.0] = float("-inf")  # padding keys
    values = torch.where(torch.rand(values.shape, generator=generator) < 0.3,
                         values.round(), values)  # ties
    for k in range(1, n + 1):
        expected = values.kthvalue(k, dim=-1, keepdim=True).values
        assert torch.equal(kth_smallest(values, k), expected), k
        assert torch.equal(kth_smallest(values.double(), k), expected.double()), k


def test_kth_smallest_uses_the_network_only_where_it_pays(monkeypatch):
    calls = []
    real = _selection.sorting_network
    monkeypatch.setattr(_selection, "sorting_network", lambda n: calls.append(n) or real(n))
    kth_smallest(torch.randn(5000, 12), 5)
    kth_smallest(torch.randn(10, 12), 5)  # few rows
    kth_smallest(torch.randn(5000, 17), 5)  # long rows
    kth_smallest(torch.randn(5000, 12, requires_grad=True), 5)  # autograd needs kthvalue
    assert calls == [12]


@pytest.mark.parametrize("k", [0, 13])
def test_kth_smallest_rejects_k_out_of_range(k):
    with pytest.raises(ValueError, match=f"k={k} is out of range for rows of 12 values"):
        kth_smallest(torch.randn(4, 12), k)
