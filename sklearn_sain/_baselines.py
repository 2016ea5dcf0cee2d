"""Reference points for SAIN: the global mean and a regularised bias-only model."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, RegressorMixin, _fit_context
from sklearn.utils.validation import check_is_fitted

from ._params import count, non_negative
from ._validation import check_target


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

    The classic baseline of collaborative filtering (Koren's baseline
    predictors): anything that does not beat it has learned nothing about
    which user likes which item. :class:`SAINRegressor` starts its biases from
    this fit (``bias_init="ridge"``), and the benchmarks report it beside SAIN.
    A user or item unseen in ``fit`` gets a bias of 0.

    Parameters
    ----------
    user_col : str, default="user_id"
        Column of ``X`` holding the user ids.
    item_col : str, default="item_id"
        Column of ``X`` holding the item ids.
    reg : float, default=10.0
        Ridge strength: a bias is shrunk towards zero as if ``reg`` extra
        ratings at the global mean were observed.
    n_sweeps : int, default=10
        Alternating updates of the item, then the user biases.

    Attributes
    ----------
    global_mean_ : float
        Mean training rating.
    user_bias_ : pandas.Series
        Bias of each user id seen in ``fit``, indexed by the id.
    item_bias_ : pandas.Series
        Bias of each item id seen in ``fit``, indexed by the id.

    See Also
    --------
    SAINRegressor : The SAIN model, whose biases start from this fit.

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn_sain import BiasOnlyRegressor
    >>> X = pd.DataFrame({"user_id": [1, 1, 2, 2], "item_id": ["a", "b", "a", "b"]})
    >>> model = BiasOnlyRegressor(reg=0.0).fit(X, [5.0, 3.0, 4.0, 2.0])
    >>> model.predict(pd.DataFrame({"user_id": [1, 3], "item_id": ["b", "a"]})).round(2)
    array([3. , 4.5])
    """

    _parameter_constraints = {
        "user_col": [str],
        "item_col": [str],
        "reg": [non_negative()],
        "n_sweeps": [count()],
    }

    def __init__(self, *, user_col="user_id", item_col="item_id", reg=10.0, n_sweeps=10):
        self.user_col = user_col
        self.item_col = item_col
        self.reg = reg
        self.n_sweeps = n_sweeps

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Fit the global mean and the ridge biases of the users and items of ``X``.

        Parameters
        ----------
        X : pandas.DataFrame
            Ratings, with the ``user_col`` and ``item_col`` columns (other
            columns are ignored).
        y : array-like of shape (n_rows,)
            The ratings.

        Returns
        -------
        self : BiasOnlyRegressor
            The fitted model.
        """
        users, items = self._ids(X)
        y = check_target(y, len(users), estimator="BiasOnlyRegressor")
        for column, ids in ((self.user_col, users), (self.item_col, items)):
            missing = np.flatnonzero(pd.isna(ids))
            if len(missing):
                raise ValueError(f"Column {column!r} of X has a missing id at row {missing[0]}; "
                                 "every training rating needs a user and an item")
        user_codes, user_ids = pd.factorize(users)
        item_codes, item_ids = pd.factorize(items)
        self.global_mean_, user_bias, item_bias = ridge_biases(
            user_codes, item_codes, y, len(user_ids), len(item_ids), reg=self.reg,
            n_sweeps=self.n_sweeps,
        )
        self.user_bias_ = pd.Series(user_bias, index=user_ids, name="user_bias")
        self.item_bias_ = pd.Series(item_bias, index=item_ids, name="item_bias")
        return self

    def predict(self, X):
        """Predict ratings: the global mean plus each row's user and item biases.

        Parameters
        ----------
        X : pandas.DataFrame
            Rows with the ``user_col`` and ``item_col`` columns; an id unseen in
            ``fit`` (or missing) contributes a bias of 0.

        Returns
        -------
        y_pred : ndarray of shape (n_rows,)
            Predicted ratings.
        """
        check_is_fitted(self, "global_mean_")
        users, items = self._ids(X)
        user = self.user_bias_.reindex(users).fillna(0.0).to_numpy()
        item = self.item_bias_.reindex(items).fillna(0.0).to_numpy()
        return self.global_mean_ + user + item

    def _ids(self, X):
        """The user and item id columns of ``X``, as arrays."""
        if not isinstance(X, pd.DataFrame):
            raise TypeError(
                f"BiasOnlyRegressor needs a pandas DataFrame with the columns "
                f"{self.user_col!r} and {self.item_col!r}; got {type(X).__name__}"
            )
        for column in (self.user_col, self.item_col):
            if column not in X.columns:
                raise ValueError(f"X has no column {column!r} (columns: {list(X.columns)}); set "
                                 f"{'user_col' if column == self.user_col else 'item_col'} "
                                 "to the column that holds the ids")
        return X[self.user_col].to_numpy(), X[self.item_col].to_numpy()

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # X is a table of ids, read by column name: not a numeric 2-D array
        tags.input_tags.two_d_array = False
        tags.input_tags.categorical = True
        tags.input_tags.string = True
        return tags
