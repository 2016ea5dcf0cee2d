"""
Training on a GPU
=================

``device="cuda"`` (or ``"cuda:N"``) trains and predicts on a GPU;
``device="auto"``, the default, takes one when PyTorch sees it. Asking for
CUDA where there is none is a ``ValueError`` at ``fit``, so this example picks
the device itself and runs on the CPU when no GPU is present.

On a GPU a larger ``batch_size`` pays off: with batches of 128 the many small
kernel launches, not the arithmetic, set the pace. Whatever the device,
predictions, explanations and recommendations come back as NumPy arrays and
pandas tables, and saved models (joblib or the safe format) hold CPU tensors,
so a model trained on a GPU loads on a CPU-only machine.
"""

import io
import time

import torch

import sklearn_sain
from sklearn_sain import SAINRegressor
from sklearn_sain.datasets import make_ratings

device = "cuda" if torch.cuda.is_available() else "cpu"
print("training on", device if device == "cpu" else torch.cuda.get_device_name(0))

X, y = make_ratings(n_users=300, n_items=200, n_ratings=10000, random_state=0)
batch_size = 1024 if device == "cuda" else 256
start = time.perf_counter()
model = SAINRegressor(device=device, batch_size=batch_size, learning_rate=3e-3, max_epochs=8,
                      random_state=0).fit(X, y)
print(f"fit: {time.perf_counter() - start:.1f} s for {model.n_iter_} epochs on {model.device_}")

# %%
# Outputs are ordinary NumPy and pandas objects on every device.
print(model.predict(X.head(3)))
print(model.recommend(X["user_id"].iloc[0], n=3).to_string(index=False))

# %%
# A saved model loads on the CPU whatever it was trained on.
buffer = io.BytesIO()
model.save(buffer)
buffer.seek(0)
on_cpu = sklearn_sain.load(buffer, device="cpu")
print("reloaded on", on_cpu.device_, "- same predictions:",
      bool(abs(on_cpu.predict(X.head(100)) - model.predict(X.head(100))).max() < 1e-4))
