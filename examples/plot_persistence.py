"""
Saving and loading models
=========================

A fitted :class:`sklearn_sain.SAINRegressor` can be stored in two formats.

- ``joblib.dump`` / ``joblib.load`` (or pickle): the usual scikit-learn way.
  Loading such a file runs whatever code it names, so only load joblib files
  you wrote yourself or otherwise trust.
- :meth:`~sklearn_sain.SAINRegressor.save` / :meth:`~sklearn_sain.SAINRegressor.load`
  (or :func:`sklearn_sain.save` / :func:`sklearn_sain.load`): the weights as
  tensors and everything else as JSON, read back with
  ``torch.load(weights_only=True)``. Loading cannot run code, and any file
  the function did not write is refused. Use it for files that cross a trust
  boundary: downloads, uploads, shared storage.

Both keep everything :meth:`~sklearn_sain.SAINRegressor.predict`,
:meth:`~sklearn_sain.SAINRegressor.explain` and
:meth:`~sklearn_sain.SAINRegressor.recommend` need, and both put a model
trained on a GPU on the CPU when no GPU is present.
"""

import tempfile
from pathlib import Path

import joblib
import numpy as np

import sklearn_sain
from sklearn_sain import SAINRegressor
from sklearn_sain.datasets import make_ratings

X, y = make_ratings(n_users=100, n_items=60, n_ratings=2000, random_state=0)
model = SAINRegressor(max_epochs=5, batch_size=256, random_state=0).fit(X, y)
expected = model.predict(X.head(100))

folder = Path(tempfile.mkdtemp())

# %%
# joblib: convenient for your own files.
joblib.dump(model, folder / "model.joblib")
from_joblib = joblib.load(folder / "model.joblib")
assert np.array_equal(from_joblib.predict(X.head(100)), expected)

# %%
# The safe format: for files from anywhere else.
model.save(folder / "model.sain")
from_safe = SAINRegressor.load(folder / "model.sain")
assert np.array_equal(from_safe.predict(X.head(100)), expected)
print(from_safe.recommend(X["user_id"].iloc[0], n=3))

for name in ("model.joblib", "model.sain"):
    print(f"{name}: {(folder / name).stat().st_size / 1024:.0f} KiB")

# %%
# The safe loader never unpickles: a joblib (or any other) file is refused
# before any of its content is interpreted.
try:
    sklearn_sain.load(folder / "model.joblib")
except ValueError as error:
    print("refused:", error)

# %%
# ``device=`` picks where the loaded network lives; by default the device it
# was fitted on when that exists here, else the CPU with a warning.
on_cpu = sklearn_sain.load(folder / "model.sain", device="cpu")
print("loaded on", on_cpu.device_)
