"""Where a sweep's tasks run: the local process pool or a Dask cluster, behind one `map`.

`DaskPool` submits one task per trial (or per audited file), at most `in_flight` at a time, and
hands each result to the caller in this process as it finishes, so the sweep still looks at its
trials group by group and checkpoints them itself. A worker that dies takes its running tasks
with it; Dask's scheduler reschedules them, and a task that still fails is resubmitted (same
arguments, hence the same seeds and numbers) up to `retries` more times, then comes back as a
`TaskFailure` (for a sweep: an error trial, outcome `unknown` with no bracket, listed by the
sweep, never dropped).
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable, Sequence
from typing import Any

from .._environment import single_thread_env
from .._validation import validate_integer
from ..errors import InputError
from ..lifeline import die_with_parent
from .parallel import DEFAULT_RETRIES, TaskFailure, TaskObserver, TrialPool, timed_call

__all__ = ["EXECUTORS", "SCHEDULER_VARIABLE", "DaskPool", "make_executor"]

EXECUTORS = ("local", "dask")
SCHEDULER_VARIABLE = "DASK_SCHEDULER_ADDRESS"
_INSTALL = "--executor dask needs dask.distributed: install mbp-verify[dask]"


def _scheduler_address(address: str) -> str:
    if not isinstance(address, str) or "://" not in address:
        raise InputError(f"a Dask scheduler address looks like tcp://HOST:PORT, got {address!r}")
    return address


class DaskPool:
    """`with DaskPool(address, workers) as pool: pool.map(fn, tasks, on_result)`.

    No address: a `distributed.LocalCluster` of `workers` processes, one thread each, BLAS pinned
    to one thread. An address: the existing cluster there (its workers' environment is theirs;
    Dask's nanny pins BLAS to one thread by default).
    """

    def __init__(
        self,
        address: "str | None" = None,
        workers: int = 1,
        *,
        retries: int = DEFAULT_RETRIES,
        in_flight: "int | None" = None,
    ) -> None:
        self.address = None if address is None else _scheduler_address(address)
        self.workers = validate_integer(workers, "workers", 1)
        self.retries = validate_integer(retries, "retries")
        self.in_flight = in_flight
        self.dashboard_link: "str | None" = None
        self.observer: "TaskObserver | None" = None
        self._client: Any = None
        self._cluster: Any = None

    def __enter__(self) -> "DaskPool":
        try:
            import distributed
        except ImportError:
            raise InputError(_INSTALL) from None
        if self.address is None:
            self._cluster = distributed.LocalCluster(
                n_workers=self.workers,
                threads_per_worker=1,
                processes=True,
                env=single_thread_env({}),
                dashboard_address="127.0.0.1:0",
                host="127.0.0.1",
            )
            self._client = distributed.Client(self._cluster)
            self._client.run(die_with_parent)  # worker processes end with this one (their nannies live here)
        else:
            try:
                self._client = distributed.Client(self.address, timeout="20s")
            except OSError as error:
                self.__exit__()
                raise InputError(f"cannot reach the Dask scheduler at {self.address}: {error}") from None
        self.dashboard_link = self._client.dashboard_link
        return self

    def __exit__(self, *exc: object) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
        if self._cluster is not None:
            self._cluster.close()
            self._cluster = None

    @property
    def slots(self) -> int:
        """Trials the cluster runs at once (its worker threads)."""
        return sum(self._client.nthreads().values()) or self.workers

    def _limit(self) -> int:
        return self.in_flight if self.in_flight is not None else 2 * self.slots

    def map(
        self,
        fn: Callable[..., Any],
        tasks: Sequence[tuple],
        on_result: "Callable[[int, tuple[Any, float]], None] | None" = None,
    ) -> list[tuple[Any, float]]:
        """[(fn(*task), seconds)] in task order (a `TaskFailure` for a task that failed on every
        attempt); `on_result(position, result)` here as each finishes."""
        from distributed import as_completed
        from distributed.scheduler import KilledWorker

        observer = self.observer
        slots: list[Any] = [None] * len(tasks)
        attempts = [0] * len(tasks)
        positions: dict[Any, int] = {}

        def submit(i: int) -> Any:
            future = self._client.submit(timed_call, fn, tasks[i], pure=False)
            positions[future] = i
            if observer is not None:
                observer.started(i)
            return future

        if observer is not None:
            observer.begin(tasks)

        queue = iter(range(len(tasks)))
        running = as_completed([submit(i) for _, i in zip(range(self._limit()), queue)])
        for future in running:
            i = positions.pop(future)
            if future.status == "finished":
                slots[i] = future.result()
            else:
                attempts[i] += 1
                resubmit = attempts[i] <= self.retries
                if observer is not None:
                    observer.lost(i, resubmit)
                if resubmit:
                    running.add(submit(i))
                    continue
                try:
                    error = future.exception()
                    raised = not isinstance(error, KilledWorker)  # the task's own exception, not a dead worker
                except Exception as cancelled:  # the scheduler dropped it
                    error, raised = cancelled, False
                slots[i] = (TaskFailure(repr(error), attempts[i], raised), 0.0)
            future.release()
            if observer is not None:
                observer.finished(i, slots[i][1])
            if on_result is not None:
                on_result(i, slots[i])
            nxt = next(queue, None)
            if nxt is not None:
                running.add(submit(nxt))
        return slots


def make_executor(name: str, workers: int, address: "str | None" = None) -> "TrialPool | DaskPool":
    """The executor named by `--executor` (not yet entered); `address` or $DASK_SCHEDULER_ADDRESS for Dask."""
    if name == "local":
        if address is not None:
            raise InputError("--scheduler needs --executor dask")
        return TrialPool(workers)
    if name == "dask":
        if importlib.util.find_spec("distributed") is None:
            raise InputError(_INSTALL)
        return DaskPool(address or os.environ.get(SCHEDULER_VARIABLE) or None, workers)
    raise InputError(f"unknown executor {name!r}; use one of {', '.join(EXECUTORS)}")
