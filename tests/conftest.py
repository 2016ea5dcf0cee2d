"""What every test module shares.

The suite's models are tiny: one torch thread is the fastest way to run them,
and on a busy machine torch's default (one thread per core) is many times
slower than one (thread oversubscription). Tests that are about threads set
their own count.

Tests marked ``@pytest.mark.gpu`` need a CUDA device and are skipped without one.
"""

import pytest
import torch

from sklearn_sain.datasets import make_ratings


def pytest_configure(config):
    torch.set_num_threads(1)


def pytest_collection_modifyitems(config, items):
    if torch.cuda.is_available():
        return
    needs_cuda = pytest.mark.skip(reason="needs CUDA")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(needs_cuda)


@pytest.fixture(scope="module")
def small_ratings():
    """``make_ratings`` with 30 users, 20 items and 250 ratings: every code path, in seconds."""
    return make_ratings(n_users=30, n_items=20, n_ratings=250, random_state=0)
