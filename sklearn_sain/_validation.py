"""Checks of the regressor's inputs beside the table: targets, weights, numbers.

Tables and their cells are the encoder's to check (:mod:`sklearn_sain._encoding.table`,
:mod:`sklearn_sain._encoding.cells`).
"""

import math
import numbers

import numpy as np
from sklearn.utils import check_scalar
from sklearn.utils.validation import _check_sample_weight, check_array, column_or_1d

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


def check_target(y, n_rows=None, name="y", estimator="SAINRegressor"):
    """``y`` as a finite float64 1-D array with one value per row of ``X``."""
    if y is None:
        raise ValueError(f"{estimator} requires y to be passed, but the target {name} is None")
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
