"""Multi-head self-attention with top-K key selection (Eq. 1-3 of the SAIN paper).

Each query keeps only its ``top_k`` highest-scoring valid keys and takes the
softmax over those; padding keys never receive weight. At the sizes SAIN
runs (a dozen tokens of width 16) the cost is the number of tensor
operations, so the heads share one batched product, top-K ranking runs only
on the rows with more than K tokens, and prediction skips the weights: torch's
fused attention kernel on a GPU, scores laid out keys first on a CPU.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from .randomness import Dropout, blank, init_linear_
from .selection import kth_smallest


def _masked_value(dtype: torch.dtype) -> float:
    # a large finite negative rather than -inf: a row without any valid key
    # (all padding) then gives finite uniform weights instead of 0/0, which the
    # attention zeroes; elsewhere exp(masked - max) underflows to exactly 0
    return torch.finfo(dtype).min / 2


_POSITION_CACHE: dict = {}


def _distinct_keys(scores: torch.Tensor) -> torch.Tensor:
    """Float64 copies of ``scores`` nudged apart along the last dim so that no two are equal.

    Key ``j`` of ``n`` gains ``(n - 1 - j)`` steps of ``(|s| + 2**-126) * 2**-(26 + log2 n)``:
    less than the gap between two different float32 values, so the order of
    different scores is kept exactly, while equal scores (two unknown values
    of one multi-valued cell embed alike) now differ, the earlier key ranking
    higher. Selecting by value then keeps exactly K keys.
    """
    n = scores.shape[-1]
    key = (n, scores.device)
    if key not in _POSITION_CACHE:
        step = 2.0 ** -(26 + n.bit_length())
        _POSITION_CACHE[key] = torch.arange(n - 1, -1, -1, dtype=torch.float64,
                                            device=scores.device) * step  # fmt: skip
    keys = scores.to(torch.float64)
    return torch.addcmul(keys, keys.abs().add_(2.0**-126), _POSITION_CACHE[key])


@torch.no_grad()
def top_k_drops(valid: torch.Tensor, top_k: int | None, crowded_scores):
    """The keys each query of a crowded row drops under Eq. 2: ``(rows, drops)`` or None.

    ``valid`` is ``(batch, keys)``. Each query keeps its ``top_k``
    highest-scoring valid keys (all of them when it has fewer), and exactly
    that many when scores tie: of equal scores, the earlier key is kept. A
    padding query, whose result is never used, keeps the first ``top_k`` valid
    keys. ``crowded_scores(rows)`` returns the scores ``(rows, heads, queries,
    keys)`` of the batch rows ``rows`` (an index tensor).

    Keys are the same for every query of a row, so a row with at most
    ``top_k`` valid tokens keeps them all and needs no ranking: only the
    crowded rows are ranked (a quarter of them on MovieLens), and their scores
    are all this needs. The result is None when no row is crowded, else the
    crowded rows and a bool ``(rows, heads, queries, keys)``, True on the
    keys dropped (padding included). One selection (:func:`kth_smallest`)
    gives each query its K-th largest key and the mask is a comparison with
    it: a fixed, small number of operations, which is what costs on a CPU at
    these sizes. Only when a tie at the K-th score would keep too many keys
    are the scores ranked again, nudged apart.
    """
    batch, n_keys = valid.shape
    if top_k is None or top_k >= n_keys or batch == 0:
        return None
    crowded = (valid.sum(-1) > top_k).nonzero().squeeze(1)
    if crowded.numel() == 0:
        return None
    scores = crowded_scores(crowded).detach()  # (crowded, heads, queries, keys)
    padding = ~valid.index_select(0, crowded)[:, None, None, :]
    drop = _below_kth(scores.masked_fill(padding, float("-inf")), n_keys - top_k + 1)
    # a padding query is a zero vector and ties on every key; it keeps the
    # first top_k valid keys, as ties are broken below (its result is unused)
    padding_query = padding.transpose(-1, -2)  # (crowded, 1, queries, 1)
    beyond = padding | ((~padding).cumsum(-1) > top_k)
    drop = torch.where(padding_query, beyond, drop)
    if bool((drop.sum(-1) < n_keys - top_k).any()):
        # a tie at the K-th score kept too many keys: rank again with ties broken
        keys = _distinct_keys(scores).masked_fill_(padding, float("-inf"))
        drop = torch.where(padding_query, beyond, _below_kth(keys, n_keys - top_k + 1))
    return crowded, drop


@torch.no_grad()
def top_k_bias(valid: torch.Tensor, top_k: int | None, n_heads: int, crowded_scores,
               dtype: torch.dtype = torch.float32) -> torch.Tensor:  # fmt: skip
    """Additive attention mask of Eq. 2: 0 on the keys a query keeps, a large negative elsewhere.

    ``valid`` is ``(batch, keys)``; the result broadcasts against the scores
    ``(batch, heads, queries, keys)`` (queries = keys = slots): padding keys
    are masked for every query, and the keys :func:`top_k_drops` drops (which
    ``crowded_scores`` ranks) for theirs.
    """
    batch, n_keys = valid.shape
    zero, masked = _zero_and_masked(valid.device, dtype)
    bias = torch.where(valid, zero, masked)[:, None, None, :]  # (batch, 1, 1, keys)
    drops = top_k_drops(valid, top_k, crowded_scores)
    if drops is None:
        return bias
    crowded, drop = drops
    full = bias.expand(batch, n_heads, n_keys, n_keys).contiguous()
    full[crowded] = torch.where(drop, masked, zero)
    return full


def _zero_and_masked(device, dtype):
    """The two values of an additive mask, as 0-d tensors: kept (0) and dropped."""
    return (torch.tensor(v, dtype=dtype, device=device) for v in (0.0, _masked_value(dtype)))


class _SoftmaxLastDim(torch.autograd.Function):
    """``torch.softmax(x, dim=-1)`` for the short rows of attention (a dozen keys).

    On a CPU torch's softmax kernel handles a last dimension of 12 one row at a
    time (about 16 ns per element at training batches, a tenth of a training
    step), and its backward is as slow; these few whole-tensor operations,
    forward and backward (``dx = y * (g - sum(g * y))``), are four times faster.
    """

    @staticmethod
    def forward(ctx, x):
        exp = (x - x.amax(-1, keepdim=True)).exp_()
        y = exp.div_(exp.sum(-1, keepdim=True))
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, grad):
        (y,) = ctx.saved_tensors
        weighted = grad * y
        return weighted.sub_(y * weighted.sum(-1, keepdim=True))


def _zero_rows_without_keys(values: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """``values`` (batch first) with the rows that have no valid key set to zero.

    Such a row spread finite uniform weights over its padding (see
    :func:`_masked_value`): it must give nothing, not an average of padding.
    """
    has_key = valid.any(dim=-1)
    if bool(has_key.all()):
        return values
    return values * has_key.view(-1, *[1] * (values.dim() - 1)).to(values.dtype)


def _below_kth(keys: torch.Tensor, k: int) -> torch.Tensor:
    """Which entries lie below the ``k``-th smallest of their last dimension."""
    # the K-th largest key is the (n_keys - K + 1)-th smallest, padding (-inf) included
    return keys < kth_smallest(keys, k)


class TopKSelfAttention(nn.Module):
    """Multi-head scaled dot-product self-attention with top-K key selection (Eq. 1-3).

    Each query keeps only its ``top_k`` highest-scoring *valid* keys and takes
    the softmax over those; padding keys never receive weight. Heads are
    concatenated without an output projection, as in the paper, so the output
    width equals the input width.

    The heads are computed together: for head ``h`` the queries are masked to
    the ``h``-th block of their features, so one batched product over the
    ``heads * slots`` masked queries gives every head's scores, and the values
    go through one product too. With two heads of width 8 this is cheaper than
    splitting the tensors per head, which needs copies. When the weights are
    not wanted, torch's fused attention kernel does the softmax and the
    products on a GPU (prediction, and training without dropout: the kernel
    would draw its masks from torch's global generator); prediction on a CPU
    uses the keys-first layout of :meth:`_keys_first`.

    ``generator`` draws the initial weights (None: torch's global generator);
    the dropout masks come from ``self.dropout.generator``
    (see :mod:`sklearn_sain._nn.randomness`).
    """

    def __init__(self, dim: int, n_heads: int, top_k: int | None, dropout: float,
                 generator: torch.Generator | None = None):  # fmt: skip
        super().__init__()
        if dim % n_heads:
            raise ValueError(f"n_heads={n_heads} must divide the token width {dim}")
        self.n_heads = n_heads
        self.top_k = top_k
        self.scale = (dim // n_heads) ** -0.5
        self.to_qkv = blank(nn.Linear, dim, 3 * dim, bias=False)  # W_Q, W_K, W_V of all heads, fused
        self.dropout = Dropout(dropout)
        # head_mask[h, 0, c] = 1 when feature c belongs to head h
        head_mask = torch.zeros(n_heads, 1, dim)
        for h in range(n_heads):
            head_mask[h, 0, h * (dim // n_heads) : (h + 1) * (dim // n_heads)] = 1.0
        self.register_buffer("head_mask", head_mask, persistent=False)
        # queries also carry the 1 / sqrt(d') of Eq. 1
        self.register_buffer("query_mask", head_mask * self.scale, persistent=False)
        self.reset_parameters(generator)

    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        init_linear_(self.to_qkv, generator)

    def _softmax(self, scores: torch.Tensor, valid: torch.Tensor, apply_top_k: bool):
        top_k = self.top_k if apply_top_k else None
        bias = top_k_bias(valid, top_k, scores.shape[1], lambda rows: scores.index_select(0, rows),
                          scores.dtype)  # fmt: skip
        return _zero_rows_without_keys(_SoftmaxLastDim.apply(scores + bias), valid)

    def _scores(self, q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
        """Eq. 1 for all heads: ``(batch, heads, slots, slots)`` from ``(batch, slots, dim)``."""
        batch, n_slots, dim = q.shape
        q_heads = q.unsqueeze(1) * self.query_mask  # scale and head masks in one product
        scores = torch.bmm(q_heads.reshape(batch, self.n_heads * n_slots, dim), k.transpose(1, 2))
        return scores.view(batch, self.n_heads, n_slots, n_slots)

    def forward(self, x: torch.Tensor, valid: torch.Tensor, apply_top_k: bool = True,
                need_weights: bool = True):  # fmt: skip
        """Attended tokens ``(batch, slots, dim)`` and weights ``(batch, heads, slots, slots)``.

        With ``need_weights=False`` the weights may come back as None (see the
        class notes).
        """
        batch, n_slots, dim = x.shape
        n_heads = self.n_heads
        qkv = self.to_qkv(x)  # (batch, slots, 3 * dim)
        q, k, v = qkv.split(dim, dim=-1)  # views, each (batch, slots, dim)
        # the fused kernel skips the weights; on a CPU its backward is no faster.
        # It draws its dropout from torch's global generator, so training with
        # dropout takes the explicit path, whose masks come from self.dropout
        dropping = self.training and self.dropout.p > 0
        if not need_weights and not dropping and (
            x.is_cuda or not (torch.is_grad_enabled() and qkv.requires_grad)
        ):
            if x.is_cuda:
                return self._fused(q, k, v, valid, apply_top_k), None
            return self._keys_first(q, k, v, valid, apply_top_k), None
        weights = self._softmax(self._scores(q, k), valid, apply_top_k)
        mixed = torch.bmm(self.dropout(weights).reshape(batch, n_heads * n_slots, n_slots), v)
        # Eq. 2-3: head h keeps its own block of the value features, and the
        # blocks side by side are the concatenation of the heads. With
        # gradients, masking and summing is cheaper than slicing and
        # concatenating (forward and backward, 100 against 170 µs per training
        # batch); without them the slices win (see _keys_first). Both give the
        # same floats: the masked blocks add exact zeros.
        out = (mixed.view(batch, n_heads, n_slots, dim) * self.head_mask).sum(dim=1)
        return out, weights

    def _keys_first(self, q, k, v, valid, apply_top_k):
        """Eq. 1-3 without weights or gradients, laid out for a CPU (prediction).

        torch's fused CPU kernel is slow on a dozen tokens (about half of a
        prediction), and so is a softmax along a last dimension of 12. Scores
        are therefore computed transposed, ``(batch, keys, heads * queries)``,
        and normalised along the keys (dim 1), where the softmax vectorises
        across the queries; the values' product reads the weights transposed.
        The padding mask is one value per key, and only the crowded rows
        (:func:`top_k_drops`) get a mask per query: a full ``(batch, heads,
        queries, keys)`` mask would cost as much as the scores.
        """
        batch, n_slots, dim = q.shape
        n_heads = self.n_heads
        zero, masked = _zero_and_masked(q.device, q.dtype)
        padding = torch.where(valid, zero, masked).unsqueeze(-1)  # (batch, keys, 1)
        q_heads = (q.unsqueeze(1) * self.query_mask).reshape(batch, n_heads * n_slots, dim)
        scores = torch.baddbmm(padding, k, q_heads.transpose(1, 2))  # (batch, keys, heads * queries)
        top_k = self.top_k if apply_top_k else None
        drops = top_k_drops(valid, top_k, self._crowded_scores(q, k))
        if drops is not None:
            crowded, drop = drops  # drop: (crowded, heads, queries, keys)
            drop = drop.view(-1, n_heads * n_slots, n_slots).transpose(1, 2)
            scores[crowded] = scores.index_select(0, crowded).masked_fill_(drop, masked)
        weights = scores.softmax(dim=1)
        mixed = torch.bmm(weights.transpose(1, 2), v).view(batch, n_heads, n_slots, dim)
        # Eq. 2-3: head h keeps its own block of the value features, sliced out
        # (400 against 700 µs for forward's mask and sum at 2,048 rows)
        width = dim // n_heads
        out = torch.cat([mixed[:, h, :, h * width : (h + 1) * width] for h in range(n_heads)], -1)
        return _zero_rows_without_keys(out, valid)

    def _crowded_scores(self, q, k):
        """Eq. 1's scores of the given rows only, for :func:`top_k_drops` (the rows it ranks)."""
        return lambda rows: self._scores(q.index_select(0, rows), k.index_select(0, rows))

    def _prediction_bias(self, q, k, valid, apply_top_k):
        """The top-K mask of Eq. 2, with scores computed only for the rows it ranks."""
        top_k = self.top_k if apply_top_k else None
        return top_k_bias(valid, top_k, self.n_heads, self._crowded_scores(q, k), q.dtype)

    def _fused(self, q, k, v, valid, apply_top_k):
        """Scores only for the rows top-K ranks, then one fused attention call (Eq. 1-3)."""
        batch, n_slots, dim = q.shape
        bias = self._prediction_bias(q, k, valid, apply_top_k)
        heads = lambda t: t.view(batch, n_slots, self.n_heads, -1).transpose(1, 2)  # noqa: E731
        out = F.scaled_dot_product_attention(heads(q), heads(k), heads(v),
                                             attn_mask=bias.to(q.dtype), scale=self.scale)
        return _zero_rows_without_keys(out.transpose(1, 2).reshape(batch, n_slots, dim), valid)
