"""How :class:`SAINRegressor` reads ``X``: a raw table through its encoder, or encoded rows."""

from __future__ import annotations

import pandas as pd
from sklearn.base import clone
from sklearn.utils.validation import check_is_fitted, validate_data

from ._encoding.encoder import SAINEncoder
from ._encoding.layout import is_encoded


def default_encoder() -> SAINEncoder:
    """The encoder :class:`SAINRegressor` clones when its ``encoder`` is None.

    ``min_ids=2``: a feature value held by one user or item only maps to the
    unknown value, whose embedding is then trained as users and items that
    arrive after ``fit`` (with values never seen) will use it; without it the
    content path of new items learned the one-item values and overfit.
    """
    return SAINEncoder(min_ids=2)


class RegressorInput:
    """``_encode`` and ``_encode_validation`` of :class:`SAINRegressor`.

    A raw table is encoded by a clone of the ``encoder`` parameter, fitted in
    ``fit`` (``encoder_``); SAINEncoder output (a pipeline step's) is used as
    it is, and ``encoder_`` is None.
    """

    def _encode(self, X, *, fit: bool):
        """Encoded table for ``X`` (raw or already encoded)."""
        if fit:
            if is_encoded(X):
                self.encoder_ = None
                encoded = X
                if not len(encoded):
                    raise ValueError("X has 0 rows; at least one rating is required to fit")
            else:
                self.encoder_ = clone(self.encoder if self.encoder is not None else
                                      default_encoder())
                encoded = self.encoder_.fit_transform(X)
            validate_data(self, X, skip_check_array=True, reset=True)
            return encoded
        check_is_fitted(self, "module_")
        if self.encoder_ is not None:
            encoded = self.encoder_.transform(X)
        elif is_encoded(X):
            encoded = X
        else:
            raise ValueError(
                "This SAINRegressor was fitted on SAINEncoder output; pass the output of the "
                "same encoder (or use a Pipeline) instead of a raw table"
            )
        validate_data(self, X, skip_check_array=True, reset=False)
        columns = self._fitted.layout.columns
        if tuple(str(c) for c in encoded.columns) != columns:
            raise ValueError(
                "The encoded columns differ from those seen in fit: "
                f"expected {list(columns)}, got {list(encoded.columns)}"
            )
        return encoded

    def _encode_validation(self, X_val, encoded: pd.DataFrame):
        """``eval_set``'s ``X_val`` encoded as ``encoded``, the training table, was."""
        if self.encoder_ is not None:
            return self.encoder_.transform(X_val)
        if not is_encoded(X_val) or [str(c) for c in X_val.columns] != [str(c) for c in
                                                                       encoded.columns]:
            raise ValueError("eval_set X must be encoded by the same SAINEncoder as X")
        return X_val
