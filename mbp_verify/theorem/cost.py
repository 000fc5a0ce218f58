"""What a sweep will cost on this machine, from a calibration run before it starts.

One trial at the smallest width and one at twice it (when the sweep goes that far) are timed on
the sweep's own executor (the faster of two runs each); one more run at the smallest width, with
Python's allocation tracer on (numpy reports its arrays to it), gives the peak memory. Time is extrapolated as
t(d) = t(d_0) (d / d_0)^p, with p measured from the two and held in [1.5, 3] (3, the dense
matrix cost, when only one width is calibrated); memory as peak(d_0) (d / d_0)^2 (the weights).
The estimate is trials x time per trial / workers, the worst case (every look runs).
"""

from __future__ import annotations

import math
import tracemalloc
from dataclasses import dataclass

from ..errors import InputError
from .parallel import TaskFailure
from .sweep import SweepConfig, TrialExecutor
from .trial import TrialSpec, run_trial

__all__ = ["CostModel", "traced_peak_bytes", "calibrate", "estimate_seconds", "format_seconds"]


@dataclass(frozen=True)
class CostModel:
    """t(d) = seconds * (d / width)^exponent per trial (without random pruning); memory ~ d^2."""

    width: int
    seconds: float
    exponent: float
    peak_bytes: int

    def seconds_per_trial(self, width: int) -> float:
        return self.seconds * (width / self.width) ** self.exponent

    def task_seconds(self, task: tuple) -> float:
        """Predicted seconds of a sweep task (spec, root seed, index): twice a trial's when the
        trial also brackets random pruning."""
        spec, _, index = task
        return self.seconds_per_trial(spec.width) * (2 if index < spec.random_trials else 1)

    def peak_bytes_at(self, width: int) -> int:
        return int(self.peak_bytes * (width / self.width) ** 2)


def traced_peak_bytes(spec: TrialSpec, root_seed: int, index: int) -> int:
    """Peak bytes Python and numpy allocate during one trial (module-level: runs on workers)."""
    tracemalloc.start()
    try:
        run_trial(spec, root_seed, index)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def calibrate(config: SweepConfig, pool: TrialExecutor) -> CostModel:
    """Time trial 0 at the smallest width and at twice it on `pool` (where the trials will run,
    BLAS pinned as there), the faster of two runs each; trace the memory at the smallest."""
    widths = sorted(config.widths)
    small = widths[0]
    larger = [w for w in widths if w >= 2 * small][:1]
    specs = {w: next(c for c in config.cells() if c.width == w).with_changes(random_trials=0) for w in (small, *larger)}
    ((peak, _),) = pool.map(traced_peak_bytes, [(specs[small], config.seed, 0)])
    order = [w for w in (small, *larger) for _ in range(2)]
    timed = pool.map(run_trial, [(specs[w], config.seed, 0) for w in order])
    for width, value in [(small, peak), *((w, v) for w, (v, _) in zip(order, timed))]:
        if isinstance(value, TaskFailure) and value.raised:  # the same exception every time: a bug, exit 3
            raise RuntimeError(f"the calibration trial at d = {width} failed: {value.reason}")
        if isinstance(value, TaskFailure):
            raise InputError(
                f"the calibration trial at d = {width} could not complete ({value.reason}); a trial at this "
                "width may need more memory than a worker has"
            )
    seconds = min(t for _, t in timed[:2])
    exponent = 3.0
    if larger:
        other_seconds = min(t for _, t in timed[2:])
        if seconds > 0 and other_seconds > 0:
            exponent = min(3.0, max(1.5, math.log(other_seconds / seconds) / math.log(larger[0] / small)))
    return CostModel(small, seconds, exponent, int(peak))


def estimate_seconds(config: SweepConfig, model: CostModel, workers: int) -> float:
    """Wall seconds if every cell runs all its trials: trials x time per trial / workers
    (a trial that also brackets random pruning counts twice)."""
    paired = min(config.random_trials, config.trials) if "random" not in config.rules else 0
    cells = len(config.alphas) * len(config.rules)
    work = sum(model.seconds_per_trial(w) * (config.trials + paired) for w in config.widths) * cells
    return work / max(1, workers)


def format_seconds(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
