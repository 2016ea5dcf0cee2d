"""The vocabulary of one field: which of its values get an id of their own, and which.

A value is known when it occurs in at least ``min_count`` rows and, for a
feature, is held by at least ``min_owners`` distinct users (or items); known
values get ids 2, 3, ... in sorted order, every other value the unknown id.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .ids import UNKNOWN_ID
from .tokenize import sort_order


def field_vocabulary(codes, uniques, *, min_count: int, owners=None, min_owners: int = 1):
    """The known values of a field and the id of each value code.

    ``codes`` are the value codes of the field's cells (indices into
    ``uniques``); ``owners`` the user (or item) code of each cell, or None
    not to count owners.

    Returns
    -------
    vocabulary : pandas.Index
        The known values, in id order (id ``2 + position``).
    id_of_code : ndarray of int32
        The id of each value code: its known id, or the unknown id.
    """
    counts = np.bincount(codes, minlength=len(uniques))
    enough = counts >= min_count
    if owners is not None and min_owners > 1:
        enough &= _distinct_owners(codes, owners, len(uniques)) >= min_owners
    known = np.flatnonzero(enough)
    known = known[sort_order(uniques[known])]
    id_of_code = np.full(len(uniques), UNKNOWN_ID, dtype=np.int32)
    id_of_code[known] = np.arange(2, len(known) + 2, dtype=np.int32)
    return pd.Index(uniques[known]), id_of_code


def _distinct_owners(codes, owners, n_values: int) -> np.ndarray:
    """Per value code, how many distinct users (or items) ``owners`` hold it."""
    if len(codes) == 0:
        return np.zeros(n_values, dtype=np.int64)
    n_owners = int(owners.max()) + 1
    pairs = np.unique(codes.astype(np.int64) * n_owners + owners)
    return np.bincount(pairs // n_owners, minlength=n_values)
