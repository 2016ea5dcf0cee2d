"""Cold start: predictions for users and items unseen in fit come from their features.

The content bias, the cold-start scores in the loss and the content anchor
(``content_bias``, ``cold_start_weight``, ``content_anchor``) train the path
such predictions take; without them it is never trained. Small synthetic
data whose items (users) differ by their features: held-out ids must be
predicted far better than by the mean rating of the known side, and better
than without the cold-start training.
"""

import numpy as np
import pandas as pd
import pytest

from sklearn_sain import SAINRegressor
from sklearn_sain.datasets import make_ratings

FAST = dict(max_epochs=10, device="cpu", random_state=0)
WITHOUT_COLD_START = dict(content_bias=False, cold_start_weight=0.0, content_anchor=0.0)


def _hold_out(side: str, n_held: int):
    X, y = make_ratings(n_users=300, n_items=200, n_ratings=12000, random_state=0)
    held = np.random.RandomState(0).choice(np.unique(X[side]), n_held, replace=False)
    new = X[side].isin(held).to_numpy()
    return X[~new], y[~new], X[new], y[new]


def _rmse(pred, y):
    return float(np.sqrt(np.mean((np.asarray(pred) - y) ** 2)))


@pytest.mark.parametrize("side, known, n_held", [("item_id", "user_id", 40),
                                                 ("user_id", "item_id", 60)])
def test_unseen_ids_are_predicted_from_their_features(side, known, n_held):
    X_train, y_train, X_new, y_new = _hold_out(side, n_held)
    assert not set(X_new[side]) & set(X_train[side])
    known_mean = pd.Series(y_train).groupby(X_train[known].to_numpy()).mean()
    baseline = _rmse(known_mean.reindex(X_new[known]).fillna(y_train.mean()), y_new)

    model = SAINRegressor(**FAST).fit(X_train, y_train)
    explained = model.explain(X_new.head(5)).integration
    side_alpha = "alpha_item" if side == "item_id" else "alpha_user"
    assert (explained[side_alpha] == 0).all()  # no feedback to lean on
    with_cold_start = _rmse(model.predict(X_new), y_new)
    without = _rmse(SAINRegressor(**FAST, **WITHOUT_COLD_START).fit(X_train, y_train)
                    .predict(X_new), y_new)  # fmt: skip
    # measured: 0.755 / 0.799 / 0.942 (new items), 0.770 / 0.806 / 0.977 (new users)
    assert with_cold_start < 0.9 * baseline
    assert with_cold_start < without - 0.01


def test_new_item_prediction_depends_on_its_features_not_its_id():
    X_train, y_train, X_new, _ = _hold_out("item_id", 40)
    model = SAINRegressor(max_epochs=3, device="cpu", random_state=0).fit(X_train, y_train)
    rows = X_new.head(50)
    renamed = rows.assign(item_id=rows["item_id"] + 10_000)  # other unseen ids
    np.testing.assert_allclose(model.predict(renamed), model.predict(rows), rtol=1e-6)
    other_genres = rows.assign(genres=rows["genres"].iloc[::-1].to_numpy())
    assert not np.allclose(model.predict(other_genres), model.predict(rows))


def test_cold_start_parameters_are_validated():
    X_train, y_train, _, _ = _hold_out("item_id", 40)
    for params, error, name in [({"cold_start_weight": -1.0}, ValueError, "cold_start_weight"),
                                ({"cold_start_weight": "1"}, TypeError, "cold_start_weight"),
                                ({"id_dropout": 1.0}, ValueError, "id_dropout"),
                                ({"token_dropout": -0.1}, ValueError, "token_dropout"),
                                ({"content_bias": "yes"}, TypeError, "content_bias"),
                                ({"content_anchor": -1e-3}, ValueError, "content_anchor"),
                                ({"content_anchor": True}, TypeError, "content_anchor"),
                                ({"id_weight_decay": 1.0}, ValueError, "id_weight_decay"),
                                ({"id_weight_decay": -0.1}, ValueError, "id_weight_decay"),
                                ({"id_weight_decay": "1"}, TypeError, "id_weight_decay")]:
        with pytest.raises(error, match=name):
            SAINRegressor(**{**FAST, "max_epochs": 1, **params}).fit(X_train, y_train)

