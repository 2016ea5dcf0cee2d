"""Top-N by predicted rating: every user against every candidate item, the best kept.

``users`` and ``items`` carry encoded ``ids``, that side's feature ``tokens``
and their ``catalog_pos`` in the training catalog (-1: not there), as
:mod:`sklearn_sain._recommend` resolves them. ``batch`` bounds the rows of one
pass of the content path (the attention memory).
"""

from __future__ import annotations

import numpy as np
import torch

from .._encoding.catalog import candidate_columns
from .._encoding.ids import UNKNOWN_ID
from .choice_ranking import mask_seen, top_columns
from .model import SideContent


def _profiles(tokens: np.ndarray):
    """Distinct user feature rows, and the row of each user."""
    if tokens.shape[1] == 0:  # no user features: one shared (empty) row
        return tokens[:1], np.zeros(len(tokens), dtype=np.int64)
    profiles, profile_of = np.unique(tokens, axis=0, return_inverse=True)
    return profiles, profile_of.reshape(-1)


def _concat_sides(sides: list):
    """One :class:`SideContent` from the parts of consecutive batches (None: no features)."""
    if sides[0] is None:
        return None
    bias = None if sides[0].bias is None else torch.cat([s.bias for s in sides])
    return SideContent(torch.cat([s.vector for s in sides]), bias)


def _take_rows(side, n_profiles: int, n_items: int, profiles: torch.Tensor):
    """The rows of ``side`` (laid out profile by candidate item) of the given ``profiles``."""
    if side is None:
        return None
    pick = lambda t: t.view(n_profiles, n_items, -1)[profiles].flatten(0, 1)  # noqa: E731
    return SideContent(pick(side.vector), None if side.bias is None else pick(side.bias))


@torch.inference_mode()
def rating_top_n(module, device, catalog, users, items, n: int, exclude_seen: bool, batch: int):
    """Top-n raw scores and item columns per user, as arrays (users, n); -inf pads.

    The content path (Eq. 1-6, the attention) is by far the costliest part of
    a score and depends on the feature tokens only, so it runs once per
    distinct user feature row and candidate item: on MovieLens 943 users
    share about 220 rows (age bucket, gender, occupation). The feedback
    vectors, the mixing of Eq. 7-8 and the score of Eq. 9 then follow per user
    with the module's own pieces, exactly as in its forward pass.
    """
    n_items = len(items.ids)
    per_chunk = max(1, batch // max(n_items, 1))
    apply_top_k = module.training or module.top_k_at_predict

    item_ids = torch.as_tensor(items.ids, device=device)
    item_tokens = torch.as_tensor(items.tokens, dtype=torch.long, device=device)
    item_cf = module.item_vectors(item_ids)
    item_known = (item_ids > UNKNOWN_ID).to(item_cf.dtype)
    user_ids = torch.as_tensor(users.ids, device=device)
    profiles, profile_of = _profiles(users.tokens)
    order = np.argsort(profile_of, kind="stable")  # users grouped by feature row
    starts = np.searchsorted(profile_of[order], np.arange(len(profiles) + 1))
    column_of = candidate_columns(catalog, items.catalog_pos)

    k = min(n, n_items)
    scores_out = np.full((len(users.ids), k), -np.inf, dtype=np.float64)
    columns_out = np.zeros((len(users.ids), k), dtype=np.int64)
    was_training = module.training
    module.eval()
    try:
        for first in range(0, len(profiles), per_chunk):
            chunk = torch.as_tensor(profiles[first:first + per_chunk], dtype=torch.long,
                                    device=device)
            m = len(chunk)
            user_side = item_side = None
            if module.has_content:
                tokens = torch.cat([chunk.repeat_interleave(n_items, dim=0),
                                    item_tokens.repeat(m, 1)], dim=1)
                # the weights are not needed: the same fused attention as predict
                parts = [module.content(tokens[i:i + batch], apply_top_k)
                         for i in range(0, m * n_items, batch)]
                user_side, item_side = (_concat_sides([p[side] for p in parts])
                                        for side in (0, 1))
            item_content = None if item_side is None else item_side.vector
            item_mixed = module.integrate(item_cf.repeat(m, 1), item_content,
                                          item_known.repeat(m))[0].view(m, n_items, -1)
            item_bias = (module.item_biases(item_ids.repeat(m), item_side).view(m, n_items)
                         + module.global_bias)
            group = order[starts[first]:starts[min(first + per_chunk, len(profiles))]]
            for lo in range(0, len(group), per_chunk):
                rows = group[lo:lo + per_chunk]
                local = torch.as_tensor(profile_of[rows] - first, device=device)
                ids = user_ids[rows]
                side = _take_rows(user_side, m, n_items, local)
                mixed = module.integrate(
                    module.user_vectors(ids).repeat_interleave(n_items, dim=0),
                    None if side is None else side.vector,
                    (ids > UNKNOWN_ID).to(item_cf.dtype).repeat_interleave(n_items),
                )[0].view(len(rows), n_items, -1)
                user_bias = module.user_biases(ids.repeat_interleave(n_items), side)
                scores = module.rating_score(mixed, item_mixed[local],
                                             user_bias.view(len(rows), -1) + item_bias[local])
                if exclude_seen:
                    mask_seen(scores, catalog, users.catalog_pos[rows], column_of)
                values, columns = top_columns(scores, k)
                scores_out[rows] = values
                columns_out[rows] = columns
    finally:
        module.train(was_training)
    return scores_out, columns_out
