"""Validation of :class:`SAINRegressor` hyper-parameters, run at the start of ``fit``."""

from __future__ import annotations

import numbers

from ._encoder import SAINEncoder
from ._model import NORMS
from ._training import LOSSES
from ._validation import check_bool, check_number

BIAS_INITS = ("ridge", "zeros")


def check_regressor_params(estimator) -> None:
    """Raise a ValueError or TypeError naming the first invalid parameter of ``estimator``."""
    integral, real = numbers.Integral, numbers.Real
    if estimator.top_k is not None:
        check_number(estimator.top_k, "top_k", integral, min_val=1)
    for name in ("n_heads", "embed_dim", "feature_dim", "batch_size", "max_epochs",
                 "n_iter_no_change"):
        check_number(getattr(estimator, name), name, integral, min_val=1)
    if estimator.feature_dim % estimator.n_heads:
        raise ValueError(
            f"n_heads={estimator.n_heads} must divide feature_dim={estimator.feature_dim}: "
            "each head gets feature_dim // n_heads dimensions"
        )
    check_number(estimator.dropout, "dropout", real, min_val=0.0, max_val=1.0,
                 include_boundaries="left")
    for name, value, allowed in (("norm", estimator.norm, NORMS), ("loss", estimator.loss, LOSSES),
                                 ("bias_init", estimator.bias_init, BIAS_INITS)):
        if not isinstance(value, str) or value not in allowed:
            raise ValueError(f"{name} must be one of {allowed}, got {value!r}")
    for name in ("id_dropout", "token_dropout"):
        check_number(getattr(estimator, name), name, real, min_val=0.0, max_val=1.0,
                     include_boundaries="left")
    check_number(estimator.cold_start_weight, "cold_start_weight", real, min_val=0.0)
    check_number(estimator.l2_reg, "l2_reg", real, min_val=0.0)
    check_number(estimator.learning_rate, "learning_rate", real, min_val=0.0,
                 include_boundaries="neither")
    check_number(estimator.validation_fraction, "validation_fraction", real,
                 min_val=0.0, max_val=1.0, include_boundaries="left")
    check_number(estimator.tol, "tol", real, min_val=0.0)
    if estimator.weight_averaging is not None:
        check_number(estimator.weight_averaging, "weight_averaging", real, min_val=0.0,
                     max_val=1.0, include_boundaries="neither")
    check_number(estimator.verbose, "verbose", integral, min_val=0, allow_bool=True)
    if estimator.implicit_max_links is not None:
        check_number(estimator.implicit_max_links, "implicit_max_links", integral, min_val=1)
    if isinstance(estimator.n_threads, str):
        if estimator.n_threads != "auto":
            raise ValueError(f"n_threads must be an int >= 1, 'auto' or None, "
                             f"got {estimator.n_threads!r}")  # fmt: skip
    elif estimator.n_threads is not None:
        check_number(estimator.n_threads, "n_threads", integral, min_val=1)
    for name in ("top_k_at_predict", "implicit_feedback", "content_bias", "choice_head",
                 "early_stopping", "clip_predictions"):
        check_bool(getattr(estimator, name), name)
    if estimator.encoder is not None and not isinstance(estimator.encoder, SAINEncoder):
        raise TypeError(
            f"encoder must be a SAINEncoder or None, got {type(estimator.encoder).__name__}"
        )
