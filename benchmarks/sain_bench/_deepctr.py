"""DeepCTR-Torch rows: NFM, xDeepFM and AutoInt, with early stopping on validation.

Every model sees the same fields as SAIN: user and item ids as sparse
features, single-valued side features as sparse features and multi-valued
ones as mean-pooled variable-length sparse features. Training runs one epoch
at a time; the weights of the epoch with the best validation RMSE are kept.
"""

from __future__ import annotations

import copy
import sys
import threading

import numpy as np

from ._common import Fitted, Row, Timer, early_stopping_loop, quiet, rmse
from ._features import IntegerCoding

EMBEDDING_DIM = 16
BATCH_SIZE = 256
MAX_EPOCHS = 15
PATIENCE = 2


def _import_deepctr():
    # deepctr_torch starts a thread that checks PyPI for a newer version when first
    # imported, and prints a notice when offline; wait for it so the notice stays quiet.
    if sys.modules.get("deepctr_torch") is not None:
        return sys.modules["deepctr_torch"]
    before = set(threading.enumerate())
    with quiet():
        import deepctr_torch

        for thread in set(threading.enumerate()) - before:
            thread.join(timeout=10)
    return deepctr_torch


def _columns(coding):
    from deepctr_torch.inputs import SparseFeat, VarLenSparseFeat

    columns = []
    for name, coder in coding.coders_.items():
        feat = SparseFeat(name, vocabulary_size=coder.size_, embedding_dim=EMBEDDING_DIM)
        if coder.multi_:
            columns.append(VarLenSparseFeat(feat, maxlen=coder.width_, combiner="mean"))
        else:
            columns.append(feat)
    return columns


def _deepctr(model_name, **model_kwargs):
    def run(dataset, seed, ctx):
        _import_deepctr()
        import torch
        from deepctr_torch import models

        (X_train, y_train), (X_val, y_val) = dataset.train, dataset.validation
        fields = ["user_id", "item_id", *dataset.features]
        coding = IntegerCoding(fields).fit(X_train)
        columns = _columns(coding)
        device = "cuda" if ctx.device in ("auto", "cuda") and torch.cuda.is_available() else "cpu"
        if ctx.device.startswith("cuda:"):
            device = ctx.device
        mean = float(np.mean(y_train))
        torch.manual_seed(seed)
        model = getattr(models, model_name)(columns, columns, task="regression", seed=seed,
                                            device=device, **model_kwargs)  # fmt: skip
        model.compile("adam", "mse")
        train_x, val_x = coding.transform(X_train), coding.transform(X_val)
        target = (np.asarray(y_train) - mean).astype(np.float32)
        rng = np.random.RandomState(seed)

        def predict_coded(x):
            with quiet():
                return model.predict(x, batch_size=4096).ravel() + mean

        def train_epoch():
            # DeepCTR's own shuffling uses the global torch generator; a seeded
            # permutation per epoch keeps runs reproducible.
            order = rng.permutation(len(target))
            with quiet():
                model.fit({k: v[order] for k, v in train_x.items()}, target[order],
                          batch_size=BATCH_SIZE, epochs=1, verbose=0, shuffle=False)

        def snapshot():
            return copy.deepcopy(model.state_dict())

        with Timer() as t:
            scores, best_epoch = early_stopping_loop(
                train_epoch, lambda: rmse(y_val, predict_coded(val_x)), snapshot,
                model.load_state_dict, ctx.epochs(MAX_EPOCHS), PATIENCE,
            )  # fmt: skip
        predict = lambda X: predict_coded(coding.transform(X))  # noqa: E731
        return Fitted(predict, t.seconds, {
            "epochs_run": len(scores), "best_epoch": best_epoch, "validation_curve": scores,
            "embedding_dim": EMBEDDING_DIM, "batch_size": BATCH_SIZE, "device": device,
            "params": {k: repr(v) for k, v in model_kwargs.items()},
        })  # fmt: skip

    return run


_NOTE = (f"embedding {EMBEDDING_DIM}, batch {BATCH_SIZE}, Adam 1e-3, MSE, best of at most "
         f"{MAX_EPOCHS} epochs on validation (patience {PATIENCE})")  # fmt: skip

ROWS = [
    Row("nfm", "NFM (DeepCTR-Torch)", "deepctr", _deepctr("NFM"), requires=("deepctr_torch",),
        paper="NFM", note=_NOTE),
    Row("xdeepfm", "xDeepFM (DeepCTR-Torch)", "deepctr", _deepctr("xDeepFM"),
        requires=("deepctr_torch",), paper="xDeepFM", note=_NOTE),
    Row("autoint", "AutoInt (DeepCTR-Torch)", "deepctr", _deepctr("AutoInt"),
        requires=("deepctr_torch",), note=_NOTE + "; the closest self-attention peer"),
]
