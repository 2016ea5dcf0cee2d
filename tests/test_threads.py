"""The thread policy: free cores measured from the CPU counters, never more than the budget."""

import threading

import numpy as np
import pytest
import torch

from sklearn_sain import SAINRegressor
from sklearn_sain._threads import (
    REBALANCE_SECONDS,
    SMALL_WORK_ROWS,
    AutoThreads,
    MachineLoad,
    free_threads,
    torch_threads,
    usable_cpus,
)


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


class FakeLoad:
    """Other processes keeping ``busy`` cores busy."""

    def __init__(self, busy):
        self.busy = busy

    def others_busy(self):
        return self.busy


@pytest.fixture
def two_threads():
    previous = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(previous)


@pytest.mark.parametrize("ceiling, busy, cpus, expected", [
    (2, 0.0, 2, 2), (2, 0.3, 2, 2), (2, 0.7, 2, 1), (2, 2.0, 2, 1), (2, 5.0, 2, 1),
    (8, 1.0, 4, 3), (1, 0.0, 16, 1), (16, 0.0, 4, 4),
])  # fmt: skip
def test_free_threads_stay_between_one_and_the_budget(ceiling, busy, cpus, expected):
    assert free_threads(ceiling, busy, cpus) == expected


def test_machine_load_counts_what_the_others_used_between_two_looks():
    clock, counters, own = FakeClock(), [100.0], [10.0]
    load = MachineLoad(lambda: counters[0], lambda: own[0], clock)
    # in 2 s the machine was busy for 3 CPU-seconds, 1 of them this process's own
    clock.now, counters[0], own[0] = 2.0, 103.0, 11.0
    assert load.others_busy() == pytest.approx(1.0)
    # the next look measures from this one
    clock.now, counters[0], own[0] = 3.0, 103.5, 11.5
    assert load.others_busy() == pytest.approx(0.0)


def test_machine_load_falls_back_to_the_load_average_without_counters():
    load = MachineLoad(lambda: None, lambda: 0.0, FakeClock())
    assert load.others_busy() >= 0.0


def test_auto_threads_takes_the_free_cores_and_looks_again_while_training(two_threads):
    clock, load = FakeClock(), FakeLoad(busy=0.0)
    policy = AutoThreads(load=load, cpus=2, clock=clock)
    assert policy.ceiling == 2 and policy.threads == 2
    load.busy = 2.0  # another process starts spinning both cores
    policy.step()  # too early to look again
    assert policy.threads == 2
    clock.now = REBALANCE_SECONDS
    policy.step()
    assert policy.threads == 1 and torch.get_num_threads() == 1
    load.busy, clock.now = 0.0, 2 * REBALANCE_SECONDS
    policy.step()
    assert policy.threads == 2 and torch.get_num_threads() == 2


def test_auto_threads_never_exceed_the_budget_or_the_usable_cpus(two_threads):
    assert AutoThreads(load=FakeLoad(0.0), cpus=1).threads == 1
    torch.set_num_threads(1)  # e.g. OMP_NUM_THREADS=1, as Dask's nanny sets
    assert AutoThreads(load=FakeLoad(0.0), cpus=8).threads == 1
    assert 1 <= usable_cpus()


def test_torch_threads_sets_and_restores(two_threads):
    with torch_threads(1) as policy:
        assert torch.get_num_threads() == 1
        policy.step()
    assert torch.get_num_threads() == 2
    with torch_threads(None):
        assert torch.get_num_threads() == 2
    with torch_threads("auto", n_rows=SMALL_WORK_ROWS):  # a small prediction: one thread
        assert torch.get_num_threads() == 1
    with torch_threads("auto"):
        assert 1 <= torch.get_num_threads() <= 2
    assert torch.get_num_threads() == 2


def test_auto_is_one_thread_outside_the_main_thread(two_threads):
    seen = []

    def work():
        torch.set_num_threads(2)
        with torch_threads("auto"):
            seen.append(torch.get_num_threads())

    worker = threading.Thread(target=work)
    worker.start()
    worker.join()
    assert seen == [1]


def test_the_regressor_defaults_to_auto_and_restores_torch(small_ratings, two_threads):
    X, y = small_ratings
    model = SAINRegressor(max_epochs=1, device="cpu", random_state=0)
    assert model.get_params()["n_threads"] == "auto"
    model.fit(X, y)
    assert torch.get_num_threads() == 2
    one = SAINRegressor(max_epochs=1, device="cpu", random_state=0, n_threads=1).fit(X, y)
    np.testing.assert_allclose(model.predict(X), one.predict(X), atol=1e-5)


@pytest.mark.parametrize("value, error", [("many", ValueError), (0, ValueError),
                                          (1.5, TypeError)])  # fmt: skip
def test_bad_n_threads_is_refused_by_name(small_ratings, value, error):
    X, y = small_ratings
    with pytest.raises(error, match="n_threads"):
        SAINRegressor(max_epochs=1, n_threads=value).fit(X, y)


def test_recommend_and_explain_run_under_the_thread_policy_and_restore_torch(small_ratings,
                                                                             two_threads):
    X, y = small_ratings
    model = SAINRegressor(max_epochs=1, device="cpu", random_state=0, n_threads=1).fit(X, y)
    seen = []
    original = torch.set_num_threads

    def spy(n):
        seen.append(n)
        original(n)

    torch.set_num_threads = spy
    try:
        model.recommend([X["user_id"].iloc[0]], n=3)
        model.explain(X.head(2))
    finally:
        torch.set_num_threads = original
    assert seen[0] == 1 and seen[-1] == 2  # set to n_threads, then restored
    assert torch.get_num_threads() == 2
