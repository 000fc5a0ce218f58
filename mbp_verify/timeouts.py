"""A wall-clock limit on a block of code, by SIGALRM (main thread of a POSIX process only).

Used where a call of well-behaved Python code can run away (a pruner under test). Not for
sympy: an alarm that lands in one of sympy's weakref callbacks is lost, so derivations with a
time limit run in a worker process instead (`mbp_verify.symbolic.worker`). Off the main thread,
or where SIGALRM does not exist, the block runs without a limit.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["time_limit"]


@contextmanager
def time_limit(seconds: float, on_timeout: Callable[[], BaseException]) -> Iterator[None]:
    """Raise `on_timeout()` inside the block once it has run `seconds` (no limit if seconds <= 0)."""
    if seconds <= 0 or threading.current_thread() is not threading.main_thread() or not hasattr(signal, "setitimer"):
        yield
        return

    def _raise(signum: int, frame: Any) -> None:
        raise on_timeout()

    previous = signal.signal(signal.SIGALRM, _raise)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
