"""What the encoder accepts as a table: DataFrames, 2-D arrays, lists of rows; column specs.

A table is refused with the error scikit-learn's own checks give (sparse
input, 1-D input, 3-D input), and read as objects otherwise, so that each
cell is judged by :mod:`.cells` rather than cast by numpy.
"""

import numbers

import numpy as np
import pandas as pd
import scipy.sparse as sp

_ROW_TYPES = (list, tuple, np.ndarray)


def is_column_spec(value):
    """Whether ``value`` can name a column: a str label or an int position."""
    return isinstance(value, str) or (
        isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))
    )


def check_2d(X, estimator_name):
    """Return ``X`` as a DataFrame or a 2-D ndarray, without copying it.

    DataFrames are returned unchanged so that column dtypes (str, category,
    nullable integers) survive. Other array-likes go through ``np.asarray``;
    a list of rows whose cells are lists (ragged or not) becomes a 2-D object
    array so that each cell keeps its list.
    """
    if sp.issparse(X):
        raise TypeError(
            f"Sparse data was passed to {estimator_name}, but dense data is "
            "required: pass a pandas DataFrame or a dense 2-D array."
        )
    if isinstance(X, pd.DataFrame):
        if X.columns.has_duplicates:
            duplicated = X.columns[X.columns.duplicated()].unique().tolist()
            raise ValueError(
                f"X has duplicate column names {duplicated}; column names must be "
                "unique."
            )
        if any(getattr(dtype, "kind", "") == "c" for dtype in X.dtypes):
            raise ValueError("Complex data not supported in X.")
        return X
    if hasattr(X, "__array__"):
        array = np.asarray(X)
    else:
        array = _sequence_to_array(X)
    if array.ndim == 0:
        raise ValueError(
            f"Expected 2D array, got scalar array instead: array={array!r}."
        )
    if array.ndim == 1:
        raise ValueError(
            "Expected 2D array, got 1D array instead. Reshape your data either "
            "using array.reshape(-1, 1) if your data has a single feature or "
            "array.reshape(1, -1) if it contains a single sample."
        )
    if array.ndim > 2:
        raise ValueError(
            f"Found array with dim {array.ndim}. {estimator_name} expected a 2-D "
            "table (rows x columns)."
        )
    if array.dtype.kind == "c":
        raise ValueError("Complex data not supported in X.")
    return array


def _sequence_to_array(X):
    try:
        array = np.asarray(X)
    except (ValueError, TypeError):
        array = None
    # numpy turns list cells of equal length into a third axis and stringifies
    # mixed int/str rows; both lose what the caller meant, so rebuild the
    # table cell by cell as objects in those cases.
    if array is not None and array.ndim <= 2 and not (
        array.ndim == 2 and array.dtype.kind in "US"
    ):
        return array
    rows = list(X)
    if not all(isinstance(row, _ROW_TYPES) for row in rows):
        if array is None:
            raise ValueError("X must be a 2-D array-like (a list of rows).")
        return array
    widths = {len(row) for row in rows}
    if len(widths) > 1:
        raise ValueError(
            f"All rows of X must have the same length, got lengths {sorted(widths)}."
        )
    table = np.empty((len(rows), widths.pop() if widths else 0), dtype=object)
    for i, row in enumerate(rows):
        for j, value in enumerate(row):
            table[i, j] = value
    return table


def check_feature_names_in(estimator, input_features):
    """Input feature names for ``get_feature_names_out``.

    Mirrors scikit-learn's convention: ``feature_names_in_`` when fitted on
    named columns, else ``x0, x1, ...``; explicit ``input_features`` must match
    what was seen in ``fit``.
    """
    fitted = getattr(estimator, "feature_names_in_", None)
    n_features = estimator.n_features_in_
    if input_features is None:
        if fitted is not None:
            return fitted
        return np.asarray([f"x{i}" for i in range(n_features)], dtype=object)
    input_features = np.asarray(input_features, dtype=object)
    if fitted is not None and not np.array_equal(fitted, input_features):
        raise ValueError("input_features is not equal to feature_names_in_")
    if len(input_features) != n_features:
        raise ValueError(
            "input_features should have length equal to number of features "
            f"({n_features}), got {len(input_features)}"
        )
    return input_features


# Cell values a token can be made of; anything else is refused with the
# TypeError wording that scikit-learn's own checks look for.
