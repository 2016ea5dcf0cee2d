"""Top-N recommendations: score candidate items for users and keep the best ones.

At ``fit`` the regressor keeps a :class:`Catalog` of the training data: the
feature tokens of every user and item (from their last training row) and the
(user, item) pairs that were rated. ``recommend`` pairs users with candidate
items, runs the network over every pair in large batches and keeps the top n
per user with ``torch.topk``.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from sklearn.utils.validation import check_is_fitted

from ._encoder import SAINEncoder
from ._layout import id_matrix
from ._model import UNKNOWN_ID, SideContent
from ._validation import check_bool, check_int_param

_ARRAYS = ("user_ids", "user_tokens", "item_ids", "item_tokens", "seen_indptr", "seen_items")


@dataclass(frozen=True, eq=False)
class Catalog:
    """Users and items seen in ``fit``: their encoded ids, feature tokens and rated pairs.

    ``user_ids`` and ``item_ids`` are ascending encoded ids (>= 2);
    ``user_tokens[p]`` / ``item_tokens[p]`` are the user-side / item-side
    token slots of the last training row of ``user_ids[p]`` / ``item_ids[p]``.
    The items rated by the user at position ``p`` are the item positions
    ``seen_items[seen_indptr[p]:seen_indptr[p + 1]]`` (a CSR matrix without
    values), ascending.
    """

    user_ids: np.ndarray
    user_tokens: np.ndarray
    item_ids: np.ndarray
    item_tokens: np.ndarray
    seen_indptr: np.ndarray
    seen_items: np.ndarray

    def arrays(self) -> dict:
        """The arrays by name, for persistence."""
        return {name: getattr(self, name) for name in _ARRAYS}

    @classmethod
    def from_arrays(cls, arrays: dict, layout) -> "Catalog":
        """Rebuild a catalog from :meth:`arrays`, refusing arrays that do not fit ``layout``."""
        if sorted(arrays) != sorted(_ARRAYS):
            raise ValueError(f"catalog arrays must be {list(_ARRAYS)}, got {sorted(arrays)}")
        a = {name: np.asarray(value) for name, value in arrays.items()}
        n_users, n_items = len(a["user_ids"]), len(a["item_ids"])
        n_user_slots = _n_user_slots(layout)
        limits = np.array([f.vocabulary_size for f in layout.fields for _ in range(f.width)])
        # an edited file must fail here, not index past an embedding table later
        checks = (
            all(v.dtype.kind == "i" for v in a.values()),
            a["user_ids"].ndim == a["item_ids"].ndim == a["seen_items"].ndim == 1,
            a["user_tokens"].shape == (n_users, n_user_slots),
            a["item_tokens"].shape == (n_items, layout.n_slots - n_user_slots),
            _ascending_ids(a["user_ids"], layout.n_users),
            _ascending_ids(a["item_ids"], layout.n_items),
            np.all(a["user_tokens"] >= 0) and np.all(a["item_tokens"] >= 0),
            np.all(a["user_tokens"] < limits[:n_user_slots]),
            np.all(a["item_tokens"] < limits[n_user_slots:]),
            a["seen_indptr"].shape == (n_users + 1,) and a["seen_indptr"][:1].sum() == 0,
            np.all(np.diff(a["seen_indptr"]) >= 0),
            a["seen_indptr"][-1] == len(a["seen_items"]),
            np.all((a["seen_items"] >= 0) & (a["seen_items"] < n_items)),
        )
        if not all(checks):
            raise ValueError("inconsistent training catalog")
        return cls(**a)


def _ascending_ids(ids: np.ndarray, size: int) -> bool:
    return bool(np.all(np.diff(ids) > 0) and (not len(ids) or (ids[0] > UNKNOWN_ID
                                                               and ids[-1] < size)))


def _n_user_slots(layout) -> int:
    return sum(f.width for f in layout.fields if f.role == "user")


def _last_rows(ids: np.ndarray):
    """Distinct known ids (ascending) and the position of the last row holding each."""
    distinct, first_from_end = np.unique(ids[::-1], return_index=True)
    known = distinct > UNKNOWN_ID
    return distinct[known], len(ids) - 1 - first_from_end[known]


def build_catalog(encoded: pd.DataFrame, layout) -> Catalog:
    """The :class:`Catalog` of an encoded training table.

    Only one row per user and per item is converted to token arrays, so this
    costs little next to training even on millions of ratings.
    """
    ids = id_matrix(encoded.iloc[:, :2])
    users = np.where(ids[:, 0] < layout.n_users, ids[:, 0], UNKNOWN_ID)
    items = np.where(ids[:, 1] < layout.n_items, ids[:, 1], UNKNOWN_ID)
    user_ids, user_rows = _last_rows(users)
    item_ids, item_rows = _last_rows(items)
    split = _n_user_slots(layout)
    user_tokens = layout.arrays(encoded.iloc[user_rows])[2][:, :split]
    item_tokens = layout.arrays(encoded.iloc[item_rows])[2][:, split:]

    rated = (users > UNKNOWN_ID) & (items > UNKNOWN_ID)
    user_pos = np.searchsorted(user_ids, users[rated])
    item_pos = np.searchsorted(item_ids, items[rated])
    pairs = np.unique(user_pos * np.int64(max(len(item_ids), 1)) + item_pos)
    per_user = np.bincount(pairs // max(len(item_ids), 1), minlength=len(user_ids))
    indptr = np.zeros(len(user_ids) + 1, dtype=np.int64)
    np.cumsum(per_user, out=indptr[1:])
    # int32 halves the memory of the arrays kept on the fitted model
    return Catalog(
        user_ids=user_ids.astype(np.int32),
        user_tokens=user_tokens.astype(np.int32),
        item_ids=item_ids.astype(np.int32),
        item_tokens=item_tokens.astype(np.int32),
        seen_indptr=indptr,
        seen_items=(pairs % max(len(item_ids), 1)).astype(np.int32),
    )


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
def _candidate_columns(catalog, items: _Side) -> np.ndarray:
    """Column of each catalog item among the candidates, -1 where it is not one."""
    column_of = np.full(len(catalog.item_ids), -1, dtype=np.int64)
    in_catalog = items.catalog_pos >= 0
    column_of[items.catalog_pos[in_catalog]] = np.flatnonzero(in_catalog)
    return column_of


def _seen_pairs(catalog, positions: np.ndarray, column_of: np.ndarray) -> tuple:
    """(row, column) of the rated pairs among the users at catalog ``positions`` x candidates."""
    starts = np.where(positions >= 0, catalog.seen_indptr[positions.clip(min=0)], 0)
    ends = np.where(positions >= 0, catalog.seen_indptr[positions.clip(min=0) + 1], 0)
    counts = ends - starts
    row = np.repeat(np.arange(len(positions)), counts)
    flat = np.repeat(starts - np.cumsum(counts) + counts, counts) + np.arange(counts.sum())
    column = column_of[catalog.seen_items[flat]]
    return row[column >= 0], column[column >= 0]


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
    column_of = _candidate_columns(model.catalog_, items)

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
                scores = ((mixed * item_mixed[local]).sum(-1) + user_bias.view(len(rows), -1)
                          + item_bias[local])  # Eq. 9 with the biases
                if exclude_seen:
                    row, column = _seen_pairs(model.catalog_, users.catalog_pos[rows], column_of)
                    scores[torch.as_tensor(row, device=device),
                           torch.as_tensor(column, device=device)] = float("-inf")
                top = scores.topk(k, dim=1)
                scores_out[rows] = top.values.double().cpu().numpy()
                columns_out[rows] = top.indices.cpu().numpy()
    finally:
        module.train(was_training)
    return scores_out, columns_out


def recommend(model, users=None, n=10, *, items=None, exclude_seen=True, user_features=None,
              item_features=None, encoder=None) -> pd.DataFrame:
    """Implementation of :meth:`SAINRegressor.recommend`."""
    check_is_fitted(model, "module_")
    if not hasattr(model, "catalog_"):
        raise ValueError(
            "This model has no record of its training users and items (it was saved by an "
            "older sklearn_sain); refit it to use recommend"
        )
    check_int_param(n, "n")
    check_bool(exclude_seen, "exclude_seen")
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
    else:
        scores, columns = _top_n(model, user_side, item_side, n, exclude_seen)
    kept = np.isfinite(scores)  # -inf marks a user with fewer than n unseen candidates
    user_index, rank = np.nonzero(kept)
    raw = scores[kept]
    with np.errstate(over="ignore"):
        rating = raw * model.target_scale_ + model.target_mean_
    # the same scaling and clipping as predict, so that scores equal predictions
    low, high = model.target_range_ if model.clip_predictions else (-np.inf, np.inf)
    largest = np.finfo(np.float64).max
    rating = np.clip(rating, max(low, -largest), min(high, largest))
    return pd.DataFrame({
        "user": _as_column(user_side.raw[user_index]),
        "rank": rank.astype(np.int64) + 1,
        "item": _as_column(item_side.raw[columns[kept]]),
        "score": rating,
    })


def _as_column(values):
    """Raw ids as a column with a natural dtype (ints stay ints, not objects)."""
    values = pd.Series(values, dtype=object)
    return values.infer_objects() if len(values) else values
