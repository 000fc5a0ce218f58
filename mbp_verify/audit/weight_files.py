"""Reading weight files for the audit: `.npz`, `.npy`, `.safetensors` and PyTorch state dicts.

The format is recognised from the file's bytes, not its name. Floating tensors are converted to
float64 (the dtype they were stored in is kept: float16 and bfloat16 values are quantised, which
the audit reports). bfloat16 is read bit-exactly (its 16 bits are the top half of a float32).
PyTorch files are pickles: they are opened only with `torch.load(weights_only=True,
map_location="cpu")` when torch is installed, and never unpickled otherwise. Anything that
cannot be read raises `InputError` naming the file and the problem.
"""

from __future__ import annotations

import json
import struct
import warnings
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..engine.arrayfiles import not_a_file, read_npy, read_npz
from ..errors import InputError

__all__ = ["StoredTensor", "WeightFile", "FORMATS", "detect_format", "load_weight_file"]

FORMATS = ("npz", "npy", "safetensors", "torch")
# safetensors dtypes its numpy reader returns as they are (BF16 is widened here; others are skipped).
_SAFETENSORS_NUMPY = frozenset({"F64", "F32", "F16", "I64", "I32", "I16", "I8", "U8", "U16", "U32", "U64", "BOOL"})


@dataclass(frozen=True, eq=False)
class StoredTensor:
    """One tensor of a weight file: float64 values for floating tensors, the raw array otherwise."""

    name: str
    array: np.ndarray
    stored_dtype: str

    @property
    def is_float(self) -> bool:
        """Stored as floating point (float16 ... float128, bfloat16): its values are held in float64."""
        return self.array.dtype == np.float64 and (
            self.stored_dtype == "bfloat16" or self.stored_dtype.startswith("float")
        )

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(int(s) for s in self.array.shape)


@dataclass(frozen=True, eq=False)
class WeightFile:
    """The tensors of one file, in the order the file lists them, and what was left out."""

    source: str
    format: str
    tensors: tuple[StoredTensor, ...]
    notes: tuple[str, ...] = ()

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray], source: str = "<arrays>") -> "WeightFile":
        """An in-memory weight file (names -> arrays), e.g. for library use and tests."""
        return cls(source, "arrays", tuple(_stored(str(k), np.asarray(v)) for k, v in arrays.items()))

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(t.name for t in self.tensors)


def _stored(name: str, array: np.ndarray, stored_dtype: "str | None" = None) -> StoredTensor:
    dtype = stored_dtype or array.dtype.name
    if array.dtype == object:
        raise InputError(f"tensor {name!r} has dtype object; need numbers")
    if np.issubdtype(array.dtype, np.floating):
        array = np.asarray(array, dtype=np.float64)
    return StoredTensor(name, array, dtype)


def detect_format(path: "str | Path") -> str:
    """'npz', 'npy', 'safetensors' or 'torch', from the first bytes of the file."""
    file = Path(path)
    reason = not_a_file(file)
    if reason is not None:
        raise InputError(f"weight file {str(file)!r} {reason}")
    try:
        with open(file, "rb") as handle:
            head = handle.read(16)
        size = file.stat().st_size
    except OSError as exc:  # e.g. no read permission
        raise InputError(f"cannot read weight file {str(file)!r}: {exc.strerror or exc}") from None
    if size == 0:
        raise InputError(f"weight file {str(file)!r} is empty")
    if head.startswith(b"\x93NUMPY"):
        return "npy"
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        try:
            with zipfile.ZipFile(file) as archive:
                members = archive.namelist()
        except (zipfile.BadZipFile, OSError) as exc:
            raise InputError(f"{str(file)!r} looks like a zip archive but cannot be read: {exc}") from None
        if any(m.endswith("data.pkl") for m in members):
            return "torch"
        if all(m.endswith(".npy") for m in members):
            return "npz"
        raise InputError(f"{str(file)!r} is a zip archive that is neither .npz nor a PyTorch state dict")
    if head[:1] == b"\x80" and len(head) > 1 and 2 <= head[1] <= 5:
        return "torch"
    if len(head) >= 9 and head[8:9] == b"{" and 8 + struct.unpack("<Q", head[:8])[0] <= size:
        return "safetensors"
    raise InputError(
        f"{str(file)!r} is not a recognised weight file (.npz, .npy, .safetensors or a "
        f"PyTorch state dict); it starts with {head[:8]!r}"
    )


def load_weight_file(path: "str | Path") -> WeightFile:
    """Read every tensor of a weight file (format detected from its bytes)."""
    file = Path(path)
    kind = detect_format(file)
    loader = {"npz": _load_npz, "npy": _load_npy, "safetensors": _load_safetensors, "torch": _load_torch}[kind]
    tensors, notes = loader(file)
    if not tensors:
        raise InputError(
            f"{str(file)!r} holds no tensors" + (f" that can be read: {'; '.join(notes)}" if notes else "")
        )
    return WeightFile(str(file), kind, tuple(tensors), tuple(notes))


def _load_npz(file: Path) -> tuple[list[StoredTensor], list[str]]:
    return [_stored(k, v) for k, v in read_npz(file, "weight file").items()], []


def _load_npy(file: Path) -> tuple[list[StoredTensor], list[str]]:
    return [_stored(file.stem, read_npy(file))], []


def _load_safetensors(file: Path) -> tuple[list[StoredTensor], list[str]]:
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(file), framework="numpy") as handle:
            tensors, notes = [], []
            header = None
            for name in handle.keys():
                code = handle.get_slice(name).get_dtype()
                if code in _SAFETENSORS_NUMPY:
                    tensors.append(_stored(name, handle.get_tensor(name)))
                elif code == "BF16":
                    header = header if header is not None else _safetensors_header(file)
                    tensors.append(_stored(name, _read_bfloat16(file, header, name), "bfloat16"))
                else:
                    notes.append(f"{name}: dtype {code} is not supported by the audit; skipped")
    except SafetensorError as exc:
        raise InputError(f"cannot read {str(file)!r} as .safetensors: {exc}") from None
    return tensors, notes


def _safetensors_header(file: Path) -> tuple[int, dict[str, Any]]:
    with open(file, "rb") as handle:
        (length,) = struct.unpack("<Q", handle.read(8))
        return 8 + length, json.loads(handle.read(length))


def _read_bfloat16(file: Path, header: tuple[int, dict[str, Any]], name: str) -> np.ndarray:
    """bfloat16 bits are the upper 16 bits of a float32: widen them exactly."""
    start, table = header
    begin, end = table[name]["data_offsets"]
    bits = np.fromfile(file, dtype="<u2", count=(end - begin) // 2, offset=start + begin)
    return (bits.astype(np.uint32) << 16).view(np.float32).reshape(table[name]["shape"])


def _load_torch(file: Path) -> tuple[list[StoredTensor], list[str]]:
    try:
        import torch
    except ImportError:
        raise InputError(
            f"{str(file)!r} is a pickled PyTorch file; reading it needs torch (pip install "
            "'mbp-verify[torch]'), which is not installed, and pickles are never unpickled "
            "without torch's weights_only loader"
        ) from None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            loaded = torch.load(file, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises UnpicklingError, RuntimeError, EOFError, ... for bad files
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise InputError(f"cannot load {str(file)!r} with torch.load(weights_only=True): {first[:200]}") from None
    tensors: list[StoredTensor] = []
    notes: list[str] = []
    _flatten_torch(loaded, "", tensors, notes, torch)
    return tensors, notes


def _flatten_torch(obj: Any, prefix: str, tensors: list[StoredTensor], notes: list[str], torch: Any) -> None:
    """State dicts, nested dicts (e.g. {"state_dict": {...}}) and lists; tensors get dotted names."""
    if isinstance(obj, torch.Tensor):
        name = prefix or "tensor"
        value = obj.detach().cpu()
        if value.layout != torch.strided:  # sparse, quantised, ...: numpy() refuses them
            notes.append(
                f"{name}: {str(value.layout).replace('torch.', '')} tensor is not supported by the audit; skipped"
            )
            return
        if value.dtype == torch.bfloat16:
            tensors.append(_stored(name, value.float().numpy(), "bfloat16"))
            return
        try:
            array = value.numpy()
        except TypeError:  # float8 and other dtypes numpy cannot hold
            notes.append(
                f"{name}: dtype {str(value.dtype).replace('torch.', '')} is not supported by the audit; skipped"
            )
            return
        if np.iscomplexobj(array):
            notes.append(f"{name}: complex tensor skipped")
        else:
            tensors.append(_stored(name, array))
    elif isinstance(obj, Mapping):
        for key, value in obj.items():
            _flatten_torch(value, f"{prefix}.{key}" if prefix else str(key), tensors, notes, torch)
    elif isinstance(obj, (list, tuple)):
        for index, value in enumerate(obj):
            _flatten_torch(value, f"{prefix}.{index}" if prefix else str(index), tensors, notes, torch)
    else:
        notes.append(f"{prefix or '<root>'}: {type(obj).__name__} entry is not a tensor; skipped")
