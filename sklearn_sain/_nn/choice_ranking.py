"""Ranking with the choice head: by choice alone, or by choice and predicted rating.

The choice head says which items a user is likely to rate; the rating path
how much they would like an item once rated. A top-N list should hold items
the user will pick *and* like, so the ``"combined"`` ranking scores

    log p(u picks i) + w * r(u, i)

with the choice head's logit (its log-probability up to a per-user constant,
which leaves each user's order unchanged) and the standardised rating ``r``
of Eq. 9. ``w`` is chosen in ``fit`` on the validation pairs
(:func:`select_rating_weight`). Only the ``RERANK_DEPTH`` items the choice
head ranks highest are rated: at the chosen weights an item further down
never reached a top 10 on MovieLens, and rating every pair of a large
catalogue costs a full pass of the network per pair.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .._encoding.catalog import candidate_columns, seen_pairs
from .training import Rows, predict_rows

RANK_BY = ("combined", "choice", "rating")
RERANK_DEPTH = 100
# weights of the standardised rating tried in fit, and the one taken without
# validation data (the MovieLens choice)
RATING_WEIGHTS = (0.0, 0.25, 0.5, 1.0, 2.0, 4.0)
DEFAULT_RATING_WEIGHT = 0.5
_TOP_N = 10


@dataclass(frozen=True, eq=False)
class Side:
    """Users or candidate items: encoded ids, that side's tokens, catalog position (-1: none)."""

    ids: np.ndarray
    tokens: np.ndarray
    catalog_pos: np.ndarray


def catalog_side(catalog, role: str, ids: np.ndarray) -> Side:
    """The :class:`Side` of the catalog's users (or items) with encoded ``ids`` (all there)."""
    known = catalog.user_ids if role == "user" else catalog.item_ids
    tokens = catalog.user_tokens if role == "user" else catalog.item_tokens
    positions = np.searchsorted(known, ids)
    return Side(known[positions].astype(np.int64), tokens[positions], positions)


def top_columns(scores: torch.Tensor, k: int):
    """Best ``k`` scores of each row and their columns; ties go to the lower column.

    ``topk`` leaves the order of equal scores to the kernel, which differs
    between devices and torch versions; a stable sort does not.
    """
    values, columns = torch.sort(scores, dim=1, descending=True, stable=True)
    return values[:, :k].double().cpu().numpy(), columns[:, :k].cpu().numpy()


def side_features(module, side: Side, role: str, device):
    """The choice head's feature input for one side: SAIN's per-field mean token embeddings.

    :meth:`SAINModule.field_means` of full token rows holding ``side``'s
    tokens and padding on the other side; None for a side without features.
    """
    full = np.zeros((len(side.tokens), module.n_user_slots + module.n_item_slots), dtype=np.int64)
    if role == "user":
        full[:, : module.n_user_slots] = side.tokens
    else:
        full[:, module.n_user_slots :] = side.tokens
    user, item = module.field_means(torch.as_tensor(full, device=device))
    return user if role == "user" else item


def mask_seen(scores: torch.Tensor, catalog, positions: np.ndarray, column_of: np.ndarray):
    """Set to -inf, in place, the scores of the items each user at catalog ``positions`` rated."""
    row, column = seen_pairs(catalog, positions, column_of)
    scores[torch.as_tensor(row, device=scores.device),
           torch.as_tensor(column, device=scores.device)] = float("-inf")


@torch.inference_mode()
def choice_top(module, device, catalog, users, items, depth: int, exclude_seen: bool):
    """The ``depth`` best candidates of each user by the choice head's logit.

    Returns ``(logits, columns)``, arrays ``(users, depth)`` (``-inf`` pads a
    user with fewer candidates). A user's history is their items in
    ``catalog``; a user or an item unseen in fit has neither history nor id
    vector and is scored from its features.
    """
    head = module.choice
    user_features = side_features(module, users, "user", device)
    item_features = side_features(module, items, "item", device)
    item_vectors, item_bias = head.item_vectors(torch.as_tensor(items.ids, device=device),
                                                item_features)  # fmt: skip
    column_of = candidate_columns(catalog, items.catalog_pos)
    every_item = np.arange(len(catalog.item_ids))
    n_items = len(items.ids)
    k = min(depth, n_items)
    logits_out = np.full((len(users.ids), k), -np.inf, dtype=np.float64)
    columns_out = np.zeros((len(users.ids), k), dtype=np.int64)
    per_chunk = int(np.clip(2**22 // max(n_items, 1), 1, 4096))  # logits near 16 MB
    for first in range(0, len(users.ids), per_chunk):
        rows = np.arange(first, min(first + per_chunk, len(users.ids)))
        positions = users.catalog_pos[rows]
        row, column = seen_pairs(catalog, positions, every_item)
        counts = np.bincount(row, minlength=len(rows))
        history = torch.as_tensor(catalog.item_ids[column].astype(np.int64), device=device)
        offsets = torch.as_tensor(np.cumsum(counts) - counts, device=device)
        features = None
        if user_features is not None:
            features = user_features[torch.as_tensor(rows, device=device)]
        vectors = head.user_vectors(torch.as_tensor(users.ids[rows], device=device), history,
                                    offsets, features)  # fmt: skip
        logits = head.logits(vectors, item_vectors, item_bias)
        if exclude_seen:
            mask_seen(logits, catalog, positions, column_of)
        logits_out[rows], columns_out[rows] = top_columns(logits, k)
    return logits_out, columns_out


def pair_ratings(module, device, users, items, columns: np.ndarray, batch_size=None):
    """Standardised ratings (Eq. 9) of each user and their candidates at ``columns`` (users, k)."""
    user_index = np.repeat(np.arange(len(users.ids)), columns.shape[1])
    item_index = columns.reshape(-1)
    rows = Rows.from_arrays(users.ids[user_index], items.ids[item_index],
                            np.concatenate([users.tokens[user_index], items.tokens[item_index]],
                                           axis=1), None, device)  # fmt: skip
    scores = predict_rows(module, rows, batch_size)
    return scores.double().cpu().numpy().reshape(columns.shape)


def ranked_by_choice(module, device, catalog, users, items, n: int, exclude_seen: bool,
                     weight: float | None = None):  # fmt: skip
    """Top ``n`` per user by logit + ``weight`` * standardised rating; ``(scores, columns)``.

    ``weight=None`` takes the head's ``rating_weight`` (chosen in fit); 0
    ranks by choice alone and rates nothing.
    """
    if weight is None:
        weight = float(module.choice.rating_weight)
    if weight == 0:
        return choice_top(module, device, catalog, users, items, n, exclude_seen)
    logits, columns = choice_top(module, device, catalog, users, items,
                                 max(RERANK_DEPTH, n), exclude_seen)  # fmt: skip
    ratings = pair_ratings(module, device, users, items, columns)
    return _reorder(logits + weight * ratings, columns, n)


def _reorder(scores: np.ndarray, columns: np.ndarray, n: int):
    """The ``n`` best of ``scores`` per row (ties: the earlier entry) and their columns."""
    order = np.argsort(-scores, axis=1, kind="stable")[:, :n]
    return np.take_along_axis(scores, order, 1), np.take_along_axis(columns, order, 1)


def select_rating_weight(module, device, catalog, users, items, liked_users, liked_columns):
    """The weight of :data:`RATING_WEIGHTS` whose ranking has the best NDCG@10, and the NDCGs.

    ``users`` and ``items`` are :class:`Side` objects; the validation pairs a
    user liked are ``(liked_users[j], liked_columns[j])`` (rows of ``users``,
    columns of ``items``), each user having at least one. Ties keep the
    smaller weight.
    """
    logits, columns = choice_top(module, device, catalog, users, items, RERANK_DEPTH, True)
    ratings = pair_ratings(module, device, users, items, columns)
    n_items = max(len(items.ids), 1)
    liked = np.unique(np.asarray(liked_users, dtype=np.int64) * n_items + liked_columns)
    discount = 1.0 / np.log2(np.arange(2, _TOP_N + 2))
    n_liked = np.minimum(np.bincount(liked // n_items, minlength=len(users.ids)), _TOP_N)
    ideal = np.cumsum(discount)[np.maximum(n_liked, 1) - 1]
    ndcg = []
    for weight in RATING_WEIGHTS:
        scores, top = _reorder(logits + weight * ratings, columns, _TOP_N)
        codes = np.arange(len(users.ids))[:, None] * n_items + top
        hits = np.isin(codes, liked) & np.isfinite(scores)
        ndcg.append(float(np.mean((hits * discount[: top.shape[1]]).sum(1) / ideal)))
    return RATING_WEIGHTS[int(np.argmax(ndcg))], ndcg
