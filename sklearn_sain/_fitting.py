"""``SAINRegressor.fit``: from a ratings table to a FittedSAIN.

:class:`RegressorFit` checks the input, encodes it and sets the fitted
attributes; :func:`fit_sain` is the training procedure. It takes an encoded
table and checked targets and returns what the fit learned: the layout,
catalog and target scaling, the network with its implicit-feedback links and
starting biases, trained on the mini-batches of
:mod:`sklearn_sain._nn.training` with early stopping, then its choice head.
It reads the estimator's parameters (public attributes) and writes nothing
to it.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import torch
from sklearn.base import _fit_context
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state

from ._baselines import ridge_biases
from ._callbacks import epoch_hook
from ._encoding.catalog import build_catalog
from ._encoding.layout import layout_of
from ._fitted import FittedSAIN
from ._nn.choice_training import fit_choice_head
from ._nn.feedback import training_links
from ._nn.randomness import seeded_generator
from ._nn.torch_utils import is_allocation_error, is_finite_module, resolve_device
from ._nn.training import History, Rows, train_module
from ._threads import torch_threads
from ._validation import TrainingDivergedError, check_weights, target_stats

# a kept model whose validation RMSE exceeds this many times the training
# mean's is reported as diverged (R² below -1.25); no fit that learned
# anything comes near it, and the mean is what every fit starts from
_DIVERGED_FACTOR = 1.5
# validation rows below which RMSE ratios are noise (a 5-row table's one held-out row)
_MIN_JUDGED = 30

# ridge strength of bias_init="ridge": each bias is shrunk as if this many extra
# ratings at the mean were observed; the bias-only baseline of the benchmark
# selects 5 on validation (of 1, 5, 10, 25) on both MovieLens and Yelp
_BIAS_RIDGE = 5.0


class RegressorFit:
    """``fit`` of :class:`SAINRegressor`: checks, encoding, then :func:`fit_sain`."""

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, eval_set=None, sample_weight=None, epoch_callback=None):
        """Fit the model on ratings.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_columns)
            Raw ratings table (user id, item id, feature columns) or the
            output of a fitted :class:`SAINEncoder`.
        y : array-like of shape (n_samples,)
            Ratings.
        eval_set : tuple (X_val, y_val), default=None
            Validation data for early stopping and best-epoch selection.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weight of each rating in the training loss (the
            squared errors of a batch are weighted; a weight of 2 counts a
            rating about as twice, not exactly, since training samples
            mini-batches). None weighs every rating 1. Validation RMSE, the
            starting biases (``bias_init``) and the choice head do not use
            the weights, but a rating of weight 0 counts nowhere (not in
            the target statistics or the starting biases either).
        epoch_callback : callable, default=None
            Called after each training epoch (with its validation) with an
            :class:`~sklearn_sain.EpochReport`: the epoch, its loss and
            validation RMSE, the best epoch so far and the seconds since
            ``fit`` began. If it returns True, training stops there and the
            best epoch so far is kept, as early stopping keeps it; an
            exception it raises (``optuna.TrialPruned``) ends ``fit`` and
            leaves the estimator unfitted. The choice head, trained after
            the rating path, does not report. Through a
            :class:`~sklearn.pipeline.Pipeline`, pass it as
            ``<step>__epoch_callback``.

        Returns
        -------
        self : SAINRegressor
            The fitted estimator.

        Raises
        ------
        sklearn.utils._param_validation.InvalidParameterError
            For an invalid parameter (checked against ``_parameter_constraints``,
            as scikit-learn's estimators check theirs); it is both a
            ``ValueError`` and a ``TypeError``.
        ValueError
            For invalid data, and when training diverges (a non-finite loss or
            non-finite weights, typically a too large ``learning_rate``); the
            latter is also a ``FloatingPointError``.
        TypeError
            For cells of the wrong type, or an ``epoch_callback`` that is not
            callable.
        """
        on_epoch = epoch_hook(epoch_callback)  # checked before a refit can discard anything
        try:
            with torch_threads(self.n_threads) as threads:
                return self._fit(X, y, eval_set, sample_weight, threads.step, on_epoch)
        except BaseException:
            # a failed refit must not leave the previous model next to the new
            # layout: predict would then index embeddings with the wrong ids
            self._forget_fit()
            raise

    def _forget_fit(self) -> None:
        for name in [n for n in vars(self) if n.endswith("_") and not n.startswith("__")]:
            delattr(self, name)
        vars(self).pop("_fitted", None)

    def _fit(self, X, y, eval_set, sample_weight, on_batch, on_epoch):
        self._check_params()
        encoded = self._encode(X, fit=True)
        y = self._check_target(y, n_rows=len(encoded))
        if sample_weight is not None:
            sample_weight = check_weights(sample_weight, len(y))
        validation = None
        if eval_set is not None:
            if not (isinstance(eval_set, (tuple, list)) and len(eval_set) == 2):
                raise TypeError("eval_set must be a pair (X_val, y_val)")
            X_val, y_val = eval_set
            encoded_val = self._encode_validation(X_val, encoded)
            if not len(encoded_val):
                raise ValueError("eval_set X has 0 rows; pass eval_set=None to skip validation")
            validation = encoded_val, self._check_target(y_val, n_rows=len(encoded_val),
                                                         name="eval_set y")  # fmt: skip
        outcome = fit_sain(
            self, encoded, y, sample_weight=sample_weight, validation=validation,
            vocabulary_sizes=None if self.encoder_ is None else self.encoder_.vocabulary_sizes_,
            on_batch=on_batch, on_epoch=on_epoch,
        )
        self._fitted = outcome.fitted
        self.choice_history_ = outcome.choice_history
        self.loss_curve_ = outcome.history.loss_curve
        self.validation_scores_ = outcome.history.validation_scores
        self.best_epoch_ = outcome.history.best_epoch
        self.n_iter_ = outcome.history.n_iter
        return self


@dataclass(frozen=True, eq=False)
class FitOutcome:
    """What :func:`fit_sain` returns."""

    fitted: FittedSAIN
    history: History  # the rating path's epochs
    choice_history: dict | None  # the choice head's, None without one


def fit_sain(params, encoded, y, *, sample_weight=None, validation=None,
             vocabulary_sizes=None, on_batch=None, on_epoch=None) -> FitOutcome:  # fmt: skip
    """Fit SAIN on an encoded table.

    Parameters
    ----------
    params : SAINRegressor
        The estimator, whose parameters (public attributes) are read.
    encoded : DataFrame
        SAINEncoder output, at least one row.
    y, sample_weight : ndarray
        Checked targets and weights (or None).
    validation : tuple (encoded, y) or None
        Validation rows from ``eval_set``; None holds out
        ``validation_fraction`` of the rows when early stopping.
    vocabulary_sizes : dict or None
        The encoder's vocabulary sizes (None: read from the table).
    on_batch : callable or None
        Called after each training batch (the thread policy's check).
    on_epoch : callable or None
        Called after each epoch of the rating path with its history; a true
        result stops training (see :func:`~sklearn_sain._callbacks.epoch_hook`).
    """
    layout = layout_of(encoded, vocabulary_sizes)
    catalog = build_catalog(encoded, layout)
    device = resolve_device(params.device)
    rng = check_random_state(params.random_state)

    # rows of weight 0 must not shape anything: not even the target statistics
    counted = y if sample_weight is None else y[sample_weight > 0]
    target_mean, target_scale = target_stats(counted)
    fitted = FittedSAIN(layout, target_mean=target_mean, target_scale=target_scale,
                        target_range=(float(np.min(counted)), float(np.max(counted))),
                        catalog=catalog, device=device)  # fmt: skip

    train_index = np.arange(len(y))
    valid_rows = None
    if validation is not None:
        valid_rows = fitted.rows(*validation)
    elif params.early_stopping and params.validation_fraction > 0 and len(y) >= 2:
        shuffled = rng.permutation(len(y))
        n_valid = min(max(1, int(round(params.validation_fraction * len(y)))), len(y) - 1)
        valid_index, train_index = np.sort(shuffled[:n_valid]), np.sort(shuffled[n_valid:])
        valid_rows = fitted.rows(encoded.iloc[valid_index], y[valid_index])
    weight = None
    if sample_weight is not None:
        # scaled to a mean of 1, so that the learning rate means what it does unweighted
        weight = sample_weight[train_index]
        weight = weight / weight.mean() if weight.sum() > 0 else weight
        if not weight.any():
            raise ValueError("sample_weight is 0 for every training row; at least one "
                             "rating must have a positive weight")
    train_rows = fitted.rows(encoded.iloc[train_index], y[train_index], weight)

    module_kwargs = dict(
        layout.module_kwargs(),
        feature_dim=params.feature_dim,
        embed_dim=params.embed_dim,
        n_heads=params.n_heads,
        top_k=params.top_k,
        dropout=params.dropout,
        norm=params.norm,
        top_k_at_predict=params.top_k_at_predict,
        implicit_feedback=bool(params.implicit_feedback),
        id_dropout=float(params.id_dropout),
        content_bias=bool(params.content_bias),
        token_dropout=float(params.token_dropout),
        choice_head=bool(params.choice_head),
    )
    seed = int(rng.randint(np.iinfo(np.int32).max))
    links = _feedback_links(params, layout, train_rows, seed)
    module_kwargs.update(n_user_links=len(links[0][0]), n_item_links=len(links[1][0]))
    # generators of the fit's own, never torch's global one: fits in
    # parallel threads must neither depend on nor disturb each other
    module = fitted.build_module(module_kwargs, seeded_generator(seed))
    module.set_feedback_links(*links)
    if params.bias_init == "ridge":
        module.set_biases(*_ridge_biases(layout, train_rows))
    noise = seeded_generator(rng.randint(np.iinfo(np.int32).max), device)
    module.use_generator(noise)
    try:
        history = _train(params, fitted, train_rows, valid_rows, rng, on_batch, on_epoch)
        choice_history = _train_choice(params, fitted, encoded, train_index, train_rows,
                                       valid_rows, rng, on_batch)  # fmt: skip
    except FloatingPointError as exc:
        raise TrainingDivergedError(
            f"Training diverged (learning_rate={params.learning_rate}, "
            f"l2_reg={params.l2_reg}): {exc}"
        ) from exc
    except (RuntimeError, MemoryError) as exc:
        if not is_allocation_error(exc):
            raise
        # attention memory grows with batch_size * n_slots ** 2
        raise ValueError(
            f"Not enough memory on {device} to train with batch_size="
            f"{params.batch_size} on rows of {layout.n_slots} feature tokens; "
            "lower batch_size, or cap long multi-valued cells with the encoder's "
            "max_values"
        ) from exc
    finally:
        module.use_generator(None)  # a fitted module holds no generator
    # the last steps can break the weights after the last loss was measured,
    # or leave them finite but so large that scores overflow: check both
    if not (is_finite_module(module)
            and torch.isfinite(fitted.scores(train_rows.take(slice(0, 1024)))).all()):
        raise TrainingDivergedError(
            "Training diverged: the weights or the scores became NaN or infinite; "
            f"lower learning_rate (now {params.learning_rate})"
        )
    _warn_if_worse_than_the_mean(params, fitted, history, valid_rows)
    return FitOutcome(fitted, history, choice_history)


def _warn_if_worse_than_the_mean(params, fitted, history, valid_rows) -> None:
    """Warn when the kept model predicts the validation data far worse than the mean.

    A learning rate too large for the data drives the weights far off
    without making them infinite; the best epoch is then still kept, and
    would predict worse than the training mean for every row.
    """
    scores = history.validation_scores
    if valid_rows is None or not scores or len(valid_rows) < _MIN_JUDGED:
        return
    # the standardised targets are 0 at the training mean
    mean_rmse = float(torch.sqrt(torch.mean(valid_rows.target**2))) * fitted.target_scale
    best = min(scores)
    if mean_rmse > 0 and best > _DIVERGED_FACTOR * mean_rmse:
        warnings.warn(
            f"The best validation RMSE ({best:.4g}) is {best / mean_rmse:.1f} times that of "
            f"predicting the training mean ({mean_rmse:.4g}): training probably diverged. "
            f"Lower learning_rate (now {params.learning_rate}).",
            ConvergenceWarning,
            stacklevel=4,
        )


def _feedback_links(params, layout, rows: Rows, seed: int):
    """The implicit-feedback links of the training ``rows`` (see :func:`training_links`)."""
    if not params.implicit_feedback:
        empty = np.zeros(0, dtype=np.int64)
        return (empty, empty), (empty, empty)
    return training_links(rows.users.cpu().numpy(), rows.items.cpu().numpy(),
                          layout.n_users, layout.n_items,
                          params.implicit_max_links, seed)  # fmt: skip


def _ridge_biases(layout, rows: Rows):
    """Global mean, user and item biases of the bias-only fit of ``rows`` (``bias_init``).

    Rows of weight 0 are left out; the other weights are not used.
    """
    counted = slice(None) if rows.weight is None else (rows.weight > 0).cpu().numpy()
    return ridge_biases(rows.users.cpu().numpy()[counted], rows.items.cpu().numpy()[counted],
                        rows.target.cpu().numpy()[counted], layout.n_users,
                        layout.n_items, reg=_BIAS_RIDGE)  # fmt: skip


def _train(params, fitted, train_rows, valid_rows, rng, on_batch, on_epoch) -> History:
    return train_module(
        fitted.module,
        train_rows,
        valid_rows,
        loss=params.loss,
        l2_reg=params.l2_reg,
        learning_rate=params.learning_rate,
        batch_size=params.batch_size,
        max_epochs=params.max_epochs,
        early_stopping=params.early_stopping,
        n_iter_no_change=params.n_iter_no_change,
        tol=params.tol,
        target_scale=fitted.target_scale,
        rng=rng,
        weight_averaging=params.weight_averaging,
        verbose=params.verbose,
        predict_batch_size=fitted.rows_per_batch(),
        cold_start_weight=params.cold_start_weight,
        content_anchor=params.content_anchor,
        id_weight_decay=params.id_weight_decay,
        on_batch=on_batch,
        on_epoch=on_epoch,
    )


def _train_choice(params, fitted, encoded, train_index, train_rows, valid_rows, rng, on_batch):
    """Fit the choice head (if any) on who rated what; its history, or None."""
    if not fitted.has_choice:
        return None
    # the catalog of the training rows: held-out rows must not count as the
    # history the choice head is validated on
    train_catalog = (fitted.catalog if len(train_index) == len(encoded)
                     else build_catalog(encoded.iloc[train_index], fitted.layout))
    pairs = lambda rows: (rows.users.cpu().numpy(), rows.items.cpu().numpy())  # noqa: E731
    valid_pairs = valid_target = None
    if valid_rows is not None:
        valid_pairs, valid_target = pairs(valid_rows), valid_rows.target.cpu().numpy()
    return fit_choice_head(fitted.module, train_catalog, pairs(train_rows), valid_pairs,
                           valid_target, fitted.device, rng, params.verbose,
                           on_batch)  # fmt: skip
