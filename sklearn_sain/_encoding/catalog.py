"""The training catalog: the users and items seen in ``fit``, their feature tokens and rated pairs.

At ``fit`` the regressor keeps a :class:`Catalog` of the training data;
``recommend`` reads the candidates' tokens and each user's rated items from
it, and the choice head each user's history.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .ids import UNKNOWN_ID
from .layout import id_matrix

_ARRAYS = ("user_ids", "user_tokens", "item_ids", "item_tokens", "seen_indptr", "seen_items")


@dataclass(frozen=True, eq=False)
class Catalog:
    """Users and items seen in ``fit``: their encoded ids, feature tokens and rated pairs.

    ``user_ids`` and ``item_ids`` are ascending encoded ids (>= 2);
    ``user_tokens[p]`` / ``item_tokens[p]`` are the user-side / item-side
    token slots of the last training row of ``user_ids[p]`` / ``item_ids[p]``.
    The items rated by the user at position ``p`` are the item positions
    ``seen_items[seen_indptr[p]:seen_indptr[p + 1]]`` (a CSR matrix without
    values), ascending.
    """

    user_ids: np.ndarray
    user_tokens: np.ndarray
    item_ids: np.ndarray
    item_tokens: np.ndarray
    seen_indptr: np.ndarray
    seen_items: np.ndarray

    def arrays(self) -> dict:
        """The arrays by name, for persistence."""
        return {name: getattr(self, name) for name in _ARRAYS}

    @classmethod
    def from_arrays(cls, arrays: dict, layout) -> "Catalog":
        """Rebuild a catalog from :meth:`arrays`, refusing arrays that do not fit ``layout``."""
        if sorted(arrays) != sorted(_ARRAYS):
            raise ValueError(f"catalog arrays must be {list(_ARRAYS)}, got {sorted(arrays)}")
        a = {name: np.asarray(value) for name, value in arrays.items()}
        n_users, n_items = len(a["user_ids"]), len(a["item_ids"])
        n_user_slots = _n_user_slots(layout)
        limits = np.array([f.vocabulary_size for f in layout.fields for _ in range(f.width)])
        # an edited file must fail here, not index past an embedding table later
        checks = (
            all(v.dtype.kind == "i" for v in a.values()),
            a["user_ids"].ndim == a["item_ids"].ndim == a["seen_items"].ndim == 1,
            a["user_tokens"].shape == (n_users, n_user_slots),
            a["item_tokens"].shape == (n_items, layout.n_slots - n_user_slots),
            _ascending_ids(a["user_ids"], layout.n_users),
            _ascending_ids(a["item_ids"], layout.n_items),
            np.all(a["user_tokens"] >= 0) and np.all(a["item_tokens"] >= 0),
            np.all(a["user_tokens"] < limits[:n_user_slots]),
            np.all(a["item_tokens"] < limits[n_user_slots:]),
            a["seen_indptr"].shape == (n_users + 1,) and a["seen_indptr"][:1].sum() == 0,
            np.all(np.diff(a["seen_indptr"]) >= 0),
            a["seen_indptr"][-1] == len(a["seen_items"]),
            np.all((a["seen_items"] >= 0) & (a["seen_items"] < n_items)),
        )
        if not all(checks):
            raise ValueError("inconsistent training catalog")
        return cls(**a)


def _ascending_ids(ids: np.ndarray, size: int) -> bool:
    return bool(np.all(np.diff(ids) > 0) and (not len(ids) or (ids[0] > UNKNOWN_ID
                                                               and ids[-1] < size)))


def _n_user_slots(layout) -> int:
    return sum(f.width for f in layout.fields if f.role == "user")


def _last_rows(ids: np.ndarray):
    """Distinct known ids (ascending) and the position of the last row holding each."""
    distinct, first_from_end = np.unique(ids[::-1], return_index=True)
    known = distinct > UNKNOWN_ID
    return distinct[known], len(ids) - 1 - first_from_end[known]


def build_catalog(encoded: pd.DataFrame, layout) -> Catalog:
    """The :class:`Catalog` of an encoded training table.

    Only one row per user and per item is converted to token arrays, so this
    costs little next to training even on millions of ratings.
    """
    ids = id_matrix(encoded.iloc[:, :2])
    users = np.where(ids[:, 0] < layout.n_users, ids[:, 0], UNKNOWN_ID)
    items = np.where(ids[:, 1] < layout.n_items, ids[:, 1], UNKNOWN_ID)
    user_ids, user_rows = _last_rows(users)
    item_ids, item_rows = _last_rows(items)
    split = _n_user_slots(layout)
    user_tokens = layout.arrays(encoded.iloc[user_rows])[2][:, :split]
    item_tokens = layout.arrays(encoded.iloc[item_rows])[2][:, split:]

    rated = (users > UNKNOWN_ID) & (items > UNKNOWN_ID)
    user_pos = np.searchsorted(user_ids, users[rated])
    item_pos = np.searchsorted(item_ids, items[rated])
    pairs = np.unique(user_pos * np.int64(max(len(item_ids), 1)) + item_pos)
    per_user = np.bincount(pairs // max(len(item_ids), 1), minlength=len(user_ids))
    indptr = np.zeros(len(user_ids) + 1, dtype=np.int64)
    np.cumsum(per_user, out=indptr[1:])
    # int32 halves the memory of the arrays kept on the fitted model
    return Catalog(
        user_ids=user_ids.astype(np.int32),
        user_tokens=user_tokens.astype(np.int32),
        item_ids=item_ids.astype(np.int32),
        item_tokens=item_tokens.astype(np.int32),
        seen_indptr=indptr,
        seen_items=(pairs % max(len(item_ids), 1)).astype(np.int32),
    )


def candidate_columns(catalog, catalog_pos: np.ndarray) -> np.ndarray:
    """Column of each catalog item among candidates at ``catalog_pos`` (-1: not in the catalog).

    Returns -1 for the catalog items that are not candidates.
    """
    column_of = np.full(len(catalog.item_ids), -1, dtype=np.int64)
    in_catalog = catalog_pos >= 0
    column_of[catalog_pos[in_catalog]] = np.flatnonzero(in_catalog)
    return column_of


def seen_pairs(catalog, positions: np.ndarray, column_of: np.ndarray) -> tuple:
    """(row, column) of the rated pairs among the users at catalog ``positions`` x candidates."""
    starts = np.where(positions >= 0, catalog.seen_indptr[positions.clip(min=0)], 0)
    ends = np.where(positions >= 0, catalog.seen_indptr[positions.clip(min=0) + 1], 0)
    counts = ends - starts
    row = np.repeat(np.arange(len(positions)), counts)
    flat = np.repeat(starts - np.cumsum(counts) + counts, counts) + np.arange(counts.sum())
    column = column_of[catalog.seen_items[flat]]
    return row[column >= 0], column[column >= 0]
