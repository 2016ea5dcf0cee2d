"""Hyper-parameter search on a local Dask cluster through joblib's dask backend.

Skipped where ``distributed`` is not installed (it is in the ``test`` extra).
"""

import numpy as np
import pytest

distributed = pytest.importorskip("distributed")

import joblib  # noqa: E402
from sklearn.model_selection import GridSearchCV  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402

from sklearn_sain import SAINEncoder, SAINRegressor  # noqa: E402
from sklearn_sain.datasets import make_ratings  # noqa: E402


def _torch_threads():
    import torch

    return torch.get_num_threads()


def _limit_torch_threads(n):
    import torch

    torch.set_num_threads(n)
    return torch.get_num_threads()


@pytest.fixture(scope="module")
def client():
    # two single-threaded worker processes: what a laptop or one cluster node looks like
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
        worker_dashboard_address=None,
    )
    with cluster, distributed.Client(cluster) as client:
        yield client


def _search(n_jobs):
    X, y = make_ratings(n_users=40, n_items=30, n_ratings=900, random_state=0)
    pipe = make_pipeline(
        SAINEncoder(user_features=["age", "gender", "occupation"],
                    item_features=["genres", "year", "director"]),
        SAINRegressor(max_epochs=2, batch_size=128, device="cpu", random_state=0),
    )
    grid = {"sainregressor__top_k": [1, 4], "sainregressor__embed_dim": [8, 16]}
    search = GridSearchCV(pipe, grid, cv=2, scoring="neg_root_mean_squared_error",
                          n_jobs=n_jobs)
    return search.fit(X, y), X


def test_grid_search_runs_on_the_cluster_and_matches_a_local_run(client):
    with joblib.parallel_backend("dask"):
        on_cluster, X = _search(n_jobs=-1)
    local, _ = _search(n_jobs=1)
    # every candidate and fold was fitted on a worker
    assert len(on_cluster.cv_results_["params"]) == 4
    assert on_cluster.best_params_ == local.best_params_
    np.testing.assert_allclose(on_cluster.cv_results_["mean_test_score"],
                               local.cv_results_["mean_test_score"], rtol=1e-5)
    # the refitted best model comes back usable here
    predictions = on_cluster.predict(X.head(20))
    assert predictions.shape == (20,) and np.isfinite(predictions).all()
    np.testing.assert_allclose(predictions, local.predict(X.head(20)), rtol=1e-5)


def test_worker_processes_start_torch_single_threaded(client):
    # Dask's nanny starts worker processes with OMP_NUM_THREADS=1, so torch takes one
    # thread per worker process and the workers do not oversubscribe the cores
    assert set(client.run(_torch_threads).values()) == {1}


def test_torch_threads_can_be_set_per_worker(client):
    # for workers with several threads, or processes=False: what docs/dask.rst advises
    try:
        assert set(client.run(_limit_torch_threads, 2).values()) == {2}
    finally:
        client.run(_limit_torch_threads, 1)


def test_search_with_n_threads_runs_on_the_cluster(client):
    # n_threads is set inside each fit on the worker and restored there afterwards
    X, y = make_ratings(n_users=30, n_items=20, n_ratings=400, random_state=1)
    search = GridSearchCV(SAINRegressor(max_epochs=1, n_threads=1, device="cpu", random_state=0),
                          {"top_k": [2, None]}, cv=2, scoring="neg_root_mean_squared_error",
                          n_jobs=-1)
    with joblib.parallel_backend("dask"):
        search.fit(X, y)
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()
    assert set(client.run(_torch_threads).values()) == {1}
