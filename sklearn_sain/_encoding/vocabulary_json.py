"""Encoder vocabularies as JSON, exactly: the part of safe persistence that holds values.

Vocabulary values are stored with their dtype, and inside object indexes each
value with its type, so that 2 stays an int, "2" a str, 2.0 a float and
np.int64(2) a numpy int: lookups then behave exactly as before saving. A
vocabulary that would not survive the round trip is refused when saving, not
discovered after loading.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def encode_vocabulary(index: pd.Index, field: str) -> dict:
    try:
        entry = _encode_index(index)
        same = _same_index(decode_vocabulary(entry), index)
    except (TypeError, ValueError, OverflowError) as exc:
        reason, same = str(exc), False
    else:
        reason = "it does not survive a JSON round trip"
    if not same:
        raise ValueError(
            f"The vocabulary of field {field!r} cannot be stored exactly in the safe "
            f"format: {reason}. Convert that column to strings or integers before "
            "fitting, or use joblib for files you trust."
        )
    return entry


def _encode_index(index: pd.Index) -> dict:
    dtype = index.dtype
    if isinstance(dtype, pd.StringDtype):
        na = "nan" if dtype.na_value is np.nan else "NA"
        return {"dtype": "string", "storage": dtype.storage, "na": na,
                "values": [str(v) for v in index]}
    if not isinstance(dtype, np.dtype):
        raise TypeError(f"values of dtype {dtype} are not supported")
    values = index.to_numpy()
    if dtype.kind in "iu":
        return {"dtype": dtype.str, "values": [int(v) for v in values]}
    if dtype.kind == "b":
        return {"dtype": dtype.str, "values": [bool(v) for v in values]}
    if dtype.kind == "f":
        return {"dtype": dtype.str, "values": [float(v).hex() for v in values]}
    if dtype.kind in "mM":
        return {"dtype": dtype.str, "values": values.view(np.int64).tolist()}
    if dtype.kind == "O":
        return {"dtype": "object", "values": [_encode_value(v) for v in values]}
    raise TypeError(f"values of dtype {dtype} are not supported")


def _encode_value(value) -> list:
    if isinstance(value, np.str_):
        return ["numpy", "<U", str(value)]
    if isinstance(value, str):
        return ["str", value]
    if isinstance(value, bool):
        return ["bool", value]
    if isinstance(value, int):
        return ["int", value]
    if isinstance(value, float):
        return ["float", value.hex()]
    if isinstance(value, np.bool_):
        return ["numpy", "|b1", bool(value)]
    if isinstance(value, np.integer):
        return ["numpy", value.dtype.str, int(value)]
    if isinstance(value, np.floating):
        return ["numpy", value.dtype.str, float(value).hex()]
    raise TypeError(f"values of type {type(value).__name__} (such as {value!r}) are not supported")


def decode_vocabulary(entry: dict) -> pd.Index:
    dtype, values = entry["dtype"], entry["values"]
    if dtype == "string":
        na = np.nan if entry["na"] == "nan" else pd.NA
        try:
            string_dtype = pd.StringDtype(entry["storage"], na_value=na)
        except ImportError:  # pyarrow storage where pyarrow is missing: same lookups
            string_dtype = pd.StringDtype("python", na_value=na)
        return pd.Index(values, dtype=string_dtype)
    if dtype == "object":
        array = np.empty(len(values), dtype=object)
        array[:] = [_decode_value(value) for value in values]
        return pd.Index(array, dtype=object)
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        return pd.Index(np.array([float.fromhex(v) for v in values], dtype=dtype))
    if dtype.kind in "mM":
        return pd.Index(np.array(values, dtype=np.int64).view(dtype))
    if dtype.kind in "iub":
        return pd.Index(np.array(values, dtype=dtype))
    raise ValueError(f"unsupported vocabulary dtype {dtype}")


def _decode_value(value):
    tag, content = value[0], value[1:]
    if tag == "str" or tag == "bool" or tag == "int":
        expected = {"str": str, "bool": bool, "int": int}[tag]
        if type(content[0]) is not expected:
            raise TypeError(f"a {tag} vocabulary value holds {content[0]!r}")
        return content[0]
    if tag == "float":
        return float.fromhex(content[0])
    if tag == "numpy":
        dtype = np.dtype(content[0])
        if dtype.kind == "U":
            return np.str_(content[1])
        if dtype.kind not in "iubf":
            raise ValueError(f"unsupported numpy scalar type {dtype}")
        raw = float.fromhex(content[1]) if dtype.kind == "f" else content[1]
        return dtype.type(raw)
    raise ValueError(f"unknown vocabulary value tag {tag!r}")


def _same_index(restored: pd.Index, original: pd.Index) -> bool:
    if restored.dtype != original.dtype or len(restored) != len(original):
        return False
    if original.dtype == object:
        return all(
            type(a) is type(b) and a == b and np.signbit(a) == np.signbit(b)
            if isinstance(a, (float, np.floating)) else type(a) is type(b) and a == b
            for a, b in zip(restored, original)
        )
    a, b = restored.to_numpy(), original.to_numpy()
    if a.dtype.kind == "f":
        return bool(np.array_equal(a, b) and (np.signbit(a) == np.signbit(b)).all())
    return bool(np.array_equal(a, b))
