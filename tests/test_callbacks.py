"""``fit(epoch_callback=...)``: one report per epoch, stopping, errors, Pipeline and Optuna."""

import os
import signal

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import make_pipeline

from sklearn_sain import EpochReport, SAINEncoder, SAINRegressor
from sklearn_sain.datasets import make_ratings

FAST = dict(max_epochs=4, device="cpu", random_state=0, n_iter_no_change=10)


@pytest.fixture(scope="module")
def ratings():
    X, y = make_ratings(n_users=60, n_items=40, n_ratings=1500, random_state=0)
    return train_test_split(X, y, test_size=0.2, random_state=0)


def test_one_report_per_epoch_matching_the_fitted_history(ratings):
    X_train, X_val, y_train, y_val = ratings
    reports = []
    model = SAINRegressor(**FAST).fit(X_train, y_train, eval_set=(X_val, y_val),
                                      epoch_callback=reports.append)  # fmt: skip
    assert all(isinstance(r, EpochReport) for r in reports)
    assert [r.epoch for r in reports] == list(range(1, model.n_iter_ + 1))
    assert [r.loss for r in reports] == model.loss_curve_
    assert [r.validation_rmse for r in reports] == model.validation_scores_
    for r in reports:
        best = int(np.argmin(model.validation_scores_[: r.epoch])) + 1
        assert r.best_epoch == best
        assert r.best_validation_rmse == model.validation_scores_[best - 1]
    seconds = [r.seconds for r in reports]
    assert seconds[0] > 0 and seconds == sorted(seconds)


def test_without_validation_the_report_has_no_rmse_and_the_last_epoch_is_best(ratings):
    X_train, _, y_train, _ = ratings
    reports = []
    SAINRegressor(**FAST, early_stopping=False).fit(X_train, y_train,
                                                    epoch_callback=reports.append)  # fmt: skip
    assert len(reports) == FAST["max_epochs"]
    assert all(r.validation_rmse is None and r.best_validation_rmse is None for r in reports)
    assert [r.best_epoch for r in reports] == [1, 2, 3, 4]


def test_returning_true_stops_and_keeps_what_max_epochs_would_have_kept(ratings):
    X_train, X_val, y_train, y_val = ratings
    stopped = SAINRegressor(**FAST).fit(X_train, y_train, eval_set=(X_val, y_val),
                                        epoch_callback=lambda r: r.epoch == 2)  # fmt: skip
    assert stopped.n_iter_ == 2 and len(stopped.validation_scores_) == 2
    short = SAINRegressor(**{**FAST, "max_epochs": 2}).fit(X_train, y_train,
                                                           eval_set=(X_val, y_val))  # fmt: skip
    assert stopped.best_epoch_ == short.best_epoch_
    np.testing.assert_array_equal(stopped.predict(X_val), short.predict(X_val))
    # the choice head, trained after the rating path, saw the same random state too
    np.testing.assert_array_equal(stopped.recommend(n=5)["score"], short.recommend(n=5)["score"])


def test_a_time_budget_stops_the_fit(ratings):
    X_train, X_val, y_train, y_val = ratings
    model = SAINRegressor(**{**FAST, "max_epochs": 50})
    model.fit(X_train, y_train, eval_set=(X_val, y_val), epoch_callback=lambda r: r.seconds > 0)
    assert model.n_iter_ == 1


def test_an_exception_in_the_callback_ends_fit_and_leaves_it_unfitted(ratings):
    X_train, X_val, y_train, y_val = ratings
    model = SAINRegressor(**FAST).fit(X_train, y_train)

    def fail(report):
        if report.epoch == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        model.fit(X_train, y_train, eval_set=(X_val, y_val), epoch_callback=fail)
    with pytest.raises(NotFittedError):
        model.predict(X_val)


@pytest.mark.parametrize("callback", [1, "print", [print]])
def test_a_callback_that_is_not_callable_is_a_type_error_naming_it(ratings, callback):
    X_train, X_val, y_train, _ = ratings
    with pytest.raises(TypeError, match="epoch_callback must be a callable"):
        SAINRegressor(**FAST).fit(X_train, y_train, epoch_callback=callback)
    # checked before anything is refitted: a fitted model keeps its fit
    model = SAINRegressor(**{**FAST, "max_epochs": 1}).fit(X_train, y_train)
    before = model.predict(X_val)
    with pytest.raises(TypeError, match="epoch_callback"):
        model.fit(X_train, y_train, epoch_callback=callback)
    np.testing.assert_array_equal(model.predict(X_val), before)


def test_pipeline_routes_the_callback_to_the_regressor(ratings):
    X_train, _, y_train, _ = ratings
    reports = []
    pipe = make_pipeline(SAINEncoder(), SAINRegressor(**FAST))
    pipe.fit(X_train, y_train, sainregressor__epoch_callback=reports.append)
    assert len(reports) == pipe[-1].n_iter_ > 0


def test_grid_search_passes_the_callback_to_every_fit(ratings):
    X_train, _, y_train, _ = ratings
    reports = []
    params = {**FAST, "max_epochs": 2, "early_stopping": False}
    grid = GridSearchCV(SAINRegressor(**params), {"top_k": [1, 3]}, cv=2)
    grid.fit(X_train, y_train, epoch_callback=reports.append)
    # two settings x two folds, then the refit, each of two epochs
    assert [r.epoch for r in reports] == [1, 2] * 5
    assert grid.best_estimator_.n_iter_ == 2


def test_optuna_reports_every_epoch_and_prunes_through_the_callback(ratings):
    optuna = pytest.importorskip("optuna")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    X_train, X_val, y_train, y_val = ratings
    models = {}

    def objective(trial):
        model = SAINRegressor(**FAST, top_k=trial.suggest_categorical("top_k", [1, 3]))
        models[trial.number] = model

        def report(r):
            trial.report(r.validation_rmse, r.epoch)
            if trial.should_prune():
                raise optuna.TrialPruned()

        model.fit(X_train, y_train, eval_set=(X_val, y_val), epoch_callback=report)
        return min(model.validation_scores_)

    sampler = optuna.samplers.RandomSampler(seed=0)
    study = optuna.create_study(sampler=sampler, pruner=optuna.pruners.NopPruner())
    study.optimize(objective, n_trials=2)
    for trial in study.trials:
        assert trial.state == optuna.trial.TrialState.COMPLETE
        scores = models[trial.number].validation_scores_
        assert trial.intermediate_values == {e + 1: s for e, s in enumerate(scores)}
        assert trial.value == min(scores)

    # a threshold no RMSE meets prunes every trial at its first epoch after the warm-up
    pruner = optuna.pruners.ThresholdPruner(upper=0.0, n_warmup_steps=2)
    pruned = optuna.create_study(sampler=sampler, pruner=pruner)
    pruned.optimize(objective, n_trials=2)
    for trial in pruned.trials:
        assert trial.state == optuna.trial.TrialState.PRUNED
        assert sorted(trial.intermediate_values) == [1, 2]


def test_mlflow_logs_every_epoch_through_the_callback(ratings, tmp_path):
    mlflow = pytest.importorskip("mlflow")
    from mlflow.tracking import MlflowClient

    X_train, X_val, y_train, y_val = ratings
    model = SAINRegressor(**FAST)
    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    try:
        with mlflow.start_run() as run:
            model.fit(X_train, y_train, eval_set=(X_val, y_val),
                      epoch_callback=lambda r: mlflow.log_metrics(
                          {"loss": r.loss, "validation_rmse": r.validation_rmse}, step=r.epoch))
        history = MlflowClient().get_metric_history(run.info.run_id, "validation_rmse")
    finally:
        mlflow.set_tracking_uri(previous)
    logged = sorted((m.step, m.value) for m in history)
    assert logged == list(enumerate(model.validation_scores_, start=1))


@pytest.mark.skipif(not hasattr(signal, "SIGINT") or os.name != "posix", reason="POSIX signals")
def test_a_sigint_handler_and_the_callback_stop_at_the_epoch_end_keeping_the_fit(ratings):
    # the user guide's recipe: Ctrl-C sets a flag, the callback returns it
    X_train, X_val, y_train, y_val = ratings
    stop = []

    def report(r):
        if r.epoch == 2:
            os.kill(os.getpid(), signal.SIGINT)  # what Ctrl-C sends
        return bool(stop)

    previous = signal.signal(signal.SIGINT, lambda *_: stop.append(True))
    try:
        model = SAINRegressor(**FAST).fit(X_train, y_train, eval_set=(X_val, y_val),
                                          epoch_callback=report)  # fmt: skip
    finally:
        signal.signal(signal.SIGINT, previous)
    assert stop and model.n_iter_ == 2
    assert np.isfinite(model.predict(X_val)).all()
