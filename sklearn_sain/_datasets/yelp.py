"""The Yelp data of the SAIN paper: ratings of businesses with user and business features."""

# SPDX-License-Identifier: BSD-3-Clause

from numbers import Real
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.utils import check_random_state, check_scalar

from .folders import find_data_folder

_YELP_RATINGS = "user_business.dat"
_YELP_FILES = {
    "compliments": "user_compliment.dat",
    "categories": "business_category.dat",
    "city": "business_city.dat",
}


def _find_yelp_folder(path):
    """The folder holding the Yelp files: ``path`` itself or the closest below it."""
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist.")
    folder = find_data_folder(path, [_YELP_RATINGS, _YELP_FILES["compliments"]])
    if folder is None:
        raise FileNotFoundError(
            f"Could not find {_YELP_RATINGS} with {_YELP_FILES['compliments']} in {path} or "
            "any folder below it. Expected the Yelp/ folder of the HIN-Datasets repository "
            "(https://github.com/librahu/HIN-Datasets-for-Recommendation-and-Network-Embedding)."
        )
    return folder


def _read_yelp_table(file, n_columns, names):
    table = pd.read_csv(file, sep="\t", header=None, dtype=np.int64, comment=None)
    if table.shape[1] != n_columns:
        raise ValueError(f"{file} has {table.shape[1]} tab-separated fields per line, "
                         f"expected {n_columns}.")  # fmt: skip
    table = table.iloc[:, : len(names)]
    table.columns = names
    return table


def _yelp_value_lists(table, key, value, keys):
    """One sorted list of ``value`` per entry of ``keys`` (empty when absent)."""
    grouped = table.sort_values([key, value]).groupby(key)[value].agg(list)
    per_key = grouped.reindex(pd.Index(keys).unique())
    lookup = {k: (v if isinstance(v, list) else []) for k, v in per_key.items()}
    cells = np.empty(len(keys), dtype=object)
    # One fresh list per row, so that mutating a cell never changes another.
    cells[:] = [list(lookup[k]) for k in keys]
    return pd.Series(cells, dtype=object)


def load_yelp(path, *, split=False, random_state=0, test_size=0.1, validation_size=0.1):
    """Load the Yelp ratings of the HIN-Datasets collection with user and item features.

    Reads the tab-separated files of the ``Yelp/`` folder of
    https://github.com/librahu/HIN-Datasets-for-Recommendation-and-Network-Embedding
    (Shi et al., HERec, TKDE 2018): ``user_business.dat`` (ratings 1-5),
    ``user_compliment.dat`` (compliment types received by each user, several
    per user), ``business_category.dat`` (several categories per business) and
    ``business_city.dat`` (one city per business). All ids are anonymised
    integers. The data derive from the Yelp Dataset Challenge: non-commercial
    research use only, no redistribution.

    Parameters
    ----------
    path : str or path-like
        The folder holding the files, or any folder above it (searched
        breadth-first, without following symbolic links).
    split : bool, default=False
        If True, return a seeded random 8:1:1 split (by rating) instead of
        the whole table.
    random_state : int, RandomState instance or None, default=0
        Seed of the split's permutation; only used when ``split`` is True.
    test_size, validation_size : float, default=0.1
        Shares of the ratings in the test and validation splits; the rest is
        the training split. Only used when ``split`` is True.

    Returns
    -------
    X : pandas.DataFrame of shape (n_ratings, 5)
        Columns ``user_id`` and ``item_id`` (int64, the business id),
        ``compliments`` (a sorted list of compliment type ids per row, empty
        for users without any), ``categories`` (a sorted list of category ids,
        possibly empty) and ``city`` (float64 city id, NaN when unknown).
        Rows keep the order of ``user_business.dat``. Only when ``split`` is
        False.
    y : ndarray of shape (n_ratings,), dtype float64
        Ratings 1-5. Only when ``split`` is False.
    splits : tuple of three (X, y) pairs
        ``(train, validation, test)``, only when ``split`` is True. Rows are
        assigned by one permutation of all ratings drawn from
        ``random_state``; each split keeps the permuted order and has a fresh
        RangeIndex.

    Examples
    --------
    >>> from sklearn_sain.datasets import load_yelp
    >>> X, y = load_yelp("hin-yelp")  # doctest: +SKIP
    >>> X.shape  # doctest: +SKIP
    (198397, 5)
    >>> train, validation, test = load_yelp("hin-yelp", split=True)  # doctest: +SKIP
    >>> [len(X) for X, _ in (train, validation, test)]  # doctest: +SKIP
    [158717, 19840, 19840]
    """
    check_scalar(test_size, "test_size", Real, min_val=0.0, max_val=1.0)
    check_scalar(validation_size, "validation_size", Real, min_val=0.0, max_val=1.0)
    if test_size + validation_size >= 1.0:
        raise ValueError(
            f"test_size + validation_size must be below 1, got {test_size + validation_size}."
        )
    folder = _find_yelp_folder(Path(path))
    ratings = _read_yelp_table(folder / _YELP_RATINGS, 3, ["user_id", "item_id", "rating"])
    compliments = _read_yelp_table(folder / _YELP_FILES["compliments"], 3, ["user", "value"])
    tables = {}
    for name in ("categories", "city"):
        file = folder / _YELP_FILES[name]
        if not file.is_file():
            raise FileNotFoundError(f"{folder} has the ratings but lacks {file.name}.")
        tables[name] = _read_yelp_table(file, 3, ["item", "value"])
    city = tables["city"].drop_duplicates("item")
    users = ratings["user_id"].to_numpy(np.int64)
    items = ratings["item_id"].to_numpy(np.int64)
    X = pd.DataFrame({"user_id": users, "item_id": items})
    X["compliments"] = _yelp_value_lists(compliments, "user", "value", users)
    X["categories"] = _yelp_value_lists(tables["categories"], "item", "value", items)
    X["city"] = (
        city.set_index("item")["value"].reindex(items).to_numpy(np.float64)
    )
    y = ratings["rating"].to_numpy(np.float64)
    if not split:
        return X, y
    rng = check_random_state(random_state)
    order = rng.permutation(len(y))
    n_test = int(round(test_size * len(y)))
    n_valid = int(round(validation_size * len(y)))
    bounds = [0, len(y) - n_valid - n_test, len(y) - n_test, len(y)]
    return tuple(
        (X.iloc[order[a:b]].reset_index(drop=True), y[order[a:b]])
        for a, b in zip(bounds[:-1], bounds[1:])
    )
