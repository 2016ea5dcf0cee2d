"""The SAIN network (Yun et al., SIGIR 2019) as plain PyTorch modules.

Nothing here knows about scikit-learn or pandas: the modules take integer
tensors laid out by :class:`sklearn_sain.SAINEncoder` and return scores.

Token layout
------------
Every value of every feature field is one token. A batch of rows carries

- ``users`` and ``items``: ``(batch,)`` id indices (0 padding, 1 unknown,
  2.. known ids);
- ``tokens``: ``(batch, n_slots)`` per-field local ids, user slots first then
  item slots, 0 meaning "no token here" (padding or a missing value) and 1 the
  out-of-vocabulary value of that field.

Equation numbers refer to section 2 of the paper.
"""

from __future__ import annotations

from typing import NamedTuple, Sequence

import torch
from torch import nn
from torch.nn import functional as F

PAD_ID = 0
UNKNOWN_ID = 1

NORMS = ("layer", "batch", "none")


class SAINOutput(NamedTuple):
    """What :class:`SAINModule` returns for a batch (all ``(batch,)`` except ``attention``)."""

    combined: torch.Tensor  # Eq. 9, the prediction
    content: torch.Tensor  # <X̄u, X̄v> + biases
    preference: torch.Tensor  # <X_CF_u, X_CF_v> + biases
    alpha_user: torch.Tensor  # Eq. 7 weight of the feedback vector, users
    alpha_item: torch.Tensor  # ... and items
    attention: torch.Tensor | None  # (batch, heads, slots, slots) when asked for


class SharedFieldEmbedding(nn.Module):
    """One embedding table shared by all feature fields, addressed through per-field offsets.

    Field ``f`` with ``vocabulary_sizes[f]`` local ids (0 = padding) owns the
    rows ``start_f .. start_f + size_f - 2`` of the table for its local ids
    ``1 .. size_f - 1``; row 0 is the one padding row of every field, kept at
    zero. Each slot of the token sequence belongs to one field.
    """

    def __init__(self, vocabulary_sizes: Sequence[int], slot_fields: Sequence[int], dim: int):
        super().__init__()
        sizes = torch.as_tensor(list(vocabulary_sizes), dtype=torch.long)
        starts = torch.cumsum(sizes - 1, 0) - (sizes - 1) + 1  # first row of each field
        slot_fields = torch.as_tensor(list(slot_fields), dtype=torch.long)
        # local id l > 0 of a slot's field lives in row l + slot_shift
        self.register_buffer("slot_shift", starts[slot_fields] - 1, persistent=False)
        self.register_buffer("slot_size", sizes[slot_fields], persistent=False)
        self.n_rows = int(1 + (sizes - 1).sum())
        self.table = nn.Embedding(self.n_rows, dim, padding_idx=PAD_ID)

    def rows(self, tokens: torch.Tensor) -> torch.Tensor:
        """Global table rows of local ids ``tokens`` ``(batch, slots)``."""
        return torch.where(tokens > 0, tokens + self.slot_shift, 0)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.table(self.rows(tokens))  # (batch, slots, dim)


class TopKSelfAttention(nn.Module):
    """Multi-head scaled dot-product self-attention with top-K key selection (Eq. 1-3).

    Each query keeps only its ``top_k`` highest-scoring *valid* keys and takes
    the softmax over those; padding keys never receive weight. Heads are
    concatenated without an output projection, as in the paper, so the output
    width equals the input width.
    """

    def __init__(self, dim: int, n_heads: int, top_k: int | None, dropout: float):
        super().__init__()
        if dim % n_heads:
            raise ValueError(f"n_heads={n_heads} must divide the token width {dim}")
        self.n_heads = n_heads
        self.top_k = top_k
        self.scale = (dim // n_heads) ** -0.5
        self.to_qkv = nn.Linear(dim, 3 * dim, bias=False)  # W_Q, W_K, W_V of all heads, fused
        self.dropout = nn.Dropout(dropout)

    def attention_weights(
        self, q: torch.Tensor, k: torch.Tensor, valid: torch.Tensor, apply_top_k: bool
    ) -> torch.Tensor:
        scores = (q @ k.transpose(-1, -2)) * self.scale  # (batch, heads, slots, slots)
        keep = valid[:, None, None, :]
        n_slots = scores.shape[-1]
        if apply_top_k and self.top_k is not None and self.top_k < n_slots:
            ranked = scores.masked_fill(~keep, float("-inf"))
            top = ranked.topk(self.top_k, dim=-1).indices
            # scatter rather than a threshold so that ties never keep more than K keys
            keep = torch.zeros_like(scores, dtype=torch.bool).scatter_(-1, top, True) & keep
        scores = scores.masked_fill(~keep, float("-inf"))
        # a query whose row has no valid key at all (an all-padding row) would
        # give 0/0 in the softmax: give it zero weights instead
        has_key = keep.any(dim=-1, keepdim=True)
        weights = scores.masked_fill(~has_key, 0.0).softmax(dim=-1)
        return weights.masked_fill(~has_key, 0.0)

    def forward(self, x: torch.Tensor, valid: torch.Tensor, apply_top_k: bool = True):
        batch, n_slots, dim = x.shape
        qkv = self.to_qkv(x).view(batch, n_slots, 3, self.n_heads, dim // self.n_heads)
        q, k, v = qkv.permute(2, 0, 3, 1, 4)  # each (batch, heads, slots, head_dim)
        weights = self.attention_weights(q, k, valid, apply_top_k)
        out = self.dropout(weights) @ v  # Eq. 2
        out = out.transpose(1, 2).reshape(batch, n_slots, dim)  # Eq. 3: concat heads
        return out, weights


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
        if self.training:
            w = valid.unsqueeze(-1).to(x.dtype)
            n = w.sum().clamp(min=1.0)
            mean = (x * w).sum(dim=(0, 1)) / n
            var = (((x - mean) ** 2) * w).sum(dim=(0, 1)) / n
            with torch.no_grad():
                unbiased = var * n / (n - 1).clamp(min=1.0)
                self.running_mean.lerp_(mean, self.momentum)
                self.running_var.lerp_(unbiased, self.momentum)
        else:
            mean, var = self.running_mean, self.running_var
        return (x - mean) * torch.rsqrt(var + self.eps) * self.weight + self.bias


class FeatureInteraction(nn.Module):
    """Feature-level interaction layer: attention, residual + ReLU (Eq. 4), normalisation."""

    def __init__(self, dim: int, n_heads: int, top_k: int | None, dropout: float, norm: str):
        super().__init__()
        self.attention = TopKSelfAttention(dim, n_heads, top_k, dropout)
        self.norm_kind = norm
        if norm == "layer":
            self.norm = nn.LayerNorm(dim)
        elif norm == "batch":
            self.norm = MaskedBatchNorm(dim)
        elif norm == "none":
            self.norm = nn.Identity()
        else:
            raise ValueError(f"norm must be one of {NORMS}, got {norm!r}")

    def forward(self, x: torch.Tensor, valid: torch.Tensor, apply_top_k: bool = True):
        attended, weights = self.attention(x, valid, apply_top_k)
        x = F.relu(x + attended)  # Eq. 4
        x = self.norm(x, valid) if self.norm_kind == "batch" else self.norm(x)
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

    def forward(self, x: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        w = valid.to(x.dtype)  # (batch, slots)
        summed = torch.einsum("bsd,fs->bfd", x * w.unsqueeze(-1), self.membership)
        counts = (w @ self.membership.T).clamp(min=1.0)  # (batch, fields)
        return (summed / counts.unsqueeze(-1)).flatten(1)  # (batch, fields * dim)


class SAINModule(nn.Module):
    """Self-Attentive Integration Network.

    Parameters
    ----------
    n_users, n_items : int
        Sizes of the id vocabularies, padding and unknown rows included.
    vocabulary_sizes : sequence of int
        Local vocabulary size of each feature field (padding and unknown included).
    field_roles : sequence of {"user", "item"}
        Side of each field; user fields come first.
    field_widths : sequence of int
        Number of token slots of each field.
    feature_dim, embed_dim, n_heads, top_k, dropout, norm
        See :class:`sklearn_sain.SAINRegressor`.
    top_k_at_predict : bool
        Whether top-K selection also applies in evaluation mode.
    """

    def __init__(
        self,
        n_users: int,
        n_items: int,
        vocabulary_sizes: Sequence[int],
        field_roles: Sequence[str],
        field_widths: Sequence[int],
        *,
        feature_dim: int = 16,
        embed_dim: int = 64,
        n_heads: int = 2,
        top_k: int | None = 8,
        dropout: float = 0.1,
        norm: str = "batch",
        top_k_at_predict: bool = True,
    ):
        super().__init__()
        roles = list(field_roles)
        if roles != sorted(roles, key=lambda r: r != "user"):
            raise ValueError("user fields must come before item fields")
        self.n_user_fields = roles.count("user")
        self.n_item_fields = roles.count("item")
        slot_fields = [f for f, width in enumerate(field_widths) for _ in range(width)]
        self.n_user_slots = sum(field_widths[: self.n_user_fields])
        self.top_k_at_predict = top_k_at_predict

        self.user_cf = nn.Embedding(n_users, embed_dim)
        self.item_cf = nn.Embedding(n_items, embed_dim)
        self.user_bias = nn.Embedding(n_users, 1)
        self.item_bias = nn.Embedding(n_items, 1)
        self.global_bias = nn.Parameter(torch.zeros(1))

        self.has_content = len(roles) > 0
        if self.has_content:
            self.features = SharedFieldEmbedding(vocabulary_sizes, slot_fields, feature_dim)
            self.interaction = FeatureInteraction(feature_dim, n_heads, top_k, dropout, norm)
            self.pooling = FieldPooling(slot_fields, len(roles))
        # f_user / f_item (Eq. 5-6); a side without features has neither
        self.f_user = self._projection(self.n_user_fields, feature_dim, embed_dim, dropout)
        self.f_item = self._projection(self.n_item_fields, feature_dim, embed_dim, dropout)
        # g of Eq. 7, shared by feedback and content vectors of both sides
        self.gate = nn.Linear(embed_dim, 1)
        self.reset_parameters()

    @staticmethod
    def _projection(n_fields: int, feature_dim: int, embed_dim: int, dropout: float):
        if n_fields == 0:
            return None
        return nn.Sequential(nn.Linear(n_fields * feature_dim, embed_dim), nn.Dropout(dropout))

    def reset_parameters(self) -> None:
        for table in (self.user_cf, self.item_cf):
            nn.init.normal_(table.weight, std=0.01)
        for table in (self.user_bias, self.item_bias):
            nn.init.zeros_(table.weight)
        with torch.no_grad():
            # rows never trained (padding, and the unknown id when every id is
            # known) must not inject noise into cold-start predictions
            for table in (self.user_cf, self.item_cf):
                table.weight[: UNKNOWN_ID + 1].zero_()
        if self.has_content:
            nn.init.normal_(self.features.table.weight, std=0.05)
            with torch.no_grad():
                self.features.table.weight[PAD_ID].zero_()

    def content_vectors(self, tokens: torch.Tensor, apply_top_k: bool):
        """X̄u, X̄v (Eq. 1-6) and the attention weights; ``None`` for a side without features."""
        valid = tokens > 0
        x = self.features(tokens)
        x, weights = self.interaction(x, valid, apply_top_k)
        pooled = self.pooling(x, valid)  # (batch, fields * feature_dim)
        split = self.n_user_fields * x.shape[-1]
        user = self.f_user(pooled[:, :split]) if self.f_user is not None else None
        item = self.f_item(pooled[:, split:]) if self.f_item is not None else None
        return user, item, weights

    def integrate(self, cf: torch.Tensor, content: torch.Tensor | None, known: torch.Tensor):
        """Eq. 7-8. An unknown id has no learned feedback vector: it gets alpha_CF = 0."""
        if content is None:
            return cf, cf, torch.ones_like(cf[:, 0])
        alpha = torch.sigmoid(self.gate(cf) - self.gate(content)).squeeze(-1)  # 2-way softmax
        alpha = alpha * known
        mixed = alpha.unsqueeze(-1) * cf + (1 - alpha.unsqueeze(-1)) * content
        return mixed, content, alpha

    def forward(
        self,
        users: torch.Tensor,
        items: torch.Tensor,
        tokens: torch.Tensor,
        return_attention: bool = False,
    ) -> SAINOutput:
        user_cf, item_cf = self.user_cf(users), self.item_cf(items)
        bias = (
            self.global_bias
            + self.user_bias(users).squeeze(-1)
            + self.item_bias(items).squeeze(-1)
        )
        weights = None
        user_content = item_content = None
        if self.has_content:
            apply_top_k = self.training or self.top_k_at_predict
            user_content, item_content, weights = self.content_vectors(tokens, apply_top_k)
        user, user_bar, alpha_user = self.integrate(
            user_cf, user_content, (users > UNKNOWN_ID).to(user_cf.dtype)
        )
        item, item_bar, alpha_item = self.integrate(
            item_cf, item_content, (items > UNKNOWN_ID).to(item_cf.dtype)
        )
        return SAINOutput(
            combined=(user * item).sum(-1) + bias,
            content=(user_bar * item_bar).sum(-1) + bias,
            preference=(user_cf * item_cf).sum(-1) + bias,
            alpha_user=alpha_user,
            alpha_item=alpha_item,
            attention=weights if return_attention else None,
        )

    def l2_penalty(self, users: torch.Tensor, items: torch.Tensor, tokens: torch.Tensor):
        """Mean squared norm of the embedding rows a batch uses (feedback ids and feature tokens)."""
        penalty = self.user_cf(users).pow(2).sum(-1) + self.item_cf(items).pow(2).sum(-1)
        if self.has_content:
            penalty = penalty + self.features(tokens).pow(2).sum(dim=(1, 2))
        return penalty.mean()
