"""The sweep's progress line on stderr: trials done, in flight and lost, and the time left.

`SweepProgress` is both the sweep's `on_progress(look, done, total)` callback and the executor's
`TaskObserver`, so it sees the looks and every trial's start, end and loss (a worker that died:
the trial resubmitted, or reported as an error trial). The time left in the current look is the
predicted cost of its unfinished trials (from the calibrated cost model) times the ratio of the
seconds the finished ones really took to their predicted cost, divided by the workers.

On a terminal the line is redrawn in place (at most a few times a second); elsewhere (a log, a
pipe, CI) nothing is drawn while the sweep runs and `close()` prints one summary line.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from typing import IO

from .cost import format_seconds

__all__ = ["SweepProgress"]

_REDRAW_SECONDS = 0.25


class SweepProgress:
    """The progress of one sweep; `cost(task)` predicts a task's seconds (None: all equal)."""

    def __init__(
        self,
        looks: int,
        slots: int,
        cost: "Callable[[tuple], float] | None" = None,
        *,
        stream: "IO[str] | None" = None,
        interactive: "bool | None" = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.looks, self.slots, self.cost = looks, max(1, slots), cost
        self.stream = sys.stderr if stream is None else stream
        self.interactive = self.stream.isatty() if interactive is None else interactive
        self.clock = clock
        self.start = clock()
        self.look, self.done, self.total = 0, 0, 0
        self.ran = self.resubmitted = self.errors = self.restored = 0
        self._ran_at_call = 0
        self._predicted: list[float] = []
        self._unfinished: set[int] = set()
        self._in_flight: set[int] = set()
        self._spent = self._spent_predicted = 0.0
        self._drawn_at: "float | None" = None
        self._width = 0

    # TaskObserver: what the executor reports
    def begin(self, tasks: Sequence[tuple]) -> None:
        self._predicted = [1.0 if self.cost is None else float(self.cost(task)) for task in tasks]
        self._unfinished = set(range(len(tasks)))
        self._in_flight = set()

    def started(self, position: int) -> None:
        self._in_flight.add(position)

    def finished(self, position: int, seconds: float) -> None:
        self._in_flight.discard(position)
        self._unfinished.discard(position)
        self.ran += 1
        if seconds > 0:
            self._spent += seconds
            self._spent_predicted += self._predicted[position]

    def lost(self, position: int, resubmitted: bool) -> None:
        self._in_flight.discard(position)
        if resubmitted:
            self.resubmitted += 1
        else:
            self.errors += 1

    # the sweep's on_progress callback
    def __call__(self, look: int, done: int, total: int) -> None:
        grew = done if look != self.look else done - self.done
        self.restored += max(0, grew - (self.ran - self._ran_at_call))  # results no worker ran
        self._ran_at_call = self.ran
        if look != self.look or (done == total and self.done != total):
            self._drawn_at = None  # always draw a new look and a finished one
        self.look, self.done, self.total = look, done, total
        self._draw()

    @property
    def in_flight(self) -> int:
        return len(self._in_flight)

    def seconds_left(self) -> "float | None":
        """Predicted wall seconds until the current look's trials are all back (None: no basis yet)."""
        if not self._unfinished:
            return 0.0
        if self._spent_predicted > 0:
            scale = self._spent / self._spent_predicted
        elif self.cost is not None:
            scale = 1.0  # the cost model is in seconds already
        else:
            return None
        return sum(self._predicted[i] for i in self._unfinished) * scale / self.slots

    def line(self) -> str:
        """`theorem: look 1/2 [####......] 28/70 trials, 2 in flight, 0 lost, ~3 min left`."""
        tenth = self.done * 10 // self.total if self.total else 0
        left = self.seconds_left()
        eta = "" if left is None else f", ~{format_seconds(left)} left in this look"
        return (
            f"theorem: look {self.look + 1}/{self.looks} [{'#' * tenth}{'.' * (10 - tenth)}] "
            f"{self.done}/{self.total} trials, {self.in_flight} in flight, {self._lost_text()}{eta}"
        )

    def _lost_text(self) -> str:
        lost = self.resubmitted + self.errors
        if not lost:
            return "0 lost"
        return f"{lost} lost ({self.resubmitted} resubmitted, {self.errors} error trials)"

    def _draw(self) -> None:
        if not self.interactive:
            return
        now = self.clock()
        if self._drawn_at is not None and now - self._drawn_at < _REDRAW_SECONDS:
            return
        self._drawn_at = now
        text = self.line()
        self.stream.write("\r" + text + " " * max(0, self._width - len(text)))
        self._width = len(text)
        self.stream.flush()

    def summary(self) -> str:
        """`theorem: 280 trials run in 4 min (12 restored from the checkpoint), 0 lost`."""
        note = f" ({self.restored} restored from the checkpoint)" if self.restored else ""
        return (
            f"theorem: {self.ran} trials run in {format_seconds(self.clock() - self.start)}{note}, {self._lost_text()}"
        )

    def close(self) -> None:
        """End the line on a terminal and print the summary line (always)."""
        if self.interactive and self._width:
            self.stream.write("\r" + " " * self._width + "\r")
        self.stream.write(self.summary() + "\n")
        self.stream.flush()
