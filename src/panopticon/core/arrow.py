"""Arrow arrays and tables from NumPy arrays without importing pandas.

`pa.array` and `pa.table` on NumPy input first ask whether it is a pandas object, and
that question imports pandas (0.3-0.7 s of a run that otherwise never needs it). Built
from the arrays' buffers instead, the arrays hold the same values (`pa.array`'s default
conversion: NaN stays NaN, a declared type is reached by a safe cast), so the files
written from them have the same bytes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pyarrow as pa


def array(values: Any, type: pa.DataType | None = None) -> pa.Array:
    """`pa.array(values, type=type)` for a NumPy array, a list of str or an Arrow array."""
    if isinstance(values, pa.Array | pa.ChunkedArray):
        return values if type is None or values.type == type else values.cast(type)
    if isinstance(values, list | tuple) or (
        isinstance(values, np.ndarray) and values.dtype.kind in "OU"
    ):
        return _strings([str(v) for v in values], type)
    a = np.ascontiguousarray(values)
    if a.ndim != 1:
        raise ValueError(f"arrow.array: a 1-D array is needed, got shape {a.shape}")
    n = a.size
    if a.dtype.kind == "b":
        out = pa.Array.from_buffers(pa.bool_(), n, [None, pa.py_buffer(_bits(a))])
    elif a.dtype.kind == "M":
        days = a.astype("datetime64[D]").view(np.int64).astype(np.int32)
        out = pa.Array.from_buffers(pa.date32(), n, [None, pa.py_buffer(days)])
    else:
        out = pa.Array.from_buffers(pa.from_numpy_dtype(a.dtype), n, [None, pa.py_buffer(a)])
    return out if type is None or out.type == type else out.cast(type)


def _bits(a: np.ndarray) -> np.ndarray:
    """Arrow's validity-style bitmap of a bool array (least significant bit first)."""
    return np.packbits(a, bitorder="little")


def _strings(values: Sequence[str], type: pa.DataType | None) -> pa.Array:
    """A string array from its UTF-8 bytes and int32 offsets."""
    encoded = [v.encode() for v in values]
    offsets = np.zeros(len(encoded) + 1, dtype=np.int32)
    np.cumsum([len(e) for e in encoded], out=offsets[1:])
    data = np.frombuffer(b"".join(encoded), dtype=np.uint8)
    out = pa.Array.from_buffers(
        pa.string(), len(encoded), [None, pa.py_buffer(offsets), pa.py_buffer(data)]
    )
    return out if type is None or out.type == type else out.cast(type)


def dictionary(codes: np.ndarray, names: Any) -> pa.DictionaryArray:
    """A dictionary-encoded column: integer codes into `names` (strings or an Arrow array)."""
    return pa.DictionaryArray.from_arrays(array(codes), array(names))


def table(columns: Mapping[str, Any], schema: pa.Schema | None = None) -> pa.Table:
    """`pa.table(columns, schema=schema)`: each column through `array`."""
    if schema is None:
        return pa.Table.from_arrays([array(v) for v in columns.values()], names=list(columns))
    arrays = [array(columns[f.name], f.type) for f in schema]
    return pa.Table.from_arrays(arrays, schema=schema)
