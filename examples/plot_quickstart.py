"""
Quickstart
==========

Fit :class:`sklearn_sain.SAINRegressor` on synthetic ratings with user and item
features, and compare it with the global mean.
"""

import numpy as np
from sklearn.model_selection import train_test_split

from sklearn_sain import SAINRegressor
from sklearn_sain.datasets import make_ratings

X, y = make_ratings(n_users=300, n_items=200, n_ratings=12000, random_state=0)
print(X.head())

X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=0)
model = SAINRegressor(max_epochs=20, random_state=0, verbose=1).fit(X_train, y_train)

rmse = np.sqrt(np.mean((model.predict(X_test) - y_test) ** 2))
baseline = np.sqrt(np.mean((y_train.mean() - y_test) ** 2))
print(f"SAIN test RMSE {rmse:.3f} (global mean {baseline:.3f}), R^2 {model.score(X_test, y_test):.3f}")
print(f"best epoch {model.best_epoch_} of {model.n_iter_}")
