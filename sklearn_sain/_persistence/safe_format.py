"""Safe persistence: fitted estimators as tensors plus JSON, loaded without unpickling.

A joblib or pickle file names the functions that rebuild its objects, and
loading it calls them: a file from an untrusted source can run any code.
The format written here holds only a dict of tensors and one JSON string,
read back with ``torch.load(weights_only=True)``, whose restricted unpickler
accepts tensors and plain containers and refuses everything else. Every
estimator is then rebuilt from the JSON by its own class, which validates
its state (the protocol of :mod:`sklearn_sain._persistence.persistable`;
the network's part is :class:`~sklearn_sain._fitted.FittedSAIN`'s).

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
:mod:`sklearn_sain._persistence.safe_file`.
"""

from __future__ import annotations

import io
import json
import os

import numpy as np
import torch
from sklearn.utils.validation import check_is_fitted

from .._nn.torch_utils import resolve_device
from .param_json import decode_param, params_json
from .persistable import is_persistable, persistable_class
from .safe_file import NotAZipError, check_archive, payload_digest, write_atomically

FORMAT = "sklearn_sain"
FORMAT_VERSION = 4
_DIGEST_SINCE = 4  # the first format version whose files carry a digest
_KEYS = {"format", "format_version", "metadata", "tensors"}

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
    # the estimator's own fitted state, as the protocol of _persistable gives it
    state, tensors = estimator._safe_state()
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
        # an unknown kind is refused before anything is decoded
        cls = persistable_class(metadata["estimator"])
        params = {name: decode_param(value) for name, value in metadata["params"].items()}
        # a parameter an older file predates takes the value that version behaved with
        estimator = cls._from_saved_params(params)
        estimator._restore_safe_state(metadata["state"], payload["tensors"], target_device)
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
SKOPS_TRUSTED_TYPES = [
    "sklearn_sain._regressor.SAINRegressor",
    "sklearn_sain._encoding.encoder.SAINEncoder",
    # where SAINEncoder lived before the encoding layer had its folder (see _encoder.py)
    "sklearn_sain._encoder.SAINEncoder",
]


# the key under which a pickle keeps the fitted state as safe-format bytes
FITTED_STATE_KEY = "_fitted_state"


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


def pickled_state(estimator, state: dict, is_fitted) -> dict:
    """``state`` with the attributes ``is_fitted(name)`` names replaced by the safe-format bytes.

    ``state`` itself when the format cannot hold ``estimator`` (see
    :func:`fitted_state_array`): the object is then pickled as it is.
    """
    array = fitted_state_array(estimator)
    if array is None:
        return state
    state = {name: value for name, value in state.items() if not is_fitted(name)}
    state[FITTED_STATE_KEY] = array
    return state


def unpickled_state(state: dict) -> dict:
    """A copy of a pickled ``state`` with its safe-format bytes, if any, back as attributes."""
    state = dict(state)
    if FITTED_STATE_KEY in state:
        state.update(fitted_attributes(state.pop(FITTED_STATE_KEY)))
    return state


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
    from .. import __version__

    return __version__
