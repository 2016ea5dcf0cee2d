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

Integer inputs may be int64 or int32.

Speed
-----
A model of a dozen tokens of width 16 is tiny: its cost on a CPU, and on a GPU
at small batches, is the number of tensor operations, not their arithmetic.
The forward pass is therefore written with few, larger operations: one fused
Q/K/V projection, the scores of all heads in one batched product, top-K
selection without autograd and only for the rows that have more than K
tokens, and, after the attention, only the valid tokens (normalised by one
fused batch-norm call and pooled by one scatter-add). The equations and the
results are those of the straightforward formulation; the tests check each
module against it.

Equation numbers refer to section 2 of the paper.
"""

from __future__ import annotations

from typing import NamedTuple, Sequence

import torch
from torch import nn
from torch.nn import functional as F

from .._encoding.ids import PAD_ID, UNKNOWN_ID
from .choice import ChoiceHead
from .content_path import ContentPath, SideContent, side_vector
from .feedback import ImplicitFeedback
from .feedback_vectors import FeedbackVectors
from .layers import NORMS, FeatureInteraction, FieldPooling, SharedFieldEmbedding
from .randomness import Dropout, blank, init_linear_, random_mask

__all__ = ["NORMS", "Penalties", "SAINModule", "SAINOutput", "SideContent"]


class SAINOutput(NamedTuple):
    """What :class:`SAINModule` returns for a batch (all ``(batch,)`` except ``attention``)."""

    combined: torch.Tensor  # Eq. 9, the prediction
    content: torch.Tensor  # <X̄u, X̄v> + biases
    preference: torch.Tensor  # <X_CF_u, X_CF_v> + biases
    alpha_user: torch.Tensor  # Eq. 7 weight of the feedback vector, users
    alpha_item: torch.Tensor  # ... and items
    attention: torch.Tensor | None  # (batch, heads, slots, slots) when asked for


class Penalties(NamedTuple):
    """The penalties of a training batch, each a sum over its rows divided by the batch size."""

    l2: torch.Tensor  # squared norms of the embedding rows the batch gathered
    anchor: torch.Tensor  # squared distance of each known feedback vector to its content vector


class SAINModule(FeedbackVectors, ContentPath, nn.Module):
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
    implicit_feedback : bool
        Whether the feedback vectors add the implicit-feedback sums of
        :class:`~sklearn_sain._nn.feedback.ImplicitFeedback` (SVD++).
    n_user_links, n_item_links : int
        Number of links of the users' and of the items' implicit feedback,
        which :meth:`set_feedback_links` stores when ``implicit_feedback`` is
        True.
    id_dropout : float
        Share of the user ids and, independently, of the item ids that a
        training batch replaces by the unknown id (DropoutNet, Volkovs et al.,
        NeurIPS 2017), so that the path of an unseen id (alpha_CF = 0, the
        unknown id's vector and bias) is trained rather than only met at
        prediction.
    token_dropout : float
        Share of the feature tokens that a training batch replaces by their
        field's unknown value, so that the unknown value's embedding, which
        every value unseen in fit meets at prediction, is trained.
    content_bias : bool
        Whether each side with features gains a bias read from its content
        vector X̄ (a linear map to one number) next to its id bias: the part
        of an item's (user's) bias that its features explain, which is all
        the bias an unseen id has.
    choice_head : bool
        Whether the module carries a :class:`~sklearn_sain._nn.choice.ChoiceHead`
        (``self.choice``), trained apart from the rating path, for top-N
        recommendation.
    generator : torch.Generator, optional
        Draws the initial weights (on the CPU, where the module is built);
        None draws from torch's global generator, as torch's layers do.
        Training-time masks come from :meth:`use_generator`.
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
        implicit_feedback: bool = False,
        n_user_links: int = 0,
        n_item_links: int = 0,
        id_dropout: float = 0.0,
        content_bias: bool = False,
        token_dropout: float = 0.0,
        choice_head: bool = False,
        generator: torch.Generator | None = None,
    ):
        super().__init__()
        roles = list(field_roles)
        if roles != sorted(roles, key=lambda r: r != "user"):
            raise ValueError("user fields must come before item fields")
        self.n_user_fields = roles.count("user")
        self.n_item_fields = roles.count("item")
        slot_fields = [f for f, width in enumerate(field_widths) for _ in range(width)]
        self.n_user_slots = sum(field_widths[: self.n_user_fields])
        self.n_item_slots = sum(field_widths[self.n_user_fields :])
        self.top_k_at_predict = top_k_at_predict

        # every layer is built blank and initialised from `generator` below
        self.user_cf = blank(nn.Embedding, n_users, embed_dim)
        self.item_cf = blank(nn.Embedding, n_items, embed_dim)
        self.user_bias = blank(nn.Embedding, n_users, 1)
        self.item_bias = blank(nn.Embedding, n_items, 1)
        self.global_bias = nn.Parameter(torch.zeros(1))
        self.implicit_feedback = implicit_feedback
        if implicit_feedback:
            # a user's bag holds items, an item's bag holds users
            self.user_implicit = ImplicitFeedback(n_users, n_items, n_user_links, embed_dim,
                                                  generator)  # fmt: skip
            self.item_implicit = ImplicitFeedback(n_items, n_users, n_item_links, embed_dim,
                                                  generator)  # fmt: skip

        self.has_content = len(roles) > 0
        if self.has_content:
            self.features = SharedFieldEmbedding(vocabulary_sizes, slot_fields, feature_dim,
                                                 generator)  # fmt: skip
            self.interaction = FeatureInteraction(feature_dim, n_heads, top_k, dropout, norm,
                                                  generator)  # fmt: skip
            self.pooling = FieldPooling(slot_fields, len(roles))
        # f_user / f_item (Eq. 5-6); a side without features has neither
        self.f_user = self._projection(self.n_user_fields, feature_dim, embed_dim, dropout)
        self.f_item = self._projection(self.n_item_fields, feature_dim, embed_dim, dropout)
        # g of Eq. 7, shared by feedback and content vectors of both sides
        self.gate = blank(nn.Linear, embed_dim, 1)
        self.id_dropout = float(id_dropout)
        self.token_dropout = float(token_dropout)
        self.user_content_bias = self._bias_head(content_bias and self.n_user_fields, embed_dim)
        self.item_content_bias = self._bias_head(content_bias and self.n_item_fields, embed_dim)
        # and a bias pair per feature value, read straight from the tokens (the
        # first-order terms of a factorization machine), which no attention or
        # projection stands between
        self.token_bias = None
        if content_bias and self.has_content:
            self.token_bias = blank(nn.Embedding, self.features.n_rows, 2, padding_idx=PAD_ID)
        self.noise_generator = None
        self._feedback_cache = None  # see _feedback_vectors
        self.register_load_state_dict_post_hook(SAINModule._forget_feedback_cache)
        self.reset_parameters(generator)
        self.choice = None
        if choice_head:
            self.choice = ChoiceHead(n_users, n_items, self.n_user_fields * feature_dim,
                                     self.n_item_fields * feature_dim, embed_dim, generator)

    @staticmethod
    def _projection(n_fields: int, feature_dim: int, embed_dim: int, dropout: float):
        if n_fields == 0:
            return None
        return nn.Sequential(blank(nn.Linear, n_fields * feature_dim, embed_dim), Dropout(dropout))

    @staticmethod
    def _bias_head(wanted, embed_dim: int):
        # two outputs: a known id's complement to its bias, an unseen id's whole bias
        return blank(nn.Linear, embed_dim, 2, bias=False) if wanted else None

    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        """Initialise the rating path (not the choice head) from ``generator`` (None: global)."""
        for table in (self.user_cf, self.item_cf):
            nn.init.normal_(table.weight, std=0.01, generator=generator)
        for table in (self.user_bias, self.item_bias):
            nn.init.zeros_(table.weight)
        for projection in (self.f_user, self.f_item):
            if projection is not None:
                init_linear_(projection[0], generator)
        init_linear_(self.gate, generator)
        nn.init.zeros_(self.global_bias)
        with torch.no_grad():
            # rows never trained (padding, and the unknown id when every id is
            # known) must not inject noise into cold-start predictions
            for table in (self.user_cf, self.item_cf):
                table.weight[: UNKNOWN_ID + 1].zero_()
        for head in (self.user_content_bias, self.item_content_bias, self.token_bias):
            if head is not None:
                nn.init.zeros_(head.weight)  # training starts from the id biases alone
        if self.implicit_feedback:
            self.user_implicit.reset_parameters(generator)
            self.item_implicit.reset_parameters(generator)
        if self.has_content:
            self.features.reset_parameters(generator)
            self.interaction.attention.reset_parameters(generator)

    def use_generator(self, generator: torch.Generator | None) -> None:
        """Draw the training-time masks (dropout, id and token dropout) from ``generator``.

        ``generator`` must live on the module's device; None returns to
        torch's global generator. A fit sets its own for the length of the
        fit, so that fits in parallel threads neither disturb each other nor
        any other user of the global generator.
        """
        self.noise_generator = generator
        for module in self.modules():
            if isinstance(module, Dropout):
                module.generator = generator

    def id_tables(self) -> list[nn.Parameter]:
        """The tables of per-id vectors of the rating path: ids and implicit feedback.

        What ``id_weight_decay`` decays: each row belongs to one id, and the
        row of a rarely seen id is what a penalty through the gradient hardly
        reaches. The biases are not among them (they start from the ridge fit).
        """
        tables = [self.user_cf.weight, self.item_cf.weight]
        if self.implicit_feedback:
            tables += [self.user_implicit.table.weight, self.item_implicit.table.weight]
        return tables

    @torch.no_grad()
    def set_biases(self, global_bias: float, user_bias, item_bias) -> None:
        """Start the global, user and item biases at given values (one per table row)."""
        for table, values in ((self.user_bias, user_bias), (self.item_bias, item_bias)):
            values = torch.as_tensor(values, dtype=table.weight.dtype)
            if values.shape != table.weight.shape[:1]:
                raise ValueError(f"expected {table.weight.shape[0]} biases, got {tuple(values.shape)}")
            table.weight[:, 0] = values.to(table.weight.device)
        self.global_bias.fill_(float(global_bias))

    def user_biases(self, users: torch.Tensor, content: SideContent | None) -> torch.Tensor:
        """Bias of ``users`` ``(batch,)`` given their content (see :meth:`content`)."""
        return self._side_bias(users, self.user_bias, content)[0]

    def item_biases(self, items: torch.Tensor, content: SideContent | None) -> torch.Tensor:
        """Bias of ``items`` ``(batch,)`` given their content (see :meth:`content`)."""
        return self._side_bias(items, self.item_bias, content)[0]

    # -------------------------------------------------------- integration
    def integrate(self, cf: torch.Tensor, content: torch.Tensor | None, known: torch.Tensor):
        """Eq. 7-8. An unknown id has no learned feedback vector: it gets alpha_CF = 0."""
        if content is None:
            return cf, cf, torch.ones_like(cf[:, 0])
        # the two-way softmax of g(X_CF) and g(X̄) is a sigmoid of their
        # difference, in which the bias of g cancels
        difference = cf - content
        alpha = torch.sigmoid(F.linear(difference, self.gate.weight)).view(-1) * known
        mixed = torch.addcmul(content, alpha.unsqueeze(-1), difference)  # Eq. 8
        return mixed, content, alpha

    def _scores(self, users, items, rows, apply_top_k: bool, with_penalty: bool = False,
                need_weights: bool = True, cold_scores: bool = False):  # fmt: skip
        """The scores stacked ``(3, batch)``, alphas, attention and the :class:`Penalties`.

        With ``cold_scores``, two more rows follow: the combined score with the
        item, then with the user, taken for an unseen one (see :meth:`_cold_score`).
        """
        if self.training and self.id_dropout > 0:
            users, items = self._drop_ids(users), self._drop_ids(items)
        user_cf = self.user_vectors(users)
        item_cf = self.item_vectors(items)
        weights = x = None
        user_content = item_content = None
        if self.has_content:
            user_content, item_content, weights, x = self._content(rows, apply_top_k,
                                                                   need_weights)
        user_bias, user_cold_bias = self._side_bias(users, self.user_bias, user_content)
        item_bias, item_cold_bias = self._side_bias(items, self.item_bias, item_content)
        user_content, item_content = side_vector(user_content), side_vector(item_content)
        # 1 for a known id, 0 for the unknown one: it has no feedback vector of its own
        user_known = (users > UNKNOWN_ID).to(user_cf.dtype)
        item_known = (items > UNKNOWN_ID).to(item_cf.dtype)
        user, user_bar, alpha_user = self.integrate(user_cf, user_content, user_known)
        item, item_bar, alpha_item = self.integrate(item_cf, item_content, item_known)
        # combined (Eq. 9), content and preference scores in one product
        sides_user = torch.stack((user, user_bar, user_cf))  # (3, batch, embed_dim)
        sides_item = torch.stack((item, item_bar, item_cf))
        bias = user_bias + item_bias + self.global_bias
        scores = self.rating_score(sides_user, sides_item, bias)  # (3, batch)
        if cold_scores:
            # the side that stays known enters as a constant: these scores train
            # the cold path only, never the warm vectors and biases
            known_user = (user.detach(), (user_bias + self.global_bias).detach())
            known_item = (item.detach(), (item_bias + self.global_bias).detach())
            cold = torch.stack((
                self._cold_score(known_user, self.item_vectors, item_content, item_cold_bias),
                self._cold_score(known_item, self.user_vectors, user_content, user_cold_bias),
            ))  # fmt: skip
            scores = torch.cat((scores, cold))  # (5, batch)
        penalty = None
        if with_penalty:
            batch = max(users.shape[0], 1)
            # the vectors the batch used (implicit sums included), as gathered above
            l2 = user_cf.square().sum() + item_cf.square().sum()
            if x is not None:
                l2 = l2 + x.square().sum()
            anchor = l2.new_zeros(())
            for known, cf, content in ((user_known, user_cf, user_content),
                                       (item_known, item_cf, item_content)):  # fmt: skip
                if content is not None:
                    # pulls X_CF of a known id and X̄ of its row towards each other:
                    # an id with few ratings stays near what its features say
                    anchor = anchor + ((cf - content).square().sum(-1) * known).sum()
            penalty = Penalties(l2 / batch, anchor / batch)
        return scores, alpha_user, alpha_item, weights, penalty

    @staticmethod
    def rating_score(user: torch.Tensor, item: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        """Eq. 9: the dot product of the user's and the item's vectors, plus the biases.

        ``user`` and ``item`` are ``(..., embed_dim)`` (the mixed vectors for
        the combined score, X̄ or X_CF for the other two) and ``bias`` the sum
        of the global, user and item biases, broadcast against ``(...)``.
        Every score of the package, :meth:`SAINRegressor.recommend`'s
        included, is computed here.
        """
        return (user * item).sum(-1) + bias

    def _cold_score(self, known, unknown_vectors, content, cold_bias):
        """Eq. 9 for a row whose other side were unseen, from the known side's vector and bias.

        An unseen id takes alpha_CF = 0: its content vector alone, or the
        unknown id's vector for a side without features, and the unknown id's
        bias plus the bias its features predict. Training this score on every
        row teaches the path that cold-start predictions take, which training
        on known ids alone never visits.
        """
        vector, bias = known
        if content is not None:
            # alpha_CF = 0 makes Eq. 8's mix the content vector itself, and no
            # gradient reaches the gate or the unknown id's vector through it:
            # skipping them (the unknown id's lookup, implicit sum and gate) trains
            # exactly the same and takes a sixth off a default epoch
            return self.rating_score(vector, content, bias + cold_bias)
        # one row for the whole batch: every row's unseen id is the same unknown id
        unknown = unknown_vectors(torch.tensor([UNKNOWN_ID], device=bias.device))
        return self.rating_score(vector, unknown, bias + cold_bias)

    def _drop_ids(self, ids: torch.Tensor) -> torch.Tensor:
        """``ids`` with a random ``id_dropout`` share of the known ones set to the unknown id."""
        dropped = random_mask(ids.shape, self.id_dropout, ids.device, self.noise_generator)
        return torch.where(dropped & (ids > UNKNOWN_ID), UNKNOWN_ID, ids)

    @staticmethod
    def _side_bias(ids, table, content: SideContent | None):
        """Bias of each row's id ``(batch,)``, and the bias the row would have were its id unseen.

        With ``content_bias``, the features add to the id's bias a learned
        complement (a known id) or, for the unknown id, an estimate of the whole
        bias: the two outputs of :attr:`SideContent.bias`.
        """
        bias = F.embedding(ids, table.weight).view(-1)
        cold = table.weight[UNKNOWN_ID]
        if content is None or content.bias is None:
            return bias, cold
        warm_part, cold_part = content.bias.unbind(-1)
        bias = bias + torch.where(ids > UNKNOWN_ID, warm_part, cold_part)
        return bias, cold + cold_part

    def forward_rows(self, users, items, rows, return_attention: bool = False) -> SAINOutput:
        """:meth:`forward` on global feature rows (see :meth:`token_rows`) instead of local ids."""
        apply_top_k = self.training or self.top_k_at_predict
        scores, alpha_user, alpha_item, weights, _ = self._scores(
            users, items, rows, apply_top_k, need_weights=return_attention
        )
        combined, content, preference = scores.unbind(0)
        return SAINOutput(
            combined=combined,
            content=content,
            preference=preference,
            alpha_user=alpha_user,
            alpha_item=alpha_item,
            attention=weights if return_attention else None,
        )

    def forward(
        self,
        users: torch.Tensor,
        items: torch.Tensor,
        tokens: torch.Tensor,
        return_attention: bool = False,
    ) -> SAINOutput:
        return self.forward_rows(users, items, self.token_rows(tokens), return_attention)

    def training_terms(self, users, items, rows, cold_scores: bool = False):
        """Stacked scores ``(3, batch)`` (combined, content, preference) and the :class:`Penalties`.

        What one training step needs, from global feature rows, with the
        penalties computed from the vectors the forward pass gathered.
        With ``cold_scores`` the scores are ``(5, batch)``: the combined score
        for an unseen item, then for an unseen user, follow.
        """
        scores, _, _, _, penalties = self._scores(users, items, rows, self.training or
                                                  self.top_k_at_predict, with_penalty=True,
                                                  need_weights=False,
                                                  cold_scores=cold_scores)  # fmt: skip
        return scores, penalties
