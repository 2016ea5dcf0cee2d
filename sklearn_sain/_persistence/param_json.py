"""Estimator parameters as JSON for the safe format, and back.

Only plain values are stored: numbers (non-finite floats tagged as hex
strings), strings, lists, devices, random states and nested
:class:`SAINEncoder` parameters; anything else is refused at ``save`` with
the parameter's name.
"""

from __future__ import annotations

import numbers

import numpy as np
import pandas as pd
import torch

from .persistable import is_persistable, persistable_class


def params_json(estimator) -> dict:
    params = {}
    for name, value in estimator.get_params(deep=False).items():
        try:
            params[name] = encode_param(value)
        except (TypeError, ValueError) as exc:
            raise ValueError(
                f"Parameter {name}={value!r} cannot be stored in the safe format ({exc}); "
                "set it to a plain value, or use joblib for files you trust"
            ) from None
    return params


def encode_param(value):
    if value is None or isinstance(value, (str, bool)):
        return value
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value) if np.isfinite(value) else {"__float__": float(value).hex()}
    if isinstance(value, (list, tuple, np.ndarray, pd.Index)):
        return [encode_param(item) for item in value]
    if isinstance(value, torch.device):
        return {"__device__": str(value)}
    if is_persistable(value, "SAINEncoder"):
        return {"__encoder__": params_json(value)}
    if isinstance(value, np.random.RandomState):
        # the state as it is now, as a pickle of the instance would keep it
        key, keys, position, has_gauss, cached = value.get_state()
        return {"__random_state__": [key, keys.tolist(), int(position), int(has_gauss),
                                     float(cached).hex()]}
    raise TypeError(f"values of type {type(value).__name__} are not supported")


def estimator_of(name: str, params: dict):
    """The estimator ``name`` with saved ``params``, completed as its version behaved."""
    cls = persistable_class(name)
    return cls(**cls._with_legacy_params(params))


def decode_param(value):
    if isinstance(value, list):
        return [decode_param(item) for item in value]
    if not isinstance(value, dict):
        return value
    (tag, content), = value.items()
    if tag == "__float__":
        return float.fromhex(content)
    if tag == "__device__":
        return torch.device(content)
    if tag == "__encoder__":
        return estimator_of("SAINEncoder", {k: decode_param(v) for k, v in content.items()})
    if tag == "__random_state__":
        key, keys, position, has_gauss, cached = content
        state = np.random.RandomState()
        state.set_state((key, np.asarray(keys, dtype=np.uint32), position, has_gauss,
                         float.fromhex(cached)))
        return state
    raise ValueError(f"unknown parameter tag {tag!r}")
