"""Top-N recommendations: score candidate items for users and keep the best ones.

The candidates and each user's rated items come from the regressor's training
:class:`~sklearn_sain._catalog.Catalog`. By predicted rating, ``recommend``
pairs users with candidate items, runs the network over every pair in large
batches and keeps the top n per user; by choice, it ranks with the choice
head (see :mod:`sklearn_sain._choice_ranking`).
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from sklearn.utils.validation import check_is_fitted

from ._catalog import candidate_columns
from ._choice_ranking import RANK_BY, mask_seen, ranked_by_choice, top_columns
from ._encoder import SAINEncoder
from ._ids import UNKNOWN_ID
from ._model import SideContent
from ._validation import check_bool, check_int_param

# ------------------------------------------------------------------ encoders
def fitted_encoder(model, encoder):
    """The encoder that maps raw values to the ids ``model`` was trained on, or None."""
    if encoder is None:
        return model.encoder_
    if model.encoder_ is not None:
        raise ValueError(
            "This SAINRegressor holds its own encoder (it was fitted on a raw table); "
            "leave encoder=None"
        )
    if not isinstance(encoder, SAINEncoder):
        raise TypeError(f"encoder must be a fitted SAINEncoder or None, got "
                        f"{type(encoder).__name__}")
    check_is_fitted(encoder)
    return encoder


def _ids_of(values, encoder, field: str) -> np.ndarray:
    """Encoded ids of raw ``values`` of an id field; -1 where the value is unknown."""
    if encoder is None:  # a regressor fitted on encoded input: values are encoded ids
        ids = pd.to_numeric(pd.Series(values, dtype=object), errors="coerce").to_numpy()
        whole = np.isfinite(ids) & (ids == np.round(ids)) & (ids > UNKNOWN_ID)
        return np.where(whole, np.nan_to_num(ids), -1).astype(np.int64)
    found = encoder.vocabularies_[field].get_indexer(pd.Index(values, dtype=object))
    return np.where(found < 0, -1, found + 2).astype(np.int64)


def _values_of(ids: np.ndarray, encoder, field: str):
    if encoder is None:
        return ids
    return encoder.vocabularies_[field].take(ids - 2)


def _side_features(frame, encoder, role: str, param: str):
    """``(raw ids, encoded ids, side tokens)`` of the users or items described in ``frame``."""
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"{param} must be a pandas DataFrame or None, got {type(frame).__name__}")
    if encoder is None or not hasattr(encoder, "feature_names_in_"):
        raise ValueError(
            f"{param} needs the encoder of a model fitted on a DataFrame with named columns "
            "(pass encoder= for a regressor fitted on encoded input)"
        )
    id_col = encoder.user_col_ if role == "user" else encoder.item_col_
    other_col = encoder.item_col_ if role == "user" else encoder.user_col_
    features = encoder.user_features_ if role == "user" else encoder.item_features_
    missing = [c for c in [id_col, *features] if c not in frame.columns]
    if missing:
        raise ValueError(f"{param} lacks the column(s) {missing}")
    raw = frame[id_col].to_numpy(dtype=object)
    repeated = pd.Index(raw).duplicated()
    if repeated.any():
        raise ValueError(f"{param} lists {role} {raw[repeated][0]!r} more than once")
    # a whole table through the fitted encoder, so that cells are read exactly as
    # in fit; the other side holds a known id and no features, and is discarded
    table = pd.DataFrame({c: [None] * len(frame) for c in encoder.feature_names_in_})
    for column in [id_col, *features]:
        table[column] = frame[column].to_numpy(dtype=object)
    table[other_col] = [encoder.vocabularies_[other_col][0]] * len(frame)
    encoded = encoder.transform(table)
    prefix = f"{role}:"
    slots = [c for c in encoded.columns[2:] if str(c).startswith(prefix)]
    ids = encoded.iloc[:, 0 if role == "user" else 1].to_numpy(dtype=np.int64)
    return raw, np.where(ids > UNKNOWN_ID, ids, -1), encoded[slots].to_numpy(dtype=np.int32)


@dataclass(frozen=True, eq=False)
class _Side:
    """The users (or the candidate items) to score."""

    raw: np.ndarray  # ids as the caller knows them
    ids: np.ndarray  # encoded ids, UNKNOWN_ID for ids unseen in fit
    tokens: np.ndarray  # that side's feature token slots
    catalog_pos: np.ndarray  # position in the training catalog, -1 if not there


def _resolve(values, role, model, encoder, frame, param) -> _Side:
    """Look up ``values`` (raw ids) in ``frame`` first, then in the training catalog."""
    catalog = model.catalog_
    known_ids = catalog.user_ids if role == "user" else catalog.item_ids
    known_tokens = catalog.user_tokens if role == "user" else catalog.item_tokens
    field = None if encoder is None else (encoder.user_col_ if role == "user"
                                         else encoder.item_col_)
    given_raw, given_ids, given_tokens = (
        (np.empty(0, dtype=object), np.empty(0, dtype=np.int64),
         np.empty((0, known_tokens.shape[1]), dtype=np.int32))
        if frame is None else _side_features(frame, encoder, role, param)
    )
    if values is None:  # every catalog entry, then the described ones not in it
        raw = _values_of(known_ids.astype(np.int64), encoder, field)
        extra = ~np.isin(given_ids, known_ids)
        raw = np.concatenate([np.asarray(raw, dtype=object), given_raw[extra]])
    else:
        raw = pd.unique(pd.Series(values, dtype=object)).astype(object)
    ids = _ids_of(raw, encoder, field)
    pos = np.searchsorted(known_ids, ids).clip(max=max(len(known_ids) - 1, 0))
    in_catalog = np.zeros(len(ids), dtype=bool)
    if len(known_ids):
        in_catalog = known_ids[pos] == ids
    tokens = np.zeros((len(raw), known_tokens.shape[1]), dtype=np.int32)
    tokens[in_catalog] = known_tokens[pos[in_catalog]]
    described = np.zeros(len(raw), dtype=bool)
    if len(given_raw):
        at = pd.Index(given_raw).get_indexer(pd.Index(raw, dtype=object))
        described = at >= 0
        tokens[described] = given_tokens[at[described]]  # the caller's features win
    lacking = ~(in_catalog | described)
    if lacking.any():
        names = [v.item() if isinstance(v, np.generic) else v for v in raw[lacking][:5]]
        raise ValueError(
            f"{lacking.sum()} {role}(s) were not seen in fit: {names}"
            f"{' ...' if lacking.sum() > 5 else ''}; pass their features in {param}= (a "
            f"DataFrame with the {role} id column and the {role} feature columns)"
        )
    return _Side(raw, np.where(ids > UNKNOWN_ID, ids, UNKNOWN_ID), tokens,
                 np.where(in_catalog, pos, -1))


# ------------------------------------------------------------------ scoring
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
def _top_n(model, users: _Side, items: _Side, n: int, exclude_seen: bool):
    """Top-n raw scores and item columns per user, as arrays (users, n); -inf pads.

    The content path (Eq. 1-6, the attention) is by far the costliest part of
    a score and depends on the feature tokens only, so it runs once per
    distinct user feature row and candidate item: on MovieLens 943 users
    share about 220 rows (age bucket, gender, occupation). The feedback
    vectors, the mixing of Eq. 7-8 and the score of Eq. 9 then follow per user
    with the module's own pieces, exactly as in its forward pass.
    """
    module, device = model.module_, model.device_
    n_items = len(items.ids)
    n_slots = max(model.layout_.n_slots, 1)
    # attention holds n_heads * n_slots ** 2 weights per pair: cap a batch near
    # 2 ** 24 of them, as predict does, so that memory stays bounded
    batch = int(np.clip(2**24 // (model._module_kwargs["n_heads"] * n_slots**2), 256, 2**15))
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
    column_of = candidate_columns(model.catalog_, items.catalog_pos)

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
                    mask_seen(scores, model.catalog_, users.catalog_pos[rows], column_of)
                values, columns = top_columns(scores, k)
                scores_out[rows] = values
                columns_out[rows] = columns
    finally:
        module.train(was_training)
    return scores_out, columns_out


def recommend(model, users=None, n=10, *, items=None, exclude_seen=True, user_features=None,
              item_features=None, encoder=None, rank_by=None) -> pd.DataFrame:
    """Implementation of :meth:`SAINRegressor.recommend`."""
    check_is_fitted(model, "module_")
    if not hasattr(model, "catalog_"):
        raise ValueError(
            "This model has no record of its training users and items (it was saved by an "
            "older sklearn_sain); refit it to use recommend"
        )
    check_int_param(n, "n")
    check_bool(exclude_seen, "exclude_seen")
    has_choice = getattr(model.module_, "choice", None) is not None
    if rank_by is None:
        rank_by = "combined" if has_choice else "rating"
    if not isinstance(rank_by, str) or rank_by not in RANK_BY:
        raise ValueError(f"rank_by must be one of {RANK_BY} or None, got {rank_by!r}")
    if rank_by != "rating" and not has_choice:
        raise ValueError(
            f"rank_by={rank_by!r} needs the choice head, which this model was fitted without "
            "(choice_head=False, or saved by an older sklearn_sain); refit with "
            "choice_head=True or use rank_by='rating'"
        )
    encoder = fitted_encoder(model, encoder)
    if users is not None and not pd.api.types.is_list_like(users):
        users = [users]
    if items is not None and not pd.api.types.is_list_like(items):
        items = [items]
    if isinstance(n, numbers.Integral):
        n = int(n)
    user_side = _resolve(users, "user", model, encoder, user_features, "user_features")
    item_side = _resolve(items, "item", model, encoder, item_features, "item_features")
    if not len(user_side.ids) or not len(item_side.ids):
        scores = np.zeros((len(user_side.ids), 0))
        columns = np.zeros((len(user_side.ids), 0), dtype=np.int64)
    elif rank_by != "rating":
        weight = 0.0 if rank_by == "choice" else None  # None: the weight chosen in fit
        scores, columns = ranked_by_choice(model.module_, model.device_, model.catalog_,
                                           user_side, item_side, n, exclude_seen, weight)
    else:
        scores, columns = _top_n(model, user_side, item_side, n, exclude_seen)
    kept = np.isfinite(scores)  # -inf marks a user with fewer than n unseen candidates
    user_index, rank = np.nonzero(kept)
    raw = scores[kept]
    if rank_by != "rating":
        return _frame(user_side.raw[user_index], rank, item_side.raw[columns[kept]], raw)
    with np.errstate(over="ignore"):
        rating = raw * model.target_scale_ + model.target_mean_
    # the same scaling and clipping as predict, so that scores equal predictions
    low, high = model.target_range_ if model.clip_predictions else (-np.inf, np.inf)
    largest = np.finfo(np.float64).max
    rating = np.clip(rating, max(low, -largest), min(high, largest))
    return _frame(user_side.raw[user_index], rank, item_side.raw[columns[kept]], rating)


def _frame(users, rank, items, score) -> pd.DataFrame:
    return pd.DataFrame({
        "user": _as_column(users),
        "rank": rank.astype(np.int64) + 1,
        "item": _as_column(items),
        "score": score,
    })


def _as_column(values):
    """Raw ids as a column with a natural dtype (ints stay ints, not objects)."""
    values = pd.Series(values, dtype=object)
    return values.infer_objects() if len(values) else values
