"""Mini-batch training of :class:`SAINModule` with early stopping on a validation set.

Rows live as tensors on the training device for the whole fit and each batch
is gathered by index: with a model this small, a DataLoader's per-batch
Python and host-to-device work would cost more than the arithmetic.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import torch
from torch.nn import functional as F

LOSSES = ("rmse", "mse")


@dataclass
class Rows:
    """Encoded rows on one device: ids, tokens and (standardised) targets."""

    users: torch.Tensor
    items: torch.Tensor
    tokens: torch.Tensor
    target: torch.Tensor | None = None

    @classmethod
    def from_arrays(cls, users, items, tokens, target, device):
        as_long = lambda a: torch.as_tensor(a, dtype=torch.long).to(device)  # noqa: E731
        y = None if target is None else torch.as_tensor(target, dtype=torch.float32).to(device)
        return cls(as_long(users), as_long(items), as_long(tokens), y)

    def __len__(self) -> int:
        return self.users.shape[0]

    def take(self, index: torch.Tensor | slice) -> "Rows":
        y = None if self.target is None else self.target[index]
        return Rows(self.users[index], self.items[index], self.tokens[index], y)


@dataclass
class History:
    loss_curve: list = field(default_factory=list)
    validation_scores: list = field(default_factory=list)
    best_epoch: int | None = None
    n_iter: int = 0


def joint_loss(output, target: torch.Tensor, kind: str) -> torch.Tensor:
    """Eq. 9 objective: the error of the combined, content and preference scores, summed.

    The paper and the authors' code sum three RMSE terms (square roots of the
    batch MSE); ``kind="mse"`` sums the squared errors instead.
    """
    scores = (output.combined, output.content, output.preference)
    if kind == "rmse":
        return sum(torch.sqrt(F.mse_loss(s, target) + 1e-8) for s in scores)
    return sum(F.mse_loss(s, target) for s in scores)


@torch.inference_mode()
def predict_rows(module, rows: Rows, batch_size: int = 16384) -> torch.Tensor:
    """Combined scores of ``rows`` in evaluation mode, in large batches."""
    was_training = module.training
    module.eval()
    try:
        parts = [
            module(rows.users[i : i + batch_size], rows.items[i : i + batch_size],
                   rows.tokens[i : i + batch_size]).combined
            for i in range(0, len(rows), batch_size)
        ]
    finally:
        module.train(was_training)
    return torch.cat(parts) if parts else torch.empty(0, device=rows.users.device)


def train_module(
    module,
    train: Rows,
    valid: Rows | None,
    *,
    loss: str,
    l2_reg: float,
    learning_rate: float,
    batch_size: int,
    max_epochs: int,
    early_stopping: bool,
    n_iter_no_change: int,
    tol: float,
    target_scale: float,
    rng: np.random.RandomState,
    weight_averaging: float | None = None,
    verbose: int = 0,
) -> History:
    """Train ``module`` in place and return its history.

    Validation RMSE is reported in the original target units (``target_scale``
    undoes the standardisation). With a validation set the weights of the best
    epoch are restored at the end.

    With ``weight_averaging`` (a decay such as 0.999), an exponential moving
    average of the weights is kept across steps and it, not the last iterate,
    is evaluated and returned: averaging the noisy Adam trajectory behaves like
    a cheap ensemble and delays overfitting of the id embeddings.
    """
    optimizer = torch.optim.Adam(module.parameters(), lr=learning_rate)
    averaged = None
    if weight_averaging is not None:
        averaged = torch.optim.swa_utils.AveragedModel(
            module,
            multi_avg_fn=torch.optim.swa_utils.get_ema_multi_avg_fn(weight_averaging),
            use_buffers=True,
        )
    evaluated = module if averaged is None else averaged.module
    history = History()
    best_score, best_state, stale = np.inf, None, 0
    device = train.users.device
    n_rows = len(train)
    for epoch in range(1, max_epochs + 1):
        started = time.perf_counter()
        module.train()
        order = torch.as_tensor(rng.permutation(n_rows), device=device)
        total, n_batches = torch.zeros((), device=device), 0
        for start in range(0, n_rows, batch_size):
            batch = train.take(order[start : start + batch_size])
            output = module(batch.users, batch.items, batch.tokens)
            batch_loss = joint_loss(output, batch.target, loss)
            if l2_reg:
                batch_loss = batch_loss + l2_reg * module.l2_penalty(batch.users, batch.items, batch.tokens)
            optimizer.zero_grad(set_to_none=True)
            batch_loss.backward()
            optimizer.step()
            if averaged is not None:
                averaged.update_parameters(module)
            total += batch_loss.detach()
            n_batches += 1
        epoch_loss = float(total) / max(n_batches, 1)
        if not np.isfinite(epoch_loss):
            raise FloatingPointError(
                f"The training loss became {epoch_loss} at epoch {epoch}; lower learning_rate "
                "or check the targets for extreme values"
            )
        history.loss_curve.append(epoch_loss)
        history.n_iter = epoch
        message = f"epoch {epoch:3d} | train loss {epoch_loss:.4f}"
        if valid is not None:
            error = predict_rows(evaluated, valid) - valid.target
            score = float(torch.sqrt(torch.mean(error**2))) * target_scale
            history.validation_scores.append(score)
            message += f" | valid RMSE {score:.4f}"
            if score < best_score - tol:
                best_score, stale, history.best_epoch = score, 0, epoch
                best_state = {k: v.detach().clone() for k, v in evaluated.state_dict().items()}
            else:
                stale += 1
        if verbose:
            print(f"{message} | {time.perf_counter() - started:.2f}s", flush=True)
        if valid is not None and early_stopping and stale >= n_iter_no_change:
            break
    if best_state is None:
        history.best_epoch = history.n_iter
        best_state = evaluated.state_dict()
    module.load_state_dict(best_state)
    module.eval()
    return history
