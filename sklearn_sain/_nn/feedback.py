"""Implicit feedback: who rated what, as a part of the feedback vectors (SVD++).

Which items a user rated says something about the user even before the
ratings are read, and which users rated an item says something about the
item (Koren, "Factorization meets the neighborhood", KDD 2008). With
``implicit_feedback=True`` the feedback vector of Eq. 7 becomes

    X_CF_u = p_u + |N(u)|^-1/2 * sum_{j in N(u)} y_j
    X_CF_i = q_i + |R(i)|^-1/2 * sum_{v in R(i)} z_v

where N(u) are the items ``u`` rated in the training data, R(i) the users who
rated ``i``, and y, z learned tables. The links are fixed at fit time and
stored with the model (they are part of what it learned); an id without
links, such as an unseen one, adds nothing.

Cost
----
A row costs as many table lookups as its user and item have links, and the
most popular items have the most: without a bound the cost per rating grows
with the data. ``max_links`` keeps a fixed random subset of at most that many
links per id, chosen once at fit time, so that the cost per row is bounded.

The sums run through torch's ``embedding_bag``, whose forward pass is fast;
its backward pass scatters one row per link and is ten times slower than the
forward at these sizes. :class:`_LinkedSum` computes the gradient instead as
another ``embedding_bag`` over the links grouped by table row: a gather, like
the forward.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.autograd.function import once_differentiable
from torch.nn import functional as F

from .randomness import blank


def select_links(owners, others, n_others: int, max_links: int | None, rng):
    """Distinct ``(owner, other)`` pairs, at most ``max_links`` per owner, sorted by owner then other.

    An owner with more links keeps a random subset drawn from ``rng`` (a
    ``numpy.random.RandomState``). Returns two int64 arrays.
    """
    owners = np.asarray(owners, dtype=np.int64)
    others = np.asarray(others, dtype=np.int64)
    pairs = np.unique(owners * n_others + others)  # sorted by owner, then other
    owner_of, other_of = np.divmod(pairs, n_others)
    if max_links is None or pairs.size == 0:
        return owner_of, other_of
    counts = np.bincount(owner_of)
    if counts.max() <= max_links:
        return owner_of, other_of
    # rank the links of each owner in a random order and keep the first max_links
    shuffled = np.lexsort((rng.random_sample(pairs.size), owner_of))
    first = np.cumsum(counts) - counts
    rank = np.arange(pairs.size) - first[owner_of[shuffled]]
    keep = np.sort(shuffled[rank < max_links])  # back in (owner, other) order
    return owner_of[keep], other_of[keep]


def training_links(users, items, n_users: int, n_items: int, max_links: int | None, seed: int):
    """The links of both sides from training pairs: ``(users, items)`` by user, ``(items, users)`` by item.

    Their own random stream (from ``seed``) picks the subsets that
    ``max_links`` keeps, so that capping leaves any other randomness as it is.
    """
    users = np.asarray(users, dtype=np.int64)
    items = np.asarray(items, dtype=np.int64)
    rng = np.random.RandomState(seed)
    return (select_links(users, items, n_items, max_links, rng),
            select_links(items, users, n_users, max_links, rng))  # fmt: skip


class _LinkedSum(torch.autograd.Function):
    """Per bag, the sum of ``table`` rows ``rows[offsets[b] : offsets[b + 1]]``, scaled by ``scale[b]``.

    The gradient of the table is the transposed sum: for each table row, the
    sum of the scaled output gradients of the bags it appears in. It is
    computed as an ``embedding_bag`` too, over one of two groupings of the
    links by table row:

    - ``transposed = (row_offsets, row_owners, n_owners)``, every link of the
      module grouped by table row (bag ``b`` being owner ``bag_owners[b]``):
      a gather over all links, cheapest while they are few next to the
      batch's;
    - else the batch's own links, sorted by table row: a sort, whose cost
      grows with the batch only.
    """

    @staticmethod
    def forward(ctx, table, rows, offsets, scale, bag_owners, transposed):
        ctx.save_for_backward(rows, offsets, scale, bag_owners)
        ctx.n_rows, ctx.transposed = table.shape[0], transposed
        return F.embedding_bag(rows, table, offsets, mode="sum") * scale.unsqueeze(-1)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad):
        rows, offsets, scale, bag_owners = ctx.saved_tensors
        scaled = grad * scale.unsqueeze(-1)  # (bags, dim)
        # a sort costs about six gathers per link: gather over every link
        # unless they outnumber the batch's links that much
        if ctx.transposed is not None and ctx.transposed[1].shape[0] <= 6 * rows.shape[0]:
            row_offsets, owners, n_owners = ctx.transposed
            per_owner = scaled.new_zeros(n_owners, scaled.shape[1])
            per_owner.index_copy_(0, bag_owners, scaled)
            grad_table = F.embedding_bag(owners, per_owner, row_offsets, mode="sum")
            return grad_table, None, None, None, None, None
        sizes = torch.diff(offsets, append=offsets.new_tensor([rows.shape[0]]))
        bag_of = torch.repeat_interleave(torch.arange(offsets.shape[0], device=rows.device),
                                         sizes, output_size=rows.shape[0])  # fmt: skip
        order = torch.argsort(rows)
        per_row = torch.bincount(rows, minlength=ctx.n_rows)
        row_offsets = torch.cumsum(per_row, 0) - per_row
        grad_table = F.embedding_bag(bag_of.index_select(0, order), scaled, row_offsets,
                                     mode="sum")  # fmt: skip
        return grad_table, None, None, None, None, None


class ImplicitFeedback(nn.Module):
    """Normalised sum of the learned vectors of the ids each owner id is linked to.

    Parameters
    ----------
    n_owners : int
        Size of the id vocabulary whose vectors this module returns.
    n_others : int
        Size of the id vocabulary at the other end of the links (rows of ``table``).
    n_links : int
        Number of (owner, other) links; fixed so that a saved state loads into
        a module of the same shape.
    dim : int
        Width of the vectors.
    generator : torch.Generator, optional
        Draws the initial vectors; None draws from torch's global generator.
    """

    def __init__(self, n_owners: int, n_others: int, n_links: int, dim: int,
                 generator: torch.Generator | None = None):  # fmt: skip
        super().__init__()
        self.table = blank(nn.Embedding, n_others, dim)
        # CSR of the links: owner o links to others[starts[o] : starts[o] + counts[o]]
        self.register_buffer("starts", torch.zeros(n_owners, dtype=torch.long))
        self.register_buffer("counts", torch.zeros(n_owners, dtype=torch.long))
        self.register_buffer("others", torch.zeros(n_links, dtype=torch.long))
        # the same links grouped by table row, for the gradient (derived, not saved)
        self.register_buffer("row_offsets", torch.zeros(n_others, dtype=torch.long),
                             persistent=False)  # fmt: skip
        self.register_buffer("row_owners", torch.zeros(n_links, dtype=torch.long),
                             persistent=False)  # fmt: skip
        # a loaded state is checked, then grouped: damaged links fail the load
        self.register_load_state_dict_post_hook(lambda module, _: module._group_by_row())
        self.reset_parameters(generator)

    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        nn.init.normal_(self.table.weight, std=0.01, generator=generator)

    @torch.no_grad()
    def set_links(self, owners, others) -> None:
        """Store the links ``(owners[n], others[n])``, given sorted by owner (see :func:`select_links`)."""
        owners = np.asarray(owners, dtype=np.int64)
        others = np.asarray(others, dtype=np.int64)
        if owners.size != self.others.shape[0]:
            raise ValueError(f"expected {self.others.shape[0]} links, got {owners.size}")
        if owners.size and np.any(np.diff(owners) < 0):
            raise ValueError("links must be sorted by owner")
        counts = np.bincount(owners, minlength=self.starts.shape[0])
        device = self.starts.device
        self.counts.copy_(torch.as_tensor(counts, device=device))
        self.starts.copy_(torch.as_tensor(np.cumsum(counts) - counts, device=device))
        self.others.copy_(torch.as_tensor(others, device=device))
        self._group_by_row()

    @torch.no_grad()
    def _group_by_row(self) -> None:
        """Check the links, then fill ``row_offsets`` / ``row_owners``: each table row's owners."""
        self.check_links()
        n_others = self.row_offsets.shape[0]
        owners = torch.repeat_interleave(torch.arange(self.counts.shape[0], device=self.counts.device),
                                         self.counts)  # fmt: skip
        order = torch.argsort(self.others, stable=True)
        per_row = torch.bincount(self.others, minlength=n_others)
        self.row_offsets.copy_(torch.cumsum(per_row, 0) - per_row)
        self.row_owners.copy_(owners.index_select(0, order))

    def check_links(self) -> None:
        """Raise a ValueError unless the stored links are a valid CSR of in-range ids.

        Storing or loading links calls this: links from a damaged or edited
        file would otherwise surface as an indexing error deep inside torch.
        """
        starts, counts, others = (t.detach().cpu() for t in (self.starts, self.counts, self.others))
        n_links = others.shape[0]
        expected_starts = torch.cumsum(counts, 0) - counts
        if (bool((counts < 0).any()) or int(counts.sum()) != n_links
                or not torch.equal(starts, expected_starts)):  # fmt: skip
            raise ValueError("implicit feedback links are inconsistent")
        if n_links and (int(others.min()) < 0 or int(others.max()) >= self.table.num_embeddings):
            raise ValueError("implicit feedback links point past the id vocabulary")

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        """``(batch, dim)`` implicit vectors of owner ``ids`` ``(batch,)``."""
        # popular ids repeat within a batch and carry the longest link lists:
        # sum each distinct id once
        unique, inverse = torch.unique(ids.long(), return_inverse=True)
        starts, counts = self.starts[unique], self.counts[unique]
        offsets = torch.cumsum(counts, 0) - counts  # where each id's links begin in the bag
        total = int(counts.sum())
        # positions starts[o] .. starts[o] + counts[o] - 1 of every id, concatenated
        position = torch.repeat_interleave(starts - offsets, counts, output_size=total)
        position += torch.arange(total, device=ids.device)
        scale = counts.clamp(min=1).to(self.table.weight.dtype).rsqrt()
        transposed = (self.row_offsets, self.row_owners, self.starts.shape[0])
        sums = _LinkedSum.apply(self.table.weight, self.others[position], offsets, scale, unique,
                                transposed)  # fmt: skip
        return sums.index_select(0, inverse)
