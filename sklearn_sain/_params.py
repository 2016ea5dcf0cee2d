"""The building blocks of the estimators' parameter tables.

Each estimator declares its parameters once, in its ``_parameter_constraints``
class attribute, which scikit-learn's own validation reads
(``BaseEstimator._validate_params``, run by ``@_fit_context`` at the start of
``fit``): every invalid parameter then raises the same
:class:`~sklearn.utils._param_validation.InvalidParameterError` (both a
``ValueError`` and a ``TypeError``), whose message names the parameter, the
estimator and what it accepts. What a table cannot say (one parameter against
another, the content of a list) is checked beside it and raises the same
error, through :func:`invalid`.
"""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
from sklearn.utils._param_validation import InvalidParameterError, Interval

__all__ = ["InvalidParameterError", "count", "invalid", "non_negative", "positive", "share"]


class _Number(Interval):
    """:class:`~sklearn.utils._param_validation.Interval` that refuses bools.

    ``True`` is an ``int`` to Python, so ``max_epochs=True`` would otherwise
    pass for 1 (scikit-learn's intervals accept it): a slip of that kind
    should fail at ``fit``.
    """

    def is_satisfied_by(self, val):
        return not isinstance(val, (bool, np.bool_)) and super().is_satisfied_by(val)


def count(low: int = 1) -> Interval:
    """An int ``>= low`` (not a bool)."""
    return _Number(Integral, low, None, closed="left")


def share(closed: str = "left") -> Interval:
    """A number between 0 and 1, ``[0, 1)`` unless ``closed`` says otherwise."""
    return _Number(Real, 0, 1, closed=closed)


def non_negative() -> Interval:
    """A finite number ``>= 0``."""
    return _Number(Real, 0, None, closed="left")


def positive() -> Interval:
    """A finite number ``> 0``."""
    return _Number(Real, 0, None, closed="neither")


def invalid(estimator, name: str, expected: str, value) -> InvalidParameterError:
    """The error of the tables, for a check the tables cannot express."""
    return InvalidParameterError(
        f"The {name!r} parameter of {type(estimator).__name__} must be {expected}. "
        f"Got {value!r} instead."
    )
