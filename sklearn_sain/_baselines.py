"""Reference points for SAIN: the global mean and a regularised bias-only model."""

from __future__ import annotations

import numbers

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils import check_scalar
from sklearn.utils.validation import check_is_fitted


def ridge_biases(users, items, y, n_users: int, n_items: int, *, reg: float, n_sweeps: int = 10):
    """Global mean and ridge-regularised user and item biases of ratings ``y``.

    Alternating exact updates of item then user biases (Koren's baseline
    predictors): a bias is shrunk towards zero as if ``reg`` extra ratings at
    the global mean were observed, so an id without ratings gets 0. ``users``
    and ``items`` are integer codes below ``n_users`` and ``n_items``.

    Returns
    -------
    global_mean : float
    user_bias : ndarray of shape (n_users,)
    item_bias : ndarray of shape (n_items,)
    """
    y = np.asarray(y, dtype=np.float64)
    global_mean = float(y.mean()) if len(y) else 0.0
    residual = y - global_mean
    user_bias, item_bias = np.zeros(n_users), np.zeros(n_items)
    user_counts = np.bincount(users, minlength=n_users) + reg
    item_counts = np.bincount(items, minlength=n_items) + reg
    # an id without ratings has a count of 0 + reg; guard reg == 0 too
    user_counts, item_counts = np.maximum(user_counts, 1e-12), np.maximum(item_counts, 1e-12)
    for _ in range(n_sweeps):
        item_bias = np.bincount(items, residual - user_bias[users], n_items) / item_counts
        user_bias = np.bincount(users, residual - item_bias[items], n_users) / user_counts
    return global_mean, user_bias, item_bias


class BiasOnlyRegressor(RegressorMixin, BaseEstimator):
    """Rating = global mean + user bias + item bias, fitted by alternating ridge sweeps.

    The classic baseline of collaborative filtering: anything that does not
    beat it has learned nothing about user-item fit. Unknown users and items
    get a zero bias.

    Parameters
    ----------
    user_col, item_col : str, default="user_id", "item_id"
        Id columns of the input DataFrame.
    reg : float, default=10.0
        Ridge strength: a bias is shrunk towards zero as if ``reg`` extra
        ratings of value zero were observed.
    n_sweeps : int, default=10
        Alternating updates of item then user biases.

    Attributes
    ----------
    global_mean_ : float
    user_bias_ : pandas.Series
        Bias per known user id.
    item_bias_ : pandas.Series
        Bias per known item id.
    """

    def __init__(self, *, user_col="user_id", item_col="item_id", reg=10.0, n_sweeps=10):
        self.user_col = user_col
        self.item_col = item_col
        self.reg = reg
        self.n_sweeps = n_sweeps

    def fit(self, X, y):
        check_scalar(self.reg, "reg", numbers.Real, min_val=0.0)
        check_scalar(self.n_sweeps, "n_sweeps", numbers.Integral, min_val=1)
        y = np.asarray(y, dtype=np.float64)
        users, self._user_ids = pd.factorize(X[self.user_col])
        items, self._item_ids = pd.factorize(X[self.item_col])
        self.global_mean_, user_bias, item_bias = ridge_biases(
            users, items, y, len(self._user_ids), len(self._item_ids), reg=self.reg,
            n_sweeps=self.n_sweeps,
        )
        self.user_bias_ = pd.Series(user_bias, index=self._user_ids)
        self.item_bias_ = pd.Series(item_bias, index=self._item_ids)
        return self

    def predict(self, X):
        check_is_fitted(self, "global_mean_")
        user = self.user_bias_.reindex(X[self.user_col]).fillna(0.0).to_numpy()
        item = self.item_bias_.reindex(X[self.item_col]).fillna(0.0).to_numpy()
        return self.global_mean_ + user + item
