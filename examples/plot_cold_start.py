"""
Cold start
==========

Items never seen in training are answered from their features: the model
gives them no feedback weight (alpha_CF = 0), uses their content vector and
the bias their features predict. Here we hold out whole items and compare
SAIN with each user's mean rating (what a model that ignores item features
can do at best) and with SAIN trained without its cold-start terms
(``content_bias=False, cold_start_weight=0``), whose cold path is never
trained.
"""

import numpy as np
import pandas as pd

from sklearn_sain import SAINRegressor
from sklearn_sain.datasets import make_ratings

X, y = make_ratings(n_users=300, n_items=200, n_ratings=12000, random_state=0)
rng = np.random.RandomState(0)
new_items = rng.choice(X["item_id"].unique(), size=40, replace=False)
cold = X["item_id"].isin(new_items).to_numpy()
X_train, y_train, X_new, y_new = X[~cold], y[~cold], X[cold], y[cold]


def rmse(pred):
    return np.sqrt(np.mean((np.asarray(pred) - y_new) ** 2))


user_mean = pd.Series(y_train).groupby(X_train["user_id"].to_numpy()).mean()
baseline = user_mean.reindex(X_new["user_id"]).fillna(y_train.mean())
model = SAINRegressor(max_epochs=10, random_state=0).fit(X_train, y_train)
untrained_path = SAINRegressor(max_epochs=10, random_state=0, content_bias=False,
                               cold_start_weight=0.0).fit(X_train, y_train)

print(f"{cold.sum()} ratings of {len(new_items)} unseen items")
print(f"each user's mean rating      RMSE {rmse(baseline):.3f}")
print(f"SAIN without cold-start terms RMSE {rmse(untrained_path.predict(X_new)):.3f}")
print(f"SAIN defaults                 RMSE {rmse(model.predict(X_new)):.3f}")
print(model.explain(X_new.head(3)).integration[["user", "item", "prediction", "alpha_item"]])
