"""The MovieLens-100K split of the SAIN paper, with its knowledge-graph features (actors, directors).

The files come from the authors' repository (https://github.com/seongjunyun/SAIN),
``dataset/ml-100k-r/``; they hold MovieLens data and may not be redistributed.
"""

# SPDX-License-Identifier: BSD-3-Clause

from pathlib import Path

import numpy as np
import pandas as pd

from .folders import find_data_folder
from .movielens import MOVIELENS_100K_GENRES, _genre_lists

_SAIN_SPLITS = ("train", "validation", "test")
_SAIN_FILE = "ml-100k-r.{}.csv"
_SAIN_UNKNOWN_ACTOR = 3556
_SAIN_UNKNOWN_DIRECTOR = 1118


def _find_sain_folder(path):
    train = _SAIN_FILE.format("train")
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist.")
    folder = find_data_folder(path, [train])
    if folder is None:
        raise FileNotFoundError(
            f"Could not find {train} in {path} or any folder below it. Expected the "
            "dataset/ml-100k-r/ folder of the SAIN repository "
            "(https://github.com/seongjunyun/SAIN) or one of its ancestors."
        )
    return folder


def _read_sain_split(file, unknown_as_missing):
    frame = pd.read_csv(file)
    frame.columns = frame.columns.str.strip()
    fixed = ["uid", "iid", "u_age", "u_gender", "u_occupation", "i_year"]
    required = fixed + ["rating", "i_Actor", "i_Director"]
    missing = [c for c in required if c not in frame.columns]
    genre_cols = [c for c in frame.columns
                  if c.startswith("i_") and c not in ("i_year", "i_Actor", "i_Director")]  # fmt: skip
    if missing or len(genre_cols) != len(MOVIELENS_100K_GENRES):
        raise ValueError(
            f"{file} does not have the SAIN ml-100k-r layout (missing columns "
            f"{missing}, {len(genre_cols)} genre columns instead of 19)."
        )
    names = ["user_id", "item_id", "age", "gender", "occupation", "year"]
    X = pd.DataFrame({new: frame[old].to_numpy(np.int64) for new, old in zip(names, fixed)})
    # The header labels the flags one genre too far (its "i_Action" holds
    # u.item's "unknown" flag and "i_Other" holds "Western"), so the flags are
    # named by position, in u.item order.
    X["genres"] = pd.Series(
        _genre_lists(frame[genre_cols].to_numpy(), MOVIELENS_100K_GENRES), dtype=object
    )
    for column, unknown in [("actor", _SAIN_UNKNOWN_ACTOR),
                            ("director", _SAIN_UNKNOWN_DIRECTOR)]:  # fmt: skip
        values = frame[f"i_{column.capitalize()}"].to_numpy(np.int64)
        if unknown_as_missing:
            values = np.where(values == unknown, np.nan, values)
        X[column] = values
    return X, frame["rating"].to_numpy(np.float64)


def load_sain_movielens(path, *, unknown_as_missing=True):
    """Load the SAIN authors' preprocessed MovieLens-100K split (ml-100k-r).

    Reads ``ml-100k-r.{train,validation,test}.csv`` from the SAIN repository
    (https://github.com/seongjunyun/SAIN, folder ``dataset/ml-100k-r``), the
    80/10/10 split used in the paper. Rows keep file order.

    Parameters
    ----------
    path : str or path-like
        The folder holding the three files, or any folder above it (searched
        breadth-first, without following symbolic links).
    unknown_as_missing : bool, default=True
        If True, the "unknown" codes (actor 3556, director 1118) become NaN
        and ``actor`` and ``director`` are float64; otherwise they stay int64
        codes.

    Returns
    -------
    splits : tuple of three (X, y) pairs
        ``(train, validation, test)``. ``X`` has columns ``user_id``,
        ``item_id``, ``age`` (bucket 0-8), ``gender`` (0 = M, 1 = F),
        ``occupation`` (index 0-20 of the sorted ML-100K occupations),
        ``year`` (bucket 0-8), all int64, then ``genres`` (a list of genre
        names per row, named as in u.item, e.g. ``"unknown"``, ``"Sci-Fi"``;
        the file header is off by one and is ignored), ``actor`` and
        ``director`` (IMDb-derived ids). ``y`` is a float64 ndarray of
        ratings 1-5.

    Examples
    --------
    >>> from sklearn_sain.datasets import load_sain_movielens
    >>> (X_train, y_train), (X_val, y_val), (X_test, y_test) = load_sain_movielens(
    ...     "SAIN/dataset/ml-100k-r")  # doctest: +SKIP
    >>> len(X_train), len(X_val), len(X_test)  # doctest: +SKIP
    (80000, 10000, 10000)
    """
    folder = _find_sain_folder(Path(path))
    files = [folder / _SAIN_FILE.format(split) for split in _SAIN_SPLITS]
    absent = [f.name for f in files if not f.is_file()]
    if absent:
        raise FileNotFoundError(f"{folder} has the training file but lacks {absent}.")
    return tuple(_read_sain_split(f, unknown_as_missing) for f in files)
