"""BiasOnlyRegressor: the ridge biases, unseen ids, input errors, and the scikit-learn tools."""

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV
from sklearn.utils._param_validation import InvalidParameterError

from sklearn_sain import BiasOnlyRegressor
from sklearn_sain.datasets import make_ratings


@pytest.fixture(scope="module")
def ratings():
    X, y = make_ratings(n_users=40, n_items=30, n_ratings=600, random_state=0)
    return X, y


def test_unregularised_biases_solve_the_additive_model():
    # ratings that are exactly mean + user effect + item effect on a full grid
    users, items = np.meshgrid(np.arange(4), np.arange(3), indexing="ij")
    user_effect, item_effect = np.array([0.5, -0.5, 1.0, -1.0]), np.array([0.3, 0.0, -0.3])
    y = 3.0 + user_effect[users.ravel()] + item_effect[items.ravel()]
    X = pd.DataFrame({"user_id": users.ravel(), "item_id": items.ravel()})
    model = BiasOnlyRegressor(reg=0.0, n_sweeps=50).fit(X, y)
    np.testing.assert_allclose(model.predict(X), y, atol=1e-9)
    assert model.global_mean_ == pytest.approx(y.mean())
    np.testing.assert_allclose(model.user_bias_.loc[[0, 1, 2, 3]], user_effect, atol=1e-9)


def test_ridge_shrinks_biases_towards_zero(ratings):
    X, y = ratings
    loose = BiasOnlyRegressor(reg=0.0).fit(X, y)
    tight = BiasOnlyRegressor(reg=1000.0).fit(X, y)
    assert np.abs(tight.user_bias_).max() < 0.2 * np.abs(loose.user_bias_).max()
    np.testing.assert_allclose(tight.predict(X), y.mean(), atol=0.2)


def test_unseen_and_missing_ids_get_zero_bias(ratings):
    X, y = ratings
    model = BiasOnlyRegressor().fit(X, y)
    known_user, known_item = X["user_id"].iloc[0], X["item_id"].iloc[0]
    new = pd.DataFrame({"user_id": [known_user, -5, None], "item_id": ["zzz", known_item, None]})
    pred = model.predict(new)
    assert pred[0] == pytest.approx(model.global_mean_ + model.user_bias_[known_user])
    assert pred[1] == pytest.approx(model.global_mean_ + model.item_bias_[known_item])
    assert pred[2] == pytest.approx(model.global_mean_)


def test_other_id_columns():
    X = pd.DataFrame({"who": ["u1", "u2", "u1"], "what": ["i1", "i1", "i2"], "age": [1, 2, 1]})
    model = BiasOnlyRegressor(user_col="who", item_col="what").fit(X, [4.0, 2.0, 5.0])
    assert set(model.user_bias_.index) == {"u1", "u2"}
    assert model.predict(X).shape == (3,)


@pytest.mark.parametrize("params, name", [({"reg": -1.0}, "reg"), ({"n_sweeps": 0}, "n_sweeps"),
                                          ({"n_sweeps": True}, "n_sweeps"),
                                          ({"user_col": 3}, "user_col")])
def test_invalid_parameters_name_themselves(ratings, params, name):
    X, y = ratings
    with pytest.raises(InvalidParameterError, match=f"'{name}' parameter of BiasOnlyRegressor"):
        BiasOnlyRegressor(**params).fit(X, y)


def test_bad_input_gets_clear_errors(ratings):
    X, y = ratings
    with pytest.raises(TypeError, match="pandas DataFrame with the columns 'user_id'"):
        BiasOnlyRegressor().fit(X.to_numpy(), y)
    with pytest.raises(ValueError, match="no column 'item_id'.*item_col"):
        BiasOnlyRegressor().fit(X.drop(columns="item_id"), y)
    with pytest.raises(ValueError, match="y has 599 values but X has 600 rows"):
        BiasOnlyRegressor().fit(X, y[:-1])
    with pytest.raises(ValueError, match="y contains NaN at position 3"):
        BiasOnlyRegressor().fit(X, np.where(np.arange(len(y)) == 3, np.nan, y))
    with pytest.raises(ValueError, match="requires y"):
        BiasOnlyRegressor().fit(X, None)
    missing = X.copy()
    missing.loc[7, "user_id"] = None
    with pytest.raises(ValueError, match="Column 'user_id' of X has a missing id at row 7"):
        BiasOnlyRegressor().fit(missing, y)


def test_clone_grid_search_and_pickle(ratings):
    import pickle

    X, y = ratings
    search = GridSearchCV(BiasOnlyRegressor(), {"reg": [0.0, 5.0, 50.0]}, cv=3,
                          scoring="neg_root_mean_squared_error").fit(X, y)
    assert search.best_params_["reg"] in (0.0, 5.0, 50.0)
    model = clone(search.best_estimator_).fit(X, y)
    restored = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(restored.predict(X), model.predict(X))
