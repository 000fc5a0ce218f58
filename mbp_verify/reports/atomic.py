"""Atomic file writes: write to a temporary file in the same folder, then rename.

A reader (or an interrupted run) never sees a half-written file under the final name.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any

__all__ = ["atomic_write_bytes", "atomic_write_text", "atomic_write_json", "json_ready"]


def atomic_write_bytes(path: "str | Path", data: bytes) -> Path:
    """Write `data` to `path` atomically (same-directory temp file + os.replace)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
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


def atomic_write_json(path: "str | Path", payload: Any) -> Path:
    """Write JSON (sorted keys off, 2-space indent, NaN forbidden) atomically."""
    text = json.dumps(payload, indent=2, allow_nan=False, default=_jsonable)
    return atomic_write_text(path, text + "\n")


def _jsonable(value: Any) -> Any:
    """Convert numpy scalars/arrays and paths for json.dumps."""
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
    """`value` as plain JSON data: non-finite floats become None (JSON has no NaN or inf),
    numpy values, paths and objects with `to_dict()` are converted, recursively. Anything else
    is an error, or its `str()` with `unknown_as_text`."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if value is None or isinstance(value, (bool, int, str)):
        return value
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
