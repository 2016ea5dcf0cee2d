"""How a :class:`SAINEncoder` saves, loads and pickles itself.

The file format is :mod:`sklearn_sain._persistence.safe_format`'s; this mixin gives it
the encoder's fitted state as JSON values (:meth:`_safe_state`) and takes it
back (:meth:`_restore_safe_state`), the protocol of
:func:`~sklearn_sain._persistence.persistable.persistable`. The vocabularies are written
by :mod:`sklearn_sain._encoding.vocabulary_json`.
"""

from __future__ import annotations

import numpy as np

from .._persistence import safe_format as _persistence
from .._persistence.persistable import SavedParams
from .vocabulary_json import decode_vocabulary, encode_vocabulary

# parameters added after encoders were first saved, each with the value that
# describes an encoder fitted before it existed (read by load and unpickling)
LEGACY_ENCODER_PARAMS = {"min_ids": 1}
# fitted attributes added since, with the value of an encoder fitted before
# them (context columns were not inferred): for files and pickles alike
LEGACY_ENCODER_STATE = {"context_features_": []}

_STATE = (
    "n_features_in_", "feature_names_in_", "user_col_", "item_col_", "user_features_",
    "item_features_", "_positions", "multi_valued_", "field_widths_", "vocabularies_",
    "vocabulary_sizes_", "context_features_",
)


class EncoderPersistence(SavedParams):
    """Pickling and the safe-format protocol of :class:`SAINEncoder`."""

    _legacy_params = LEGACY_ENCODER_PARAMS

    def _safe_state(self) -> tuple[dict, dict]:
        """The fitted state as JSON values (and no tensors)."""
        state = {name: getattr(self, name) for name in _STATE if hasattr(self, name)}
        if "feature_names_in_" in state:
            state["feature_names_in_"] = [str(name) for name in state["feature_names_in_"]]
        state["n_features_in_"] = int(state["n_features_in_"])
        state["_positions"] = {k: int(v) for k, v in state["_positions"].items()}
        state["multi_valued_"] = {k: bool(v) for k, v in state["multi_valued_"].items()}
        state["field_widths_"] = {k: int(v) for k, v in state["field_widths_"].items()}
        state["vocabulary_sizes_"] = {k: int(v) for k, v in state["vocabulary_sizes_"].items()}
        state["vocabularies_"] = {
            field: encode_vocabulary(index, field)
            for field, index in state["vocabularies_"].items()
        }
        return state, {}

    def _restore_safe_state(self, state: dict, tensors: dict, device) -> None:
        """Set the fitted state from :meth:`_safe_state`'s output, validating it."""
        state = {**LEGACY_ENCODER_STATE, **state}
        missing = [name for name in _STATE if name not in state and name != "feature_names_in_"]
        if missing:
            raise KeyError(f"encoder state lacks {missing}")
        # an edited file must fail here, not with a confusing error inside transform
        fields = [state["user_col_"], state["item_col_"], *state["user_features_"],
                  *state["item_features_"]]
        if not (
            all(isinstance(field, str) for field in fields)
            and _is_mapping(state["_positions"], fields, int)
            and _is_mapping(state["multi_valued_"], fields, bool)
            and _is_mapping(state["field_widths_"], fields, int)
            and _is_mapping(state["vocabularies_"], fields, dict)
            and all(isinstance(v, int) for v in state["vocabulary_sizes_"].values())
            and min(state["field_widths_"].values()) >= 1
            and isinstance(state["context_features_"], list)
            and set(state["context_features_"]) <= set(state["item_features_"])
        ):
            raise ValueError("inconsistent encoder state")
        for name in _STATE:
            if name in state:
                setattr(self, name, state[name])
        if "feature_names_in_" in state:
            self.feature_names_in_ = np.asarray(state["feature_names_in_"], dtype=object)
        self.vocabularies_ = {
            field: decode_vocabulary(entry) for field, entry in state["vocabularies_"].items()
        }
        # a repeated value would encode two ways, a wrong size index past the embedding table
        sizes = {str(key).split(":", 1)[-1]: size
                 for key, size in state["vocabulary_sizes_"].items()}  # fmt: skip
        if any(not index.is_unique for index in self.vocabularies_.values()) or sizes != {
            field: len(index) + 2 for field, index in self.vocabularies_.items()
        }:
            raise ValueError("inconsistent encoder state: vocabularies and their sizes disagree")

    def __getstate__(self):
        state = dict(super().__getstate__())  # object.__getstate__ returns __dict__ itself
        if "vocabularies_" not in state:
            return state
        # numpy bytes of the safe format instead of pandas indexes: skops can save them
        return _persistence.pickled_state(
            self, state, lambda name: name.endswith("_") or name == "_positions"
        )

    def __setstate__(self, state):
        # pickles from before a parameter get the value they behaved with
        state = self._with_legacy_params(_persistence.unpickled_state(state))
        if "user_col_" in state:  # a fitted encoder
            state = {**LEGACY_ENCODER_STATE, **state}
        self.__dict__.update(state)


def _is_mapping(mapping, keys, kind) -> bool:
    return (isinstance(mapping, dict) and sorted(mapping) == sorted(keys)
            and all(isinstance(v, kind) for v in mapping.values()))
