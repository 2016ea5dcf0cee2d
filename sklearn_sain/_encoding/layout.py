"""Reading the token layout of :class:`SAINEncoder` output.

The encoder names its output columns ``"user:<id column>"``, ``"item:<id column>"``
and ``"<role>:<field>[<slot>]"``. Those names are all the regressor needs to
rebuild the field structure, so ``make_pipeline(SAINEncoder(), SAINRegressor())``
works with nothing but the DataFrame passed between the steps.
"""

from __future__ import annotations

import numbers
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .ids import UNKNOWN_ID

_ID_COLUMN = re.compile(r"^(user|item):(?!.*\[\d+\]$)(.+)$")
_SLOT_COLUMN = re.compile(r"^(user|item):(.*)\[(\d+)\]$")
ATTRS_KEY = "sklearn_sain"


@dataclass(frozen=True)
class Field:
    role: str
    name: str
    width: int
    vocabulary_size: int

    @property
    def key(self) -> str:
        return f"{self.role}:{self.name}"


@dataclass(frozen=True)
class TokenLayout:
    """Field structure of an encoded table: id vocabularies and token fields."""

    columns: tuple
    n_users: int
    n_items: int
    fields: tuple

    @property
    def n_slots(self) -> int:
        return sum(f.width for f in self.fields)

    def to_json(self) -> dict:
        """The layout as plain JSON values (see :meth:`from_json`)."""
        return {
            "columns": list(self.columns),
            "n_users": int(self.n_users),
            "n_items": int(self.n_items),
            "fields": [[f.role, f.name, int(f.width), int(f.vocabulary_size)]
                       for f in self.fields],
        }

    @classmethod
    def from_json(cls, spec: dict) -> "TokenLayout":
        """The layout :meth:`to_json` wrote."""
        return cls(
            columns=tuple(str(c) for c in spec["columns"]),
            n_users=int(spec["n_users"]),
            n_items=int(spec["n_items"]),
            fields=tuple(Field(str(r), str(n), int(w), int(v)) for r, n, w, v in spec["fields"]),
        )

    def module_kwargs(self) -> dict:
        return dict(
            n_users=self.n_users,
            n_items=self.n_items,
            vocabulary_sizes=[f.vocabulary_size for f in self.fields],
            field_roles=[f.role for f in self.fields],
            field_widths=[f.width for f in self.fields],
        )

    def arrays(self, encoded: pd.DataFrame, dtype=np.int64):
        """Split an encoded table into ``users``, ``items`` and ``tokens`` integer arrays.

        Ids beyond the fitted vocabularies (an encoder refitted on other data)
        become the unknown id instead of indexing past an embedding table.
        ``dtype=np.int32`` halves the memory of a large table: every id of a
        vocabulary below 2**31 fits, and larger ones become the unknown id.
        The three arrays are views of one matrix.
        """
        values = id_matrix(encoded, dtype)
        limits = np.array(
            [self.n_users, self.n_items]
            + [f.vocabulary_size for f in self.fields for _ in range(f.width)],
            dtype=np.int64,
        )
        values[values >= limits] = UNKNOWN_ID
        return values[:, 0], values[:, 1], values[:, 2:]


def id_matrix(encoded: pd.DataFrame, dtype=np.int64) -> np.ndarray:
    """The token ids of an encoded table as a new int64 (or ``dtype``) array.

    SAINEncoder output (int32) takes the fast path. Anything else, such as
    a table that went through a merge and came back as floats with NaN, is
    checked column by column so that a bad id is reported by column and row
    instead of being truncated, wrapped around or failing inside numpy.
    With a narrower ``dtype``, ids past its range become its largest value
    (past any vocabulary), never wrapped around.
    """
    dtype = np.dtype(dtype)
    signed = [d for d in encoded.dtypes if isinstance(d, np.dtype) and d.kind == "i"]
    if len(signed) == encoded.shape[1] and all(d.itemsize <= dtype.itemsize for d in signed):
        return _non_negative(encoded.to_numpy(dtype=dtype, copy=True), encoded)
    if dtype != np.int64:
        # checked as int64 first, then narrowed without wrapping around
        return np.minimum(id_matrix(encoded), np.iinfo(dtype).max).astype(dtype)
    values = np.empty(encoded.shape, dtype=np.int64)
    for j in range(encoded.shape[1]):
        values[:, j] = _column_ids(encoded.iloc[:, j], encoded.columns[j], encoded.index)
    return _non_negative(values, encoded)


def _non_negative(values: np.ndarray, encoded: pd.DataFrame) -> np.ndarray:
    if (values < 0).any():
        j = int(np.flatnonzero((values < 0).any(axis=0))[0])
        row = encoded.index[int(np.argmax(values[:, j] < 0))]
        raise ValueError(
            f"Encoded column {encoded.columns[j]!r} holds a negative id at row {row!r}; "
            "ids must be >= 0"
        )
    return values


def _column_ids(column: pd.Series, name, index) -> np.ndarray:
    dtype = column.dtype
    if isinstance(dtype, np.dtype) and dtype.kind in "iu":
        # uint64 ids past the int64 range are beyond any vocabulary: unknown
        return np.minimum(column.to_numpy(), np.iinfo(np.int64).max).astype(np.int64)
    if isinstance(dtype, np.dtype) and dtype.kind == "f":
        floats = column.to_numpy(dtype=np.float64)
    else:
        values = column.to_numpy(dtype=object)
        missing = pd.isna(values)
        if missing.any():
            floats = np.where(missing, np.nan, 0.0)
        else:
            bad = [kind for kind in set(map(type, values))
                   if not issubclass(kind, numbers.Real) or issubclass(kind, (bool, np.bool_))]
            if bad:
                position = next(i for i, v in enumerate(values) if type(v) in bad)
                raise TypeError(
                    f"Encoded column {name!r}, row {index[position]!r}: token ids must be "
                    f"integers, got a value of type {bad[0].__name__}"
                )
            # ints past the float range are past any vocabulary too
            floats = np.array([min(v, 2**62) for v in values], dtype=np.float64)
    if np.isnan(floats).any():
        row = index[int(np.argmax(np.isnan(floats)))]
        raise ValueError(
            f"Encoded column {name!r} has a missing value at row {row!r}; encoded tables "
            "hold an id in every cell (0 for padding)"
        )
    whole = np.isfinite(floats) & (floats == np.floor(floats))
    if not whole.all():
        position = int(np.argmin(whole))
        raise ValueError(
            f"Encoded column {name!r} holds {float(floats[position])!r} at row "
            f"{index[position]!r}; token ids must be whole numbers"
        )
    return np.minimum(floats, 2.0**62).astype(np.int64)


def is_encoded(X) -> bool:
    """Whether ``X`` looks like :class:`SAINEncoder` output."""
    if not isinstance(X, pd.DataFrame) or X.shape[1] < 2:
        return False
    columns = [str(c) for c in X.columns]
    if not (
        _ID_COLUMN.match(columns[0]) and columns[0].startswith("user:")
        and _ID_COLUMN.match(columns[1]) and columns[1].startswith("item:")
    ):
        return False
    return all(_SLOT_COLUMN.match(c) for c in columns[2:])


def layout_of(encoded: pd.DataFrame, vocabulary_sizes: dict | None = None) -> TokenLayout:
    """Parse the layout of an encoded table.

    Vocabulary sizes come from ``vocabulary_sizes`` (the encoder's), else from
    the table's ``attrs``, else from the largest id present in the table.
    """
    columns = [str(c) for c in encoded.columns]
    if vocabulary_sizes is None:
        vocabulary_sizes = encoded.attrs.get(ATTRS_KEY, {}).get("vocabulary_sizes")
    observed = id_matrix(encoded).max(axis=0) if len(encoded) else np.zeros(len(columns))

    def size(key: str, positions: list) -> int:
        largest = int(max(observed[p] for p in positions)) + 1
        if vocabulary_sizes and key in vocabulary_sizes:
            return max(int(vocabulary_sizes[key]), largest)
        return max(largest, UNKNOWN_ID + 1)

    fields, order = [], []
    for position, column in enumerate(columns[2:], start=2):
        role, name, slot = _SLOT_COLUMN.match(column).groups()
        key = f"{role}:{name}"
        if not order or order[-1][0] != key:
            if key in (k for k, _ in order):
                raise ValueError(f"Encoded slots of field {key!r} are not contiguous")
            order.append((key, []))
        if int(slot) != len(order[-1][1]):
            raise ValueError(f"Encoded column {column!r} is out of order: expected slot {len(order[-1][1])}")
        order[-1][1].append(position)
    for key, positions in order:
        role, name = key.split(":", 1)
        fields.append(Field(role, name, len(positions), size(key, positions)))
    roles = [f.role for f in fields]
    if roles != sorted(roles, key=lambda role: role != "user"):
        raise ValueError("Encoded user fields must come before item fields")
    return TokenLayout(
        columns=tuple(columns),
        n_users=size(columns[0], [0]),
        n_items=size(columns[1], [1]),
        fields=tuple(fields),
    )
