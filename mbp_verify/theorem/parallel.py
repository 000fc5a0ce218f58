"""Run independent trials in a process pool (or in-process), results in task order.

Workers are started with the 'spawn' method while BLAS is pinned to one thread in the
environment, so every worker's numpy starts single-threaded (a pool initializer would be too
late: numpy reads the variable when it is imported). Results come back keyed by task position,
never by completion order, and each carries the seconds its worker spent on it. Each worker
dies with the process that started it (`mbp_verify.lifeline`), so killing `theorem` leaves
no orphan behind.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from typing import Any

from .._environment import single_thread_env
from .._validation import validate_integer
from ..lifeline import die_with_parent
from .trial import TrialOutcome

__all__ = ["TrialPool", "TrialError", "timed_call"]

ResultCallback = Callable[[int, "tuple[Any, float]"], None]


class TrialError(TrialOutcome):
    """A trial that failed on every attempt: counted as `unknown`, with no bracket and the reason."""

    def __init__(self, index: int, reason: str) -> None:
        super().__init__(index, "unknown", None, None)  # type: ignore[arg-type]
        object.__setattr__(self, "reason", reason)

    def to_dict(self) -> dict:
        return {**super().to_dict(), "error": self.reason}


def timed_call(fn: Callable[..., Any], args: tuple) -> tuple[Any, float]:
    """`fn(*args)` and the seconds it took (module-level, so it pickles to workers)."""
    start = time.perf_counter()
    result = fn(*args)
    return result, time.perf_counter() - start


class TrialPool:
    """`with TrialPool(workers) as pool: pool.map(fn, tasks)`; workers=0 runs in this process."""

    def __init__(self, workers: int) -> None:
        self.workers = validate_integer(workers, "workers")
        self._executor: "ProcessPoolExecutor | None" = None
        self._saved_env: dict[str, "str | None"] = {}

    def __enter__(self) -> "TrialPool":
        if self.workers > 0:
            pinned = single_thread_env({})
            self._saved_env = {name: os.environ.get(name) for name in pinned}
            os.environ.update(pinned)  # inherited by every spawned worker, before it imports numpy
            self._executor = ProcessPoolExecutor(
                self.workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=die_with_parent,
                initargs=(os.getpid(),),
            )
        return self

    def __exit__(self, *exc: object) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None
        for name, value in self._saved_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        self._saved_env = {}

    def map(
        self, fn: Callable[..., Any], tasks: Sequence[tuple], on_result: "ResultCallback | None" = None
    ) -> list[tuple[Any, float]]:
        """[(fn(*task), seconds)] in the order of `tasks`; `on_result(position, (value, seconds))`
        in this process as each one finishes (in completion order)."""
        total = len(tasks)
        slots: list[Any] = [None] * total
        if self._executor is None:
            for i, task in enumerate(tasks):
                slots[i] = timed_call(fn, task)
                if on_result is not None:
                    on_result(i, slots[i])
            return slots
        futures: dict[Future, int] = {self._executor.submit(timed_call, fn, task): i for i, task in enumerate(tasks)}
        pending = set(futures)
        try:
            while pending:
                finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in finished:
                    slots[futures[future]] = future.result()
                    if on_result is not None:
                        on_result(futures[future], slots[futures[future]])
        finally:
            for future in pending:
                future.cancel()
        return slots
