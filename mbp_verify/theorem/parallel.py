"""Run independent tasks (theorem trials, audited files) in a process pool or in-process.

Workers are started with the 'spawn' method while BLAS is pinned to one thread in the
environment, so every worker's numpy starts single-threaded (a pool initializer would be too
late: numpy reads the variable when it is imported). Results come back keyed by task position,
never by completion order, and each carries the seconds its worker spent on it. Each worker
dies with the process that started it (`mbp_verify.lifeline`), so killing `theorem` leaves
no orphan behind.

A worker that dies (killed, out of memory, `os._exit`) breaks the pool and takes the running
tasks with it. The pool is restarted and the lost tasks are run again with the same arguments
(hence the same seeds and numbers). When several tasks were lost at once, they are re-run one
at a time first, so a death is charged to the task that caused it and never to its neighbours;
a task charged with more than `retries` deaths becomes a `TaskFailure` (for a theorem sweep: an
error trial, counted as `unknown`), never dropped. A task that raises an exception (in a worker
or in-process) is treated as on Dask: it is run again, up to `retries` more times, and then
becomes a `TaskFailure` naming the exception; the other tasks go on.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any, Protocol

from .._environment import single_thread_env
from .._validation import validate_integer
from ..lifeline import die_with_parent
from .trial import TrialOutcome

__all__ = ["TrialPool", "TrialError", "TaskFailure", "TaskObserver", "timed_call"]

ResultCallback = Callable[[int, "tuple[Any, float]"], None]
DEFAULT_RETRIES = 2


@dataclass(frozen=True)
class TaskFailure:
    """What an executor returns for a task that failed on every attempt (its worker died, or on
    Dask it raised): the reason and the number of attempts."""

    reason: str
    attempts: int
    raised: bool = False  # the task raised (a bug, the same on every attempt) rather than its worker dying


class TrialError(TrialOutcome):
    """A trial that failed on every attempt: counted as `unknown`, with no bracket and the reason."""

    def __init__(self, index: int, reason: str) -> None:
        super().__init__(index, "unknown", None, None)  # type: ignore[arg-type]
        object.__setattr__(self, "reason", reason)

    def to_dict(self) -> dict:
        return {**super().to_dict(), "error": self.reason}


class TaskObserver(Protocol):
    """Told by an executor's `map` what happens to each task (for a progress display)."""

    def begin(self, tasks: Sequence[tuple]) -> None: ...

    def started(self, position: int) -> None: ...

    def finished(self, position: int, seconds: float) -> None: ...

    def lost(self, position: int, resubmitted: bool) -> None: ...


def _raised(error: BaseException, attempts: int) -> str:
    """Why a task that raised on every attempt failed (the exception, as Dask reports it)."""
    return f"it raised {error!r} on each of {attempts} attempts"


def timed_call(fn: Callable[..., Any], args: tuple) -> tuple[Any, float]:
    """`fn(*args)` and the seconds it took (module-level, so it pickles to workers)."""
    start = time.perf_counter()
    result = fn(*args)
    return result, time.perf_counter() - start


class TrialPool:
    """`with TrialPool(workers) as pool: pool.map(fn, tasks)`; workers=0 runs in this process.

    `observer`, if set, is told of every task's start, end and loss.
    """

    def __init__(self, workers: int, *, retries: int = DEFAULT_RETRIES) -> None:
        self.workers = validate_integer(workers, "workers")
        self.retries = validate_integer(retries, "retries")
        self.observer: "TaskObserver | None" = None
        self._executor: "ProcessPoolExecutor | None" = None
        self._saved_env: dict[str, "str | None"] = {}

    @property
    def slots(self) -> int:
        """Tasks the pool runs at once."""
        return max(1, self.workers)

    def __enter__(self) -> "TrialPool":
        if self.workers > 0:
            pinned = single_thread_env({})
            self._saved_env = {name: os.environ.get(name) for name in pinned}
            os.environ.update(pinned)  # inherited by every spawned worker, before it imports numpy
            self._start()
        return self

    def _start(self) -> None:
        self._executor = ProcessPoolExecutor(
            self.workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=die_with_parent,
            initargs=(os.getpid(),),
        )

    def _stop(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None

    def __exit__(self, *exc: object) -> None:
        self._stop()
        for name, value in self._saved_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        self._saved_env = {}

    def map(
        self, fn: Callable[..., Any], tasks: Sequence[tuple], on_result: "ResultCallback | None" = None
    ) -> list[tuple[Any, float]]:
        """[(fn(*task), seconds)] in the order of `tasks` (a `TaskFailure` for a task whose worker
        died on every attempt); `on_result(position, (value, seconds))` in this process as each
        one finishes (in completion order)."""
        observer = self.observer
        slots: list[Any] = [None] * len(tasks)

        def deliver(i: int, result: tuple[Any, float]) -> None:
            slots[i] = result
            if observer is not None:
                observer.finished(i, result[1])
            if on_result is not None:
                on_result(i, result)

        if observer is not None:
            observer.begin(tasks)
        if self._executor is None:
            for i, task in enumerate(tasks):
                for attempt in range(1, self.retries + 2):
                    if observer is not None:
                        observer.started(i)
                    try:
                        result = timed_call(fn, task)
                    except Exception as error:  # noqa: BLE001 (as on Dask: the task fails, the sweep goes on)
                        if observer is not None:
                            observer.lost(i, attempt <= self.retries)
                        result = (TaskFailure(_raised(error, attempt), attempt, raised=True), 0.0)
                    else:
                        break
                deliver(i, result)
            return slots
        self._run(fn, tasks, deliver)
        return slots

    def _run(self, fn: Callable[..., Any], tasks: Sequence[tuple], deliver: Callable[[int, Any], None]) -> None:
        """Keep every worker busy (and one task queued for each); after a worker death restart the
        pool and re-run the lost tasks (several lost at once: one at a time, to find the one that
        kills its worker)."""
        observer = self.observer
        attempts = [0] * len(tasks)
        queue, suspects = deque(range(len(tasks))), deque[int]()
        running: dict[Future, int] = {}

        def submit(i: int) -> None:
            assert self._executor is not None
            running[self._executor.submit(timed_call, fn, tasks[i])] = i
            if observer is not None:
                observer.started(i)

        def retry_or_give_up(
            i: int, requeue: Callable[[int], None], reason: Callable[[int], str], raised: bool = False
        ) -> None:
            """Count a failed attempt of task i: run it again (`requeue`) or, past the retries, fail it."""
            attempts[i] += 1
            resubmit = attempts[i] <= self.retries
            if observer is not None:
                observer.lost(i, resubmit)
            if resubmit:
                requeue(i)
            else:
                deliver(i, (TaskFailure(reason(attempts[i]), attempts[i], raised), 0.0))

        def charge(i: int, error: BaseException) -> None:
            retry_or_give_up(
                i, suspects.appendleft, lambda n: f"its worker process died on each of {n} attempts ({error!r})"
            )

        try:
            while queue or suspects or running:
                if suspects:
                    if not running:
                        submit(suspects.popleft())
                else:
                    while queue and len(running) < 2 * self.workers:  # one queued per worker: no idle gap
                        submit(queue.popleft())
                finished, _ = wait(running, return_when=FIRST_COMPLETED)
                if any(isinstance(f.exception(), BrokenProcessPool) for f in finished):
                    wait(running)  # a broken pool fails every task still running
                    finished = set(running)
                lost: list[tuple[int, BaseException]] = []
                for future in sorted(finished, key=running.__getitem__):
                    i, error = running.pop(future), future.exception()
                    if isinstance(error, BrokenProcessPool):
                        lost.append((i, error))
                    elif error is not None:
                        retry_or_give_up(i, queue.appendleft, lambda n, error=error: _raised(error, n), raised=True)
                    else:
                        deliver(i, future.result())
                if lost:
                    self._stop()
                    self._start()
                    if len(lost) == 1:
                        charge(*lost[0])
                    else:  # not charged: which one killed its worker is not known yet
                        for i, _ in lost:
                            if observer is not None:
                                observer.lost(i, True)
                            suspects.append(i)
        finally:
            for future in running:
                future.cancel()
