"""Writers for weight-file fixtures, independent of the loaders under test.

safetensors files are written byte by byte from the format's specification (8-byte header
length, JSON header, raw little-endian data), so bfloat16 files need neither torch nor numpy
support for bfloat16.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np

_CODES = {
    np.dtype(np.float64): "F64",
    np.dtype(np.float32): "F32",
    np.dtype(np.float16): "F16",
    np.dtype(np.int64): "I64",
    np.dtype(np.int32): "I32",
}


def bfloat16_bits(values: np.ndarray) -> np.ndarray:
    """The bfloat16 bit patterns of float32 values that bfloat16 represents exactly (upper 16 bits)."""
    bits = np.ascontiguousarray(values, dtype=np.float32).view(np.uint32)
    assert not (bits & 0xFFFF).any(), "values must be exactly representable in bfloat16"
    return (bits >> 16).astype("<u2")


def write_safetensors(path: Path, tensors: dict[str, "tuple[str, np.ndarray] | np.ndarray"]) -> Path:
    """tensors: name -> array (dtype from numpy) or ("BF16", float32 array exactly representable)."""
    header, blobs, offset = {}, [], 0
    for name, item in tensors.items():
        if isinstance(item, tuple):
            code, array = item[0], np.asarray(item[1])
            data = bfloat16_bits(array).tobytes()
        else:
            array = np.asarray(item)
            code, data = _CODES[array.dtype], np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<")).tobytes()
        header[name] = {"dtype": code, "shape": list(array.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    path.write_bytes(struct.pack("<Q", len(text)) + text + b"".join(blobs))
    return path


def bfloat16_grid(shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    """Random float32 values that bfloat16 holds exactly (mantissa cut to 7 bits)."""
    values = rng.uniform(-1, 1, shape).astype(np.float32)
    return (values.view(np.uint32) & np.uint32(0xFFFF0000)).view(np.float32)
