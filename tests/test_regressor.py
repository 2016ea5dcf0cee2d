"""SAINRegressor as a scikit-learn estimator: fitting, prediction, search, persistence."""

import io
import pickle
import re
import threading

import joblib
import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV, KFold, cross_val_score, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.utils.estimator_checks import parametrize_with_checks

from sklearn_sain import SAINEncoder, SAINRegressor
from sklearn_sain._baselines import ridge_biases
from sklearn_sain.datasets import make_ratings

FAST = dict(max_epochs=3, device="cpu", random_state=0)


@pytest.fixture(scope="module")
def ratings():
    X, y = make_ratings(n_users=60, n_items=40, n_ratings=1500, random_state=0)
    return train_test_split(X, y, test_size=0.2, random_state=0)


@pytest.fixture(scope="module")
def fitted(ratings):
    X_train, _, y_train, _ = ratings
    return SAINRegressor(**FAST).fit(X_train, y_train)


def rmse(a, b):
    return float(np.sqrt(np.mean((np.asarray(a) - np.asarray(b)) ** 2)))


@parametrize_with_checks(
    [SAINRegressor(encoder=SAINEncoder(user_col=0, item_col=1, user_features=[]), max_epochs=3,
                   device="cpu", random_state=0),
     # the default encoder: the check data's extra numeric columns are context columns
     SAINRegressor(max_epochs=2, device="cpu", random_state=0)],
    expected_failed_checks=lambda estimator: {
        "check_sample_weight_equivalence_on_dense_data": (
            "training samples shuffled mini-batches: a row of weight 2 is not exactly the "
            "same row twice (sample_weight is tested in test_sample_weight_* instead)"),
    },
)
def test_scikit_learn_estimator_checks(estimator, check):
    check(estimator)


def test_fit_sets_documented_attributes(fitted, ratings):
    X_train = ratings[0]
    assert isinstance(fitted.encoder_, SAINEncoder)
    assert isinstance(fitted.module_, torch.nn.Module)
    assert fitted.device_ == torch.device("cpu")
    assert fitted.n_features_in_ == X_train.shape[1]
    assert list(fitted.feature_names_in_) == list(X_train.columns)
    assert len(fitted.loss_curve_) == fitted.n_iter_ == 3
    assert len(fitted.validation_scores_) == 3
    assert 1 <= fitted.best_epoch_ <= fitted.n_iter_
    # the kept epoch is the best one up to tol (in units of the targets' deviation)
    kept = fitted.validation_scores_[fitted.best_epoch_ - 1]
    assert kept <= min(fitted.validation_scores_) + fitted.tol * fitted.target_scale_


def test_predictions_are_finite_1d_and_clipped(fitted, ratings):
    _, X_test, y_train, _ = ratings
    pred = fitted.predict(X_test)
    assert pred.shape == (len(X_test),) and pred.dtype == np.float64
    assert np.isfinite(pred).all()
    assert pred.min() >= y_train.min() and pred.max() <= y_train.max()


def test_learns_better_than_global_mean_and_uses_interaction():
    X, y = make_ratings(n_users=150, n_items=80, n_ratings=6000, random_state=1)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=0)
    model = SAINRegressor(max_epochs=15, device="cpu", random_state=0, batch_size=256,
                          learning_rate=3e-3).fit(X_train, y_train)
    baseline = rmse(y_test, np.full(len(y_test), y_train.mean()))
    assert rmse(y_test, model.predict(X_test)) < 0.9 * baseline
    assert model.score(X_test, y_test) > 0.2


def test_same_random_state_gives_identical_predictions_without_touching_global_rng(ratings):
    X_train, X_test, y_train, _ = ratings
    torch.manual_seed(123)
    before = torch.random.get_rng_state()
    first = SAINRegressor(**FAST).fit(X_train, y_train).predict(X_test)
    assert torch.equal(torch.random.get_rng_state(), before)
    second = SAINRegressor(**FAST).fit(X_train, y_train).predict(X_test)
    np.testing.assert_array_equal(first, second)
    other = SAINRegressor(**{**FAST, "random_state": 1}).fit(X_train, y_train).predict(X_test)
    assert not np.array_equal(first, other)


def test_fits_in_parallel_threads_match_the_sequential_fit_and_leave_other_streams_alone(ratings):
    # threaded Dask or joblib workers: each fit draws from generators of its own,
    # so neither the other fits nor another thread's use of torch's global
    # generator can change what it draws, and it changes nothing for them
    X_train, X_test, y_train, _ = ratings
    params = {**FAST, "max_epochs": 2, "id_dropout": 0.2, "token_dropout": 0.2}
    sequential = SAINRegressor(**params).fit(X_train, y_train).predict(X_test)
    torch.manual_seed(0)
    reference = torch.rand(1000)
    results, disturbed = {}, []
    start, fits_done = threading.Barrier(3), threading.Event()

    def fit(slot):
        start.wait()
        results[slot] = SAINRegressor(**params).fit(X_train, y_train).predict(X_test)

    def draw_from_the_global_generator():
        start.wait()
        while not fits_done.is_set():
            torch.manual_seed(0)
            disturbed.append(not torch.equal(torch.rand(1000), reference))

    fitters = [threading.Thread(target=fit, args=(slot,)) for slot in range(2)]
    drawer = threading.Thread(target=draw_from_the_global_generator)
    for thread in [*fitters, drawer]:
        thread.start()
    for thread in fitters:
        thread.join()
    fits_done.set()
    drawer.join()
    for slot in range(2):
        np.testing.assert_array_equal(results[slot], sequential)
    assert disturbed and not any(disturbed)


def test_pipeline_with_encoder_matches_raw_input(ratings, fitted):
    X_train, X_test, y_train, _ = ratings
    # the regressor's own encoder keeps values of two or more users / items (min_ids=2)
    pipe = make_pipeline(SAINEncoder(min_ids=2), SAINRegressor(**FAST)).fit(X_train, y_train)
    assert pipe[-1].encoder_ is None
    assert fitted.encoder_.get_params() == SAINEncoder(min_ids=2).get_params()
    np.testing.assert_allclose(pipe.predict(X_test), fitted.predict(X_test), rtol=1e-6)


def test_model_fitted_on_encoded_input_rejects_raw_input(ratings):
    X_train, X_test, y_train, _ = ratings
    encoder = SAINEncoder().fit(X_train)
    model = SAINRegressor(**FAST).fit(encoder.transform(X_train), y_train)
    with pytest.raises(ValueError, match="SAINEncoder output"):
        model.predict(X_test)


def test_eval_set_drives_early_stopping_and_restores_best_epoch(ratings):
    X_train, X_test, y_train, y_test = ratings
    model = SAINRegressor(max_epochs=40, n_iter_no_change=2, learning_rate=0.02, device="cpu",
                          random_state=0, clip_predictions=False)
    model.fit(X_train, y_train, eval_set=(X_test, y_test))
    assert model.n_iter_ < 40
    assert model.n_iter_ - model.best_epoch_ == 2
    assert rmse(y_test, model.predict(X_test)) == pytest.approx(min(model.validation_scores_), rel=1e-4)


def test_without_early_stopping_runs_all_epochs(ratings):
    X_train, _, y_train, _ = ratings
    model = SAINRegressor(**{**FAST, "max_epochs": 2}, early_stopping=False).fit(X_train, y_train)
    assert model.n_iter_ == 2 and model.validation_scores_ == [] and model.best_epoch_ == 2


def test_verbose_prints_one_line_per_epoch(ratings, capsys):
    X_train, _, y_train, _ = ratings
    model = SAINRegressor(**{**FAST, "max_epochs": 2}, verbose=1).fit(X_train, y_train)
    lines = capsys.readouterr().out.strip().splitlines()
    rating = [line for line in lines if not line.startswith("choice")]
    assert len(rating) == 2
    pattern = r"epoch +\d+ \| train loss [\d.]+ \| valid RMSE [\d.]+ \| [\d.]+s"
    assert all(re.fullmatch(pattern, line) for line in rating)
    # then one summary line of the choice head, and nothing else
    assert len(lines) == 3
    pattern = (r"choice head: \d+ epochs, kept epoch \d+, valid NDCG@10 [\d.]+, rating weight "
               r"[\d.]+ \| [\d.]+s")
    assert re.fullmatch(pattern, lines[2]), lines[2]
    history = model.choice_history_
    assert f"{len(history['loss'])} epochs, kept epoch {history['best_epoch']}," in lines[2]


def test_verbose_2_adds_a_line_per_epoch_of_the_choice_head(ratings, capsys):
    X_train, _, y_train, _ = ratings
    model = SAINRegressor(**{**FAST, "max_epochs": 1}, verbose=2).fit(X_train, y_train)
    lines = capsys.readouterr().out.strip().splitlines()
    choice = [line for line in lines if line.startswith("choice epoch")]
    assert len(choice) == len(model.choice_history_["loss"]) > 0
    pattern = r"choice epoch +\d+ \| loss [\d.]+ \| valid NDCG@10 [\d.]+ \| [\d.]+s"
    assert all(re.fullmatch(pattern, line) for line in choice)


def test_cold_start_users_and_items_get_finite_feature_driven_predictions(fitted, ratings):
    X_test = ratings[1]
    rows = X_test.head(2).copy()
    rows["user_id"] = [10_001, 10_002]
    rows["item_id"] = [20_001, 20_002]
    pred = fitted.predict(rows)
    assert np.isfinite(pred).all()
    # the same unseen pair with other features gets another answer: content carries it
    changed = rows.copy()
    changed["occupation"] = [rows["occupation"].iloc[1], rows["occupation"].iloc[0]]
    changed["genres"] = [rows["genres"].iloc[1], rows["genres"].iloc[0]]
    if not changed[["occupation"]].equals(rows[["occupation"]]):
        assert not np.allclose(fitted.predict(changed), pred)


def test_constant_target_predicts_the_constant(ratings):
    X_train, X_test, _, _ = ratings
    model = SAINRegressor(**FAST).fit(X_train, np.full(len(X_train), 4.0))
    np.testing.assert_allclose(model.predict(X_test), 4.0)


def test_clone_and_params_round_trip():
    model = SAINRegressor(top_k=4, n_heads=4, embed_dim=32, encoder=SAINEncoder(sep=";"))
    params = model.get_params()
    assert params["top_k"] == 4 and params["encoder__sep"] == ";"
    copy = clone(model)
    assert copy.get_params()["encoder__sep"] == ";" and copy.encoder is not model.encoder
    assert model.set_params(top_k=None).top_k is None


def test_grid_search_over_architecture_on_raw_frames(ratings):
    X_train, _, y_train, _ = ratings
    grid = GridSearchCV(
        SAINRegressor(max_epochs=1, device="cpu", random_state=0),
        {"top_k": [2, None], "n_heads": [1, 2], "embed_dim": [8, 16]},
        cv=2,
        scoring="neg_root_mean_squared_error",
    ).fit(X_train, y_train)
    assert len(grid.cv_results_["params"]) == 8
    assert np.isfinite(grid.cv_results_["mean_test_score"]).all()
    assert grid.best_estimator_.embed_dim in (8, 16)


def test_grid_search_and_cross_val_on_pipeline(ratings):
    X_train, _, y_train, _ = ratings
    pipe = make_pipeline(SAINEncoder(), SAINRegressor(max_epochs=1, device="cpu", random_state=0))
    grid = GridSearchCV(pipe, {"sainregressor__top_k": [1, 3]}, cv=2).fit(X_train, y_train)
    assert set(grid.cv_results_["param_sainregressor__top_k"]) == {1, 3}
    scores = cross_val_score(pipe, X_train, y_train, cv=KFold(3, shuffle=True, random_state=0))
    assert scores.shape == (3,) and np.isfinite(scores).all()


def test_joblib_round_trip_gives_identical_predictions(fitted, ratings, tmp_path):
    X_test = ratings[1]
    path = tmp_path / "model.joblib"
    joblib.dump(fitted, path)
    loaded = joblib.load(path)
    np.testing.assert_array_equal(loaded.predict(X_test), fitted.predict(X_test))
    assert all(t.device.type == "cpu" for t in loaded.module_.state_dict().values())


def test_pickle_holds_no_tensors(fitted):
    state = fitted.__getstate__()
    # the fitted state travels as the bytes of a safe-format file (CPU tensors inside)
    assert not any(isinstance(v, (torch.Tensor, torch.nn.Module)) for v in state.values())
    assert isinstance(fitted.module_, torch.nn.Module)  # pickling did not strip the live model


def test_cuda_fitted_model_loads_on_cpu_with_warning(fitted, ratings, monkeypatch):
    X_test = ratings[1]
    expected = fitted.predict(X_test)
    fake = pickle.loads(pickle.dumps(fitted))
    fake._fitted.device = torch.device("cuda:0")  # as if it had been fitted on a GPU
    buffer = io.BytesIO()
    fake_state = fake.__getstate__()
    buffer.write(pickle.dumps(fake_state))
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    restored = SAINRegressor.__new__(SAINRegressor)
    with pytest.warns(UserWarning, match="CUDA is not available"):
        restored.__setstate__(pickle.loads(buffer.getvalue()))
    assert restored.device_ == torch.device("cpu")
    np.testing.assert_array_equal(restored.predict(X_test), expected)


def test_predict_before_fit_raises_not_fitted(ratings):
    with pytest.raises(NotFittedError):
        SAINRegressor().predict(ratings[1])


@pytest.mark.parametrize(
    "params, match",
    [
        ({"top_k": 0}, "top_k"),
        ({"n_heads": 3}, "must be a divisor of feature_dim=16"),
        ({"batch_size": 0}, "batch_size"),
        ({"learning_rate": 0.0}, "learning_rate"),
        ({"learning_rate": -1.0}, "learning_rate"),
        ({"dropout": 1.0}, "dropout"),
        ({"norm": "group"}, "'norm' parameter of SAINRegressor must be a str among"),
        ({"loss": "mae"}, "'loss' parameter of SAINRegressor must be a str among"),
        ({"bias_init": "normal"}, "'bias_init' parameter of SAINRegressor must be a str among"),
        ({"max_epochs": 0}, "max_epochs"),
        ({"device": "tpu"}, "device='tpu'"),
    ],
)
def test_invalid_parameters_are_named(params, match, ratings):
    X_train, _, y_train, _ = ratings
    with pytest.raises(ValueError, match=re.escape(match) if "=" in match else match):
        SAINRegressor(**{**FAST, **params}).fit(X_train, y_train)


@pytest.mark.parametrize("bias_init", ["ridge", "zeros"])
def test_bias_init_sets_the_biases_training_starts_from(bias_init, ratings):
    X_train, _, y_train, _ = ratings
    # a step so small that the fitted biases are still the starting ones
    model = SAINRegressor(**{**FAST, "max_epochs": 1, "learning_rate": 1e-12,
                             "early_stopping": False, "bias_init": bias_init}).fit(X_train, y_train)
    module = model.module_
    users, items, _ = model.layout_.arrays(model.encoder_.transform(X_train))
    target = (y_train - model.target_mean_) / model.target_scale_
    expected = ridge_biases(users, items, target, model.layout_.n_users, model.layout_.n_items,
                            reg=5.0)
    got = (module.global_bias.item(), module.user_bias.weight[:, 0].detach().numpy(),
           module.item_bias.weight[:, 0].detach().numpy())
    if bias_init == "zeros":
        expected = (0.0, np.zeros_like(expected[1]), np.zeros_like(expected[2]))
    else:
        assert np.abs(expected[2]).max() > 0.05  # the ridge fit is not trivially zero
    np.testing.assert_allclose(got[0], expected[0], atol=1e-5)
    np.testing.assert_allclose(got[1], expected[1], atol=1e-5)
    np.testing.assert_allclose(got[2], expected[2], atol=1e-5)


def test_ridge_biases_solve_the_ridge_equations():
    rng = np.random.default_rng(0)
    users, items = rng.integers(0, 6, 200), rng.integers(0, 9, 200)
    y = rng.normal(3.0, 1.0, 200) + users * 0.3 - items * 0.2
    mean, user_bias, item_bias = ridge_biases(users, items, y, 7, 10, reg=4.0, n_sweeps=200)
    residual = y - mean - user_bias[users] - item_bias[items]
    # stationarity of sum of squared residuals + reg * (|b_u|^2 + |b_i|^2)
    np.testing.assert_allclose(np.bincount(users, residual, 7), 4.0 * user_bias, atol=1e-8)
    np.testing.assert_allclose(np.bincount(items, residual, 10), 4.0 * item_bias, atol=1e-8)
    assert user_bias[6] == 0.0 and item_bias[9] == 0.0  # ids without ratings
    assert mean == pytest.approx(y.mean())


def test_encoder_parameter_must_be_a_sain_encoder(ratings):
    X_train, _, y_train, _ = ratings
    with pytest.raises(TypeError, match="'encoder' parameter of SAINRegressor must be an "
                                        "instance of 'sklearn_sain._encoding.encoder.SAINEncoder'"):
        SAINRegressor(encoder="onehot").fit(X_train, y_train)


@pytest.mark.parametrize(
    "target, match",
    [
        (lambda n: np.r_[np.nan, np.ones(n - 1)], "NaN"),
        (lambda n: np.r_[np.inf, np.ones(n - 1)], "infinity"),
        (lambda n: np.ones(n - 1), "values but X has"),
        (lambda n: np.array(["good"] * n, dtype=object), "float"),
    ],
)
def test_bad_targets_are_rejected(target, match, ratings):
    X_train = ratings[0]
    with pytest.raises(ValueError, match=match):
        SAINRegressor(**FAST).fit(X_train, target(len(X_train)))


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_cuda_requested_without_cuda_is_a_clear_error(ratings):
    X_train, _, y_train, _ = ratings
    with pytest.raises(ValueError, match="CUDA is not available"):
        SAINRegressor(device="cuda").fit(X_train, y_train)


def test_frame_without_features_is_biased_mf():
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"user_id": rng.integers(0, 30, 600), "item_id": rng.integers(0, 20, 600)})
    y = rng.integers(1, 6, 600).astype(float)
    model = SAINRegressor(**FAST).fit(X, y)
    assert model.module_.has_content is False
    assert np.isfinite(model.predict(X)).all()


@pytest.mark.gpu
def test_cuda_fit_predict_and_cpu_pickle(ratings):
    X_train, X_test, y_train, _ = ratings
    model = SAINRegressor(max_epochs=2, device="cuda", random_state=0).fit(X_train, y_train)
    assert next(model.module_.parameters()).device.type == "cuda"
    pred = model.predict(X_test)
    assert np.isfinite(pred).all()
    state = model.__getstate__()
    assert all(t.device.type == "cpu" for t in state["module_"].values())
    np.testing.assert_allclose(pickle.loads(pickle.dumps(model)).predict(X_test), pred, rtol=1e-5)


def test_voting_regressor_averages_seeded_fits(ratings):
    from sklearn.ensemble import VotingRegressor

    X_train, X_test, y_train, _ = ratings
    ensemble = VotingRegressor(
        [(f"seed{seed}", SAINRegressor(**{**FAST, "random_state": seed})) for seed in range(3)]
    ).fit(X_train, y_train)
    members = np.array([member.predict(X_test) for member in ensemble.estimators_])
    assert not np.allclose(members[0], members[1])  # the seeds differ
    np.testing.assert_allclose(ensemble.predict(X_test), members.mean(axis=0))


def test_a_diverging_fit_warns_and_names_the_learning_rate(ratings):
    from sklearn.exceptions import ConvergenceWarning

    X_train, _, y_train, _ = ratings
    with pytest.warns(ConvergenceWarning, match=r"times that of predicting the training mean.*"
                                                r"learning_rate \(now 10.0\)"):
        SAINRegressor(**{**FAST, "max_epochs": 2}, learning_rate=10.0).fit(X_train, y_train)


def test_a_normal_fit_does_not_warn_about_divergence(ratings):
    import warnings

    from sklearn.exceptions import ConvergenceWarning

    X_train, _, y_train, _ = ratings
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        SAINRegressor(**{**FAST, "max_epochs": 2}).fit(X_train, y_train)
        # nor on a constant target, which the mean predicts exactly
        SAINRegressor(**{**FAST, "max_epochs": 2}).fit(X_train, np.full(len(y_train), 4.0))


def test_rescaled_targets_stop_at_the_same_epoch(ratings):
    X_train, _, y_train, _ = ratings
    params = {**FAST, "max_epochs": 6, "n_iter_no_change": 1, "tol": 1e-3}
    small = SAINRegressor(**params).fit(X_train, y_train / 1000)
    plain = SAINRegressor(**params).fit(X_train, y_train)
    assert (small.n_iter_, small.best_epoch_) == (plain.n_iter_, plain.best_epoch_)


def test_sample_weight_of_ones_changes_nothing_and_zero_weights_ignore_rows(ratings):
    X_train, X_test, y_train, _ = ratings
    params = {**FAST, "max_epochs": 2, "early_stopping": False}
    plain = SAINRegressor(**params).fit(X_train, y_train)
    ones = SAINRegressor(**params).fit(X_train, y_train, sample_weight=np.ones(len(y_train)))
    np.testing.assert_array_equal(plain.predict(X_test), ones.predict(X_test))
    # rows of weight 0 do not move the model: wild targets there change nothing
    wild = y_train.copy()
    ignored = np.arange(len(y_train)) % 3 == 0
    wild[ignored] = np.where(wild[ignored] > 3, 1.0, 5.0)
    weight = (~ignored).astype(float)
    first = SAINRegressor(**params).fit(X_train, wild, sample_weight=weight)
    second = SAINRegressor(**params).fit(X_train, y_train, sample_weight=weight)
    np.testing.assert_allclose(first.predict(X_test), second.predict(X_test), rtol=1e-5)


def test_sample_weight_pulls_predictions_towards_the_heavy_rows(ratings):
    X_train, _, y_train, _ = ratings
    heavy = np.asarray(X_train["user_id"]) % 2 == 0
    y = np.where(heavy, 5.0, 1.0)
    params = {**FAST, "max_epochs": 3, "early_stopping": False, "learning_rate": 3e-3}
    weighted = SAINRegressor(**params).fit(X_train, y, sample_weight=np.where(heavy, 10.0, 0.1))
    plain = SAINRegressor(**params).fit(X_train, y)
    light_rows = X_train[~heavy]
    assert weighted.predict(light_rows).mean() > plain.predict(light_rows).mean() + 0.05


def test_bad_sample_weight_is_refused(ratings):
    X_train, _, y_train, _ = ratings
    model = SAINRegressor(**FAST)
    with pytest.raises(ValueError, match="Negative values in data passed to `sample_weight`"):
        model.fit(X_train, y_train, sample_weight=-np.ones(len(y_train)))
    with pytest.raises(ValueError, match=r"sample_weight.shape == \(3,\)"):
        model.fit(X_train, y_train, sample_weight=np.ones(3))
    with pytest.raises(ValueError, match="sample_weight contains infinity"):
        model.fit(X_train, y_train, sample_weight=np.full(len(y_train), np.inf))


def test_pipelines_pass_sample_weight_to_the_regressor(ratings):
    from sklearn.pipeline import make_pipeline

    X_train, X_test, y_train, _ = ratings
    params = {**FAST, "max_epochs": 2, "early_stopping": False}
    weight = np.linspace(0.5, 2.0, len(y_train))
    pipe = make_pipeline(SAINEncoder(), SAINRegressor(**params))
    pipe.fit(X_train, y_train, sainregressor__sample_weight=weight)
    direct = make_pipeline(SAINEncoder(), SAINRegressor(**params))
    direct.fit(X_train, y_train)
    assert not np.array_equal(pipe.predict(X_test), direct.predict(X_test))
