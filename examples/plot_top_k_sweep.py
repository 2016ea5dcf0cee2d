"""
Effect of top-K (Figure 4)
==========================

Each attention query keeps only its ``top_k`` highest-scoring keys (Eq. 2 of
the paper); the paper found K = 8 best on MovieLens (Figure 4). This sweep
repeats the experiment in miniature on synthetic data: validation RMSE
against ``top_k``, with ``None`` keeping every key. The rows here hold 6 to
8 tokens, so K >= 8 equals keeping them all.

For the real figure on MovieLens, run the benchmark command
(``python benchmarks/run.py``), which draws
``figure4_topk_movielens.png``.
"""

import matplotlib.pyplot as plt
import numpy as np
from sklearn.model_selection import train_test_split

from sklearn_sain import SAINRegressor
from sklearn_sain.datasets import make_ratings

X, y = make_ratings(n_users=200, n_items=100, n_ratings=5000, interaction_strength=2.0,
                    random_state=0)
X_train, X_valid, y_train, y_valid = train_test_split(X, y, test_size=0.2, random_state=0)

ks = [1, 2, 4, 6, None]
rmse = []
for k in ks:
    model = SAINRegressor(top_k=k, max_epochs=8, batch_size=256, learning_rate=3e-3,
                          random_state=0)
    model.fit(X_train, y_train, eval_set=(X_valid, y_valid))
    rmse.append(min(model.validation_scores_))
    print(f"top_k={k}: validation RMSE {rmse[-1]:.4f} (best epoch {model.best_epoch_})")

# %%
labels = [str(k) if k is not None else "all" for k in ks]
fig, ax = plt.subplots(figsize=(5, 3.5), constrained_layout=True)
ax.plot(np.arange(len(ks)), rmse, marker="o")
ax.set_xticks(np.arange(len(ks)), labels)
ax.set_xlabel("top_k")
ax.set_ylabel("validation RMSE")
ax.set_title("RMSE against top_k (synthetic data)")
plt.show()
