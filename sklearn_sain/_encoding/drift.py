"""A warning for columns whose values changed type since ``fit``.

A model fitted on integer ids and given the same ids as strings (a CSV read
with another dtype, ids cast for a join) sees only unknown ids: every row
becomes a new user and item, and the predictions change without an error.
When most of a column's values are unseen, their type differs from what
``fit`` saw and, written as text, they are values ``fit`` saw, that is what
happened.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

# share of a column's distinct values that must be unseen before its type is compared
_UNSEEN_SHARE = 0.5


def _kind(values) -> str:
    return pd.api.types.infer_dtype(values, skipna=True)


def warn_on_type_drift(vocabulary: pd.Index, uniques, found: np.ndarray, column: str) -> None:
    """Warn if most distinct values of ``column`` are unseen and of another type than in fit.

    ``uniques`` are the column's distinct values, ``found`` their positions
    in ``vocabulary`` (-1: unseen).
    """
    unseen = np.asarray(found) < 0
    if not len(unseen) or unseen.mean() <= _UNSEEN_SHARE or not len(vocabulary):
        return
    fitted_kind = _kind(vocabulary[:1000])
    given = pd.Index(uniques, dtype=object)[unseen][:1000]
    given_kind = _kind(given)
    if given_kind == fitted_kind or "mixed" in given_kind + fitted_kind:
        return
    # and they are the fitted values written another way ("7" for 7): values that
    # are merely new, or dropped from the vocabulary in fit, do not count
    as_text = pd.Index(vocabulary.astype(str), dtype=object)
    if np.mean(as_text.get_indexer(pd.Index(given.astype(str), dtype=object)) >= 0) < 0.5:
        return
    warnings.warn(
        f"Column {column!r} holds {given_kind} values where fit saw {fitted_kind} ones: "
        f"{unseen.mean():.0%} of its distinct values are unseen and map to the unknown id or "
        f"value (for an id column, every such row is a new user or item). Convert the column "
        f"to the type it had in fit.",
        UserWarning,
        stacklevel=3,
    )
