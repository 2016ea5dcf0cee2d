"""
Top-N recommendations
=====================

:meth:`sklearn_sain.SAINRegressor.recommend` scores candidate items for
users and returns the ``n`` best per user as a tidy table. By default the
candidates are every item seen in training, with the features of its last
training row, and each user's already rated items are left out.

The ranking combines two parts of the fitted model: the choice head (which
items the user is likely to rate) and the rating path (how much they would
like them), weighted as validation chose in ``fit``. ``rank_by`` picks one
part alone. A user never seen in training has no history and no feedback
vector; describe them with ``user_features`` and their features rank the
items.
"""

import time

import numpy as np
import pandas as pd

from sklearn_sain import SAINRegressor
from sklearn_sain.datasets import make_ratings

X, y = make_ratings(n_users=300, n_items=200, n_ratings=8000, random_state=0)
# the last fifth of each user's ratings are held out to measure the rankings
held_out = (X.groupby("user_id").cumcount(ascending=False)
            < X.groupby("user_id")["item_id"].transform("size") // 5).to_numpy()
model = SAINRegressor(max_epochs=8, batch_size=256, learning_rate=3e-3,
                      random_state=0).fit(X[~held_out], y[~held_out])

# %%
# The five best unseen items of two users. ``score`` is the choice head's
# logit plus the weighted standardised rating: only its order within a user
# means something.
users = X["user_id"].unique()[:2]
print(model.recommend(users, n=5).to_string(index=False))
print("rating weight chosen in fit:", model.choice_history_["rating_weight"])

# %%
# How good are the lists? A held-out item the user rated 4 or more is a hit.
# Precision@10 and NDCG@10 per ranking, next to recommending the most rated
# items to everyone.
liked = X[held_out & (y >= 4)].groupby("user_id")["item_id"].agg(set)


def metrics(recs):
    """Mean precision@10 and NDCG@10 over the users with a liked held-out item."""
    discount = 1 / np.log2(np.arange(2, 12))
    lists = recs.groupby("user")["item"].agg(list)
    precision, ndcg = [], []
    for user, relevant in liked.items():
        hits = np.array([item in relevant for item in lists.get(user, [])[:10]], dtype=float)
        hits = np.pad(hits, (0, 10 - len(hits)))
        precision.append(hits.mean())
        ndcg.append((hits * discount).sum() / discount[: min(len(relevant), 10)].sum())
    return np.mean(precision), np.mean(ndcg)


train = X[~held_out]
counts = train["item_id"].value_counts(sort=False).sort_index()
rated = train.groupby("user_id")["item_id"].agg(set)
popular = pd.DataFrame(
    [(u, item) for u in liked.index
     for item in [i for i in counts.sort_values(ascending=False, kind="stable").index
                  if i not in rated.get(u, set())][:10]],
    columns=["user", "item"])
rows = {"most popular": metrics(popular)}
for rank_by in ("combined", "choice", "rating"):
    rows[f"rank_by={rank_by!r}"] = metrics(model.recommend(list(liked.index), n=10,
                                                           rank_by=rank_by))
print(pd.DataFrame(rows, index=["P@10", "NDCG@10"]).T.round(4).to_string())

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
# Every user at once: the choice head scores every candidate with one matrix
# product per batch of users, and the rating path rates only the 100 best of
# each user's list.
start = time.perf_counter()
everyone = model.recommend(n=10)
print(f"{everyone['user'].nunique()} users x {X['item_id'].nunique()} items "
      f"in {time.perf_counter() - start:.1f} s")
