"""
Cold start
==========

Users and items never seen in training are answered from their features: the
model gives them no feedback weight (alpha_CF = 0) and relies on the content
path. Here we hold out whole users and compare SAIN with the global mean on
them.
"""

import numpy as np

from sklearn_sain import SAINRegressor
from sklearn_sain.datasets import make_ratings

X, y = make_ratings(n_users=400, n_items=200, n_ratings=16000, interaction_strength=1.5, random_state=0)
rng = np.random.RandomState(0)
new_users = rng.choice(X["user_id"].unique(), size=40, replace=False)
cold = X["user_id"].isin(new_users).to_numpy()

model = SAINRegressor(max_epochs=20, random_state=0).fit(X[~cold], y[~cold])
pred = model.predict(X[cold])
rmse = np.sqrt(np.mean((pred - y[cold]) ** 2))
baseline = np.sqrt(np.mean((y[~cold].mean() - y[cold]) ** 2))
print(f"{cold.sum()} ratings by {len(new_users)} unseen users")
print(f"SAIN RMSE {rmse:.3f} vs global mean {baseline:.3f}")
