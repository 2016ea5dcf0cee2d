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
from numbers import Integral, Real
from pathlib import Path
from urllib.request import urlopen

import numpy as np
import pandas as pd
from sklearn.datasets import get_data_home
from sklearn.utils import check_random_state, check_scalar

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

# Share of users per age bucket (0-6), shaped like the MovieLens-1M buckets.
_AGE_PROBS = np.array([0.04, 0.18, 0.35, 0.20, 0.09, 0.08, 0.06])
_N_YEARS = 9
# Above this share of all (user, item) pairs, rejection sampling of distinct
# pairs slows down sharply, so pairs are drawn independently and may repeat.
_UNIQUE_PAIR_MAX_DENSITY = 0.25
_CHUNK = 1 << 20  # rows per chunk when combining effects, to bound memory


def _sample_index(rng, weights, size):
    """Draw indices with probability proportional to ``weights``."""
    # Inverse-CDF sampling with a guide table: each draw starts next to its
    # answer, so a few vectorised steps replace searchsorted's binary search
    # (about twice as fast on 10M draws).
    cdf = np.cumsum(weights, dtype=np.float64)
    total, n_bins = cdf[-1], 4 * cdf.size
    guide = np.searchsorted(cdf, np.arange(n_bins) * (total / n_bins), side="right")
    # Rounding can push a scaled draw up to `total`; the last index takes it.
    cdf[-1] = np.inf
    draws = rng.random_sample(size)
    index = guide[np.minimum((draws * n_bins).astype(np.intp), n_bins - 1)]
    draws *= total
    todo = np.flatnonzero(cdf[index] <= draws)
    while todo.size:
        index[todo] += 1
        todo = todo[cdf[index[todo]] <= draws[todo]]
    return index


def _first_occurrences(codes):
    """Positions of the first occurrence of each distinct value, ascending."""
    # np.unique is avoided: its hash path is slow on tens of millions of rows.
    n = codes.size
    if n and codes.max() < np.iinfo(np.int64).max // n:
        # Sorting (code, position) packed in one int64 is several times faster
        # than a stable argsort.
        sorted_codes, order = np.divmod(np.sort(codes * n + np.arange(n)), n)
    else:
        order = np.argsort(codes, kind="stable")
        sorted_codes = codes[order]
    first = np.ones(n, dtype=bool)
    first[1:] = sorted_codes[1:] != sorted_codes[:-1]
    return np.sort(order[first])


def _sample_pairs(rng, user_weights, item_weights, n_ratings):
    n_items = item_weights.size
    if n_ratings > _UNIQUE_PAIR_MAX_DENSITY * user_weights.size * n_items:
        users = _sample_index(rng, user_weights, n_ratings)
        return users, _sample_index(rng, item_weights, n_ratings)
    # Rejection sampling: keep the first draw of each pair, in draw order (so
    # rows stay shuffled), and draw more until enough distinct pairs exist.
    pool = np.empty(0, dtype=np.int64)
    n_distinct, size = 0, int(n_ratings * 1.2) + 64
    for _ in range(100):
        codes = _sample_index(rng, user_weights, size) * n_items
        codes += _sample_index(rng, item_weights, size)
        pool = np.concatenate([pool, codes])
        keep = _first_occurrences(pool)
        if keep.size >= n_ratings:
            return np.divmod(pool[keep[:n_ratings]], n_items)
        acceptance = max((keep.size - n_distinct) / size, 0.01)
        n_distinct = keep.size
        size = int((n_ratings - n_distinct) / acceptance * 1.2) + 64
    raise RuntimeError("Could not draw enough distinct (user, item) pairs.")


def _take_str(values, index):
    # Taking from a small array already in pandas' default string dtype skips
    # the per-row validation of a 10M-row object array (about 2x faster).
    return pd.Series(list(values)).array.take(index)


def make_ratings(
    n_users=500,
    n_items=300,
    n_ratings=20000,
    *,
    n_occupations=8,
    n_genres=10,
    n_factors=4,
    interaction_strength=1.0,
    noise=0.5,
    multi_valued="list",
    discrete=False,
    return_params=False,
    random_state=None,
):
    """Generate explicit ratings with side features and a planted interaction.

    Each rating is the sum of a global mean, user and item biases, a low-rank
    collaborative-filtering term ``<p_u, q_i>``, small main effects of age,
    gender, year and director, a feature interaction
    ``interaction_strength * mean(W[occupation_u, g] for g in genres_i)`` with
    ``W`` a standard normal occupation x genre matrix, and Gaussian noise. The
    sum is clipped to the 1-5 scale. Users are drawn with log-normal activity
    and items with Zipf-like popularity; directors also follow a Zipf law, so
    many are rare.

    When ``n_ratings`` is at most a quarter of ``n_users * n_items``, every
    (user, item) pair is distinct; otherwise pairs are drawn independently
    and may repeat.

    Parameters
    ----------
    n_users, n_items : int, default=500, 300
        Number of users and of items. Ids are ``0 .. n - 1``; users or items
        that no rating draws do not appear.
    n_ratings : int, default=20000
        Number of rows.
    n_occupations : int, default=8
        Number of occupations, named ``"occ_0"``, ``"occ_1"``, ...
    n_genres : int, default=10
        Number of genres, named ``"genre_0"``, ...; each item has 1 to 3.
    n_factors : int, default=4
        Rank of the collaborative-filtering term (0 disables it).
    interaction_strength : float, default=1.0
        Scale of the occupation x genre interaction.
    noise : float, default=0.5
        Standard deviation of the Gaussian noise.
    multi_valued : {"list", "string"}, default="list"
        Cells of ``genres``: lists of str, or ``"|"``-joined strings such as
        ``"genre_1|genre_4"``. With ``"list"``, rows of the same item share one
        list object (copying 10M lists costs seconds): do not mutate in place.
        ``"string"`` is the lighter choice for large datasets.
    discrete : bool, default=False
        If True, ratings are rounded to integers 1..5.
    return_params : bool, default=False
        If True, also return the generating parameters.
    random_state : int, RandomState instance or None, default=None
        Seed for reproducible output.

    Returns
    -------
    X : pandas.DataFrame of shape (n_ratings, 8)
        Columns ``user_id``, ``item_id``, ``age`` (int bucket 0-6),
        ``gender`` ("F"/"M"), ``occupation``, ``genres``, ``year`` (int bucket
        0-8) and ``director`` (str such as ``"director_3"``).
    y : ndarray of shape (n_ratings,), dtype float64
        Ratings in [1, 5].
    params : dict
        Only if ``return_params``: ``global_mean``, ``user_bias``,
        ``item_bias``, ``user_factors``, ``item_factors``, ``interaction``
        (the ``W`` matrix, rows in ``occupations`` order, columns in
        ``genres`` order), ``item_genres`` (bool membership matrix),
        ``age_effect``, ``gender_effect`` (F, M), ``year_effect``,
        ``director_effect``, ``occupations``, ``genres`` and ``directors``.

    Examples
    --------
    >>> from sklearn_sain.datasets import make_ratings
    >>> X, y = make_ratings(n_users=50, n_items=40, n_ratings=200, random_state=0)
    >>> X.shape, y.shape
    ((200, 8), (200,))
    >>> list(X.columns)
    ['user_id', 'item_id', 'age', 'gender', 'occupation', 'genres', 'year', 'director']
    """
    for name, value, low in [
        ("n_users", n_users, 1), ("n_items", n_items, 1), ("n_ratings", n_ratings, 1),
        ("n_occupations", n_occupations, 1), ("n_genres", n_genres, 1),
        ("n_factors", n_factors, 0),
    ]:  # fmt: skip
        check_scalar(value, name, Integral, min_val=low)
    check_scalar(interaction_strength, "interaction_strength", Real)
    check_scalar(noise, "noise", Real, min_val=0)
    if multi_valued not in ("list", "string"):
        raise ValueError(f"multi_valued must be 'list' or 'string', got {multi_valued!r}.")
    rng = check_random_state(random_state)

    user_weights = rng.lognormal(0.0, 1.0, n_users)
    age = _sample_index(rng, _AGE_PROBS, n_users)
    is_male = (rng.random_sample(n_users) < 0.7).astype(np.intp)
    occupation = _sample_index(rng, rng.dirichlet(np.full(n_occupations, 2.0)), n_users)
    user_bias = rng.normal(0.0, 0.3, n_users)
    # Factor scale chosen so <p_u, q_i> has a standard deviation of about 0.5.
    scale = (0.25 / max(n_factors, 1)) ** 0.25
    user_factors = rng.normal(0.0, scale, (n_users, n_factors))

    item_weights = (rng.permutation(n_items) + 1.0) ** -0.8
    n_item_genres = np.minimum(_sample_index(rng, [0.5, 0.35, 0.15], n_items) + 1, n_genres)
    genre_weights = rng.dirichlet(np.full(n_genres, 2.0))
    # Gumbel top-k: a weighted draw of distinct genres per item, vectorised.
    keys = np.log(genre_weights) + rng.gumbel(size=(n_items, n_genres))
    order = np.argsort(-keys, axis=1)
    item_genres = np.zeros((n_items, n_genres), dtype=bool)
    chosen = np.arange(n_genres) < n_item_genres[:, None]
    np.put_along_axis(item_genres, order, chosen, axis=1)
    year = _sample_index(rng, np.arange(1.0, _N_YEARS + 1), n_items)
    n_directors = max(1, n_items // 3)
    director = _sample_index(rng, np.arange(1.0, n_directors + 1) ** -0.8, n_items)
    item_bias = rng.normal(0.0, 0.4, n_items)
    item_factors = rng.normal(0.0, scale, (n_items, n_factors))

    interaction = rng.standard_normal((n_occupations, n_genres))
    age_effect = rng.normal(0.0, 0.1, _AGE_PROBS.size)
    gender_effect = rng.normal(0.0, 0.1, 2)
    year_effect = rng.normal(0.0, 0.1, _N_YEARS)
    director_effect = rng.normal(0.0, 0.2, n_directors)
    global_mean = 3.5

    users, items = _sample_pairs(rng, user_weights, item_weights, n_ratings)
    y = rng.standard_normal(n_ratings)
    y *= noise

    user_base = global_mean + user_bias + age_effect[age] + gender_effect[is_male]
    item_base = item_bias + year_effect[year] + director_effect[director]
    genre_share = item_genres / n_item_genres[:, None]
    # (n_occupations * n_items,) table, so each row needs a single gather.
    cross = (interaction_strength * interaction @ genre_share.T).ravel()
    for start in range(0, n_ratings, _CHUNK):
        rows = slice(start, start + _CHUNK)
        u, i = users[rows], items[rows]
        y[rows] += user_base[u] + item_base[i] + cross[occupation[u] * n_items + i]
        if n_factors:
            y[rows] += np.einsum("ij,ij->i", user_factors[u], item_factors[i])
    if discrete:
        np.rint(y, out=y)
    np.clip(y, 1.0, 5.0, out=y)

    occupations = [f"occ_{k}" for k in range(n_occupations)]
    genres = np.array([f"genre_{k}" for k in range(n_genres)], dtype=object)
    directors = [f"director_{k}" for k in range(n_directors)]
    if multi_valued == "list":
        item_cells = np.empty(n_items, dtype=object)
        item_cells[:] = [list(genres[row]) for row in item_genres]
        genre_column = item_cells[items]
    else:
        genre_column = _take_str(["|".join(genres[row]) for row in item_genres], items)
    X = pd.DataFrame(
        {
            "user_id": users,
            "item_id": items,
            "age": age[users],
            "gender": _take_str(["F", "M"], is_male[users]),
            "occupation": _take_str(occupations, occupation[users]),
            "genres": genre_column,
            "year": year[items],
            "director": _take_str(directors, director[items]),
        },
        copy=False,
    )
    if not return_params:
        return X, y
    params = {
        "global_mean": global_mean, "user_bias": user_bias, "item_bias": item_bias,
        "user_factors": user_factors, "item_factors": item_factors,
        "interaction": interaction, "item_genres": item_genres,
        "age_effect": age_effect, "gender_effect": gender_effect,
        "year_effect": year_effect, "director_effect": director_effect,
        "occupations": occupations, "genres": list(genres), "directors": directors,
    }  # fmt: skip
    return X, y, params


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
