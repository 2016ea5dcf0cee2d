"""The output side of :class:`SAINEncoder`: its columns, their order, and ids back to values.

Fields come in a fixed order, user id, item id, user features, item
features; an id field takes one column (``"user:<name>"``), a feature field
as many slots as its widest cell (``"item:<name>[j]"``), padded with 0.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
from sklearn.utils.validation import check_is_fitted

from .ids import PAD_ID
from .table import check_feature_names_in
from .tokenize import slot_positions

_SPECIAL_TOKENS = ("<pad>", "<unk>")


class EncoderOutput:
    """``get_feature_names_out``, ``decode`` and the assembly of the output table."""

    def get_feature_names_out(self, input_features=None):
        """Names of the output columns.

        Parameters
        ----------
        input_features : array-like of str or None, default=None
            Input column names; defaults to ``feature_names_in_`` or
            ``x0, x1, ...``.

        Returns
        -------
        feature_names_out : ndarray of str objects
            ``role:field`` for the ids and ``role:field[j]`` for features.
        """
        check_is_fitted(self)
        labels = check_feature_names_in(self, input_features)
        names = []
        for role, field, is_id in self._output_fields():
            label = labels[self._positions[field]]
            if is_id:
                names.append(f"{role}:{label}")
            else:
                width = self.field_widths_[field]
                names.extend(f"{role}:{label}[{j}]" for j in range(width))
        return np.asarray(names, dtype=object)

    def decode(self, field, ids):
        """Return the token behind each id of a field.

        Parameters
        ----------
        field : str
            A field name (``"genres"``), its ``"role:field"`` prefix or an
            output column name (``"item:genres[0]"``).

        ids : array-like of int
            Token ids of that field.

        Returns
        -------
        tokens : list
            ``"<pad>"`` for 0, ``"<unk>"`` for 1, the known value otherwise.
        """
        check_is_fitted(self)
        vocabulary = self.vocabularies_[self._field_name(field)]
        ids = np.ravel(np.asarray(ids))
        if ids.size and (
            ids.dtype.kind not in "iu" or ids.min() < 0 or ids.max() >= len(vocabulary) + 2
        ):
            raise ValueError(
                f"ids of field {field!r} must be ints in [0, {len(vocabulary) + 2})."
            )
        ids = ids.astype(np.int64)
        values = (
            vocabulary.take(np.maximum(ids - 2, 0)).tolist()
            if len(vocabulary)
            else [None] * ids.size
        )
        return [
            _SPECIAL_TOKENS[i] if i < 2 else value
            for i, value in zip(ids.tolist(), values)
        ]

    def _output_fields(self):
        return [
            ("user", self.user_col_, True),
            ("item", self.item_col_, True),
            *(("user", field, False) for field in self.user_features_),
            *(("item", field, False) for field in self.item_features_),
        ]

    def _field_name(self, field):
        if field in self.vocabularies_:
            return field
        match = re.fullmatch(r"(user|item):(.*?)(\[\d+\])?", str(field))
        if match:
            for role, name, _ in self._output_fields():
                if (role, name) == match.group(1, 2):
                    return name
        raise ValueError(
            f"Unknown field {field!r}; fields are {list(self.vocabularies_)}."
        )

    def _assemble(self, encoded, index):
        columns = self.get_feature_names_out()
        out = np.full((len(index), len(columns)), PAD_ID, dtype=np.int32)
        offset = 0
        for (_, field, _), (rows, ids, exploded) in zip(self._output_fields(), encoded):
            width = self.field_widths_[field]
            if exploded:
                slots = slot_positions(rows)
                keep = slots < width
                out[rows[keep], offset + slots[keep]] = ids[keep]
            else:
                out[rows, offset] = ids
            offset += width
        frame = pd.DataFrame(out, index=index, columns=columns, copy=False)
        frame.attrs["sklearn_sain"] = {"vocabulary_sizes": dict(self.vocabulary_sizes_)}
        return frame
