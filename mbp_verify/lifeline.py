"""Child processes die with their parent: the Linux parent-death signal.

Every worker process mbp-verify starts (the property-suite subprocess, its pytest-xdist
workers, the process that hosts a pruner under test, the theorem's trial pool) calls
`die_with_parent()` first, so that a parent killed by SIGKILL (or the OOM killer) leaves no
orphan behind holding memory and CPU. Elsewhere than Linux the call does nothing; the
workers that read a pipe from their parent still end when the pipe closes.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import sys

__all__ = ["die_with_parent"]

_PR_SET_PDEATHSIG = 1


def die_with_parent(expected_parent: "int | None" = None) -> None:
    """Ask the kernel to SIGKILL this process when its parent ends.

    If `expected_parent` is given and the parent is already gone (we were re-parented before
    the request took effect), exit at once.
    """
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
    except (OSError, AttributeError):  # no usable libc: nothing more we can do here
        return
    if expected_parent is not None and os.getppid() != expected_parent:
        os._exit(1)
