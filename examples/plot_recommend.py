"""
Top-N recommendations
=====================

:meth:`sklearn_sain.SAINRegressor.recommend` scores candidate items for
users and returns the ``n`` best per user as a tidy table. By default the
candidates are every item seen in training, with the features of its last
training row, and each user's already rated items are left out.

A user never seen in training has no feedback vector; describe them with
``user_features`` and the content path (their features) ranks the items.
"""

import time

import pandas as pd

from sklearn_sain import SAINRegressor
from sklearn_sain.datasets import make_ratings

X, y = make_ratings(n_users=300, n_items=200, n_ratings=8000, random_state=0)
model = SAINRegressor(max_epochs=8, batch_size=256, learning_rate=3e-3,
                      random_state=0).fit(X, y)

# %%
# The five best unseen items of two users. ``score`` is the rating
# :meth:`~sklearn_sain.SAINRegressor.predict` gives the pair.
users = X["user_id"].unique()[:2]
print(model.recommend(users, n=5).to_string(index=False))

# %%
# Candidates can be restricted, and rated items kept.
shortlist = X["item_id"].unique()[:20]
print(model.recommend(users[0], n=3, items=shortlist, exclude_seen=False).to_string(index=False))

# %%
# A new user: their id is unknown, their features are not.
newcomer = pd.DataFrame({"user_id": ["newcomer"], "age": [2], "gender": ["F"],
                         "occupation": ["occ_3"]})
print(model.recommend("newcomer", n=5, user_features=newcomer).to_string(index=False))

# %%
# New items work the same way with ``item_features``. Here a copy of an
# existing item joins the candidates under a new id: same features, but no
# feedback vector, so it is scored from its content alone.
new_item = X[X["item_id"] == shortlist[0]].head(1)[["item_id", "genres", "year", "director"]]
new_item = new_item.assign(item_id=10_000)
recs = model.recommend(users[0], n=300, item_features=new_item, exclude_seen=False)
print(recs[recs["item"].isin([shortlist[0], 10_000])].to_string(index=False))

# %%
# Every user at once: the content path runs once per distinct user feature
# row and candidate item, in large batches.
start = time.perf_counter()
everyone = model.recommend(n=10)
print(f"{everyone['user'].nunique()} users x {X['item_id'].nunique()} items "
      f"in {time.perf_counter() - start:.1f} s")
