"""MovieLens-100K from GroupLens: download, check, read and join ratings and features.

The MovieLens data may not be redistributed (GroupLens usage licence), so the
loader only reads files the user downloaded, or downloads the official
archive from GroupLens on request. Cite Harper & Konstan (2015) when using it.
"""

# SPDX-License-Identifier: BSD-3-Clause

import csv
import hashlib
import os
import shutil
import tempfile
import zipfile
from pathlib import Path
from urllib.request import urlopen

import numpy as np
import pandas as pd
from sklearn.datasets import get_data_home

MOVIELENS_100K_URL = "https://files.grouplens.org/datasets/movielens/ml-100k.zip"

# Genre flag order of u.item (and of the u.genre index column).
MOVIELENS_100K_GENRES = (
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy",
    "Crime", "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror",
    "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller", "War", "Western",
)  # fmt: skip

_ML100K_FILES = ("u.data", "u.user", "u.item")
_DOWNLOAD_TIMEOUT = 60  # seconds without data before the download gives up

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
