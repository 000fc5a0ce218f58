"""Trial functions that end their worker process abruptly, for the worker-death tests of every
executor (module-level classes, so they pickle to spawned and Dask workers)."""

import os
import time
from pathlib import Path

from mbp_verify.theorem.trial import run_trial


class KillWorker:
    """run_trial, except that trial `index` at width 16 ends its worker process abruptly: the
    first time only (a marker file remembers), or every time."""

    def __init__(self, marker: Path, index: int, always: bool = False) -> None:
        self.marker, self.index, self.always = marker, index, always

    def __call__(self, spec, seed, index):
        if index == self.index and spec.width == 16 and (self.always or not self.marker.exists()):
            self.marker.touch()
            os._exit(1)
        return run_trial(spec, seed, index)


def square_or_die(value: int, poison: int, marker: "str | None" = None) -> int:
    """value**2, except that `value == poison` ends the worker process. With a marker file, the
    poisoned task creates it before dying and task 0 waits for it (then one second more), so
    task 0 is certainly running when its neighbour's worker dies."""
    if value == poison:
        if marker is not None:
            Path(marker).touch()
        os._exit(3)
    if marker is not None and value == 0:
        while not Path(marker).exists():
            time.sleep(0.05)
        time.sleep(1)
    return value * value


class RaiseOnce:
    """run_trial, except that trial `index` at width 16 raises (a bug in the task, not a dying
    worker): the first time only (a marker file remembers), or every time."""

    def __init__(self, marker: Path, index: int, always: bool = False) -> None:
        self.marker, self.index, self.always = marker, index, always

    def __call__(self, spec, seed, index):
        if index == self.index and spec.width == 16 and (self.always or not self.marker.exists()):
            self.marker.touch()
            raise ZeroDivisionError(f"trial {index} raised")
        return run_trial(spec, seed, index)


def square_or_raise(value: int, poison: int) -> int:
    """value**2, except that `value == poison` raises."""
    if value == poison:
        raise ValueError(f"task {value} raised")
    return value * value
