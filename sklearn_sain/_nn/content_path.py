"""The content path of :class:`~sklearn_sain._nn.model.SAINModule` (Eq. 1-6).

Feature tokens are embedded, interact through top-K self-attention, are
pooled per field and projected by f_user / f_item into the content vectors
X̄u and X̄v; with ``content_bias``, each side also reads a bias from them.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch.nn import functional as F

from .randomness import dropout


class SideContent(NamedTuple):
    """The content path's output for one side (users or items) of a batch."""

    vector: torch.Tensor  # X̄ of Eq. 5-6, (batch, embed_dim)
    bias: torch.Tensor | None  # (batch, 2): a known id's bias complement, an unseen id's bias


def _vector(side: SideContent | None):
    return None if side is None else side.vector


def side_vector(side: SideContent | None):
    """X̄ of a side's :class:`SideContent`; None for a side without features."""
    return None if side is None else side.vector


class ContentPath:
    """Mixin of :class:`SAINModule`: the content vectors of the users and items of a batch.

    The module holds ``features`` (the shared field embedding), ``interaction``
    (the attention), ``pooling``, ``f_user`` / ``f_item`` and the bias heads.
    """

    def token_rows(self, tokens: torch.Tensor) -> torch.Tensor:
        """Global feature-table rows of local ``tokens`` (computed once per fit by the trainer)."""
        if not self.has_content:
            return tokens
        return self.features.rows(tokens)

    @torch.no_grad()
    def field_means(self, tokens: torch.Tensor):
        """Mean token embedding of each user field and of each item field of ``tokens``.

        ``(batch, user_fields * feature_dim)`` and ``(batch, item_fields *
        feature_dim)``, None for a side without fields: the input of Eq. 5-6
        without the attention, which the choice head reads. No gradient.
        """
        if not self.has_content:
            return None, None
        rows = self.features.rows(tokens)
        pooled = self.pooling(self.features.embed_rows(rows), rows > 0)
        split = self.n_user_fields * self.features.table.weight.shape[1]
        user, item = pooled[:, :split], pooled[:, split:]
        return (user if self.n_user_fields else None), (item if self.n_item_fields else None)

    def content_vectors(self, tokens: torch.Tensor, apply_top_k: bool, need_weights: bool = True):
        """X̄u, X̄v (Eq. 1-6) and the attention weights; ``None`` for a side without features.

        Without gradients, ``need_weights=False`` skips the weights (returned as
        None) for a faster fused attention.
        """
        user, item, weights, _ = self._content(self.features.rows(tokens), apply_top_k,
                                               need_weights)
        return side_vector(user), side_vector(item), weights

    def content(self, tokens: torch.Tensor, apply_top_k: bool):
        """:class:`SideContent` of the users and of the items of ``tokens`` (None: no features)."""
        user, item, _, _ = self._content(self.features.rows(tokens), apply_top_k, False)
        return user, item

    def _content(self, rows: torch.Tensor, apply_top_k: bool, need_weights: bool = True):
        """Content vectors from global ``rows``; also the embedded tokens, for the penalty."""
        batch = rows.shape[0]
        if self.training and self.token_dropout > 0:
            rows = self.features.unknown_rows(rows, self.token_dropout, self.noise_generator)
        valid = rows > 0  # row 0 is the padding row of every field
        x = self.features.embed_rows(rows)  # (batch, slots, feature_dim)
        token_index = valid.reshape(-1).nonzero().squeeze(1)
        tokens, weights = self.interaction.valid_tokens(x, valid, token_index, apply_top_k,
                                                        need_weights)
        pooled = self.pooling.pool_tokens(tokens, token_index, batch)  # (batch, fields * dim)
        split = self.n_user_fields * x.shape[-1]
        user = self._project(self.f_user, pooled[:, :split])
        item = self._project(self.f_item, pooled[:, split:])
        user_tokens = item_tokens = None
        if self.token_bias is not None:
            # per value, pooled like the token vectors: mean within a field, summed over fields
            values = F.embedding(rows, self.token_bias.weight).view(-1, 2)
            values = values.index_select(0, token_index)
            per_field = self.pooling.pool_tokens(values, token_index, batch).view(batch, -1, 2)
            user_tokens = per_field[:, : self.n_user_fields].sum(1)
            item_tokens = per_field[:, self.n_user_fields :].sum(1)
        user = self._side_content(user, self.user_content_bias, user_tokens)
        item = self._side_content(item, self.item_content_bias, item_tokens)
        return user, item, weights, x

    @staticmethod
    def _side_content(vector, head, token_bias):
        """:class:`SideContent` from X̄, the side's bias head and its pooled token biases."""
        if vector is None:
            return None
        if head is None:
            return SideContent(vector, None)
        bias = F.linear(vector, head.weight)  # (batch, 2): known, unseen
        return SideContent(vector, bias if token_bias is None else bias + token_bias)

    @staticmethod
    def _project(projection, pooled):
        """f_user / f_item: the Linear + Dropout of ``projection``, called without module hooks."""
        if projection is None:
            return None
        linear, drop = projection
        return dropout(F.linear(pooled, linear.weight, linear.bias), drop.p, drop.training,
                       drop.generator)  # fmt: skip
