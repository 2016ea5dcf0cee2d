"""What a fitted :class:`SAINRegressor` answers: predict, explain, recommend.

Each encodes its input as ``fit`` did (:mod:`sklearn_sain._regressor_input`)
and asks the :class:`~sklearn_sain._fitted.FittedSAIN` that ``fit`` left,
under the estimator's thread policy. The fitted attributes that the class
documents (``module_``, ``device_``, ``catalog_``, ...) are views of it.
"""

from __future__ import annotations

import torch
from sklearn.utils.validation import check_is_fitted

from . import _explain, _recommend
from ._threads import torch_threads


class RegressorAnswers:
    """``predict``, ``explain``, ``recommend`` and the fitted-attribute views of SAINRegressor."""

    def predict(self, X):
        """Predict ratings.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_columns)
            Rows in the format seen in :meth:`fit`. Unknown users, items and
            feature values are allowed.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
            Predicted ratings, clipped to the training range when
            ``clip_predictions`` is True.
        """
        encoded = self._encode(X, fit=False)
        with torch_threads(self.n_threads, n_rows=len(encoded)):
            return self._fitted.predict(encoded, self.clip_predictions)

    def explain(self, X, *, encoder=None):
        """Attention between named feature tokens, and alpha_CF, for each row of `X`.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_columns)
            Rows in the format seen in :meth:`fit`; a few rows, as the
            attention table grows with n_samples * n_heads * n_tokens ** 2.
        encoder : SAINEncoder or None, default=None
            For a model fitted on encoded input (a pipeline step), the fitted
            encoder that produced `X`, to name tokens and ids; without it they
            read as encoded ids (``"genres=#5"``).

        Returns
        -------
        explanation : Explanation
            ``attention``: a tidy DataFrame of per-head weights between the
            row's tokens (``"occupation=writer"``), padding excluded, with the
            keys kept by top-K; ``integration``: the prediction and alpha_CF
            of the user and the item per row (0 for ids unseen in fit).

        Examples
        --------
        >>> from sklearn_sain import SAINRegressor
        >>> from sklearn_sain.datasets import make_ratings
        >>> X, y = make_ratings(n_users=30, n_items=20, n_ratings=300, random_state=0)
        >>> model = SAINRegressor(max_epochs=1, device="cpu", random_state=0).fit(X, y)
        >>> explanation = model.explain(X.head(2))
        >>> list(explanation.integration.columns)
        ['row', 'user', 'item', 'prediction', 'alpha_user', 'alpha_item']
        """
        encoded = self._encode(X, fit=False)
        predictions = self.predict(X)
        with torch_threads(self.n_threads, n_rows=len(encoded)):
            return _explain.explain(self._fitted, self.encoder_, X, encoded, predictions,
                                    encoder=encoder)  # fmt: skip

    def recommend(self, users=None, n=10, *, items=None, exclude_seen=True,
                  user_features=None, item_features=None, encoder=None, rank_by=None):
        """The top `n` items for each user, by the choice head or by predicted rating.

        Parameters
        ----------
        users : id, list of ids or None, default=None
            Users to recommend for; None means every user seen in fit. Users
            unseen in fit need their features in `user_features`.
        n : int, default=10
            Items per user (fewer when fewer candidates remain).
        items : list of ids or None, default=None
            Candidate items; None means every item seen in fit (with its
            features from its last row in fit) and those in `item_features`.
        exclude_seen : bool, default=True
            Leave out the items a user rated in the data passed to fit.
        user_features, item_features : DataFrame or None, default=None
            Feature rows (the id column and that side's feature columns) for
            users or items unseen in fit; they also override the features
            of known ones.
        encoder : SAINEncoder or None, default=None
            For a model fitted on encoded input, the encoder that produced
            it; without it ids are encoded ids.
        rank_by : {"choice", "rating"} or None, default=None
            ``"choice"`` ranks by the choice head (which items the user is
            likely to rate: what a top-N list should show); ``"rating"`` by
            the rating :meth:`predict` gives the pair (how much the user
            would like an item once rated). None: ``"choice"`` when the model
            was fitted with ``choice_head=True``, else ``"rating"``. Ranks
            come from unclipped scores, equal scores ordered by the
            candidates' order.

        Returns
        -------
        recommendations : DataFrame
            Columns ``user``, ``rank`` (1 = best), ``item`` and ``score``,
            sorted by user then rank. ``score`` is the choice head's logit
            (higher is likelier; only its order within a user means
            something) or, with ``rank_by="rating"``, the rating
            :meth:`predict` gives the pair.

        Examples
        --------
        >>> from sklearn_sain import SAINRegressor
        >>> from sklearn_sain.datasets import make_ratings
        >>> X, y = make_ratings(n_users=30, n_items=20, n_ratings=300, random_state=0)
        >>> model = SAINRegressor(max_epochs=1, device="cpu", random_state=0).fit(X, y)
        >>> model.recommend([0, 1], n=3).shape
        (6, 4)
        """
        # every user against every candidate item: large work, the thread policy applies
        check_is_fitted(self, "module_")
        with torch_threads(self.n_threads):
            return _recommend.recommend(self._fitted, self.encoder_, self.clip_predictions,
                                        users, n, items=items, exclude_seen=exclude_seen,
                                        user_features=user_features,
                                        item_features=item_features, encoder=encoder,
                                        rank_by=rank_by)  # fmt: skip

    # ------------------------------------------------------ fitted attributes
    # what fit learned is held by a FittedSAIN; these are the documented views of it

    @property
    def module_(self):
        return self._fitted.module

    @property
    def device_(self) -> torch.device:
        return self._fitted.device

    @property
    def layout_(self):
        return self._fitted.layout

    @property
    def target_mean_(self) -> float:
        return self._fitted.target_mean

    @property
    def target_scale_(self) -> float:
        return self._fitted.target_scale

    @property
    def target_range_(self) -> tuple:
        return self._fitted.target_range

    @property
    def catalog_(self):
        catalog = self._fitted.catalog
        if catalog is None:  # a model saved in format version 1
            raise AttributeError("This model has no catalog (it was saved by an older "
                                 "sklearn_sain)")
        return catalog
