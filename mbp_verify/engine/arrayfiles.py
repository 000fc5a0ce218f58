"""Reading `.npy` and `.npz` files without trusting their headers.

numpy allocates the array a `.npy` header declares before it reads the data, so a 200-byte file
declaring shape (10**6, 10**6) makes `np.load` ask for terabytes: a MemoryError (a traceback),
not an answer. Here every header is read first and the bytes it declares are compared with the
bytes the file can hold; a file that declares more than it holds, stores Python objects, repeats
a member name or has members that are not `.npy` arrays is an `InputError` naming the problem,
before anything is allocated. Nothing is ever unpickled.
"""

from __future__ import annotations

import math
import zipfile
from pathlib import Path
from typing import IO

import numpy as np
from numpy.lib import format as npy_format

from ..errors import InputError

__all__ = ["MAX_DEFLATE_RATIO", "not_a_file", "read_npy", "read_npz"]

# zlib's deflate expands at most 1032:1, so a deflated member of c bytes holds at most 1032 c bytes.
MAX_DEFLATE_RATIO = 1032


def not_a_file(path: "str | Path") -> "str | None":
    """Why `path` is not a regular file ('is a directory', 'does not exist', ...), None when it is one."""
    file = Path(path)
    if file.is_file():
        return None
    if file.is_dir():
        return "is a directory"
    return "is not a regular file (a FIFO, socket or device)" if file.exists() else "does not exist"


def _declared(fp: IO[bytes], where: str, stored: int) -> None:
    """Read one `.npy` header from `fp` and check it against the `stored` bytes it sits in."""
    try:
        major, _ = npy_format.read_magic(fp)
        reader = npy_format.read_array_header_1_0 if major == 1 else npy_format.read_array_header_2_0
        shape, _, dtype = reader(fp)
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
        raise InputError(f"cannot read {where}: not a valid .npy header ({exc})") from None
    if dtype.hasobject:
        raise InputError(f"cannot read {where}: it stores Python objects (dtype {dtype}); pickles are never read")
    if any(int(s) < 0 for s in shape):
        raise InputError(f"cannot read {where}: the header declares a negative dimension {tuple(shape)}")
    needed = math.prod(int(s) for s in shape) * dtype.itemsize
    available = stored - fp.tell()
    if needed > available:
        raise InputError(
            f"cannot read {where}: the header declares shape {tuple(int(s) for s in shape)} of {dtype} "
            f"({needed:,} bytes) but the file holds at most {max(available, 0):,} bytes of data (truncated or corrupt)"
        )


def read_npy(path: "str | Path") -> np.ndarray:
    """The array of a `.npy` file, its header checked against the file's size first."""
    file = Path(path)
    try:
        with open(file, "rb") as fp:
            _declared(fp, repr(str(file)), file.stat().st_size)
        return np.load(file, allow_pickle=False)
    except InputError:
        raise
    except (OSError, ValueError, EOFError, MemoryError) as exc:
        raise InputError(f"cannot read {str(file)!r} as .npy: {exc}") from None


def read_npz(path: "str | Path", what: str = "arrays") -> dict[str, np.ndarray]:
    """Every array of a `.npz` archive by name (the member name without `.npy`), in archive order.

    Each member's header is checked against the bytes the member can hold (its uncompressed
    size, and for deflated members at most `MAX_DEFLATE_RATIO` times its compressed size) before
    any array is read. `what` names the file's role in messages ("network", "mask", ...).
    """
    file = Path(path)
    where = f"{str(file)!r}"
    try:
        with zipfile.ZipFile(file) as archive:
            members = archive.infolist()
            names = [m.filename for m in members]
            repeated = sorted({n for n in names if names.count(n) > 1})
            if repeated:
                raise InputError(f"{where} repeats the member {repeated[0]!r}: which array is meant is ambiguous")
            for member in members:
                if not member.filename.endswith(".npy"):
                    torch = " (it looks like a PyTorch file)" if member.filename.endswith("data.pkl") else ""
                    raise InputError(
                        f"{where} is not a .npz {what}: member {member.filename!r} is not a .npy array{torch}"
                    )
                stored = member.file_size
                if member.compress_type != zipfile.ZIP_STORED:
                    stored = min(stored, MAX_DEFLATE_RATIO * member.compress_size)
                with archive.open(member) as fp:
                    _declared(fp, f"{where}, member {member.filename!r}", stored)
        with np.load(file, allow_pickle=False) as data:
            return {name: data[name] for name in data.files}
    except InputError:
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, MemoryError) as exc:
        raise InputError(f"cannot read {where} as a .npz {what}: {exc}") from None
