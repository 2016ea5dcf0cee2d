"""Rating datasets for SAIN: a synthetic generator, MovieLens-100K and Yelp loaders.

The MovieLens data may not be redistributed (GroupLens usage licence), so the
loaders only read files the user downloaded, or download the official archive
from GroupLens on request. Cite Harper & Konstan (2015) when using them.
"""

# SPDX-License-Identifier: BSD-3-Clause

from ._datasets.movielens import MOVIELENS_100K_GENRES, MOVIELENS_100K_URL, load_movielens_100k
from ._datasets.sain_movielens import load_sain_movielens
from ._datasets.synthetic import make_ratings
from ._datasets.yelp import load_yelp

__all__ = [
    "MOVIELENS_100K_GENRES",
    "MOVIELENS_100K_URL",
    "load_movielens_100k",
    "load_sain_movielens",
    "load_yelp",
    "make_ratings",
]
