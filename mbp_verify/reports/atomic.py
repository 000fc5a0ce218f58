"""Atomic file writes and the project's JSON convention.

A file is written to a temporary file in the same folder, given the mode an ordinary `open()`
would give it (0o666 minus the umask, not mkstemp's 0o600), flushed, and renamed over the final
name; on any failure the temporary file is removed. A reader (or an interrupted run) never sees
a half-written file under the final name.

JSON convention (every JSON file the project writes goes through `json_ready`): non-finite
floats are written as the strings "inf", "-inf" and "nan" (JSON has no such numbers, and a
bound of +inf is a legitimate answer); numpy scalars and arrays, paths and objects with
`to_dict()` are converted. Nothing is written with a bare NaN or Infinity, and nothing crashes
on one.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any

__all__ = ["atomic_write_bytes", "atomic_write_text", "atomic_write_json", "json_ready", "json_text",
           "current_umask", "file_mode"]


def current_umask() -> int:
    """The process umask (read from /proc on Linux, else by setting and restoring it)."""
    try:
        with open("/proc/self/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def file_mode() -> int:
    """The mode `open(path, "w")` would create a file with: 0o666 & ~umask."""
    return 0o666 & ~current_umask()


def atomic_write_bytes(path: "str | Path", data: bytes) -> Path:
    """Write `data` to `path` atomically (same-directory temp file, umask mode, os.replace).

    Missing parent folders are created (with the umask's mode); user-facing paths are checked
    before any work by `mbp_verify.cli._common.check_output_file`, which refuses missing ones.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), file_mode())
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def atomic_write_text(path: "str | Path", text: str) -> Path:
    """Write UTF-8 text atomically."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def json_text(payload: Any, *, indent: "int | None" = 2, unknown_as_text: bool = False) -> str:
    """`payload` through `json_ready`, as strict JSON text (no bare NaN or Infinity can appear)."""
    return json.dumps(json_ready(payload, unknown_as_text=unknown_as_text), indent=indent, allow_nan=False)


def atomic_write_json(path: "str | Path", payload: Any, *, unknown_as_text: bool = False) -> Path:
    """Write `payload` as JSON (2-space indent, the non-finite convention) atomically."""
    return atomic_write_text(path, json_text(payload, unknown_as_text=unknown_as_text) + "\n")


def _jsonable(value: Any) -> Any:
    """Convert numpy scalars/arrays, paths and objects with `to_dict()` to plain values."""
    import numpy as np

    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "to_dict"):
        return value.to_dict()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def json_ready(value: Any, *, unknown_as_text: bool = False) -> Any:
    """`value` as plain JSON data, recursively: non-finite floats become "inf", "-inf" or "nan";
    numpy values, paths and objects with `to_dict()` are converted; dict keys become strings.
    Anything else is a TypeError, or its `str()` with `unknown_as_text`."""
    if isinstance(value, float):  # also numpy.float64, a float subclass
        if math.isfinite(value):
            return float(value)
        return "nan" if math.isnan(value) else "inf" if value > 0 else "-inf"
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, dict):
        return {str(k): json_ready(v, unknown_as_text=unknown_as_text) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(v, unknown_as_text=unknown_as_text) for v in value]
    try:
        converted = _jsonable(value)
    except TypeError:
        if unknown_as_text:
            return str(value)
        raise
    return json_ready(converted, unknown_as_text=unknown_as_text)
