"""Reference rows without extra packages: the global mean and the bias-only model."""

from __future__ import annotations

import numpy as np

from .._baselines import BiasOnlyRegressor
from ._common import Fitted, Row, Timer, best_on_validation


def _global_mean(dataset, seed, ctx):
    with Timer() as t:
        mean = float(np.mean(dataset.train[1]))
    return Fitted(lambda X: np.full(len(X), mean), t.seconds, {"mean": mean})


def _bias_only(dataset, seed, ctx):
    X_train, y_train = dataset.train

    def candidates():
        for reg in (1.0, 5.0, 10.0, 25.0):  # chosen on validation
            with Timer() as t:
                model = BiasOnlyRegressor(reg=reg).fit(X_train, y_train)
            yield {"reg": reg}, Fitted(model.predict, t.seconds)

    return best_on_validation(dataset, candidates())


ROWS = [
    Row("global-mean", "Global mean", "baseline", _global_mean),
    Row("bias", "Bias only (user + item + global)", "baseline", _bias_only,
        note="ridge strength chosen on validation from 1, 5, 10, 25"),
]
