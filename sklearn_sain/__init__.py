"""SAIN (Self-Attentive Integration Network) recommender for scikit-learn.

The package exposes two estimators and a baseline:

- :class:`SAINEncoder` turns a ratings DataFrame (user id, item id, scalar or
  multi-valued feature columns) into padded integer token ids.
- :class:`SAINRegressor` fits the SAIN model of Yun et al. (SIGIR 2019) on
  such data and predicts ratings.
- :class:`BiasOnlyRegressor` is the global mean plus ridge user and item
  biases, the baseline every recommender must beat.

:meth:`SAINRegressor.explain` returns an :class:`Explanation`, drawn by
:mod:`sklearn_sain.plotting`; datasets live in :mod:`sklearn_sain.datasets`.
"""

__version__ = "0.1.0"

from ._baselines import BiasOnlyRegressor
from ._callbacks import EpochReport
from ._encoding.encoder import SAINEncoder
from ._explain import Explanation
from ._persistence.safe_format import SKOPS_TRUSTED_TYPES, load, save
from ._regressor import SAINRegressor

__all__ = ["SKOPS_TRUSTED_TYPES", "BiasOnlyRegressor", "EpochReport", "Explanation", "SAINEncoder",
           "SAINRegressor", "load", "save", "__version__"]
