"""The cells the encoder accepts: scalars, missing values and (for features) lists of them.

A cell of another type (a dict, a complex number, a nested list) is refused
with a ``TypeError`` that names its column and row.
"""

import datetime
import numbers

import numpy as np
import pandas as pd

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
