"""Safe persistence: fitted estimators as tensors plus JSON, loaded without unpickling.

A joblib or pickle file names the functions that rebuild its objects, and
loading it calls them: a file from an untrusted source can run any code.
The format written here holds only a dict of tensors and one JSON string,
read back with ``torch.load(weights_only=True)``, whose restricted unpickler
accepts tensors and plain containers and refuses everything else. Every
estimator is then rebuilt by this module from validated JSON.

File layout (a torch zip archive)::

    {"format": "sklearn_sain", "format_version": 4,
     "metadata": "<JSON: estimator kind, parameters, fitted state>",
     "tensors": {"<state dict key>": tensor, ..., "catalog/<name>": tensor, ...},
     "digest": "<SHA-256 of the metadata and the tensors>"}

Version 2 added the ``catalog/`` tensors (the training users and items that
``recommend`` needs); version 1 files load without them. Version 3 added
implicit feedback (its tables and links are module state); earlier files
describe models without it. Version 4 added the digest, which a load checks
(with the zip members' CRCs) so that a damaged file is refused; earlier
files load without it. Writing, the integrity checks and the digest live in
:mod:`sklearn_sain._safe_file`.
"""

from __future__ import annotations

import io
import json
import numbers
import os

import numpy as np
import torch
from sklearn.utils.validation import check_is_fitted

from ._layout import Field, TokenLayout
from ._param_json import decode_param, encode_param, estimator_of, params_json
from ._model import NORMS, SAINModule
from ._catalog import Catalog
from ._persistable import is_persistable, persistable_class
from ._safe_file import NotAZipError, check_archive, payload_digest, write_atomically
from ._torch_utils import cpu_state_dict, loadable_device, resolve_device
from ._validation import check_number
from ._vocabulary_json import decode_vocabulary, encode_vocabulary

FORMAT = "sklearn_sain"
FORMAT_VERSION = 4
_DIGEST_SINCE = 4  # the first format version whose files carry a digest
_CATALOG = "catalog/"  # prefix of the catalog tensors; module state keys never contain "/"
_KEYS = {"format", "format_version", "metadata", "tensors"}

_ENCODER_STATE = (
    "n_features_in_", "feature_names_in_", "user_col_", "item_col_", "user_features_",
    "item_features_", "_positions", "multi_valued_", "field_widths_", "vocabularies_",
    "vocabulary_sizes_", "context_features_",
)
_REGRESSOR_STATE = (
    "n_features_in_", "feature_names_in_", "encoder_", "layout_", "device_", "target_mean_",
    "target_scale_", "target_range_", "_module_kwargs", "module_", "loss_curve_",
    "validation_scores_", "best_epoch_", "n_iter_", "catalog_", "choice_history_",
)

_UNTRUSTED_HINT = (
    "sklearn_sain.load reads only files written by sklearn_sain.save / "
    "SAINRegressor.save; a joblib or pickle file can run code when loaded, so open "
    "one with joblib.load only if you trust where it came from"
)


# ------------------------------------------------------------------ public API
def save(estimator, path) -> None:
    """Save a fitted :class:`SAINRegressor` or :class:`SAINEncoder` in the safe format.

    The file holds the network weights as tensors and everything else
    (parameters, vocabularies, layout, target statistics) as JSON. Loading it
    with :func:`load` never unpickles Python objects, so unlike a joblib or
    pickle file it cannot run code: use this format for files that cross a
    trust boundary (downloads, uploads, shared storage). joblib keeps working
    for files you write and read yourself.

    Parameters
    ----------
    estimator : SAINRegressor or SAINEncoder
        A fitted estimator. In a ``make_pipeline(SAINEncoder(), SAINRegressor())``
        save each step, or fit the regressor on the raw table so that it
        holds its own encoder.
    path : str, path-like or binary file object
        Destination. A path is written atomically: an existing file is only
        replaced once the new one is complete and flushed to disk. The file
        gets the permissions ``open`` would give it (those of the file it
        replaces, or the umask's).

    Raises
    ------
    ValueError
        When a vocabulary holds values that JSON cannot store exactly (for
        example timezone-aware timestamps or ``datetime.date`` objects);
        convert such a column to strings before fitting, or use joblib for
        trusted files.
    TypeError
        When ``estimator`` is not a SAIN estimator.
    sklearn.exceptions.NotFittedError
        When ``estimator`` is not fitted.
    """
    kind = type(estimator).__name__
    if not is_persistable(estimator, kind) or type(estimator) is not persistable_class(kind):
        raise TypeError(
            f"save expects a SAINRegressor or a SAINEncoder, got {type(estimator).__name__}"
        )
    check_is_fitted(estimator)
    tensors = {}
    if kind == "SAINRegressor":
        state = _regressor_state(estimator)
        tensors = cpu_state_dict(estimator.module_)
        if hasattr(estimator, "catalog_"):
            tensors.update({_CATALOG + name: torch.from_numpy(np.ascontiguousarray(array))
                            for name, array in estimator.catalog_.arrays().items()})
    else:
        state = _encoder_state(estimator)
    metadata = {
        "estimator": kind,
        "sklearn_sain_version": _version(),
        "params": params_json(estimator),
        "state": state,
    }
    # strict JSON: NaN and infinity are stored as tagged hex strings
    text = json.dumps(metadata, allow_nan=False)
    payload = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "metadata": text,
        "tensors": tensors,
        "digest": payload_digest(text, tensors),
    }
    if hasattr(path, "write"):
        torch.save(payload, path)
        return
    write_atomically(path, lambda file: torch.save(payload, file))


def load(path, *, device=None):
    """Load an estimator written by :func:`save`, without running code from the file.

    The file is read with ``torch.load(weights_only=True)``, which rebuilds
    tensors and plain containers only; the estimator is then reconstructed
    from the JSON metadata. Files that :func:`save` did not write (joblib or
    pickle files, other torch checkpoints, other libraries' files) are
    refused. This is the format to use for files you did not create yourself.

    Parameters
    ----------
    path : str, path-like or binary file object
        File written by :func:`save` or :meth:`SAINRegressor.save`.
    device : str, torch.device or None, default=None
        Device for the network of a regressor. None keeps the device it was
        fitted on when that device exists here, and otherwise falls back to
        the CPU with a warning (a model trained on a GPU loads on a CPU-only
        machine).

    Returns
    -------
    estimator : SAINRegressor or SAINEncoder
        The fitted estimator; its predictions equal those of the saved one.

    Raises
    ------
    ValueError
        When the file was not written by :func:`save`, was written by a newer
        format version, or is damaged or truncated (its zip CRCs or its
        digest do not match its content).
    """
    # a bad device argument is the caller's error, not a damaged file
    target_device = None if device is None else resolve_device(device)
    payload = _read(path)
    try:
        metadata = json.loads(payload["metadata"])
        kind = metadata["estimator"]
        persistable_class(kind)  # an unknown kind is refused before anything is decoded
        params = {name: decode_param(value) for name, value in metadata["params"].items()}
        # a parameter an older file predates takes the value that version behaved with
        estimator = estimator_of(kind, params)
        estimator._validate_params()
        estimator._check_params()
        if kind == "SAINRegressor":
            _set_regressor_state(estimator, metadata["state"], payload["tensors"], target_device)
        else:
            _set_encoder_state(estimator, metadata["state"])
    except (KeyError, IndexError, TypeError, ValueError, AttributeError, RuntimeError) as exc:
        raise ValueError(
            f"The file is in the sklearn_sain format but cannot be restored ({exc}); it is "
            "damaged or was edited"
        ) from exc
    return estimator


# ------------------------------------------------------- pickling and skops
#: The types a skops file of fitted sklearn_sain estimators (or Pipelines of
#: them) holds beyond those skops trusts by default: pass them as
#: ``skops.io.load(path, trusted=SKOPS_TRUSTED_TYPES)`` or as MLflow's
#: ``skops_trusted_types``.
SKOPS_TRUSTED_TYPES = ["sklearn_sain._regressor.SAINRegressor", "sklearn_sain._encoder.SAINEncoder"]


def fitted_state_array(estimator):
    """The fitted state of ``estimator`` as the bytes of a safe-format file (a uint8 array).

    ``__getstate__`` of both estimators stores this instead of their torch
    module and pandas vocabularies: a pickle stays loadable on any device,
    and skops, which refuses tensors and pandas indexes, can save a fitted
    estimator holding only numpy arrays and plain values. None when the
    state cannot be written that way (a parameter the format cannot hold);
    the caller then pickles the object as it is.
    """
    buffer = io.BytesIO()
    try:
        save(estimator, buffer)
    except (TypeError, ValueError):
        return None
    return np.frombuffer(buffer.getvalue(), dtype=np.uint8).copy()


def fitted_attributes(array) -> dict:
    """The fitted attributes of the estimator saved by :func:`fitted_state_array`."""
    loaded = load(io.BytesIO(np.asarray(array, dtype=np.uint8).tobytes()))
    params = loaded.get_params(deep=False)
    return {name: value for name, value in vars(loaded).items() if name not in params}


# ---------------------------------------------------------------- file level
def _read(path) -> dict:
    if hasattr(path, "read"):
        return _read_file(path, repr(path))
    with open(os.fspath(path), "rb") as file:
        return _read_file(file, repr(os.fspath(path)))


def _read_file(file, name) -> dict:
    # torch.save writes a zip archive; anything else (a joblib or pickle stream)
    # is refused before any unpickler sees it
    try:
        check_archive(file, name)
    except NotAZipError:
        raise ValueError(f"{name} is not a sklearn_sain model file. {_UNTRUSTED_HINT}.") from None
    try:
        payload = torch.load(file, map_location="cpu", weights_only=True)
    except OSError:
        raise
    except Exception as exc:  # the unpickler's many ways of saying "not ours"
        raise ValueError(
            f"{name} is not a sklearn_sain model file: it holds objects other than "
            f"tensors and plain values ({type(exc).__name__}). {_UNTRUSTED_HINT}."
        ) from exc
    if not (isinstance(payload, dict) and set(payload) - {"digest"} == _KEYS
            and payload.get("format") == FORMAT):
        raise ValueError(
            f"{name} is a torch file but not a sklearn_sain model file. {_UNTRUSTED_HINT}."
        )
    version = payload["format_version"]
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ValueError(f"{name} has an invalid format_version {version!r}")
    if version > FORMAT_VERSION:
        raise ValueError(
            f"{name} was written in format version {version}, newer than the version "
            f"{FORMAT_VERSION} this sklearn_sain reads; upgrade sklearn_sain"
        )
    tensors = payload["tensors"]
    if not isinstance(payload["metadata"], str) or not isinstance(tensors, dict) or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in tensors.items()
    ):
        raise ValueError(f"{name} is damaged: unexpected metadata or tensor entries")
    if ("digest" in payload) != (version >= _DIGEST_SINCE):
        raise ValueError(f"{name} is damaged: a format version {version} file "
                         f"{'lacks' if version >= _DIGEST_SINCE else 'cannot have'} a digest")
    if version >= _DIGEST_SINCE and payload["digest"] != payload_digest(payload["metadata"],
                                                                       tensors):
        raise ValueError(f"{name} is damaged or truncated: its content does not match its "
                         "digest")
    return payload


def _version() -> str:
    from . import __version__

    return __version__


# ------------------------------------------------------------- encoder state
def _encoder_state(encoder) -> dict:
    state = {name: getattr(encoder, name) for name in _ENCODER_STATE if hasattr(encoder, name)}
    if "feature_names_in_" in state:
        state["feature_names_in_"] = [str(name) for name in state["feature_names_in_"]]
    state["n_features_in_"] = int(state["n_features_in_"])
    state["_positions"] = {k: int(v) for k, v in state["_positions"].items()}
    state["multi_valued_"] = {k: bool(v) for k, v in state["multi_valued_"].items()}
    state["field_widths_"] = {k: int(v) for k, v in state["field_widths_"].items()}
    state["vocabulary_sizes_"] = {k: int(v) for k, v in state["vocabulary_sizes_"].items()}
    state["vocabularies_"] = {
        field: encode_vocabulary(index, field) for field, index in state["vocabularies_"].items()
    }
    return state


def _set_encoder_state(encoder, state: dict) -> None:
    state = {"context_features_": [], **state}  # files from before context columns
    missing = [name for name in _ENCODER_STATE
               if name not in state and name != "feature_names_in_"]
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
    for name in _ENCODER_STATE:
        if name in state:
            setattr(encoder, name, state[name])
    if "feature_names_in_" in state:
        encoder.feature_names_in_ = np.asarray(state["feature_names_in_"], dtype=object)
    encoder.vocabularies_ = {
        field: decode_vocabulary(entry) for field, entry in state["vocabularies_"].items()
    }
    # a repeated value would encode two ways, a wrong size index past the embedding table
    sizes = {str(key).split(":", 1)[-1]: size for key, size in state["vocabulary_sizes_"].items()}
    if any(not index.is_unique for index in encoder.vocabularies_.values()) or sizes != {
        field: len(index) + 2 for field, index in encoder.vocabularies_.items()
    }:
        raise ValueError("inconsistent encoder state: vocabularies and their sizes disagree")


def _check_module_kwargs(kwargs: dict) -> None:
    """Refuse network sizes and settings that no fit writes (before anything is allocated)."""
    for name in ("n_users", "n_items"):
        check_number(kwargs[name], name, numbers.Integral, min_val=2)
    for name in ("embed_dim", "feature_dim", "n_heads"):
        check_number(kwargs[name], name, numbers.Integral, min_val=1)
    if kwargs["feature_dim"] % kwargs["n_heads"]:
        raise ValueError("n_heads must divide feature_dim")
    if kwargs.get("top_k") is not None:
        check_number(kwargs["top_k"], "top_k", numbers.Integral, min_val=1)
    check_number(kwargs.get("dropout", 0.0), "dropout", numbers.Real, min_val=0.0, max_val=1.0,
                 include_boundaries="left")
    if kwargs.get("norm", "batch") not in NORMS:
        raise ValueError(f"norm must be one of {NORMS}")
    for size in kwargs["vocabulary_sizes"]:
        check_number(size, "vocabulary size", numbers.Integral, min_val=2)


def _is_mapping(mapping, keys, kind) -> bool:
    return (isinstance(mapping, dict) and sorted(mapping) == sorted(keys)
            and all(isinstance(v, kind) for v in mapping.values()))


# ----------------------------------------------------------- regressor state
def _regressor_state(model) -> dict:
    present = {name for name in vars(model) if name.endswith("_") and not name.startswith("__")}
    present |= {"_module_kwargs"} & set(vars(model))
    unknown = sorted(present - set(_REGRESSOR_STATE))
    if unknown:
        # better no file than a file that silently lacks part of the model
        raise ValueError(f"Fitted attributes {unknown} are not covered by the safe format")
    layout = model.layout_
    state = {
        "n_features_in_": int(model.n_features_in_),
        "encoder_": None if model.encoder_ is None else {
            "params": params_json(model.encoder_), "state": _encoder_state(model.encoder_),
        },
        "layout_": {
            "columns": list(layout.columns),
            "n_users": int(layout.n_users),
            "n_items": int(layout.n_items),
            "fields": [[f.role, f.name, int(f.width), int(f.vocabulary_size)]
                       for f in layout.fields],
        },
        "device_": str(model.device_),
        "target_mean_": float(model.target_mean_).hex(),
        "target_scale_": float(model.target_scale_).hex(),
        "target_range_": [float(v).hex() for v in model.target_range_],
        "_module_kwargs": {k: encode_param(v) for k, v in model._module_kwargs.items()},
        "loss_curve_": [float(v).hex() for v in model.loss_curve_],
        "validation_scores_": [float(v).hex() for v in model.validation_scores_],
        "best_epoch_": int(model.best_epoch_),
        "n_iter_": int(model.n_iter_),
        "choice_history_": _choice_history_state(getattr(model, "choice_history_", None)),
    }
    if hasattr(model, "feature_names_in_"):
        state["feature_names_in_"] = [str(name) for name in model.feature_names_in_]
    return state


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


def _set_regressor_state(model, state: dict, tensors: dict, device) -> None:
    encoder = state["encoder_"]
    if encoder is None:
        model.encoder_ = None
    else:
        params = {name: decode_param(value) for name, value in encoder["params"].items()}
        model.encoder_ = estimator_of("SAINEncoder", params)
        model.encoder_._check_params()
        _set_encoder_state(model.encoder_, encoder["state"])
    model.n_features_in_ = int(state["n_features_in_"])
    if "feature_names_in_" in state:
        model.feature_names_in_ = np.asarray(state["feature_names_in_"], dtype=object)
    layout = state["layout_"]
    model.layout_ = TokenLayout(
        columns=tuple(str(c) for c in layout["columns"]),
        n_users=int(layout["n_users"]),
        n_items=int(layout["n_items"]),
        fields=tuple(Field(str(r), str(n), int(w), int(v)) for r, n, w, v in layout["fields"]),
    )
    model.target_mean_ = float.fromhex(state["target_mean_"])
    model.target_scale_ = float.fromhex(state["target_scale_"])
    low, high = (float.fromhex(v) for v in state["target_range_"])
    model.target_range_ = (low, high)
    if not (np.isfinite([model.target_mean_, model.target_scale_, low, high]).all()
            and model.target_scale_ > 0 and low <= high):  # fmt: skip
        raise ValueError("invalid target statistics (they would predict NaN or a constant)")
    kwargs = {name: decode_param(value) for name, value in state["_module_kwargs"].items()}
    _check_module_kwargs(kwargs)
    model._module_kwargs = kwargs
    model.loss_curve_ = [float.fromhex(v) for v in state["loss_curve_"]]
    model.validation_scores_ = [float.fromhex(v) for v in state["validation_scores_"]]
    model.best_epoch_ = int(state["best_epoch_"])
    model.n_iter_ = int(state["n_iter_"])
    model.choice_history_ = _choice_history(state.get("choice_history_"))
    fitted_on = torch.device(state["device_"])
    model.device_ = loadable_device(fitted_on) if device is None else device
    catalog = {k[len(_CATALOG):]: v.numpy() for k, v in tensors.items() if k.startswith(_CATALOG)}
    if catalog:  # files of format version 1 have none
        model.catalog_ = Catalog.from_arrays(catalog, model.layout_)
    module_tensors = {k: v for k, v in tensors.items() if not k.startswith(_CATALOG)}
    # the shapes the metadata implies, on the meta device, which allocates nothing:
    # an edited size must fail here, not after allocating gigabytes for it
    with torch.device("meta"):
        expected = {k: tuple(v.shape) for k, v in SAINModule(**kwargs).state_dict().items()}
    found = {k: tuple(v.shape) for k, v in module_tensors.items()}
    if expected != found:
        wrong = sorted(set(expected) ^ set(found)) or sorted(
            k for k in expected if expected[k] != found[k])
        raise ValueError(f"the tensors do not fit the model the metadata describes ({wrong[0]})")
    # the saved state replaces the initial weights: a generator of its own
    # keeps the load from drawing on torch's global one
    module = SAINModule(**kwargs, generator=torch.Generator())
    # strict: a tensor missing, extra or of another shape means another model; damaged
    # implicit-feedback links fail the load too (ImplicitFeedback checks what it loads)
    module.load_state_dict(module_tensors, strict=True)
    model.module_ = module.to(model.device_).eval()
