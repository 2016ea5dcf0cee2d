"""Bad input, cold start and odd scales: clean errors or finite predictions, never a crash."""

import re
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.exceptions import NotFittedError
from sklearn.utils._param_validation import InvalidParameterError

from sklearn_sain import SAINEncoder, SAINRegressor
from sklearn_sain._validation import TrainingDivergedError

FAST = dict(max_epochs=1, device="cpu", random_state=0, embed_dim=8, feature_dim=4, batch_size=16)
CLEAN_ERRORS = (ValueError, TypeError)


def make_model(**params):
    return SAINRegressor(**{**FAST, "encoder": SAINEncoder(user_features=["age"]), **params})


def tiny_ratings(n_rows=40, seed=0):
    """Ratings with a scalar user feature and a delimited multi-valued item feature."""
    rng = np.random.default_rng(seed)
    users = rng.integers(0, 8, n_rows)
    items = rng.integers(0, 6, n_rows)
    genres = np.array(["Drama|Comedy", "Action", "Comedy", "Drama|Action|War", "Noir", ""])
    X = pd.DataFrame(
        {"user_id": users, "item_id": items, "age": 20 + users % 4, "genres": genres[items]},
        index=pd.RangeIndex(100, 100 + n_rows),
    )
    y = 1.0 + (users % 5 + items % 3) / 2.0
    return X, y


@pytest.fixture(scope="module")
def data():
    return tiny_ratings()


@pytest.fixture(scope="module")
def fitted(data):
    X, y = data
    return make_model().fit(X, y)


# ------------------------------------------------------------------ targets


@pytest.mark.parametrize(
    "make_y, error, match",
    [
        (lambda n: np.r_[np.ones(3), np.nan, np.ones(n - 4)], ValueError,
         "y contains NaN at position 3"),
        (lambda n: np.r_[np.inf, np.ones(n - 1)], ValueError, "y contains infinity at position 0"),
        (lambda n: np.r_[np.ones(n - 1), -np.inf], ValueError, "infinity at position"),
        (lambda n: ["good"] * n, ValueError, "y must hold numbers"),
        (lambda n: np.ones(n - 1), ValueError, "y has 39 values but X has 40 rows"),
        (lambda n: np.ones(n + 1), ValueError, "y has 41 values but X has 40 rows"),
        (lambda n: [], ValueError, "y has 0 values"),
        (lambda n: None, ValueError, "requires y to be passed"),
        (lambda n: np.ones((n, 2)), ValueError, "y should be a 1d array"),
        (lambda n: {"rating": 1.0}, TypeError, "y must be a 1-D array-like of numbers"),
        (lambda n: 3.0, TypeError, "y must be a 1-D array-like of numbers"),
        (lambda n: [1.0, None] * (n // 2), ValueError, "y contains NaN at position 1"),
    ],
)
def test_bad_targets_raise_naming_y(data, make_y, error, match):
    X, _ = data
    with pytest.raises(error, match=re.escape(match)):
        make_model().fit(X, make_y(len(X)))


def test_bad_eval_set_targets_are_named(data):
    X, y = data
    with pytest.raises(ValueError, match="eval_set y contains NaN at position 0"):
        make_model().fit(X, y, eval_set=(X, np.r_[np.nan, y[1:]]))
    with pytest.raises(ValueError, match="eval_set X has 0 rows"):
        make_model().fit(X, y, eval_set=(X.iloc[:0], y[:0]))
    with pytest.raises(TypeError, match="eval_set must be a pair"):
        make_model().fit(X, y, eval_set=(X,))


def test_empty_table_is_refused(data):
    X, y = data
    with pytest.raises(ValueError, match=r"0 sample\(s\)"):
        make_model().fit(X.iloc[:0], y[:0])


# ------------------------------------------------------------------ columns


def test_missing_and_duplicate_columns_at_fit(data):
    X, y = data
    with pytest.raises(ValueError, match=re.escape("duplicate column names ['age']")):
        make_model().fit(pd.concat([X, X[["age"]]], axis=1), y)
    with pytest.raises(ValueError, match=re.escape("item_col: unknown column(s) ['item_id']")):
        make_model().fit(X.drop(columns="item_id"), y)
    with pytest.raises(ValueError, match=re.escape("user_features: unknown column(s) ['age']")):
        make_model().fit(X.drop(columns="age"), y)
    with pytest.raises(ValueError, match="user id column and an item id column"):
        make_model().fit(X[["user_id"]], y)


@pytest.mark.filterwarnings("ignore:X does not have valid feature names")
def test_columns_missing_extra_or_reordered_at_predict(fitted, data):
    X, _ = data
    with pytest.raises(ValueError, match="missing:\n- genres"):
        fitted.predict(X.drop(columns="genres"))
    with pytest.raises(ValueError, match="unseen at fit time:\n- extra"):
        fitted.predict(X.assign(extra=1))
    with pytest.raises(ValueError, match="same order"):
        fitted.predict(X[X.columns[::-1]])
    with pytest.raises(ValueError, match="X has 3 features, but"):
        fitted.predict(X.to_numpy()[:, :3])


# -------------------------------------------------------------------- cells


@pytest.mark.parametrize(
    "cell, error, match",
    [
        ({"genre": "Drama"}, TypeError, "row 103: unsupported value of type dict"),
        (["Drama", ["Noir"]], TypeError, "row 103: unsupported value of type list inside"),
        (["Drama", {"Noir"}], TypeError, "row 103: unsupported value of type set inside"),
        (object(), TypeError, "row 103: unsupported value of type object"),
        (b"Drama", TypeError, "row 103: unsupported value of type bytes"),
        (1 + 2j, ValueError, "Complex data not supported (column 'genres', row 103)"),
    ],
)
def test_unsupported_cells_name_column_and_row_at_fit_and_predict(data, fitted, cell, error,
                                                                  match):
    X, y = data
    bad = X.astype({"genres": object})
    bad.at[103, "genres"] = cell
    with pytest.raises(error, match=re.escape(match)):
        make_model().fit(bad, y)
    with pytest.raises(error, match=re.escape(match)):
        fitted.predict(bad)
    if error is TypeError:
        assert "Column 'genres'" in str(pytest.raises(error, fitted.predict, bad).value)


@pytest.mark.parametrize("missing", [None, np.nan, pd.NA, ""])
def test_missing_ids_name_column_and_row(data, fitted, missing):
    X, y = data
    bad = X.astype({"item_id": object})
    bad.at[107, "item_id"] = missing
    match = "Column 'item_id' (an id column) has a missing value"
    with pytest.raises(ValueError, match=re.escape(match) + ".*row 107"):
        make_model().fit(bad, y)
    with pytest.raises(ValueError, match=re.escape(match) + ".*row 107"):
        fitted.predict(bad)


def test_mixed_type_ids_fit_and_predict(data):
    X, y = data
    mixed = X.astype({"user_id": object})
    mixed["user_id"] = [f"u{u}" if i % 3 else int(u) for i, u in enumerate(X["user_id"])]
    model = make_model().fit(mixed, y)
    assert {type(v) for v in model.encoder_.vocabularies_["user_id"]} == {int, str}
    probe = mixed.head(4).copy()
    probe["user_id"] = [2.5, "new", 10**30, np.int64(3)]  # other types, unseen values
    assert np.isfinite(model.predict(probe)).all()


@pytest.mark.parametrize(
    "cells",
    [
        [np.nan, None, "", []],
        ["|", "||", " | ", "Drama|"],
        [["Drama", None], [np.nan], (), {"Noir", "War"}],
        [[f"g{j}" for j in range(10_000)], "Drama", "|".join(map(str, range(10_000))), None],
    ],
    ids=["missing", "only-separators", "list-likes-with-missing", "very-long"],
)
def test_odd_multi_valued_cells_at_predict_give_finite_predictions(fitted, data, cells):
    X, _ = data
    probe = X.head(4).astype({"genres": object})
    probe["genres"] = cells
    pred = fitted.predict(probe)
    assert pred.shape == (4,) and np.isfinite(pred).all()


def test_odd_multi_valued_cells_at_fit(data):
    X, y = data
    odd = X.astype({"genres": object})
    long_cell = [f"g{j}" for j in range(200)]
    by_item = {0: np.nan, 1: None, 2: "", 3: [], 4: long_cell, 5: "a||b| |"}
    odd["genres"] = [by_item[i] for i in X["item_id"]]
    model = make_model().fit(odd, y)
    assert model.encoder_.field_widths_["genres"] == 200
    assert np.isfinite(model.predict(odd)).all()


def test_all_missing_feature_column(data):
    X, y = data
    model = make_model().fit(X.assign(genres=np.nan), y)
    assert np.isfinite(model.predict(X)).all()


@pytest.mark.parametrize("norm", ["batch", "layer"])
def test_single_row(data, norm):
    X, y = data
    model = make_model(norm=norm).fit(X.head(1), y[:1])
    pred = model.predict(X.head(5))
    np.testing.assert_array_equal(pred, y[0])  # clipped to the single training rating
    assert model.validation_scores_ == []


# ------------------------------------------------------------ encoded input


def _set_cell(frame, value, dtype):
    frame = frame.astype(dtype)
    frame.iloc[4, 0] = value
    return frame


@pytest.mark.parametrize(
    "corrupt, error, match",
    [
        (lambda E: _set_cell(E, np.nan, float), ValueError,
         "Encoded column 'user:user_id' has a missing value at row 104"),
        (lambda E: E.astype(float) + 0.5, ValueError, "token ids must be whole numbers"),
        (lambda E: E.astype(str), TypeError, "Encoded column 'user:user_id', row 100: token ids "
                                             "must be integers, got a value of type str"),
        (lambda E: E > 2, TypeError, "got a value of type bool"),
        (lambda E: _set_cell(E, pd.NA, "Int64"), ValueError, "missing value at row 104"),
        (lambda E: E.replace(2, -5), ValueError, "holds a negative id"),
        (lambda E: _set_cell(E, np.inf, float), ValueError, "holds inf at row 104"),
    ],
)
def test_bad_encoded_ids_are_named(data, corrupt, error, match):
    X, y = data
    encoded = SAINEncoder(user_features=["age"]).fit_transform(X)
    model = SAINRegressor(**FAST).fit(encoded, y)
    bad = corrupt(encoded)
    with pytest.raises(error, match=re.escape(match)):
        SAINRegressor(**FAST).fit(bad, y)
    with pytest.raises(error, match=re.escape(match)):
        model.predict(bad)


def test_encoded_ids_of_other_integer_dtypes_are_read(data):
    X, y = data
    encoded = SAINEncoder(user_features=["age"]).fit_transform(X)
    model = SAINRegressor(**FAST).fit(encoded, y)
    expected = model.predict(encoded)
    for dtype in (np.uint64, np.int16, float, object):
        np.testing.assert_array_equal(model.predict(encoded.astype(dtype)), expected)


# ---------------------------------------------------------- hyperparameters


INT = "must be an int in the range [1, inf)"


@pytest.mark.parametrize(
    "params, error, match",
    [
        ({"top_k": 0}, InvalidParameterError, f"'top_k' parameter of SAINRegressor {INT}"),
        ({"top_k": True}, InvalidParameterError, "'top_k' parameter of SAINRegressor must be an "
                                                 "int in the range [1, inf) or None. Got True"),
        ({"top_k": 2.0}, InvalidParameterError, "'top_k' parameter of SAINRegressor must be an int"),
        ({"n_heads": 3}, InvalidParameterError, "'n_heads' parameter of SAINRegressor must be a "
                                                "divisor of feature_dim=4"),
        ({"n_heads": 0}, InvalidParameterError, f"'n_heads' parameter of SAINRegressor {INT}"),
        ({"batch_size": 0}, InvalidParameterError, f"'batch_size' parameter of SAINRegressor {INT}"),
        ({"batch_size": -8}, InvalidParameterError, "Got -8 instead"),
        ({"batch_size": 2.5}, InvalidParameterError, "Got 2.5 instead"),
        ({"learning_rate": 0.0}, InvalidParameterError,
         "'learning_rate' parameter of SAINRegressor must be a float in the range (0.0, inf)"),
        ({"learning_rate": -1e-3}, InvalidParameterError, "Got -0.001 instead"),
        ({"learning_rate": float("nan")}, InvalidParameterError, "Got nan instead"),
        ({"learning_rate": float("inf")}, InvalidParameterError, "Got inf instead"),
        ({"learning_rate": "0.1"}, InvalidParameterError, "Got '0.1' instead"),
        ({"l2_reg": float("nan")}, InvalidParameterError, "'l2_reg' parameter"),
        ({"dropout": float("nan")}, InvalidParameterError, "'dropout' parameter"),
        ({"tol": float("nan")}, InvalidParameterError, "'tol' parameter"),
        ({"max_epochs": True}, InvalidParameterError, f"'max_epochs' parameter of SAINRegressor "
                                                      f"{INT}. Got True instead"),
        ({"embed_dim": 0}, InvalidParameterError, f"'embed_dim' parameter of SAINRegressor {INT}"),
        ({"early_stopping": "yes"}, InvalidParameterError,
         "'early_stopping' parameter of SAINRegressor must be an instance of 'bool'"),
        ({"clip_predictions": "no"}, InvalidParameterError, "'clip_predictions' parameter"),
        ({"top_k_at_predict": None}, InvalidParameterError, "'top_k_at_predict' parameter"),
        ({"verbose": -1}, InvalidParameterError, "'verbose' parameter of SAINRegressor"),
        ({"norm": ["batch"]}, InvalidParameterError, "'norm' parameter of SAINRegressor must be "
                                                     "a str among"),
        ({"device": "tpu"}, ValueError, "device='tpu' is not a valid device"),
        ({"device": "cuda:x"}, ValueError, "device='cuda:x' is not a valid device"),
        ({"device": 0}, InvalidParameterError, "'device' parameter of SAINRegressor"),
        ({"device": "cuda:99"}, ValueError, "device='cuda:99' was requested but"),
        ({"random_state": "seed"}, InvalidParameterError, "'random_state' parameter"),
        ({"encoder": "onehot"}, InvalidParameterError, "'encoder' parameter of SAINRegressor "
                                                       "must be an instance of"),
    ],
)
def test_invalid_hyperparameters_name_the_parameter(data, params, error, match):
    X, y = data
    with pytest.raises(error, match=re.escape(match)):
        make_model(**params).fit(X, y)


def test_verbose_accepts_bools(data, capsys):
    X, y = data
    make_model(verbose=True).fit(X, y)
    assert "epoch" in capsys.readouterr().out


def test_impossible_model_size_is_a_clean_error(data):
    X, y = data
    with pytest.raises(ValueError, match="Not enough memory .* embed_dim=4611686018427387904"):
        make_model(embed_dim=2**62).fit(X, y)


# ------------------------------------------------------------ fitted state


def test_predict_and_save_before_fit_raise_not_fitted(data, tmp_path):
    X, _ = data
    with pytest.raises(NotFittedError):
        make_model().predict(X)
    with pytest.raises(NotFittedError):
        make_model().save(tmp_path / "model.sain")


def test_failed_refit_leaves_the_model_unfitted(data):
    X, y = data
    model = make_model().fit(X, y)
    with pytest.raises(TypeError):
        model.fit(X.assign(genres=[{}] * len(X)), y)
    assert not hasattr(model, "module_") and not hasattr(model, "encoder_")
    with pytest.raises(NotFittedError):
        model.predict(X)


@pytest.mark.parametrize(
    "params", [{"learning_rate": 1e30}, {"learning_rate": 1e10, "max_epochs": 3}],
    ids=["weights-explode", "loss-becomes-nan"],
)
def test_diverging_training_is_a_clean_error(data, params):
    X, y = data
    model = make_model(**params, early_stopping=False)
    with pytest.raises(TrainingDivergedError, match="diverged.*learning_rate") as info:
        model.fit(X, y)
    # callers may catch it as bad input or as a floating-point failure
    assert isinstance(info.value, ValueError) and isinstance(info.value, FloatingPointError)
    with pytest.raises(NotFittedError):
        model.predict(X)


# ------------------------------------------------------- finite predictions


def test_unseen_users_items_and_values_give_finite_predictions(fitted, data):
    X, _ = data
    probe = X.head(4).copy()
    probe["user_id"] = [999, 1000, 3, 1001]
    probe["item_id"] = [5, 777, 778, 779]
    probe["age"] = [20, 99, 21, 100]
    probe["genres"] = ["Western", "Drama|Unheard", "", "Action"]
    pred = fitted.predict(probe)
    assert np.isfinite(pred).all()


@pytest.mark.parametrize("clip", [True, False])
@pytest.mark.parametrize("value", [4.0, 0.0, -1e-300, 1e300])
def test_constant_targets(data, value, clip):
    X, _ = data
    model = make_model(clip_predictions=clip).fit(X, np.full(len(X), value))
    pred = model.predict(X)
    assert np.isfinite(pred).all()
    if clip:
        np.testing.assert_array_equal(pred, value)
    else:
        np.testing.assert_allclose(pred, value, rtol=0.5, atol=0.5 if value == 0 else 0)


@pytest.mark.parametrize("exponent", [-660, -40, 40, 990])
@pytest.mark.parametrize("clip", [True, False])
def test_targets_on_any_scale_give_the_same_model(data, exponent, clip):
    """Standardisation makes training blind to the unit of the ratings."""
    X, y = data
    factor = 2.0**exponent  # a power of two rescales exactly
    reference = make_model(clip_predictions=clip).fit(X, y).predict(X)
    pred = make_model(clip_predictions=clip).fit(X, y * factor).predict(X)
    assert np.isfinite(pred).all()
    np.testing.assert_allclose(pred / factor, reference, rtol=1e-6)


def test_offset_and_extreme_targets(data):
    X, y = data
    reference = make_model().fit(X, y)
    offset = make_model().fit(X, y + 1e9)
    np.testing.assert_allclose(offset.predict(X) - 1e9, reference.predict(X), atol=1e-5)
    # ratings around 1e15 still have their own spread, not that of a constant
    far = make_model().fit(X, y + 1e15)
    assert far.target_scale_ == pytest.approx(np.std(y), rel=1e-9)
    assert far.target_mean_ - 1e15 == pytest.approx(np.mean(y), abs=0.125)
    extreme = np.where(np.arange(len(X)) % 2, 1.7e308, -1.7e308)
    for clip in (True, False):
        pred = make_model(clip_predictions=clip).fit(X, extreme).predict(X)
        assert np.isfinite(pred).all()


# -------------------------------------------------------------- concurrency


def test_concurrent_predict_matches_serial(fitted):
    X, _ = tiny_ratings(n_rows=300, seed=1)  # mostly unseen pairs, some unseen users
    chunks = np.array_split(np.arange(len(X)), 6)
    serial = [fitted.predict(X.iloc[c]) for c in chunks]
    start = threading.Barrier(4)

    def work(k):
        start.wait()
        return [fitted.predict(X.iloc[c]) for c in chunks[k % 2::2]]

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(work, range(4)))
    for k, result in enumerate(results):
        for got, expected in zip(result, serial[k % 2::2]):
            np.testing.assert_array_equal(got, expected)


# ------------------------------------------------------------ property-based

_ids = st.one_of(
    st.integers(-3, 5), st.sampled_from(["a", "b", "c", " d "]), st.sampled_from([0.5, 2.0]),
)
_tokens = st.one_of(st.integers(0, 4), st.sampled_from(["x", "y", "z", "x|y", "y|z|w", ""]))
_cells = st.one_of(
    _tokens,
    st.floats(allow_nan=True, allow_infinity=True, width=32),
    st.none(),
    st.just(np.nan),
    st.lists(st.one_of(_tokens, st.none()), max_size=4),
    st.lists(st.integers(0, 3), max_size=3).map(tuple),
)


@st.composite
def tables(draw, n_features, unseen=False):
    n_rows = draw(st.integers(1, 6))
    # prediction tables also get unseen ids and, now and then, a missing one
    ids = _ids if not unseen else st.one_of(_ids, st.integers(100, 200), st.just("new"),
                                            st.none())
    columns = {
        "user_id": draw(st.lists(ids, min_size=n_rows, max_size=n_rows)),
        "item_id": draw(st.lists(ids, min_size=n_rows, max_size=n_rows)),
    }
    cells = _cells if not unseen else st.one_of(_cells, st.just("unseen|values"), st.just({}))
    for j in range(n_features):
        column = draw(st.lists(cells, min_size=n_rows, max_size=n_rows))
        array = np.empty(n_rows, dtype=object)
        array[:] = column
        columns[f"f{j}"] = array
    return pd.DataFrame(columns)


@st.composite
def problems(draw):
    n_features = draw(st.integers(0, 2))
    train = draw(tables(n_features))
    test = draw(tables(n_features, unseen=True))
    y = draw(st.one_of(
        st.lists(st.floats(-1e6, 1e6), min_size=len(train), max_size=len(train)),
        st.just([3.0] * len(train)),
    ))
    infer_roles = draw(st.booleans())
    return train, np.asarray(y), test, infer_roles


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problems())
def test_random_tables_fit_and_predict_or_raise_cleanly(problem):
    train, y, test, infer_roles = problem
    encoder = SAINEncoder() if infer_roles else SAINEncoder(user_features=[])
    model = SAINRegressor(**{**FAST, "embed_dim": 4}, encoder=encoder)
    # every drawn training table is valid (ids present, cells of supported types;
    # a column that varies within users and items is context): it must fit
    model.fit(train, y)
    for X in (train, test):
        bad = _invalid_rows(X)
        if bad.any():
            # refused with an error that names the column, and only for those rows
            with pytest.raises(CLEAN_ERRORS, match=r"Column '(user_id|item_id|f\d)'"):
                model.predict(X)
            X = X[~bad]
            if not len(X):
                continue
        pred = model.predict(X)
        assert pred.shape == (len(X),)
        assert np.isfinite(pred).all()


def _invalid_rows(X):
    """Rows a prediction must refuse: a missing id, or a cell of an unsupported type (a dict)."""
    bad = X[["user_id", "item_id"]].isna().any(axis=1).to_numpy().copy()
    for column in X.columns[2:]:
        bad |= np.array([isinstance(v, dict) for v in X[column]], dtype=bool)
    return bad


def test_a_renamed_id_column_says_how_to_name_it(data):
    X, y = data
    renamed = X.rename(columns={"user_id": "userId"})
    with pytest.raises(ValueError) as error:
        SAINRegressor(max_epochs=1, device="cpu").fit(renamed, y)
    message = str(error.value)
    assert "user_col: unknown column(s) ['user_id']" in message
    assert "'userId'" in message  # the columns X does have
    assert "SAINRegressor(encoder=SAINEncoder(user_col=...))" in message
