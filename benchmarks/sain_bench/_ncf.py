"""NCF (NeuMF: GMF + MLP over user and item ids, He et al. 2017) for explicit ratings.

Written for this benchmark in plain PyTorch: the original is an implicit-feedback
ranker, so the output is a linear rating score trained with the squared error
(as in the paper's use of NCF as a rating baseline). Ids only; id 0 stands for
users and items absent from training and has a fixed zero embedding.
"""

from __future__ import annotations

import numpy as np

from ._common import Fitted, Row, Timer, early_stopping_loop, rmse
from ._features import FieldCoder

GMF_DIM = 16
MLP_LAYERS = (64, 32, 16)
BATCH_SIZE = 256
LEARNING_RATE = 1e-3
WEIGHT_DECAY = 1e-5
MAX_EPOCHS = 30
PATIENCE = 3


def _module(n_users, n_items):
    import torch
    from torch import nn

    class NeuMF(nn.Module):
        def __init__(self):
            super().__init__()
            half = MLP_LAYERS[0] // 2
            self.gmf_user = nn.Embedding(n_users, GMF_DIM, padding_idx=0)
            self.gmf_item = nn.Embedding(n_items, GMF_DIM, padding_idx=0)
            self.mlp_user = nn.Embedding(n_users, half, padding_idx=0)
            self.mlp_item = nn.Embedding(n_items, half, padding_idx=0)
            layers = []
            for a, b in zip(MLP_LAYERS[:-1], MLP_LAYERS[1:]):
                layers += [nn.Linear(a, b), nn.ReLU()]
            self.mlp = nn.Sequential(*layers)
            self.out = nn.Linear(GMF_DIM + MLP_LAYERS[-1], 1)
            for emb in (self.gmf_user, self.gmf_item, self.mlp_user, self.mlp_item):
                nn.init.normal_(emb.weight, std=0.01)
                with torch.no_grad():
                    emb.weight[0].zero_()

        def forward(self, users, items):
            gmf = self.gmf_user(users) * self.gmf_item(items)
            mlp = self.mlp(torch.cat([self.mlp_user(users), self.mlp_item(items)], dim=1))
            return self.out(torch.cat([gmf, mlp], dim=1)).squeeze(1)

    return NeuMF()


def _ncf(dataset, seed, ctx):
    import torch

    (X_train, y_train), (X_val, y_val) = dataset.train, dataset.validation
    users = FieldCoder("user_id").fit(X_train["user_id"])
    items = FieldCoder("item_id").fit(X_train["item_id"])

    def codes(X):
        return (torch.as_tensor(users.padded(X["user_id"])[:, 0]),
                torch.as_tensor(items.padded(X["item_id"])[:, 0]))  # fmt: skip

    generator = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = _module(users.size_, items.size_)
    optimizer = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE, weight_decay=WEIGHT_DECAY)
    mean = float(np.mean(y_train))
    train_u, train_i = codes(X_train)
    target = torch.as_tensor(np.asarray(y_train) - mean, dtype=torch.float32)
    val_u, val_i = codes(X_val)

    @torch.inference_mode()
    def predict_codes(u, i):
        model.eval()
        return model(u, i).double().numpy() + mean

    def train_epoch():
        model.train()
        order = torch.randperm(len(target), generator=generator)
        for start in range(0, len(order), BATCH_SIZE):
            batch = order[start : start + BATCH_SIZE]
            predicted = model(train_u[batch], train_i[batch])
            loss = torch.nn.functional.mse_loss(predicted, target[batch])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()

    with Timer() as t:
        scores, best_epoch = early_stopping_loop(
            train_epoch, lambda: rmse(y_val, predict_codes(val_u, val_i)),
            lambda: {k: v.clone() for k, v in model.state_dict().items()},
            model.load_state_dict, ctx.epochs(MAX_EPOCHS), PATIENCE,
        )  # fmt: skip
    return Fitted(lambda X: predict_codes(*codes(X)), t.seconds,
                  {"epochs_run": len(scores), "best_epoch": best_epoch, "validation_curve": scores})


ROWS = [
    Row("ncf", "NCF (NeuMF, ids only)", "ncf", _ncf, requires=("torch",), paper="NCF", cold=False,
        note=f"GMF {GMF_DIM} + MLP {MLP_LAYERS}, batch {BATCH_SIZE}, Adam {LEARNING_RATE}, "
             f"weight decay {WEIGHT_DECAY}, squared error, best epoch on validation"),
]
