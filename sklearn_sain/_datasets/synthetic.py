"""Synthetic explicit ratings with side features and a planted interaction.

:func:`make_ratings` is public through :mod:`sklearn_sain.datasets`; it is the
data of the examples, the tests and the speed benchmark's scale curve.
"""

# SPDX-License-Identifier: BSD-3-Clause

from numbers import Integral, Real

import numpy as np
import pandas as pd
from sklearn.utils import check_random_state, check_scalar

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
