"""BiasedMF rows: Surprise's SVD (Funk SVD with biases, i.e. BiasedMF), ids only."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd

from ._common import Fitted, Row, Timer, best_on_validation

# Validation grid of the tuned row (the defaults are 100 factors, 20 epochs, reg 0.02).
TUNED_GRID = {"n_factors": (50, 100), "n_epochs": (20, 40), "reg_all": (0.02, 0.05, 0.08)}
QUICK_GRID = {"n_factors": (20,), "n_epochs": (5,), "reg_all": (0.02, 0.08)}


def _trainset(dataset):
    from surprise import Dataset as SurpriseData, Reader

    X, y = dataset.train
    frame = pd.DataFrame({"u": X["user_id"].to_numpy(), "i": X["item_id"].to_numpy(), "r": y})
    low, high = float(np.min(y)), float(np.max(y))
    return SurpriseData.load_from_df(frame, Reader(rating_scale=(low, high))).build_full_trainset()


def _predictor(algo):
    def predict(X):
        return np.array([algo.predict(u, i).est for u, i in zip(X["user_id"], X["item_id"])])

    return predict


def _fit(trainset, seed, **params):
    from surprise import SVD

    algo = SVD(random_state=seed, **params)
    with Timer() as t:
        algo.fit(trainset)
    return algo, t.seconds


def _svd_default(dataset, seed, ctx):
    params = {"n_epochs": 5} if ctx.quick else {}
    algo, seconds = _fit(_trainset(dataset), seed, **params)
    return Fitted(_predictor(algo), seconds, {"params": params or "Surprise defaults"})


def _svd_tuned(dataset, seed, ctx):
    grid = QUICK_GRID if ctx.quick else TUNED_GRID
    trainset = _trainset(dataset)

    def candidates():
        for values in itertools.product(*grid.values()):
            params = dict(zip(grid, values))
            algo, seconds = _fit(trainset, seed, **params)
            yield params, Fitted(_predictor(algo), seconds)

    return best_on_validation(dataset, candidates())


ROWS = [
    Row("svd", "BiasedMF (Surprise SVD, defaults)", "surprise", _svd_default,
        requires=("surprise",), paper="BiasedMF", cold=False),
    Row("svd-tuned", "BiasedMF (Surprise SVD, tuned on validation)", "surprise", _svd_tuned,
        requires=("surprise",), paper="BiasedMF", cold=False,
        note="grid over n_factors 50/100, n_epochs 20/40, reg_all 0.02/0.05/0.08"),
]
