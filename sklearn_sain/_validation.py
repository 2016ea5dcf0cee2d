"""Small input and parameter checks shared by the SAIN estimators."""

import datetime
import math
import numbers

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.utils import check_scalar
from sklearn.utils.validation import _check_sample_weight, check_array, column_or_1d

_ROW_TYPES = (list, tuple, np.ndarray)


def check_int_param(value, name, *, min_value=1, allow_none=False):
    """Raise ``ValueError`` unless ``value`` is an int >= ``min_value``."""
    if allow_none and value is None:
        return
    if (
        not isinstance(value, numbers.Integral)
        or isinstance(value, (bool, np.bool_))
        or value < min_value
    ):
        expected = f"an int >= {min_value}" + (" or None" if allow_none else "")
        raise ValueError(f"{name} must be {expected}, got {value!r}.")


def check_number(value, name, kind, *, allow_bool=False, **bounds):
    """``sklearn.utils.check_scalar`` that also refuses bools and NaN or infinity.

    ``True`` is an ``int`` to Python, so ``max_epochs=True`` would otherwise
    pass for 1; a NaN passes every ``<``/``>`` bound check and would only
    surface later as a NaN loss.
    """
    if not allow_bool and isinstance(value, (bool, np.bool_)):
        expected = "an int" if kind is numbers.Integral else "a number"
        raise TypeError(f"{name} must be {expected}, got the bool {value!r}.")
    if kind is numbers.Real and isinstance(value, numbers.Real) and not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}.")
    check_scalar(value, name, kind, **bounds)


def check_bool(value, name):
    """Raise ``TypeError`` unless ``value`` is a bool: ``"no"`` is truthy."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be a bool (True or False), got {value!r}.")


class TrainingDivergedError(ValueError, FloatingPointError):
    """Training produced a non-finite loss or non-finite weights.

    A ``ValueError`` because the cause is almost always a parameter
    (``learning_rate``) or extreme data, and a ``FloatingPointError`` for
    code that catches what the training loop raises.
    """


def check_target(y, n_rows=None, name="y"):
    """``y`` as a finite float64 1-D array with one value per row of ``X``."""
    if y is None:
        raise ValueError(f"SAINRegressor requires y to be passed, but the target {name} is None")
    # not np.ndim: array-likes that refuse numpy functions must still pass
    scalar = isinstance(y, (numbers.Number, np.generic)) or getattr(y, "ndim", 1) == 0
    if scalar or isinstance(y, (str, bytes, dict, set, frozenset)):
        raise TypeError(f"{name} must be a 1-D array-like of numbers, got {y!r:.80}")
    try:
        y = check_array(
            y, ensure_2d=False, dtype=np.float64, ensure_all_finite=False,
            ensure_min_samples=0, input_name=name,
        )
    except (TypeError, ValueError) as exc:
        if "convert" not in str(exc) and "real number" not in str(exc):
            raise
        raise type(exc)(f"{name} must hold numbers (ratings): {exc}") from exc
    y = column_or_1d(y, warn=True)
    if n_rows is not None and y.shape[0] != n_rows:
        raise ValueError(f"{name} has {y.shape[0]} values but X has {n_rows} rows")
    bad = np.flatnonzero(~np.isfinite(y))
    if len(bad):
        what = "NaN" if np.isnan(y[bad[0]]) else "infinity"
        raise ValueError(
            f"{name} contains {what} at position {bad[0]}; every rating must be a finite number"
        )
    return y


def check_weights(sample_weight, n_rows: int) -> np.ndarray:
    """``sample_weight`` as a finite, non-negative float64 array with one value per row."""
    weight = _check_sample_weight(sample_weight, np.empty((n_rows, 0)), dtype=np.float64,
                                  ensure_non_negative=True)  # fmt: skip
    if not np.isfinite(weight).all():
        raise ValueError("sample_weight must be finite")
    return weight


def target_stats(y):
    """Mean and spread used to standardise ``y``, safe for any finite scale.

    ``np.std`` squares the values and overflows past about 1e154, and an
    absolute "is constant" threshold misreads targets around 1e-200 as
    constant. Measuring from the minimum in units of the range keeps every
    intermediate in [0, 1], and keeps the precision of offset targets such as
    1e15 + small ratings.
    """
    low, high = float(np.min(y)), float(np.max(y))
    if low == high:
        return low, abs(low) if low else 1.0
    with np.errstate(over="ignore"):
        spread = high - low
    if not np.isfinite(spread):
        # the range itself overflows: measure in units of half the range; the
        # std of values in [0, 1] is at most 1/2, so doubling it stays finite
        half = high / 2 - low / 2
        unit = (y / 2 - low / 2) / half
        step = float(np.mean(unit)) * half
        return low + step + step, float(np.std(unit)) * 2 * half
    unit = (y - low) / spread
    scale = float(np.std(unit)) * spread
    # the spread of subnormal targets can round to zero: any positive unit will do
    return low + float(np.mean(unit)) * spread, scale if scale > 0 else spread


def standardise(y, mean, scale):
    """``(y - mean) / scale`` without overflowing when ``y`` spans the float range."""
    with np.errstate(over="ignore", invalid="ignore"):
        z = (y - mean) / scale
        if not np.isfinite(z).all():
            z = np.where(np.isfinite(z), z, y / scale - mean / scale)
    return z


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
LIST_TYPES = (list, tuple, set, frozenset, np.ndarray, pd.Series)
MISSING_TYPES = (type(None), type(pd.NA), type(pd.NaT))
SCALAR_TYPES = (
    numbers.Real,
    np.bool_,
    np.datetime64,
    np.timedelta64,
    datetime.date,
    datetime.timedelta,
)
COMPLEX_TYPES = (complex, np.complexfloating)


class BadCell(Exception):
    """A cell value that cannot be a token; the caller adds where it is."""

    def __init__(self, value, inside_list=False):
        super().__init__(value)
        self.value, self.inside_list = value, inside_list


def cell_error(error, column, row):
    """The exception to raise for a :class:`BadCell` at ``column``, ``row``."""
    if isinstance(error.value, COMPLEX_TYPES):
        return ValueError(f"Complex data not supported (column {column!r}, row {row!r}).")
    where = " inside a list-like cell" if error.inside_list else ""
    return TypeError(
        f"Column {column!r}, row {row!r}: unsupported value of type "
        f"{type(error.value).__name__}{where}; argument must be a string or a "
        "number, or a list of them."
    )


def scan_cell_types(values, allow_lists):
    """Classify the cells of a 1-D object array.

    Returns ``(has_list, has_str, has_scalar, bad)``: whether some cell is
    list-like, a string, or another scalar or missing value, and the position
    of the first unsupported cell (None when all are supported).
    """
    has_list = has_str = has_scalar = False
    bad = set()
    for kind in set(map(type, values)):
        if issubclass(kind, LIST_TYPES) and allow_lists:
            has_list = True
        elif issubclass(kind, str):
            has_str = True
        elif issubclass(kind, MISSING_TYPES) or (
            issubclass(kind, SCALAR_TYPES) and not issubclass(kind, COMPLEX_TYPES)
        ):
            has_scalar = True
        else:
            bad.add(kind)
    position = next(i for i, v in enumerate(values) if type(v) in bad) if bad else None
    return has_list, has_str, has_scalar, position
