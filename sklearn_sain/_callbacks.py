"""``fit(epoch_callback=...)``: watch each epoch of a fit, and stop it when you choose.

A fit reports after each epoch of its rating path. What the callback decides
is the user's: stop on a time budget (return True), prune a hyperparameter
trial (raise ``optuna.TrialPruned``), log to MLflow. Stopping early keeps the
best epoch so far, as early stopping does.
"""

from __future__ import annotations

import time
from typing import NamedTuple


class EpochReport(NamedTuple):
    """What the ``epoch_callback`` of :meth:`SAINRegressor.fit` receives after each epoch.

    Attributes
    ----------
    epoch : int
        The epoch just finished, from 1 (``n_iter_`` if the fit stopped here).
    loss : float
        Its mean training loss, the value ``loss_curve_`` records.
    validation_rmse : float or None
        RMSE on the validation rows (``eval_set``, or the ``validation_fraction``
        held out) after this epoch, in the units of ``y``: the value
        ``validation_scores_`` records. None when the fit validates nothing.
    best_epoch : int
        The epoch the fit would keep if it stopped now: the best validation
        RMSE so far, or the last epoch without validation.
    best_validation_rmse : float or None
        Its validation RMSE; None without validation.
    seconds : float
        Wall seconds since ``fit`` was called (encoding included).
    """

    epoch: int
    loss: float
    validation_rmse: float | None
    best_epoch: int
    best_validation_rmse: float | None
    seconds: float


def epoch_hook(callback):
    """The training loop's per-epoch hook for a user's ``epoch_callback`` (None: no hook).

    The hook turns the training history into an :class:`EpochReport`, calls
    ``callback`` with it and returns whether the callback asked to stop.
    """
    if callback is None:
        return None
    if not callable(callback):
        raise TypeError(
            f"epoch_callback must be a callable taking an EpochReport, or None; got "
            f"{type(callback).__name__}"
        )
    started = time.perf_counter()

    def on_epoch(history) -> bool:
        scores = history.validation_scores
        best = history.best_epoch if scores else history.n_iter
        report = EpochReport(
            epoch=history.n_iter,
            loss=history.loss_curve[-1],
            validation_rmse=scores[-1] if scores else None,
            best_epoch=best or history.n_iter,
            best_validation_rmse=scores[best - 1] if scores and best else None,
            seconds=time.perf_counter() - started,
        )
        return bool(callback(report))

    return on_epoch
