"""How a :class:`SAINRegressor` saves, loads and pickles itself.

The file format (tensors plus JSON, read without unpickling) is
:mod:`sklearn_sain._persistence.safe_format`'s; this mixin gives it the regressor's
fitted state as plain data (:meth:`_safe_state`) and takes it back
(:meth:`_restore_safe_state`), the protocol every class registered with
:func:`~sklearn_sain._persistence.persistable.persistable` follows. The network, the
layout, the target scaling and the catalog are :class:`FittedSAIN`'s to
write and read; the regressor adds its encoder and its training history.
"""

from __future__ import annotations

import numpy as np

from ._encoding.encoder import SAINEncoder
from ._fitted import FittedSAIN
from ._nn.torch_utils import loadable_device
from ._persistence import safe_format as _persistence
from ._persistence.param_json import decode_param, params_json
from ._persistence.persistable import SavedParams

# parameters added after models were first saved, each with the value that
# describes a model trained before it existed (no implicit feedback, zero
# starting biases, no cold-start parts, no choice head, no content anchor, plain Adam): see
# _with_legacy_params
LEGACY_PARAMS = {"implicit_feedback": False, "implicit_max_links": 256, "bias_init": "zeros",
                 "content_bias": False, "cold_start_weight": 0.0, "id_dropout": 0.0,
                 "token_dropout": 0.0, "choice_head": False, "content_anchor": 0.0,
                 "id_weight_decay": 0.0}

# every fitted attribute the safe format holds; a fit that sets another one
# must be refused by save rather than silently lose it
_SAVED = ("n_features_in_", "feature_names_in_", "encoder_", "loss_curve_",
          "validation_scores_", "best_epoch_", "n_iter_", "choice_history_", "_fitted")
# the attributes of pickles written before FittedSAIN held the fitted network
_OLD_FITTED = ("layout_", "_module_kwargs", "module_", "device_", "target_mean_",
               "target_scale_", "target_range_", "catalog_")


class RegressorPersistence(SavedParams):
    """``save``, ``load``, pickling and the safe-format protocol of :class:`SAINRegressor`."""

    _legacy_params = LEGACY_PARAMS

    # ------------------------------------------------------------ safe format
    def _safe_state(self) -> tuple[dict, dict]:
        """The fitted state as JSON values and a dict of CPU tensors."""
        present = {name for name in vars(self)
                   if name.endswith("_") and not name.startswith("__")}  # fmt: skip
        present |= {"_fitted"} & set(vars(self))
        unknown = sorted(present - set(_SAVED))
        if unknown:
            # better no file than a file that silently lacks part of the model
            raise ValueError(f"Fitted attributes {unknown} are not covered by the safe format")
        fitted, tensors = self._fitted.to_state()
        encoder = self.encoder_
        state = {
            "n_features_in_": int(self.n_features_in_),
            "encoder_": None if encoder is None else {
                "params": params_json(encoder), "state": encoder._safe_state()[0],
            },
            **fitted,
            "loss_curve_": [float(v).hex() for v in self.loss_curve_],
            "validation_scores_": [float(v).hex() for v in self.validation_scores_],
            "best_epoch_": int(self.best_epoch_),
            "n_iter_": int(self.n_iter_),
            "choice_history_": _choice_history_state(getattr(self, "choice_history_", None)),
        }
        if hasattr(self, "feature_names_in_"):
            state["feature_names_in_"] = [str(name) for name in self.feature_names_in_]
        return state, tensors

    def _restore_safe_state(self, state: dict, tensors: dict, device) -> None:
        """Set the fitted state from :meth:`_safe_state`'s output, validating it."""
        encoder = state["encoder_"]
        if encoder is None:
            self.encoder_ = None
        else:
            params = {name: decode_param(value) for name, value in encoder["params"].items()}
            self.encoder_ = SAINEncoder._from_saved_params(params)
            self.encoder_._restore_safe_state(encoder["state"], {}, None)
        self.n_features_in_ = int(state["n_features_in_"])
        if "feature_names_in_" in state:
            self.feature_names_in_ = np.asarray(state["feature_names_in_"], dtype=object)
        self.loss_curve_ = [float.fromhex(v) for v in state["loss_curve_"]]
        self.validation_scores_ = [float.fromhex(v) for v in state["validation_scores_"]]
        self.best_epoch_ = int(state["best_epoch_"])
        self.n_iter_ = int(state["n_iter_"])
        self.choice_history_ = _choice_history(state.get("choice_history_"))
        self._fitted = FittedSAIN.from_state(state, tensors, device)

    # --------------------------------------------------------------- pickling
    def __getstate__(self):
        state = dict(super().__getstate__())  # object.__getstate__ returns __dict__ itself
        if "_fitted" not in state:
            return state
        # the fitted state as a safe-format file: numpy bytes that any device
        # (and skops, which refuses tensors) can load; where the format cannot
        # hold a parameter, FittedSAIN pickles itself
        return _persistence.pickled_state(
            self, state, lambda name: name.endswith("_") or name == "_fitted"
        )

    def __setstate__(self, state):
        state = self._with_legacy_params(_persistence.unpickled_state(state))
        if "module_" in state:  # a pickle from before FittedSAIN: the state as attributes
            old = {name: state.pop(name) for name in _OLD_FITTED if name in state}
            state["_fitted"] = _fitted_from_attributes(old)
        self.__dict__.update(state)

    # ------------------------------------------------------------- public API
    def save(self, path) -> None:
        """Save the fitted model as tensors and JSON; see :func:`sklearn_sain.save`.

        Unlike a joblib or pickle file, the file cannot run code when loaded
        with :meth:`load`: use this format for files from untrusted sources.

        Parameters
        ----------
        path : str, path-like or binary file object
            Destination; an existing file is replaced once the new one is complete.
        """
        _persistence.save(self, path)

    @classmethod
    def load(cls, path, *, device=None):
        """Load a model written by :meth:`save`; see :func:`sklearn_sain.load`.

        Never unpickles Python objects, and refuses files :meth:`save` did not
        write (joblib or pickle files among them) with a ``ValueError``.

        Parameters
        ----------
        path : str, path-like or binary file object
            File written by :meth:`save`.
        device : str, torch.device or None, default=None
            Device for the network; None keeps the fitted device when it
            exists here and falls back to the CPU (with a warning) otherwise.

        Returns
        -------
        model : SAINRegressor
            The fitted model; its predictions equal those of the saved one.
        """
        model = _persistence.load(path, device=device)
        if not isinstance(model, cls):
            raise ValueError(
                f"The file holds a {type(model).__name__}, not a {cls.__name__}; "
                "use sklearn_sain.load to read it"
            )
        return model


def _fitted_from_attributes(old: dict) -> FittedSAIN:
    """The :class:`FittedSAIN` of a pickle that held the fitted state as attributes."""
    module = old["module_"]
    device = loadable_device(old["device_"])
    if isinstance(module, dict):  # the weights as CPU tensors
        module = FittedSAIN.module_from_state(old["_module_kwargs"], module, device)
    return FittedSAIN(old["layout_"], old["_module_kwargs"], module,
                      target_mean=old["target_mean_"], target_scale=old["target_scale_"],
                      target_range=old["target_range_"], catalog=old.get("catalog_"),
                      device=device)


def _hex_list(values):
    return None if values is None else [float(v).hex() for v in values]


def _float_list(values):
    return None if values is None else [float.fromhex(v) for v in values]


def _choice_history_state(history):
    """``choice_history_`` as JSON (floats as hex strings, exact); None without a choice head."""
    if history is None:
        return None
    return {
        "loss": _hex_list(history["loss"]),
        "ndcg": _hex_list(history["ndcg"]),
        "best_epoch": int(history["best_epoch"]),
        "rating_weight": float(history["rating_weight"]).hex(),
        "rating_weight_ndcg": _hex_list(history["rating_weight_ndcg"]),
    }


def _choice_history(state):
    if state is None:  # no choice head, or a file from before it existed
        return None
    return {
        "loss": _float_list(state["loss"]),
        "ndcg": _float_list(state["ndcg"]),
        "best_epoch": int(state["best_epoch"]),
        "rating_weight": float.fromhex(state["rating_weight"]),
        "rating_weight_ndcg": _float_list(state["rating_weight_ndcg"]),
    }
