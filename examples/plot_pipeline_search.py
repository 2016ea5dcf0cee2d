"""
Pipeline and grid search
========================

Set feature roles explicitly in a :class:`sklearn_sain.SAINEncoder`, chain it
with :class:`sklearn_sain.SAINRegressor` and search ``top_k`` and ``n_heads``
with cross-validation. The encoder's vocabularies are refitted inside each fold.
"""

import pandas as pd
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline

from sklearn_sain import SAINEncoder, SAINRegressor
from sklearn_sain.datasets import make_ratings

X, y = make_ratings(n_users=200, n_items=120, n_ratings=5000, multi_valued="string", random_state=0)

pipe = make_pipeline(
    SAINEncoder(
        user_features=["age", "gender", "occupation"],
        item_features=["genres", "year", "director"],
        sep="|",
    ),
    SAINRegressor(max_epochs=5, batch_size=256, learning_rate=3e-3, random_state=0),
)
search = GridSearchCV(
    pipe,
    {"sainregressor__top_k": [2, 8], "sainregressor__n_heads": [1, 2]},
    scoring="neg_root_mean_squared_error",
    cv=2,
).fit(X, y)

results = pd.DataFrame(search.cv_results_)[
    ["param_sainregressor__top_k", "param_sainregressor__n_heads", "mean_test_score"]
]
print(results.sort_values("mean_test_score", ascending=False).to_string(index=False))
print("best:", search.best_params_)
