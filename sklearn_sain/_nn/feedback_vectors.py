"""The feedback vectors X_CF of :class:`~sklearn_sain._nn.model.SAINModule`.

An id's vector, plus with implicit feedback the normalised sum of its linked
vectors (:class:`~sklearn_sain._nn.feedback.ImplicitFeedback`, SVD++). At
prediction the vectors of every id are computed once and kept until the
weights can change.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


class FeedbackVectors:
    """Mixin of :class:`SAINModule`: ``user_vectors``, ``item_vectors`` and their cache.

    The module holds ``user_cf``, ``item_cf`` (id embeddings), the flag
    ``implicit_feedback`` and, with it, ``user_implicit`` and ``item_implicit``.
    """

    def set_feedback_links(self, user_links, item_links) -> None:
        """Store the links the implicit feedback sums over.

        ``user_links`` is a pair of arrays ``(users, items)`` sorted by user,
        ``item_links`` a pair ``(items, users)`` sorted by item, as
        :func:`~sklearn_sain._nn.feedback.training_links` returns them.
        """
        if self.implicit_feedback:
            self.user_implicit.set_links(*user_links)
            self.item_implicit.set_links(*item_links)
        self._forget_feedback_cache(self)

    def user_vectors(self, users: torch.Tensor) -> torch.Tensor:
        """Feedback vectors X_CF of ``users`` ``(batch,)``: ``(batch, embed_dim)``."""
        cached = self._feedback_vectors()
        if cached is not None:
            return F.embedding(users, cached[0])
        return self._computed_vectors(users, self.user_cf, "user_implicit")

    def item_vectors(self, items: torch.Tensor) -> torch.Tensor:
        """Feedback vectors X_CF of ``items`` ``(batch,)``: ``(batch, embed_dim)``."""
        cached = self._feedback_vectors()
        if cached is not None:
            return F.embedding(items, cached[1])
        return self._computed_vectors(items, self.item_cf, "item_implicit")

    def _computed_vectors(self, ids: torch.Tensor, table: nn.Embedding, implicit: str):
        """X_CF from the weights: the id's vector plus, with implicit feedback, its linked sum."""
        vectors = F.embedding(ids, table.weight)
        if self.implicit_feedback:
            vectors = vectors + getattr(self, implicit)(ids)
        return vectors

    def _feedback_vectors(self):
        """Every user's and every item's feedback vector, computed once for prediction; or None.

        With implicit feedback a row's X_CF sums up to ``implicit_max_links``
        vectors, yet it depends on the weights and the links only, never on
        the row: in evaluation mode without gradients the vectors of all ids
        are computed at the first call and kept until the module trains again
        (:meth:`train`), loads a state or stores new links.
        """
        if not self.implicit_feedback or self.training or torch.is_grad_enabled():
            return None
        weight = self.user_cf.weight
        device = weight.device
        cache = self._feedback_cache
        if cache is None or cache[0].device != device or cache[0].dtype != weight.dtype:
            # normal tensors even when called in inference mode: they outlive the call
            with torch.inference_mode(False), torch.no_grad():
                self._feedback_cache = tuple(
                    self._computed_vectors(torch.arange(table.num_embeddings, device=device),
                                           table, implicit)
                    for table, implicit in ((self.user_cf, "user_implicit"),
                                            (self.item_cf, "item_implicit"))
                )  # fmt: skip
        return self._feedback_cache

    def train(self, mode: bool = True):
        if mode:
            self._forget_feedback_cache(self)  # the weights are about to change
        return super().train(mode)

    @staticmethod
    def _forget_feedback_cache(module, incompatible_keys=None) -> None:
        module._feedback_cache = None
