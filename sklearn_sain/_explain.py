"""Explanations: which feature tokens attended to which, and how feedback and content were mixed.

For each row the network's attention (Eq. 1-2) is read back per head, with
every token named after its field and value (``"genres=Action"``), padding
dropped and the keys that survived top-K marked; alpha_CF (Eq. 7) says how
much the user and the item representation leaned on feedback rather than on
content.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ._encoding.encoder import raw_column
from ._recommend import fitted_encoder

ATTENTION_COLUMNS = ("row", "head", "query_pos", "query", "query_side", "key_pos", "key",
                     "key_side", "weight", "kept")
INTEGRATION_COLUMNS = ("row", "user", "item", "prediction", "alpha_user", "alpha_item")


@dataclass(frozen=True)
class Explanation:
    """What :meth:`SAINRegressor.explain` returns: attention and integration weights per row.

    Attributes
    ----------
    attention : pandas.DataFrame
        One line per (row, head, query token, key token), padding excluded,
        with columns

        - ``row``: position of the row in the explained ``X`` (0-based);
        - ``head``: attention head (0-based);
        - ``query_pos``, ``key_pos``: position of the token among the row's
          tokens, user tokens first (0-based);
        - ``query``, ``key``: token names ``"<field>=<value>"``, such as
          ``"occupation=writer"`` or ``"genres=Action"``; a value unseen in
          ``fit`` reads ``"<field>=<unk>"``;
        - ``query_side``, ``key_side``: ``"user"`` or ``"item"``;
        - ``weight``: the attention weight of the key for the query (Eq. 1-2);
          over the keys of one query they sum to 1;
        - ``kept``: whether the key is among the query's ``top_k`` (Eq. 2);
          keys not kept have weight 0.
    integration : pandas.DataFrame
        One line per row, with columns ``row``, ``user``, ``item``,
        ``prediction`` (as :meth:`SAINRegressor.predict`), ``alpha_user`` and
        ``alpha_item``: alpha_CF of Eq. 7, the weight of the feedback (id)
        vector against the content vector. It is 0 for a user or item unseen in
        ``fit`` (no feedback to lean on), and 1 for a side without features.
    n_heads : int
        Number of attention heads.
    top_k : int or None
        Keys kept per query at prediction; None when every valid key is kept.

    See Also
    --------
    sklearn_sain.plotting.plot_attention : Heatmaps of one row's attention.
    sklearn_sain.plotting.plot_integration : Bars of alpha_CF per row.
    """

    attention: pd.DataFrame
    integration: pd.DataFrame
    n_heads: int
    top_k: int | None

    def matrix(self, row=0, head=0) -> pd.DataFrame:
        """Attention weights of one row and head as a square table.

        Parameters
        ----------
        row : int, default=0
            Position of the row in the explained ``X``.
        head : int, default=0
            Attention head.

        Returns
        -------
        weights : pandas.DataFrame
            Query tokens as the index, key tokens as the columns, both in
            token order (user tokens first); cells of keys that top-K dropped
            are 0.
        """
        rows = self.attention["row"].unique()
        if row not in rows:
            raise ValueError(f"row={row!r} is not an explained row; rows are 0..{len(rows) - 1}"
                             if len(rows) else "This explanation has no attention weights")
        if head not in range(self.n_heads):
            raise ValueError(f"head={head!r} is not a head; heads are 0..{self.n_heads - 1}")
        lines = self.attention[(self.attention["row"] == row) & (self.attention["head"] == head)]
        table = lines.pivot(index="query_pos", columns="key_pos", values="weight")
        names = dict(zip(lines["query_pos"], lines["query"]))
        table.index = pd.Index([names[p] for p in table.index], name="query")
        table.columns = pd.Index([names[p] for p in table.columns], name="key")
        return table


def _token_names(layout, encoder, tokens: np.ndarray) -> np.ndarray:
    """``"<field>=<value>"`` for each token id of ``tokens`` (rows, slots)."""
    out = np.empty(tokens.shape, dtype=object)
    start = 0
    for field in layout.fields:
        block = tokens[:, start:start + field.width]
        distinct, inverse = np.unique(block, return_inverse=True)
        if encoder is not None:
            values = encoder.decode(field.key, distinct)
        else:  # no vocabulary to read names from: the encoded id
            values = [f"#{i}" for i in distinct]
        labels = np.array([f"{field.name}={v}" for v in values], dtype=object)
        out[:, start:start + field.width] = labels[inverse.reshape(block.shape)]
        start += field.width
    return out


def _raw_ids(own, X, encoder, users, items):
    """The user and item ids of each row as the caller wrote them (decoded otherwise).

    ``own`` is the model's own encoder (then ``X`` is a raw table), ``encoder``
    the one passed for a model fitted on encoded input.
    """
    if own is not None:
        return raw_column(own, X, own.user_col_), raw_column(own, X, own.item_col_)
    if encoder is not None:
        return (np.asarray(encoder.decode(encoder.user_col_, users), dtype=object),
                np.asarray(encoder.decode(encoder.item_col_, items), dtype=object))
    return users, items


def _kept(weights: np.ndarray, valid: np.ndarray, top_k) -> np.ndarray:
    """Keys each query kept: its ``top_k`` largest weights among valid keys.

    The network gives a key that top-K dropped a weight of exactly 0 and a kept
    key a positive one, so ranking the weights recovers the selection; a tie at
    0 (a kept weight that underflowed) still yields exactly K keys.
    """
    n_slots = weights.shape[-1]
    valid_keys = np.broadcast_to(valid[:, None, None, :], weights.shape)
    if top_k is None or top_k >= n_slots:
        return valid_keys.copy()
    ranked = np.where(valid_keys, weights, -1.0)
    top = np.argpartition(-ranked, top_k - 1, axis=-1)[..., :top_k]
    kept = np.zeros(weights.shape, dtype=bool)
    np.put_along_axis(kept, top, True, axis=-1)
    return kept & valid_keys


def explain(fitted, own_encoder, X, encoded, predictions, *, encoder=None,
            batch_size=1024) -> Explanation:  # fmt: skip
    """Implementation of :meth:`SAINRegressor.explain` on a :class:`FittedSAIN`.

    ``encoded`` is ``X`` as the regressor encoded it, ``predictions`` its
    ratings; ``own_encoder`` the regressor's ``encoder_``.
    """
    encoder = fitted_encoder(own_encoder, encoder)
    rows = fitted.rows(encoded)
    top_k = fitted.predict_top_k
    attention, alpha_user, alpha_item = fitted.attention(rows, batch_size)
    users, items = rows.users.cpu().numpy(), rows.items.cpu().numpy()
    raw_users, raw_items = _raw_ids(own_encoder, X, encoder, users, items)
    integration = pd.DataFrame({
        "row": np.arange(len(users), dtype=np.int64),
        "user": raw_users,
        "item": raw_items,
        "prediction": predictions,
        "alpha_user": alpha_user,
        "alpha_item": alpha_item,
    })
    frame = (_attention_frame(fitted.layout, encoder, rows.tokens.cpu().numpy(), attention,
                              top_k)
             if attention else pd.DataFrame({c: [] for c in ATTENTION_COLUMNS}))
    return Explanation(attention=frame, integration=integration, n_heads=fitted.n_heads,
                       top_k=top_k)


def _attention_frame(layout, encoder, tokens, attention, top_k) -> pd.DataFrame:
    weights = np.concatenate(attention)  # (rows, heads, slots, slots)
    valid = tokens > 0
    kept = _kept(weights, valid, top_k)
    pair = valid[:, None, :, None] & valid[:, None, None, :]
    pair = np.broadcast_to(pair, weights.shape)
    row, head, query, key = np.nonzero(pair)
    position = np.cumsum(valid, axis=1) - 1  # a token's rank among the row's tokens
    names = _token_names(layout, encoder, tokens)
    sides = np.array([f.role for f in layout.fields for _ in range(f.width)],
                     dtype=object)
    return pd.DataFrame({
        "row": row.astype(np.int64),
        "head": head.astype(np.int64),
        "query_pos": position[row, query].astype(np.int64),
        "query": names[row, query],
        "query_side": sides[query],
        "key_pos": position[row, key].astype(np.int64),
        "key": names[row, key],
        "key_side": sides[key],
        "weight": weights[row, head, query, key],
        "kept": kept[row, head, query, key],
    })
