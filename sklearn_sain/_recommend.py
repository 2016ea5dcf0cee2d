"""Top-N recommendations: score candidate items for users and keep the best ones.

This module resolves the users and the candidate items the caller names (raw
ids, and feature rows for new ones) against the training
:class:`~sklearn_sain._encoding.catalog.Catalog` of a
:class:`~sklearn_sain._fitted.FittedSAIN`, whose ``top_n`` scores them: by
predicted rating every user against every candidate
(:mod:`sklearn_sain._nn.rating_top_n`), or with the choice head
(:mod:`sklearn_sain._nn.choice_ranking`). Scores by rating become ratings as
``predict``'s do.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.utils.validation import check_is_fitted

from ._encoding.encoder import SAINEncoder
from ._encoding.ids import UNKNOWN_ID
from ._nn.choice_ranking import RANK_BY
from ._validation import check_bool, check_int_param


# ------------------------------------------------------------------ encoders
def fitted_encoder(own, encoder):
    """The encoder that maps raw values to the ids a model was trained on, or None.

    ``own`` is the model's own encoder (None for a model fitted on encoded
    input), ``encoder`` the one the caller passed for such a model.
    """
    if encoder is None:
        return own
    if own is not None:
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


def _resolve(values, role, catalog, encoder, frame, param) -> _Side:
    """Look up ``values`` (raw ids) in ``frame`` first, then in the training catalog."""
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


def recommend(fitted, own_encoder, clip: bool, users=None, n=10, *, items=None,
              exclude_seen=True, user_features=None, item_features=None, encoder=None,
              rank_by=None) -> pd.DataFrame:  # fmt: skip
    """Implementation of :meth:`SAINRegressor.recommend` on a :class:`FittedSAIN`.

    ``own_encoder`` is the regressor's ``encoder_``; ``clip`` its
    ``clip_predictions``, which scores by rating follow as predict does.
    """
    if fitted.catalog is None:
        raise ValueError(
            "This model has no record of its training users and items (it was saved by an "
            "older sklearn_sain); refit it to use recommend"
        )
    check_int_param(n, "n")
    check_bool(exclude_seen, "exclude_seen")
    if rank_by is None:
        rank_by = "combined" if fitted.has_choice else "rating"
    if not isinstance(rank_by, str) or rank_by not in RANK_BY:
        raise ValueError(f"rank_by must be one of {RANK_BY} or None, got {rank_by!r}")
    if rank_by != "rating" and not fitted.has_choice:
        raise ValueError(
            f"rank_by={rank_by!r} needs the choice head, which this model was fitted without "
            "(choice_head=False, or saved by an older sklearn_sain); refit with "
            "choice_head=True or use rank_by='rating'"
        )
    encoder = fitted_encoder(own_encoder, encoder)
    if users is not None and not pd.api.types.is_list_like(users):
        users = [users]
    if items is not None and not pd.api.types.is_list_like(items):
        items = [items]
    if isinstance(n, numbers.Integral):
        n = int(n)
    user_side = _resolve(users, "user", fitted.catalog, encoder, user_features, "user_features")
    item_side = _resolve(items, "item", fitted.catalog, encoder, item_features, "item_features")
    if not len(user_side.ids) or not len(item_side.ids):
        scores = np.zeros((len(user_side.ids), 0))
        columns = np.zeros((len(user_side.ids), 0), dtype=np.int64)
    else:
        scores, columns = fitted.top_n(user_side, item_side, n, exclude_seen, rank_by)
    kept = np.isfinite(scores)  # -inf marks a user with fewer than n unseen candidates
    user_index, rank = np.nonzero(kept)
    score = scores[kept]
    if rank_by == "rating":
        # the same scaling and clipping as predict, so that scores equal predictions
        score = fitted.ratings(score, clip)
    return _frame(user_side.raw[user_index], rank, item_side.raw[columns[kept]], score)


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
