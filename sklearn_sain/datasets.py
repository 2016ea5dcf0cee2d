"""Rating datasets for SAIN: a synthetic generator, MovieLens-100K and Yelp loaders.

The MovieLens data may not be redistributed (GroupLens usage licence), so the
loaders only read files the user downloaded, or download the official archive
from GroupLens on request. Cite Harper & Konstan (2015) when using them.
"""

# SPDX-License-Identifier: BSD-3-Clause

import csv
import hashlib
import os
import shutil
import tempfile
import zipfile
from numbers import Real
from pathlib import Path
from urllib.request import urlopen

import numpy as np
import pandas as pd
from sklearn.datasets import get_data_home
from sklearn.utils import check_random_state, check_scalar

from ._synthetic import make_ratings

__all__ = [
    "MOVIELENS_100K_GENRES",
    "MOVIELENS_100K_URL",
    "load_movielens_100k",
    "load_sain_movielens",
    "load_yelp",
    "make_ratings",
]

MOVIELENS_100K_URL = "https://files.grouplens.org/datasets/movielens/ml-100k.zip"

# Genre flag order of u.item (and of the u.genre index column).
MOVIELENS_100K_GENRES = (
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy",
    "Crime", "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror",
    "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller", "War", "Western",
)  # fmt: skip

_ML100K_FILES = ("u.data", "u.user", "u.item")
_DOWNLOAD_TIMEOUT = 60  # seconds without data before the download gives up

_SAIN_SPLITS = ("train", "validation", "test")
_SAIN_FILE = "ml-100k-r.{}.csv"
_SAIN_UNKNOWN_ACTOR = 3556
_SAIN_UNKNOWN_DIRECTOR = 1118

def _has_ml100k(folder):
    return all((folder / name).is_file() for name in _ML100K_FILES)


def _download_ml100k(url, root, sha256):
    root.mkdir(parents=True, exist_ok=True)
    target = root / "ml-100k"
    # Temporary names live next to the target so the final os.replace is an
    # atomic rename on the same file system.
    fd, archive = tempfile.mkstemp(prefix=".ml-100k-", suffix=".zip.part", dir=root)
    staging = tempfile.mkdtemp(prefix=".ml-100k-", dir=root)
    try:
        digest, received = hashlib.sha256(), 0
        with os.fdopen(fd, "wb") as out, urlopen(url, timeout=_DOWNLOAD_TIMEOUT) as resp:
            expected = resp.headers.get("Content-Length")
            while chunk := resp.read(1 << 16):
                digest.update(chunk)
                out.write(chunk)
                received += len(chunk)
        # urllib returns a body cut short by a dropped connection without error.
        if expected is not None and received != int(expected):
            raise OSError(f"Download of {url} stopped after {received} of {expected} bytes.")
        if sha256 is not None and digest.hexdigest() != sha256.lower():
            raise OSError(f"Checksum mismatch for {url}: sha256 {digest.hexdigest()}, "
                          f"expected {sha256}.")  # fmt: skip
        try:
            with zipfile.ZipFile(archive) as zf:
                names = set(zf.namelist())
                missing = [f for f in _ML100K_FILES if f"ml-100k/{f}" not in names]
                if missing:
                    raise OSError(f"{url} is not the MovieLens-100K archive: "
                                  f"ml-100k/{missing[0]} is missing.")  # fmt: skip
                members = [n for n in names if n.startswith("ml-100k/")]
                zf.extractall(staging, members=members)
        except zipfile.BadZipFile as exc:
            raise OSError(f"{url} did not return a valid zip file: {exc}") from exc
        try:
            os.replace(Path(staging) / "ml-100k", target)
        except OSError:
            # Another process may have finished the same download first.
            if not _has_ml100k(target):
                raise
    finally:
        Path(archive).unlink(missing_ok=True)
        shutil.rmtree(staging, ignore_errors=True)


def _read_genre_names(folder):
    path = folder / "u.genre"
    if not path.is_file():
        return list(MOVIELENS_100K_GENRES)
    table = pd.read_csv(path, sep="|", header=None, names=["name", "index"],
                        encoding="latin-1", quoting=csv.QUOTE_NONE)  # fmt: skip
    return table.sort_values("index")["name"].tolist()


def _positions(ids, keys, what, folder):
    # An explicit lookup instead of a merge, so that dangling ids fail loudly.
    pos = pd.Index(ids).get_indexer(keys)
    if (pos < 0).any():
        raise ValueError(f"u.data in {folder} refers to {what} missing from the {what} file.")
    return pos


def _genre_lists(flags, names):
    """One fresh list per row, built once per distinct flag pattern."""
    names = np.asarray(names, dtype=object)
    # Packing each row's flags into one integer makes patterns cheap to
    # factorize (np.unique(axis=0) is far slower).
    packed = (flags != 0) @ (np.int64(1) << np.arange(flags.shape[1], dtype=np.int64))
    inverse, patterns = pd.factorize(packed)
    per_pattern = [list(names[(code >> np.arange(names.size)) & 1 == 1]) for code in patterns]
    cells = np.empty(len(flags), dtype=object)
    cells[:] = [list(per_pattern[k]) for k in inverse]
    return cells


def load_movielens_100k(data_home=None, download=True, *, url=None, sha256=None):
    """Load the MovieLens-100K ratings joined with user and item features.

    The files are read from ``<data_home>/movielens-100k/ml-100k/``. When
    they are missing and ``download`` is True, the official GroupLens archive
    is downloaded, checked and extracted there atomically: an interrupted
    download leaves no partial dataset behind. The data may not be
    redistributed; see the GroupLens licence in the archive's README.

    Parameters
    ----------
    data_home : str or path-like, default=None
        Data folder, see :func:`sklearn.datasets.get_data_home`.
    download : bool, default=True
        If False, raise :class:`FileNotFoundError` when the files are missing
        instead of downloading them.
    url : str, default=None
        Archive location; None means :data:`MOVIELENS_100K_URL`.
    sha256 : str, default=None
        Expected SHA-256 hex digest of the archive; None skips the check.

    Returns
    -------
    X : pandas.DataFrame of shape (100000, 8)
        One row per rating, in ``u.data`` order, with columns ``user_id``,
        ``item_id``, ``age`` (int64), ``gender`` ("F"/"M"), ``occupation``,
        ``zip_code`` (str), ``release_year`` (float64, NaN when unknown) and
        ``genres`` (a list of genre names per row).
    y : ndarray of shape (100000,), dtype float64
        Ratings 1-5.

    Examples
    --------
    >>> from sklearn_sain.datasets import load_movielens_100k
    >>> X, y = load_movielens_100k()  # doctest: +SKIP
    >>> X.loc[0, ["user_id", "item_id", "occupation"]].tolist()  # doctest: +SKIP
    [196, 242, 'writer']
    """
    root = Path(get_data_home(data_home)) / "movielens-100k"
    folder = root / "ml-100k"
    if not _has_ml100k(folder):
        if not download:
            raise FileNotFoundError(
                f"MovieLens-100K not found in {folder} (needs {', '.join(_ML100K_FILES)}) "
                "and download=False."
            )
        if folder.exists():
            raise OSError(f"{folder} exists but is incomplete; remove it to download again.")
        _download_ml100k(MOVIELENS_100K_URL if url is None else url, root, sha256)

    ratings = pd.read_csv(folder / "u.data", sep="\t", header=None,
                          names=["user_id", "item_id", "rating", "timestamp"])  # fmt: skip
    users = pd.read_csv(
        folder / "u.user", sep="|", header=None, encoding="latin-1",
        names=["user_id", "age", "gender", "occupation", "zip_code"],
        dtype={"zip_code": str},
    )  # fmt: skip
    genre_names = _read_genre_names(folder)
    items = pd.read_csv(folder / "u.item", sep="|", header=None, encoding="latin-1",
                        quoting=csv.QUOTE_NONE, keep_default_na=False)  # fmt: skip
    if items.shape[1] != 5 + len(genre_names):
        raise ValueError(f"u.item in {folder} has {items.shape[1]} fields per line, "
                         f"expected 5 + {len(genre_names)} genre flags.")  # fmt: skip
    user_pos = _positions(users["user_id"], ratings["user_id"], "users", folder)
    item_pos = _positions(items[0], ratings["item_id"], "items", folder)
    # Release dates look like "01-Jan-1995"; parsing only the year avoids the
    # locale dependence of month names.
    years = pd.to_numeric(items[2].astype(str).str[-4:], errors="coerce")
    flags = items.iloc[:, 5:].to_numpy()
    X = pd.DataFrame(
        {
            "user_id": ratings["user_id"].to_numpy(np.int64),
            "item_id": ratings["item_id"].to_numpy(np.int64),
            "age": users["age"].to_numpy(np.int64)[user_pos],
            "gender": users["gender"].to_numpy()[user_pos],
            "occupation": users["occupation"].to_numpy()[user_pos],
            "zip_code": users["zip_code"].to_numpy()[user_pos],
            "release_year": years.to_numpy(np.float64)[item_pos],
            "genres": pd.Series(_genre_lists(flags[item_pos], genre_names), dtype=object),
        }
    )
    return X, ratings["rating"].to_numpy(np.float64)


def _find_data_folder(root, needed):
    """The folder at or below ``root`` closest to it that holds every file in ``needed``.

    Breadth-first, so the copy closest to ``root`` wins; links to folders are
    not followed (keeps the walk finite) and unreadable folders are skipped,
    as ``find`` does. Returns None when no folder qualifies.
    """
    level = [Path(root)] if Path(root).is_dir() else []
    while level:
        for folder in level:
            if all((folder / name).is_file() for name in needed):
                return folder
        below = []
        for folder in level:
            try:
                entries = sorted(os.scandir(folder), key=lambda e: e.name)
            except OSError:
                continue
            below += [Path(e.path) for e in entries if e.is_dir(follow_symlinks=False)]
        level = below
    return None


def _find_sain_folder(path):
    train = _SAIN_FILE.format("train")
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist.")
    folder = _find_data_folder(path, [train])
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
    folder = _find_data_folder(path, [_YELP_RATINGS, _YELP_FILES["compliments"]])
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
