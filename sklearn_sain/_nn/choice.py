"""The choice head: which items a user will pick, for top-N recommendation.

A model fitted to ratings learns what a user would give an item *once they
rate it*, not which items they rate: ratings are missing not at random
(Marlin & Zemel, RecSys 2009), and RMSE-trained models rank poorly at top-N
(Cremonesi et al., RecSys 2010). The choice head models the choice itself. A
user's choice vector is built like SAIN's feedback vector (an id vector plus
the normalised sum of vectors of the items the user rated, as in SVD++) plus
a map of the user's features; an item's is its id vector plus a map of its
features; a user's next item is drawn from the softmax of their products over
the catalogue (the multinomial likelihood of Mult-VAE, Liang et al., WWW 2018).

The features enter as SAIN's own token embeddings, mean-pooled per field (the
input of Eq. 5-6 without the attention, which needs a user-item pair): the
head reads what the rating model learned of each feature value and adds no
table of its own for them. An item never seen in ``fit`` takes the unknown
id's vector and bias, so its score comes from its features: the head learns
that path by hiding a share of the item ids in each training step.

Shapes: ``(users, embed_dim)`` choice vectors, ``(items, embed_dim)`` item
vectors, ``(users, items)`` logits.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from .._encoding.ids import UNKNOWN_ID
from .randomness import blank


class ChoiceHead(nn.Module):
    """Softmax over items of the products of user and item choice vectors.

    Parameters
    ----------
    n_users, n_items : int
        Sizes of the id vocabularies (padding and unknown rows included).
    user_feature_dim, item_feature_dim : int
        Widths of the pooled feature inputs of each side; 0 for a side
        without features.
    embed_dim : int
        Width of the choice vectors.
    generator : torch.Generator, optional
        Draws the initial weights; None draws from torch's global generator.
    """

    def __init__(self, n_users: int, n_items: int, user_feature_dim: int,
                 item_feature_dim: int, embed_dim: int,
                 generator: torch.Generator | None = None):  # fmt: skip
        super().__init__()
        self.user_id = blank(nn.Embedding, n_users, embed_dim)
        self.history = blank(nn.Embedding, n_items, embed_dim)  # y_j of the items a user chose
        self.item_id = blank(nn.Embedding, n_items, embed_dim)
        self.item_bias = blank(nn.Embedding, n_items, 1)  # popularity, in logit units
        self.user_features = (blank(nn.Linear, user_feature_dim, embed_dim, bias=False)
                              if user_feature_dim else None)  # fmt: skip
        # one more output than embed_dim: the bias the features give an item
        self.item_features = (blank(nn.Linear, item_feature_dim, embed_dim + 1, bias=False)
                              if item_feature_dim else None)  # fmt: skip
        # how much the predicted rating counts next to the choice when ranking
        # (chosen in fit on validation data; see sklearn_sain._nn.choice_ranking)
        self.register_buffer("rating_weight", torch.zeros(()))
        self.reset_parameters(generator)

    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        nn.init.zeros_(self.user_id.weight)  # a user starts as the sum of their history
        for table in (self.history, self.item_id):
            nn.init.normal_(table.weight, std=0.01, generator=generator)
        nn.init.zeros_(self.item_bias.weight)
        for linear in (self.user_features, self.item_features):
            if linear is not None:
                nn.init.normal_(linear.weight, std=0.01, generator=generator)

    def user_vectors(self, users, history, offsets, features=None) -> torch.Tensor:
        """Choice vectors of ``users`` ``(batch,)``.

        ``history`` holds the item ids each user chose, concatenated, user
        ``b``'s starting at ``offsets[b]``; ``features`` are the pooled user
        features ``(batch, user_feature_dim)`` (None without user features).
        """
        summed = F.embedding_bag(history, self.history.weight, offsets, mode="sum")
        counts = torch.diff(offsets, append=offsets.new_tensor([history.shape[0]]))
        scale = counts.clamp(min=1).to(summed.dtype).rsqrt()  # |N(u)|^-1/2, as in SVD++
        vectors = self.user_id(users) + summed * scale[:, None]
        if self.user_features is not None and features is not None:
            vectors = vectors + self.user_features(features)
        return vectors  # (batch, embed_dim)

    def item_vectors(self, items, features=None, known=None):
        """Choice vectors ``(n, embed_dim)`` and biases ``(n,)`` of ``items`` ``(n,)``.

        ``known`` (a 0/1 float per item) hides the id of the items at 0, which
        then score from their features and the unknown id's vector and bias,
        as an item unseen in fit does; None keeps every id.
        """
        if known is not None:
            items = torch.where(known > 0, items, torch.full_like(items, UNKNOWN_ID))
        vectors = self.item_id(items)
        bias = self.item_bias(items).squeeze(-1)
        if self.item_features is not None and features is not None:
            mapped = self.item_features(features)
            vectors = vectors + mapped[:, :-1]
            bias = bias + mapped[:, -1]
        return vectors, bias

    @staticmethod
    def logits(user_vectors, item_vectors, item_bias) -> torch.Tensor:
        """Unnormalised log-probabilities ``(users, items)`` of each user choosing each item."""
        return torch.addmm(item_bias.unsqueeze(0), user_vectors, item_vectors.T)


def multinomial_loss(logits: torch.Tensor, chosen: torch.Tensor) -> torch.Tensor:
    """Mean over users of minus the log-likelihood of their chosen items (0/1 ``chosen``)."""
    return -(F.log_softmax(logits, dim=1) * chosen).sum(1).mean()
