"""Reference points for SAIN: the global mean and a regularised bias-only model."""

from __future__ import annotations

import numbers

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils import check_scalar
from sklearn.utils.validation import check_is_fitted


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
        self.global_mean_ = float(y.mean())
        residual = y - self.global_mean_
        user_bias = np.zeros(len(self._user_ids))
        item_bias = np.zeros(len(self._item_ids))
        user_counts = np.bincount(users, minlength=len(user_bias)) + self.reg
        item_counts = np.bincount(items, minlength=len(item_bias)) + self.reg
        for _ in range(self.n_sweeps):
            item_bias = np.bincount(items, residual - user_bias[users], len(item_bias)) / item_counts
            user_bias = np.bincount(users, residual - item_bias[items], len(user_bias)) / user_counts
        self.user_bias_ = pd.Series(user_bias, index=self._user_ids)
        self.item_bias_ = pd.Series(item_bias, index=self._item_ids)
        return self

    def predict(self, X):
        check_is_fitted(self, "global_mean_")
        user = self.user_bias_.reindex(X[self.user_col]).fillna(0.0).to_numpy()
        item = self.item_bias_.reindex(X[self.item_col]).fillna(0.0).to_numpy()
        return self.global_mean_ + user + item
