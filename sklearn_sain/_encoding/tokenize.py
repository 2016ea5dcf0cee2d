"""From raw cells to integer codes: the column scans behind :class:`SAINEncoder`.

A column becomes one entry per token (rows, codes, distinct values); list
cells and separator strings are split, repeats within a cell dropped, and bad
cells reported with the row they came from. Everything here works on whole
columns with numpy and pandas, never cell by cell in Python where a
factorisation can do it.
"""

from itertools import chain

import numpy as np
import pandas as pd

from .cells import COMPLEX_TYPES, SCALAR_TYPES, BadCell, cell_error, scan_cell_types


def row_index(data):
    if isinstance(data, pd.DataFrame):
        return data.index
    return pd.RangeIndex(data.shape[0])


def column_values(data, position):
    if isinstance(data, pd.DataFrame):
        column = data.iloc[:, position]
        if isinstance(column.dtype, np.dtype):
            return column.to_numpy()
        # Extension dtypes (str, category, nullable ints) hold missing values
        # as pd.NA or NaN objects, which the object path understands.
        return column.to_numpy(dtype=object)
    return data[:, position]


def _in_order(members):
    """Members of a set in sorted order: a set's own order depends on string hashing,
    which differs between processes (PYTHONHASHSEED)."""
    try:
        return sorted(members)
    except TypeError:  # values of several types
        return sorted(members, key=lambda v: (type(v).__name__, repr(v)))


def _value_tokens(value, sep, inside_list):
    """Tokens of one distinct cell value, and whether it counts as multi-valued."""
    if isinstance(value, str):
        multi = not inside_list and sep is not None and sep in value
        parts = value.split(sep) if multi else (value,)
        return [t for t in dict.fromkeys(p.strip() for p in parts) if t], multi
    if isinstance(value, (tuple, frozenset)) and not inside_list:
        members = _in_order(value) if isinstance(value, frozenset) else value
        tokens = [t for item in members for t in _value_tokens(item, None, True)[0]]
        return list(dict.fromkeys(tokens)), True
    if value is None or value is pd.NA:
        return [], False
    if isinstance(value, SCALAR_TYPES) and not isinstance(value, COMPLEX_TYPES):
        return ([] if pd.isna(value) else [value]), False
    raise BadCell(value, inside_list)


def _label(index, position):
    label = index[position]
    return label.item() if isinstance(label, np.generic) else label


def _first_row(codes, code, index, rows=None):
    position = int(np.argmax(codes == code))
    return _label(index, position if rows is None else rows[position])


def tokenize(values, column, index, sep, is_id):
    """Tokens of one column as ``(rows, codes, uniques, exploded)``.

    One entry per token, ascending by row and in cell order: ``rows`` is the
    row position and ``codes`` indexes ``uniques``, the distinct tokens.
    ``exploded`` tells whether a cell was list-like or held ``sep``. Work
    that depends on the value only (splitting, stripping, type checks) runs
    once per distinct cell value rather than once per row.
    """
    kind = values.dtype.kind
    if kind == "c":
        raise ValueError(f"Complex data not supported (column {column!r}).")
    if kind in "US":
        values = values.astype(object)
    try:
        codes, uniques = pd.factorize(values)
    except TypeError:  # unhashable cells: lists, sets, arrays, dicts
        if is_id:
            bad = scan_cell_types(values, allow_lists=False)[3]
            raise cell_error(BadCell(values[bad], False), column, _label(index, bad)) from None
        return _tokenize_lists(values, column, index, sep)
    if is_id:
        return _check_ids(codes, uniques, column, index)
    if uniques.dtype != object:
        rows = np.flatnonzero(codes >= 0)
        return rows, codes[rows], uniques, False
    tokens, exploded = [], False
    for code, value in enumerate(uniques):
        try:
            cell, multi = _value_tokens(value, sep, False)
        except BadCell as error:
            raise cell_error(error, column, _first_row(codes, code, index)) from None
        tokens.append(cell)
        exploded |= multi
    lengths = np.fromiter(map(len, tokens), dtype=np.intp, count=len(tokens))
    flat = np.fromiter(chain.from_iterable(tokens), dtype=object, count=lengths.sum())
    flat_codes, token_uniques = pd.factorize(flat)
    offsets = np.cumsum(lengths) - lengths
    cells = np.flatnonzero(codes >= 0)
    counts = lengths[codes[cells]]
    rows = np.repeat(cells, counts)
    start = np.repeat(offsets[codes[cells]] - (np.cumsum(counts) - counts), counts)
    return rows, flat_codes[start + np.arange(len(rows))], token_uniques, exploded


def _check_ids(codes, uniques, column, index):
    """Refuse missing, empty, infinite or list-like ids."""
    if uniques.dtype == object:
        bad = scan_cell_types(uniques, allow_lists=False)[3]
        if bad is not None:
            row = _first_row(codes, bad, index)
            raise cell_error(BadCell(uniques[bad], False), column, row)
        empty = np.flatnonzero(uniques == "")
        if len(empty):
            codes = np.where(codes == empty[0], -1, codes)
    if (codes < 0).any():
        raise ValueError(
            f"Column {column!r} (an id column) has a missing value (None, NaN, "
            f"pd.NA or '') at row {_first_row(codes, -1, index)!r}; every row "
            "needs a user and an item id."
        )
    if uniques.dtype.kind == "f" and np.isinf(uniques).any():
        code = int(np.flatnonzero(np.isinf(uniques))[0])
        raise ValueError(
            f"Column {column!r} (an id column) has an infinite value at row "
            f"{_first_row(codes, code, index)!r}."
        )
    return np.arange(len(codes)), codes, uniques, False


def _tokenize_lists(values, column, index, sep):
    """``tokenize`` for columns with list-like cells, which cannot be hashed."""
    _, has_str, has_scalars, bad = scan_cell_types(values, allow_lists=True)
    if bad is not None:
        raise cell_error(BadCell(values[bad], False), column, _label(index, bad))
    is_set = np.fromiter((isinstance(v, (set, frozenset)) for v in values), dtype=bool,
                         count=len(values))  # fmt: skip
    if is_set.any():
        values = values.copy()
        for row in np.flatnonzero(is_set):
            values[row] = _in_order(values[row])
    if has_str and sep is not None:
        values = values.copy()
        where = np.flatnonzero([isinstance(v, str) for v in values])
        strings = pd.Series(values[where], dtype=object)
        hit = strings.str.contains(sep, regex=False).to_numpy(dtype=bool)
        values[where[hit]] = strings[hit].str.split(sep, regex=False).to_numpy()
    if has_str or has_scalars:
        cells = pd.Series(values, dtype=object).explode()
        rows, items = cells.index.to_numpy(), cells.to_numpy(dtype=object)
    else:
        # Only list-likes: flattening them directly beats Series.explode.
        lengths = np.fromiter(map(len, values), dtype=np.intp, count=len(values))
        items = np.fromiter(chain.from_iterable(values), dtype=object, count=lengths.sum())
        rows = np.repeat(np.arange(len(values)), lengths)
    try:
        item_codes, item_uniques = pd.factorize(items)
    except TypeError:
        bad = scan_cell_types(items, allow_lists=False)[3]
        raise cell_error(BadCell(items[bad], True), column, _label(index, rows[bad])) from None
    tokens = np.empty(len(item_uniques), dtype=object)
    for code, value in enumerate(item_uniques):
        try:
            cell, _ = _value_tokens(value, None, True)
        except BadCell as error:
            row = _first_row(item_codes, code, index, rows)
            raise cell_error(error, column, row) from None
        tokens[code] = cell[0] if cell else None
    token_codes, uniques = pd.factorize(tokens)
    # Appending -1 lets missing items (code -1) map to -1 as well.
    codes = np.append(token_codes, -1)[item_codes]
    rows, codes = rows[codes >= 0], codes[codes >= 0]
    return (*_drop_repeats(rows, codes), uniques, True)


def _drop_repeats(rows, codes):
    """Keep the first occurrence of each value within a cell."""
    if not len(rows):
        return rows, codes
    longest = int(np.bincount(rows).max())
    if longest > 16:
        repeated = pd.DataFrame({"row": rows, "code": codes}).duplicated().to_numpy()
    else:
        # Cells are short: comparing each token with the few before it is
        # much cheaper than hashing every (row, value) pair.
        repeated = np.zeros(len(rows), dtype=bool)
        for lag in range(1, longest):
            repeated[lag:] |= (rows[lag:] == rows[:-lag]) & (codes[lag:] == codes[:-lag])
    if repeated.any():
        rows, codes = rows[~repeated], codes[~repeated]
    return rows, codes


def slot_positions(rows):
    """Position of each token inside its cell, for ascending ``rows``."""
    if not len(rows):
        return np.zeros(0, dtype=np.intp)
    order = np.arange(len(rows))
    starts = np.empty(len(rows), dtype=bool)
    starts[0] = True
    np.not_equal(rows[1:], rows[:-1], out=starts[1:])
    return order - np.maximum.accumulate(np.where(starts, order, 0))


def sort_order(values):
    try:
        return np.argsort(values, kind="stable")
    except TypeError:
        return np.arange(len(values))


def cell_keys(n_rows, rows, codes, n_values):
    """One integer per row that identifies the set of values in its cell.

    Sums of random 64-bit weights identify sets without sorting them; two
    different cells collide with probability about 2**-64.
    """
    weights = np.random.default_rng(0).integers(
        0, np.iinfo(np.uint64).max, size=n_values, dtype=np.uint64, endpoint=True
    )
    keys = np.zeros(n_rows, dtype=np.uint64)
    np.add.at(keys, rows, weights[codes])
    return keys


def constant_within(keys, groups, n_groups):
    reference = np.empty(n_groups, dtype=keys.dtype)
    reference[groups] = keys
    return bool((reference[groups] == keys).all())
