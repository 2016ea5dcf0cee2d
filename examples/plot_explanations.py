"""
Reading explanations (Figure 3)
===============================

:meth:`sklearn_sain.SAINRegressor.explain` returns, for given rows, the
attention weights between the named feature tokens of the user and the item,
per head, with the keys that survived top-K, and alpha_CF: how much the user
and the item representation leaned on feedback (the learned id vectors)
rather than on content (the features). :mod:`sklearn_sain.plotting` draws the
weights as heatmaps in the style of the paper's Figure 3.

The synthetic data has a planted interaction between the user's occupation
and the item's genres, so attention between those tokens is worth looking at.
"""

import matplotlib.pyplot as plt
import pandas as pd

from sklearn_sain import SAINRegressor
from sklearn_sain.datasets import make_ratings
from sklearn_sain.plotting import plot_attention, plot_integration

X, y = make_ratings(n_users=200, n_items=100, n_ratings=6000, interaction_strength=2.0,
                    random_state=0)
model = SAINRegressor(top_k=4, max_epochs=10, batch_size=256, learning_rate=3e-3,
                      random_state=0).fit(X, y)

# %%
# Two movies of the same genre, rated by the same user (Figure 3a compares
# such a pair). ``explain`` takes rows in the format of ``fit``.
genre = X["genres"].iloc[0][0]
same_genre = X[X["genres"].map(lambda genres: genre in genres)]
user = same_genre["user_id"].value_counts().index[0]
rows = same_genre[same_genre["user_id"] == user].drop_duplicates("item_id").head(2)
explanation = model.explain(rows)

# %%
# ``attention`` is a tidy table: one line per (row, head, query, key), padding
# excluded. Over the kept keys of a query the weights sum to 1; a key that
# top-K dropped has ``kept=False`` and weight 0.
attention = explanation.attention
print(attention.head(8).to_string(index=False))
strongest = (attention[attention["query_side"] == "item"]
             .sort_values("weight", ascending=False)
             .drop_duplicates(["row", "head", "query"])
             [["row", "head", "query", "key", "weight"]])
print("\nStrongest key of each item token:")
print(strongest.sort_values(["row", "head", "query"]).to_string(index=False))

# %%
# How peaked is the attention? Uniform weights would give each kept key of a
# query 1 / (number of kept keys). A model trained briefly on small data, as
# here, stays close to that: which keys top-K keeps then says more than the
# weights among them.
kept = attention[attention["kept"]]
n_kept = kept.groupby(["row", "head", "query_pos"])["weight"].transform("size")
ratio = kept["weight"] * n_kept
print(f"weight / uniform weight: min {ratio.min():.3f}, max {ratio.max():.3f}")

# %%
# ``integration`` has the prediction and alpha_CF per row.
print(explanation.integration.to_string(index=False))

# %%
# Figure 3 style: one heatmap per head, queries down, keys across. Blank cells
# are keys that top-K dropped for that query.
for row in range(len(rows)):
    plot_attention(explanation, row=row)

# %%
# Users and items never seen in training get alpha_CF = 0: their
# representation is content only.
mixed = pd.concat([rows, rows.head(1).assign(user_id=-1), rows.head(1).assign(item_id=-1)])
integration = model.explain(mixed).integration
print(integration.to_string(index=False))
plot_integration(model.explain(mixed))
plt.show()
