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
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F


class ImplicitFeedback(nn.Module):
    """Normalised sum of the learned vectors of the ids each owner id is linked to.

    Parameters
    ----------
    n_owners : int
        Size of the id vocabulary whose vectors this module returns.
    n_others : int
        Size of the id vocabulary at the other end of the links (rows of ``table``).
    n_links : int
        Number of distinct (owner, other) links; fixed so that a saved state
        loads into a module of the same shape.
    dim : int
        Width of the vectors.
    """

    def __init__(self, n_owners: int, n_others: int, n_links: int, dim: int):
        super().__init__()
        self.table = nn.Embedding(n_others, dim)
        # CSR of the links: owner o links to others[starts[o] : starts[o] + counts[o]]
        self.register_buffer("starts", torch.zeros(n_owners, dtype=torch.long))
        self.register_buffer("counts", torch.zeros(n_owners, dtype=torch.long))
        self.register_buffer("others", torch.zeros(n_links, dtype=torch.long))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        nn.init.normal_(self.table.weight, std=0.01)

    @torch.no_grad()
    def set_links(self, owners, others) -> None:
        """Store the links of the pairs ``(owners[n], others[n])``; repeated pairs count once."""
        owners = np.asarray(owners, dtype=np.int64)
        others = np.asarray(others, dtype=np.int64)
        n_owners, n_others = self.starts.shape[0], self.table.num_embeddings
        pairs = np.unique(owners * n_others + others)  # sorted by owner, then other
        if pairs.size != self.others.shape[0]:
            raise ValueError(
                f"expected {self.others.shape[0]} distinct links, got {pairs.size}"
            )
        owner_of, other_of = np.divmod(pairs, n_others)
        counts = np.bincount(owner_of, minlength=n_owners)
        device = self.starts.device
        self.counts.copy_(torch.as_tensor(counts, device=device))
        self.starts.copy_(torch.as_tensor(np.cumsum(counts) - counts, device=device))
        self.others.copy_(torch.as_tensor(other_of, device=device))

    def check_links(self) -> None:
        """Raise a ValueError unless the stored links are a valid CSR of in-range ids.

        Loading a saved model calls this: links from a damaged or edited file
        would otherwise surface as an indexing error deep inside torch.
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
        sums = F.embedding_bag(self.others[position], self.table.weight, offsets, mode="sum")
        scale = counts.clamp(min=1).to(sums.dtype).rsqrt().unsqueeze(-1)
        return (sums * scale).index_select(0, inverse)


def count_links(users, items) -> int:
    """Number of distinct (user, item) pairs: the ``n_links`` of both sides' modules."""
    users = np.asarray(users, dtype=np.int64)
    items = np.asarray(items, dtype=np.int64)
    if users.size == 0:
        return 0
    return int(np.unique(users * (int(items.max()) + 1) + items).size)
