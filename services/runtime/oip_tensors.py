"""Tensors of the Open Inference Protocol (KServe v2) to numpy and back, apart from any model.

A request tensor carries its data either as typed values (``contents``, one repeated field per
datatype) or as little-endian bytes (``raw_input_contents``, one entry per input, what Triton's
clients send). Both are checked against the declared shape before anything is copied, so a
short, long or mistyped payload is refused with the numbers the caller needs to fix it.
Answers always travel as raw bytes, as Triton answers.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from services.runtime.errors import InvalidInput, quoted

# The specification's datatypes this runtime reads and writes (BYTES, strings, is not among
# them: no served model takes text tensors).
DATATYPES: dict[str, np.dtype] = {
    name: np.dtype(kind) for name, kind in {
        "BOOL": np.bool_, "UINT8": np.uint8, "UINT16": np.uint16, "UINT32": np.uint32,
        "UINT64": np.uint64, "INT8": np.int8, "INT16": np.int16, "INT32": np.int32,
        "INT64": np.int64, "FP16": np.float16, "FP32": np.float32, "FP64": np.float64,
    }.items()
}
_NAMES = {dtype: name for name, dtype in DATATYPES.items()}
# Which InferTensorContents field carries a datatype's typed values (narrow integers travel
# widened; FP16 has no typed field in the specification).
CONTENTS_FIELD = {
    "BOOL": "bool_contents", "UINT8": "uint_contents", "UINT16": "uint_contents",
    "UINT32": "uint_contents", "UINT64": "uint64_contents", "INT8": "int_contents",
    "INT16": "int_contents", "INT32": "int_contents", "INT64": "int64_contents",
    "FP32": "fp32_contents", "FP64": "fp64_contents",
}
_ONNX_TYPES = {
    "tensor(bool)": "BOOL", "tensor(uint8)": "UINT8", "tensor(uint16)": "UINT16",
    "tensor(uint32)": "UINT32", "tensor(uint64)": "UINT64", "tensor(int8)": "INT8",
    "tensor(int16)": "INT16", "tensor(int32)": "INT32", "tensor(int64)": "INT64",
    "tensor(float16)": "FP16", "tensor(float)": "FP32", "tensor(double)": "FP64",
    "tensor(string)": "BYTES",
}


def dtype_of(datatype: str) -> np.dtype:
    """The numpy dtype of a protocol datatype name; unknown names are the caller's to fix."""
    if datatype not in DATATYPES:
        raise InvalidInput(f"datatype {quoted(datatype)} is not supported; send one of "
                           f"{', '.join(DATATYPES)}")
    return DATATYPES[datatype]


def datatype_of(dtype: np.dtype) -> str:
    """The protocol datatype name of a numpy dtype (what an output is declared as)."""
    return _NAMES[np.dtype(dtype)]


def onnx_datatype(onnx_type: str) -> str:
    """The protocol datatype of an onnxruntime type string, e.g. ``tensor(float)`` -> FP32."""
    return _ONNX_TYPES.get(onnx_type, onnx_type)


def declared_shape(dims: Sequence[object]) -> list[int]:
    """An ONNX shape as the protocol states it: named or unknown dimensions become -1."""
    return [d if isinstance(d, int) and d >= 0 else -1 for d in dims]


def element_count(name: str, shape: Sequence[int]) -> int:
    if any(d < 0 for d in shape):
        raise InvalidInput(f"input {quoted(name)} has shape {list(shape)}; every dimension "
                           "must be 0 or more (the request states the actual sizes, no -1)")
    return math.prod(shape)


def from_raw(name: str, datatype: str, shape: Sequence[int], raw: bytes) -> np.ndarray:
    """The array in ``raw`` (row-major, little-endian), refused unless its length matches."""
    dtype = dtype_of(datatype)
    count = element_count(name, shape)
    expected = count * dtype.itemsize
    if len(raw) != expected:
        raise InvalidInput(
            f"input {quoted(name)}: raw_input_contents carries {len(raw)} bytes, but {datatype} "
            f"{list(shape)} is {count} elements x {dtype.itemsize} bytes = {expected}"
        )
    return np.frombuffer(raw, dtype.newbyteorder("<")).reshape(shape).astype(dtype, copy=False)


def from_contents(name: str, datatype: str, shape: Sequence[int], contents) -> np.ndarray:
    """The array in the typed field ``contents`` holds for ``datatype``, count and range checked."""
    dtype = dtype_of(datatype)
    field = CONTENTS_FIELD.get(datatype)
    if field is None:
        raise InvalidInput(f"input {quoted(name)}: {datatype} has no typed contents field; "
                           "send it in raw_input_contents")
    values = getattr(contents, field)
    count = element_count(name, shape)
    if len(values) != count:
        raise InvalidInput(f"input {quoted(name)}: contents.{field} holds {len(values)} values, "
                           f"but {datatype} {list(shape)} is {count} elements")
    array = np.asarray(values, dtype=np.float64 if dtype.kind == "f" else None)
    _check_range(name, datatype, dtype, array)
    return array.astype(dtype).reshape(shape)


def _check_range(name: str, datatype: str, dtype: np.dtype, array: np.ndarray) -> None:
    """Widened integers (UINT8 in uint_contents) must fit their datatype, not wrap around."""
    if dtype.kind not in "iu" or array.size == 0:
        return
    limits = np.iinfo(dtype)
    low, high = int(array.min()), int(array.max())
    if low < limits.min or high > limits.max:
        raise InvalidInput(f"input {quoted(name)}: {datatype} values lie in [{limits.min}, "
                           f"{limits.max}]; the contents reach [{low}, {high}]")


def to_raw(array: np.ndarray) -> bytes:
    """Row-major little-endian bytes of ``array`` (raw_output_contents)."""
    return np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<")).tobytes()
