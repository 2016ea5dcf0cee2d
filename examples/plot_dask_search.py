"""
Hyper-parameter search on Dask
==============================

Run :class:`~sklearn.model_selection.GridSearchCV` over ``top_k``, ``n_heads``
and ``embed_dim`` on a Dask cluster through joblib's ``"dask"`` backend: every
(candidate, fold) fit becomes a task on a worker. Here the cluster is a local
one with two single-threaded worker processes; pointing the
:class:`~distributed.Client` at a scheduler address runs the same search on
many machines.

Dask's nanny starts each worker process with ``OMP_NUM_THREADS=1``, so torch
uses one thread per worker and the workers do not fight over the cores. Needs
``pip install "sklearn-sain[dask]"``.
"""

import time

import joblib
import pandas as pd
from distributed import Client, LocalCluster
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline

from sklearn_sain import SAINEncoder, SAINRegressor
from sklearn_sain.datasets import make_ratings


def main():
    X, y = make_ratings(n_users=150, n_items=100, n_ratings=10000, random_state=0)
    pipe = make_pipeline(
        SAINEncoder(user_features=["age", "gender", "occupation"],
                    item_features=["genres", "year", "director"]),
        SAINRegressor(max_epochs=8, batch_size=256, learning_rate=3e-3, device="cpu",
                      random_state=0),
    )
    grid = {
        "sainregressor__top_k": [2, 8],
        "sainregressor__n_heads": [1, 2],
        "sainregressor__embed_dim": [16, 32],
    }
    search = GridSearchCV(pipe, grid, cv=2, scoring="neg_root_mean_squared_error", n_jobs=-1)

    with LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        print("workers:", len(client.scheduler_info()["workers"]))
        started = time.perf_counter()
        with joblib.parallel_backend("dask"):
            search.fit(X, y)
        print(f"{len(search.cv_results_['params'])} candidates x 2 folds in "
              f"{time.perf_counter() - started:.1f} s")

    columns = ["param_sainregressor__top_k", "param_sainregressor__n_heads",
               "param_sainregressor__embed_dim", "mean_test_score"]
    results = pd.DataFrame(search.cv_results_)[columns]
    print(results.sort_values("mean_test_score", ascending=False).to_string(index=False))
    print("best:", search.best_params_)


# Worker processes import this file: the search must only start in the main process.
if __name__ == "__main__":
    main()
