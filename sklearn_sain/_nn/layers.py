"""The layers SAINModule is built from: shared field embedding, masked batch norm,
feature interaction (Eq. 1-4) and per-field pooling (the input of Eq. 5-6).

Token layout and the speed notes are in :mod:`sklearn_sain._nn.model`.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn
from torch.nn import functional as F

from .._encoding.ids import PAD_ID
from .attention import TopKSelfAttention
from .randomness import blank, random_mask

NORMS = ("layer", "batch", "none")


class SharedFieldEmbedding(nn.Module):
    """One embedding table shared by all feature fields, addressed through per-field offsets.

    Field ``f`` with ``vocabulary_sizes[f]`` local ids (0 = padding) owns the
    rows ``start_f .. start_f + size_f - 2`` of the table for its local ids
    ``1 .. size_f - 1``; row 0 is the one padding row of every field, kept at
    zero. Each slot of the token sequence belongs to one field.
    """

    def __init__(self, vocabulary_sizes: Sequence[int], slot_fields: Sequence[int], dim: int,
                 generator: torch.Generator | None = None):  # fmt: skip
        super().__init__()
        sizes = torch.as_tensor(list(vocabulary_sizes), dtype=torch.long)
        starts = torch.cumsum(sizes - 1, 0) - (sizes - 1) + 1  # first row of each field
        slot_fields = torch.as_tensor(list(slot_fields), dtype=torch.long)
        # local id l > 0 of a slot's field lives in row l + slot_shift
        self.register_buffer("slot_shift", starts[slot_fields] - 1, persistent=False)
        self.register_buffer("slot_size", sizes[slot_fields], persistent=False)
        self.n_rows = 1 + sum(int(size) - 1 for size in vocabulary_sizes)
        self.table = blank(nn.Embedding, self.n_rows, dim, padding_idx=PAD_ID)
        self.reset_parameters(generator)

    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        # small, as the feedback vectors are: attention logits grow with the
        # square of the token vectors, and std 1 validated worse (docs/cold_start.rst)
        nn.init.normal_(self.table.weight, std=0.05, generator=generator)
        with torch.no_grad():
            self.table.weight[PAD_ID].zero_()

    def rows(self, tokens: torch.Tensor) -> torch.Tensor:
        """Global table rows of local ids ``tokens`` ``(batch, slots)``, in their dtype."""
        return torch.where(tokens > 0, tokens + self.slot_shift.to(tokens.dtype), 0)

    def unknown_rows(self, rows: torch.Tensor, share: float,
                     generator: torch.Generator | None = None) -> torch.Tensor:  # fmt: skip
        """``rows`` with a random ``share`` of the valid tokens set to their field's unknown value."""
        unknown = (self.slot_shift + 1).to(rows.dtype)  # the row of local id 1 in each slot
        dropped = random_mask(rows.shape, share, rows.device, generator) & (rows > 0)
        return torch.where(dropped, unknown, rows)

    def embed_rows(self, rows: torch.Tensor) -> torch.Tensor:
        """Token vectors of global rows (as returned by :meth:`rows`): ``(batch, slots, dim)``."""
        return F.embedding(rows, self.table.weight, PAD_ID)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.embed_rows(self.rows(tokens))  # (batch, slots, dim)


class MaskedBatchNorm(nn.Module):
    """Batch normalisation over the valid tokens of a batch only.

    Padding tokens must not pull the statistics towards zero: a movie with one
    genre and a movie with five would otherwise be normalised differently.
    """

    def __init__(self, dim: int, momentum: float = 0.1, eps: float = 1e-5):
        super().__init__()
        self.momentum, self.eps = momentum, eps
        self.weight = nn.Parameter(torch.ones(dim))
        self.bias = nn.Parameter(torch.zeros(dim))
        self.register_buffer("running_mean", torch.zeros(dim))
        self.register_buffer("running_var", torch.ones(dim))

    def forward(self, x: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        """Normalise ``x`` ``(batch, slots, dim)`` with the statistics of its valid tokens."""
        if self.training:
            w = valid.unsqueeze(-1).to(x.dtype)
            n = w.sum().clamp(min=1.0)
            mean = (x * w).sum(dim=(0, 1)) / n
            var = (((x - mean) ** 2) * w).sum(dim=(0, 1)) / n
            self._update_running(mean, var, n)
        else:
            mean, var = self.running_mean, self.running_var
        return (x - mean) * torch.rsqrt(var + self.eps) * self.weight + self.bias

    def normalize_tokens(self, x: torch.Tensor) -> torch.Tensor:
        """The same on valid tokens only, ``(n_tokens, dim)``: one fused batch-norm call."""
        if self.training and x.shape[0] < 2:
            # batch_norm refuses a single value per channel; the formula above
            # handles it (and an empty batch) the way the statistics define it
            return self.forward(x.unsqueeze(0), x.new_ones(1, x.shape[0], dtype=torch.bool))[0]
        return F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
                            self.training, self.momentum, self.eps)  # fmt: skip

    @torch.no_grad()
    def _update_running(self, mean, var, n):
        unbiased = var * n / (n - 1).clamp(min=1.0)
        self.running_mean.lerp_(mean, self.momentum)
        self.running_var.lerp_(unbiased, self.momentum)


class FeatureInteraction(nn.Module):
    """Feature-level interaction layer: attention, residual + ReLU (Eq. 4), normalisation."""

    def __init__(self, dim: int, n_heads: int, top_k: int | None, dropout: float, norm: str,
                 generator: torch.Generator | None = None):  # fmt: skip
        super().__init__()
        self.attention = TopKSelfAttention(dim, n_heads, top_k, dropout, generator)
        self.norm_kind = norm
        if norm == "layer":
            self.norm = nn.LayerNorm(dim)
        elif norm == "batch":
            self.norm = MaskedBatchNorm(dim)
        elif norm == "none":
            self.norm = nn.Identity()
        else:
            raise ValueError(f"norm must be one of {NORMS}, got {norm!r}")

    def valid_tokens(self, x: torch.Tensor, valid: torch.Tensor, token_index: torch.Tensor,
                     apply_top_k: bool = True, need_weights: bool = True):  # fmt: skip
        """The valid tokens only, ``(n_tokens, dim)`` in ``token_index`` order, and the weights.

        Padding slots never reach f_user / f_item, so they are dropped right
        after the attention instead of being normalised and masked out.
        """
        attended, weights = self.attention(x, valid, apply_top_k, need_weights)
        x = F.relu(x + attended).reshape(-1, x.shape[-1]).index_select(0, token_index)  # Eq. 4
        if self.norm_kind == "batch":
            x = self.norm.normalize_tokens(x)
        else:
            x = self.norm(x)
        return x, weights


class FieldPooling(nn.Module):
    """Mean of the valid token vectors of each field: a fixed-size input for f_user / f_item.

    A single-valued field passes its one token through unchanged, which is the
    paper's Concat of Eq. 5-6; a multi-valued field (genres, actors) is
    averaged so that its width in the concatenation does not depend on how many
    values a row happens to have. A field with no value gives a zero vector.
    """

    def __init__(self, slot_fields: Sequence[int], n_fields: int):
        super().__init__()
        slot_fields = torch.as_tensor(list(slot_fields), dtype=torch.long)
        membership = F.one_hot(slot_fields, n_fields).T.float()  # (fields, slots)
        self.register_buffer("membership", membership, persistent=False)
        self.register_buffer("slot_fields", slot_fields, persistent=False)
        self.n_fields = n_fields

    def forward(self, x: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        w = valid.to(x.dtype)  # (batch, slots)
        summed = torch.einsum("bsd,fs->bfd", x * w.unsqueeze(-1), self.membership)
        counts = (w @ self.membership.T).clamp(min=1.0)  # (batch, fields)
        return (summed / counts.unsqueeze(-1)).flatten(1)  # (batch, fields * dim)

    def pool_tokens(self, x: torch.Tensor, token_index: torch.Tensor, batch: int) -> torch.Tensor:
        """The same from valid tokens ``x`` ``(n_tokens, dim)`` at flat slots ``token_index``."""
        with torch.no_grad():
            cell = self._cells(batch, token_index.device).index_select(0, token_index)
            counts = torch.bincount(cell, minlength=batch * self.n_fields)
            counts = counts.clamp_(min=1).to(x.dtype).unsqueeze(-1)
        summed = x.new_zeros(batch * self.n_fields, x.shape[-1]).index_add(0, cell, x)
        return (summed / counts).view(batch, -1)  # (batch, fields * dim)

    def _cells(self, batch: int, device) -> torch.Tensor:
        """The (row, field) cell ``row * n_fields + field`` of every flat slot of a batch."""
        cached = getattr(self, "_cell_cache", None)
        needed = batch * self.slot_fields.shape[0]
        if cached is None or cached.shape[0] < needed or cached.device != device:
            rows = torch.arange(batch, device=device).unsqueeze(1) * self.n_fields
            cached = (rows + self.slot_fields.to(device)).reshape(-1)
            self._cell_cache = cached
        return cached
