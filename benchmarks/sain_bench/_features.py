"""Feature codings for the peers: sparse one-hot / multi-hot rows and padded integer codes.

Vocabularies are learned on the training split only; values first met in
validation or test rows are dropped (an all-zero block, or the "unknown" code).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp


def _is_missing(value) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA


def cell_values(value) -> list:
    """The values of one cell: a list for multi-valued cells, else zero or one value."""
    if isinstance(value, (list, tuple, set, np.ndarray)):
        return [v for v in value if not _is_missing(v)]
    return [] if _is_missing(value) else [value]


class FieldCoder:
    """Vocabulary of one column, fitted on training cells; code 0 is "none / unknown"."""

    def __init__(self, name: str):
        self.name = name

    def fit(self, column: pd.Series) -> "FieldCoder":
        values = {}
        width = 0
        for cell in column:
            items = cell_values(cell)
            width = max(width, len(items))
            for v in items:
                values.setdefault(v, None)
        try:
            ordered = sorted(values)
        except TypeError:
            ordered = list(values)
        self.index_ = {v: k + 1 for k, v in enumerate(ordered)}
        self.size_ = len(ordered) + 1
        self.width_ = max(width, 1)
        is_list = lambda c: isinstance(c, (list, tuple, set, np.ndarray))  # noqa: E731
        self.multi_ = bool(column.map(is_list).any())
        return self

    def codes(self, column: pd.Series) -> list:
        """Per row, the known codes of the cell (unknown values dropped)."""
        index = self.index_
        return [[index[v] for v in cell_values(c) if v in index] for c in column]

    def padded(self, column: pd.Series) -> np.ndarray:
        """(n_rows, width) int64 codes, left-aligned, padded with 0."""
        out = np.zeros((len(column), self.width_), dtype=np.int64)
        for row, codes in enumerate(self.codes(column)):
            codes = codes[: self.width_]
            out[row, : len(codes)] = codes
        return out


class SparseDesign:
    """One-hot (ids, single-valued features) and normalised multi-hot blocks, one per field.

    A multi-valued cell with ``n`` known values puts ``1 / n`` on each, as in
    the LibFM / myFM examples. ``group_shapes_`` gives the block widths, so
    Bayesian FM can use one prior per field.
    """

    def __init__(self, fields: list):
        self.fields = list(fields)

    def fit(self, X: pd.DataFrame) -> "SparseDesign":
        self.coders_ = [FieldCoder(f).fit(X[f]) for f in self.fields]
        # Code 0 (unknown) gets no column: unknown values contribute nothing.
        self.group_shapes_ = [c.size_ - 1 for c in self.coders_]
        return self

    def transform(self, X: pd.DataFrame) -> sp.csr_matrix:
        rows, cols, vals = [], [], []
        offset = 0
        for coder, width in zip(self.coders_, self.group_shapes_):
            for r, codes in enumerate(coder.codes(X[coder.name])):
                if codes:
                    weight = 1.0 / len(codes)
                    rows.extend([r] * len(codes))
                    cols.extend(offset + c - 1 for c in codes)
                    vals.extend([weight] * len(codes))
            offset += width
        return sp.csr_matrix(
            (np.asarray(vals, dtype=np.float64), (np.asarray(rows, dtype=np.int64),
                                                  np.asarray(cols, dtype=np.int64))),
            shape=(len(X), offset),
        )  # fmt: skip


class IntegerCoding:
    """Integer codes per field for DeepCTR-Torch and NCF: (n,) for single, (n, width) for multi."""

    def __init__(self, fields: list):
        self.fields = list(fields)

    def fit(self, X: pd.DataFrame) -> "IntegerCoding":
        self.coders_ = {f: FieldCoder(f).fit(X[f]) for f in self.fields}
        return self

    def transform(self, X: pd.DataFrame) -> dict:
        out = {}
        for name, coder in self.coders_.items():
            codes = coder.padded(X[name])
            out[name] = codes if coder.multi_ else codes[:, 0]
        return out
