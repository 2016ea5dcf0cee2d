"""The datasets behind :mod:`sklearn_sain.datasets`, one source per module.

- :mod:`.synthetic`: :func:`~sklearn_sain.datasets.make_ratings`;
- :mod:`.movielens`: MovieLens-100K from GroupLens;
- :mod:`.sain_movielens`: the SAIN paper's MovieLens split with its
  knowledge-graph features;
- :mod:`.yelp`: the SAIN paper's Yelp data;
- :mod:`.folders`: finding a dataset's files below a folder.
"""
