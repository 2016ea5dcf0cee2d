"""Mini-batch training of :class:`SAINModule` with early stopping on a validation set.

Rows live as tensors on the training device for the whole fit and each batch
is a slice of them: with a model this small, a DataLoader's per-batch Python
and host-to-device work would cost more than the arithmetic. Ids are stored
as int32 (half the memory of int64; embedding lookups take either).

Per step the loop does nothing but the model's own work: the shuffled rows
are gathered a chunk of batches at a time, local token ids become feature
table rows once per chunk, the loss is accumulated on the device (no
``.item()`` per step) and Adam runs as one fused kernel where torch has one.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import torch

LOSSES = ("rmse", "mse")

# Rows gathered per chunk of batches: one gather per ~64 steps at batch 128,
# small enough that the gathered copy is a few MB.
_CHUNK_ROWS = 8192
_INT32_MAX = np.iinfo(np.int32).max


def predict_batch_rows(device) -> int:
    """Rows per batch without gradients on ``device``.

    A CPU streams several temporaries of ``n_heads * slots**2`` floats per
    row through memory, and each batch allocates them afresh. At 2,048 rows
    (about 20 MB in all on MovieLens) they stay in cache and the C allocator
    soon reuses its memory; at 4,096 the first ``predict`` of a process
    spent a third of its time in page faults (over 500,000 on 320,000 rows:
    3.5 s against 2.2 s at 2,048, later calls level), and at 16,384 every
    call streamed through memory. A GPU wants the larger batches.
    """
    return 16384 if torch.device(device).type == "cuda" else 2048


def _ids(values, device) -> torch.Tensor:
    array = np.asarray(values)
    fits = array.size == 0 or (array.dtype.kind in "iub" and int(array.max()) <= _INT32_MAX
                               and int(array.min()) >= 0)  # fmt: skip
    dtype = torch.int32 if fits else torch.long
    return torch.as_tensor(array, dtype=dtype).to(device)


@dataclass
class Rows:
    """Encoded rows on one device: ids, tokens, (standardised) targets and weights.

    ``users``, ``items`` ``(n,)`` and ``tokens`` ``(n, slots)`` are integer
    tensors (int32 when the ids fit, else int64); ``target`` and ``weight``
    (None: every row counts once) are float32.
    """

    users: torch.Tensor
    items: torch.Tensor
    tokens: torch.Tensor
    target: torch.Tensor | None = None
    weight: torch.Tensor | None = None

    @classmethod
    def from_arrays(cls, users, items, tokens, target, device, weight=None):
        as_float = lambda a: None if a is None else torch.as_tensor(  # noqa: E731
            a, dtype=torch.float32).to(device)
        return cls(_ids(users, device), _ids(items, device), _ids(tokens, device),
                   as_float(target), as_float(weight))

    def __len__(self) -> int:
        return self.users.shape[0]

    def take(self, index: torch.Tensor | slice) -> "Rows":
        if isinstance(index, torch.Tensor):
            # index_select gathers into one new block, cheaper than advanced indexing
            pick = lambda t: t.index_select(0, index)  # noqa: E731
        else:
            pick = lambda t: t[index]  # noqa: E731
        y = None if self.target is None else pick(self.target)
        weight = None if self.weight is None else pick(self.weight)
        return Rows(pick(self.users), pick(self.items), pick(self.tokens), y, weight)


class _Progress:
    """The ``verbose=2`` line within an epoch: share done, rows per second, time left."""

    interval = 5.0  # seconds between lines

    def __init__(self, epoch: int, n_rows: int, started: float):
        self.epoch, self.n_rows, self.started = epoch, n_rows, started
        self.next_print = started + self.interval

    def update(self, rows_done: int) -> None:
        now = time.perf_counter()
        if now < self.next_print or not rows_done:
            return
        self.next_print = now + self.interval
        rate = rows_done / (now - self.started)
        left = (self.n_rows - rows_done) / rate
        print(f"epoch {self.epoch:3d} | {100 * rows_done / self.n_rows:3.0f}% | "
              f"{rate:,.0f} rows/s | {left:.0f}s left in the epoch", flush=True)


@dataclass
class History:
    loss_curve: list = field(default_factory=list)
    validation_scores: list = field(default_factory=list)
    best_epoch: int | None = None
    n_iter: int = 0


def stacked_loss(scores: torch.Tensor, target: torch.Tensor, kind: str,
                 weight: torch.Tensor | None = None) -> torch.Tensor:  # fmt: skip
    """The Eq. 9 objective of the scores stacked as ``(k, batch)``: their errors, summed.

    The paper and the authors' code sum three RMSE terms (square roots of the
    batch MSE) of the combined, content and preference scores;
    ``kind="mse"`` sums the squared errors instead.

    ``weight`` (one per row, scaled to a mean of 1 over the training rows)
    weighs each row's squared errors; None counts every row once.
    """
    squared = (scores - target).square()
    if weight is not None:
        squared = squared * weight
    mse = squared.mean(dim=-1)  # (k,)
    if kind == "rmse":
        mse = (mse + 1e-8).sqrt()
    return mse.sum()


def make_optimizer(parameters, learning_rate: float, decayed=(),
                   weight_decay: float = 0.0) -> torch.optim.Optimizer:
    """Adam, as one fused kernel over all parameters where torch supports it on their device.

    With ``weight_decay``, the parameters in ``decayed`` (a subset of
    ``parameters``) are decayed as AdamW decays them; the others, and all of
    them when it is 0, are stepped by plain Adam.

    The fused step costs a third of the default (multi-tensor) one on this
    model's twenty small tensors (0.35 against 0.93 ms on the MovieLens
    network, one CPU thread).
    """
    parameters = list(parameters)
    if weight_decay:
        decayed_ids = {id(p) for p in decayed}
        groups = [{"params": [p for p in parameters if id(p) in decayed_ids],
                   "weight_decay": weight_decay},
                  {"params": [p for p in parameters if id(p) not in decayed_ids],
                   "weight_decay": 0.0}]  # fmt: skip
        kind = torch.optim.AdamW
    else:
        groups, kind = parameters, torch.optim.Adam
    devices = {p.device.type for p in parameters}
    if len(devices) == 1 and devices <= {"cpu", "cuda"}:
        try:
            return kind(groups, lr=learning_rate, fused=True)
        except (RuntimeError, TypeError, ValueError):
            pass  # a torch without the fused kernel for this device
    return kind(groups, lr=learning_rate)


def _per_step_decay(share_per_epoch: float, steps_per_epoch: int, learning_rate: float) -> float:
    """AdamW's ``weight_decay`` that multiplies a parameter by ``1 - share_per_epoch`` per epoch.

    AdamW multiplies the decayed parameters by ``1 - learning_rate *
    weight_decay`` at each step. Stated per epoch, the decay means the same
    on a thousand rows and on ten million, where a per-step coefficient
    would shrink the ids of the larger data set thousands of times more per
    epoch, faster than their ratings can grow them from their small start.
    """
    per_step = 1.0 - (1.0 - share_per_epoch) ** (1.0 / max(steps_per_epoch, 1))
    return per_step / learning_rate


def _exact_integer_ema(decay: float):
    """torch's EMA update for float tensors; integer buffers are copied, not averaged.

    torch averages an integer buffer in floating point and truncates the
    result, which turns the unchanging implicit-feedback links (and counters)
    into other numbers. Tensors arrive grouped by dtype, so one test per group
    suffices.
    """
    float_update = torch.optim.swa_utils.get_ema_multi_avg_fn(decay)

    def update(averaged, current, n_averaged):
        if torch.is_floating_point(averaged[0]) or torch.is_complex(averaged[0]):
            float_update(averaged, current, n_averaged)
        else:
            for target, source in zip(averaged, current):
                target.copy_(source)

    return update


@torch.inference_mode()
def predict_rows(module, rows: Rows, batch_size: int | None = None) -> torch.Tensor:
    """Combined scores of ``rows`` in evaluation mode, ``batch_size`` rows at a time.

    The default batch is :func:`predict_batch_rows` of the rows' device.
    """
    batch_size = batch_size or predict_batch_rows(rows.users.device)
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


def _batches(module, train: Rows, order: torch.Tensor, batch_size: int):
    """``(users, items, feature rows, target, weight)`` of each batch, in ``order``.

    ``weight`` is None when the rows carry none.
    """
    chunk = max(batch_size, _CHUNK_ROWS // batch_size * batch_size)
    for first in range(0, len(order), chunk):
        part = train.take(order[first : first + chunk])
        rows = module.token_rows(part.tokens)
        for start in range(0, len(part), batch_size):
            batch = slice(start, start + batch_size)
            weight = None if part.weight is None else part.weight[batch]
            yield part.users[batch], part.items[batch], rows[batch], part.target[batch], weight


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
    predict_batch_size: int | None = None,
    cold_start_weight: float = 0.0,
    content_anchor: float = 0.0,
    id_weight_decay: float = 0.0,
    on_batch=None,
    on_epoch=None,
) -> History:
    """Train ``module`` in place and return its history.

    Validation RMSE is reported in the original target units (``target_scale``
    undoes the standardisation). With a validation set the weights of the best
    epoch are restored at the end.

    With ``weight_averaging`` (a decay such as 0.999), an exponential moving
    average of the weights is kept across steps and it, not the last iterate,
    is evaluated and returned: averaging the noisy Adam trajectory behaves like
    a cheap ensemble and delays overfitting of the id embeddings.

    ``predict_batch_size`` is the batch of the validation pass each epoch.

    ``tol`` is in units of the target's standard deviation (``target_scale``),
    like the learning rate and the penalties, which act on standardised
    targets: ratings in thousandths and in units stop at the same epoch.

    ``verbose=1`` prints a line per epoch; ``verbose=2`` also a progress line
    within each epoch (rows per second and the time left) every few seconds.

    A positive ``cold_start_weight`` adds, with that weight, the errors of the
    combined score as it would be for an unseen item and for an unseen user
    (:meth:`SAINModule.training_terms` with ``cold_scores``) to the loss.

    ``content_anchor`` weighs :attr:`Penalties.anchor`, the squared distance
    of each known id's feedback vector to its row's content vector, as
    ``l2_reg`` weighs :attr:`Penalties.l2`.

    ``id_weight_decay`` (in [0, 1)) is the share of their value that the
    module's :meth:`~SAINModule.id_tables` lose per epoch to AdamW's
    decoupled decay, in equal factors per step; the other parameters are
    not decayed.

    ``on_batch``, when given, is called with no argument before each batch
    (the thread policy of :func:`sklearn_sain._threads.torch_threads` looks
    at the machine there).

    ``on_epoch``, when given, is called with the :class:`History` so far after
    each epoch (its validation included); a true result stops training, and
    the best epoch so far is kept as when early stopping ends it.
    """
    n_rows = len(train)
    steps_per_epoch = -(-n_rows // batch_size)  # what _batches yields
    optimizer = make_optimizer(module.parameters(), learning_rate, module.id_tables(),
                               _per_step_decay(id_weight_decay, steps_per_epoch, learning_rate))
    averaged = None
    if weight_averaging is not None:
        averaged = torch.optim.swa_utils.AveragedModel(
            module,
            multi_avg_fn=_exact_integer_ema(weight_averaging),
            use_buffers=True,
        )
    evaluated = module if averaged is None else averaged.module
    history = History()
    best_score, best_state, stale = np.inf, None, 0
    device = train.users.device
    cold = cold_start_weight > 0
    for epoch in range(1, max_epochs + 1):
        started = time.perf_counter()
        progress = _Progress(epoch, n_rows, started) if verbose >= 2 else None
        module.train()
        order = torch.as_tensor(rng.permutation(n_rows), device=device)
        total, n_batches = torch.zeros((), device=device), 0
        for users, items, rows, target, weight in _batches(module, train, order, batch_size):
            if progress is not None:
                progress.update(n_batches * batch_size)
            if on_batch is not None:
                on_batch()
            scores, penalties = module.training_terms(users, items, rows, cold)
            batch_loss = stacked_loss(scores[:3], target, loss, weight)
            if cold:
                cold_loss = stacked_loss(scores[3:], target, loss, weight)
                batch_loss = batch_loss + cold_start_weight * cold_loss
            if l2_reg:
                batch_loss = batch_loss + l2_reg * penalties.l2
            if content_anchor:
                batch_loss = batch_loss + content_anchor * penalties.anchor
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
            error = predict_rows(evaluated, valid, predict_batch_size) - valid.target
            score = float(torch.sqrt(torch.mean(error**2))) * target_scale
            history.validation_scores.append(score)
            message += f" | valid RMSE {score:.4f}"
            if score < best_score - tol * target_scale:
                best_score, stale, history.best_epoch = score, 0, epoch
                best_state = {k: v.detach().clone() for k, v in evaluated.state_dict().items()}
            else:
                stale += 1
        if verbose:
            print(f"{message} | {time.perf_counter() - started:.2f}s", flush=True)
        if on_epoch is not None and on_epoch(history):
            break
        if valid is not None and early_stopping and stale >= n_iter_no_change:
            break
    if best_state is None:
        history.best_epoch = history.n_iter
        best_state = evaluated.state_dict()
    module.load_state_dict(best_state)
    module.eval()
    return history
