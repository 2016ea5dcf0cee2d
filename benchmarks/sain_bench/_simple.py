"""Reference rows without extra packages: means, the bias-only model and a linear content model.

The known-side mean and the linear content model are the floors of the cold
protocols: they use only what a test row shares with training (the user's
ratings for a new item, the item's for a new user, see
:func:`._data.seen_sides`) and, for the linear model, the side features.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import pandas as pd
from sklearn.linear_model import Ridge

from sklearn_sain import BiasOnlyRegressor

from ._common import Fitted, Row, Timer, best_on_validation
from ._data import seen_sides
from ._features import SparseDesign


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


def _known_side_mean(dataset, seed, ctx):
    """Mean training rating of the row's known id: the user's (warm, new-items) or the item's."""
    X_train, y_train = dataset.train
    column = seen_sides(dataset.protocol)[0]
    with Timer() as t:
        y_train = np.asarray(y_train, dtype=float)
        mean = float(np.mean(y_train))
        means = pd.Series(y_train).groupby(X_train[column].to_numpy()).mean()

    def predict(X):
        return means.reindex(X[column].to_numpy()).fillna(mean).to_numpy()

    return Fitted(predict, t.seconds, {"side": column, "global_mean": mean})


# Ridge strength of the bias terms of the linear content row (the bias row's middle
# value, fixed: the row tunes the strength of its feature ridge instead).
CONTENT_BIAS_REG = 10.0
CONTENT_ALPHAS = (1.0, 10.0, 100.0, 1000.0)


def known_offset(biases: BiasOnlyRegressor, columns) -> Callable:
    """``X -> global mean + the biases of the ids in columns`` (0 for an id unseen in training)."""
    tables = {biases.user_col: biases.user_bias_, biases.item_col: biases.item_bias_}

    def offset(X):
        total = np.full(len(X), biases.global_mean_)
        for column in columns:
            total += tables[column].reindex(X[column].to_numpy()).fillna(0.0).to_numpy()
        return total

    return offset


def _linear_content(dataset, seed, ctx):
    """Known-side biases plus a ridge regression of the rest on the side features.

    The biases of the ids a test row shares with training (both in warm, the
    user's in new-items, the item's in new-users) come from one joint ridge
    bias fit; :class:`sklearn.linear_model.Ridge` then fits what they leave
    over on the one-hot / normalised multi-hot user and item features
    (vocabularies from training; unseen values contribute nothing). Its
    ``alpha`` is chosen on validation; each candidate's fit seconds include
    the shared bias fit and encoding.
    """
    X_train, y_train = dataset.train
    columns = seen_sides(dataset.protocol)
    with Timer() as prep:
        biases = BiasOnlyRegressor(reg=CONTENT_BIAS_REG).fit(X_train, y_train)
        offset = known_offset(biases, columns)
        design = SparseDesign(dataset.features).fit(X_train)
        features = design.transform(X_train)
        target = np.asarray(y_train, dtype=float) - offset(X_train)
    info = {"biases": columns, "bias_reg": CONTENT_BIAS_REG, "n_columns": int(features.shape[1])}

    def candidates():
        for alpha in CONTENT_ALPHAS:
            with Timer() as t:
                ridge = Ridge(alpha=alpha).fit(features, target)
            def predict(X, ridge=ridge):
                return offset(X) + ridge.predict(design.transform(X))

            yield {"alpha": alpha}, Fitted(predict, prep.seconds + t.seconds, info)

    return best_on_validation(dataset, candidates())


ROWS = [
    Row("global-mean", "Global mean", "baseline", _global_mean),
    Row("bias", "Bias only (user + item + global)", "baseline", _bias_only,
        note="ridge strength chosen on validation from 1, 5, 10, 25"),
    Row("known-side-mean", "Known-side mean (the user's mean; the item's for new users)",
        "baseline", _known_side_mean,
        note="mean training rating of the user (warm, new-items) or of the item (new-users); "
             "the global mean for an id unseen in training"),
    Row("linear-content", "Linear content model (known biases + ridge on side features)",
        "baseline", _linear_content,
        note="the biases of the ids seen in training plus sklearn Ridge on one-hot / multi-hot "
             "side features; alpha chosen on validation from "
             f"{', '.join(f'{a:g}' for a in CONTENT_ALPHAS)}"),
]  # fmt: skip
