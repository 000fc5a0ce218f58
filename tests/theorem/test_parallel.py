"""The local process pool: results in task order, and workers that die (killed, out of memory,
os._exit) -- their tasks re-run with the same arguments, the death charged to the task that
caused it, a task that always kills its worker reported as a failure, never dropped; a task
that raises is re-run and then reported as a failure too, as on Dask."""

import pytest

from mbp_verify.theorem import run_sweep
from mbp_verify.theorem.parallel import TaskFailure, TrialPool

from .killers import KillWorker, RaiseOnce, square_or_die, square_or_raise
from .test_sweep import _config


class Recorder:
    """A TaskObserver that keeps every event."""

    def __init__(self):
        self.events = []

    def begin(self, tasks):
        self.events.append(("begin", len(tasks)))

    def started(self, position):
        self.events.append(("started", position))

    def finished(self, position, seconds):
        self.events.append(("finished", position))

    def lost(self, position, resubmitted):
        self.events.append(("lost", position, resubmitted))


def test_a_worker_killed_once_changes_nothing(tmp_path):
    config = _config(widths=(16, 24), trials=6, looks=2, eps=0.3)
    reference = run_sweep(config, workers=0)
    with TrialPool(2) as pool:
        result = run_sweep(config, pool=pool, trial_fn=KillWorker(tmp_path / "killed", 2))
    assert (tmp_path / "killed").exists()  # a worker did die
    assert [c.to_dict() for c in result.cells] == [c.to_dict() for c in reference.cells] and result.errors == []


@pytest.mark.slow
def test_a_trial_that_kills_every_worker_becomes_an_error_trial(tmp_path):
    config = _config(widths=(16, 24), trials=6, looks=2, eps=0.3)
    reference = run_sweep(config, workers=0)
    with TrialPool(2, retries=1) as pool:
        result = run_sweep(config, pool=pool, trial_fn=KillWorker(tmp_path / "killed", 1, always=True))
    (error,) = result.errors
    assert error["width"] == 16 and error["index"] == 1 and "died on each of 2 attempts" in error["error"]
    got, want = result.cells[0].to_dict()["trials"], reference.cells[0].to_dict()["trials"]
    assert got[1]["outcome"] == "unknown" and got[1]["lower"] is None
    assert got[:1] + got[2:] == want[:1] + want[2 : len(got)]
    assert [c.to_dict() for c in result.cells[1:]] == [c.to_dict() for c in reference.cells[1:]]


def test_a_death_is_charged_to_the_task_that_caused_it(tmp_path):
    """Task 0 is still running when task 1 kills its worker: both are lost and re-run one at a
    time, so only task 1 is charged; with no retries it fails at once and task 0 must not.
    Every other result comes back, in task order, through the callback too."""
    recorder, seen = Recorder(), {}
    with TrialPool(2, retries=0) as pool:
        pool.observer = recorder
        results = pool.map(
            square_or_die, [(v, 1, str(tmp_path / "m")) for v in range(6)], lambda i, r: seen.__setitem__(i, r[0])
        )
    values = [value for value, _ in results]
    assert values[:1] + values[2:] == [v * v for v in range(6) if v != 1] and seen == dict(enumerate(values))
    assert isinstance(values[1], TaskFailure) and values[1].attempts == 1 and "died on each of 1" in values[1].reason
    assert not values[1].raised
    lost = [e for e in recorder.events if e[0] == "lost"]
    assert ("lost", 0, True) in lost and ("lost", 1, True) in lost  # lost together, not charged
    assert [e for e in lost if not e[2]] == [("lost", 1, False)] == lost[-1:]
    assert recorder.events[0] == ("begin", 6) and sum(e[0] == "finished" for e in recorder.events) == 6


@pytest.mark.slow
def test_a_task_killing_its_worker_is_rerun_up_to_the_limit():
    with TrialPool(1, retries=2) as pool:
        ((value, seconds),) = pool.map(square_or_die, [(4, 4)])
    assert isinstance(value, TaskFailure) and value.attempts == 3 and seconds == 0.0


def test_a_calibration_trial_whose_worker_dies_is_an_input_error(tmp_path):
    """A width too large for a worker's memory fails before the sweep, in one line."""
    from mbp_verify.errors import InputError
    from mbp_verify.theorem.cost import calibrate

    class Dead:
        def map(self, fn, tasks, on_result=None):
            return [(TaskFailure("its worker process died on each of 3 attempts", 3), 0.0) for _ in tasks]

    with pytest.raises(InputError, match="calibration trial at d = 16 could not complete .*more memory"):
        calibrate(_config(widths=(16, 32)), Dead())


def test_a_calibration_trial_that_raises_is_an_internal_error_not_a_memory_hint():
    """A task that raised on every attempt is a bug (exit 3), not a worker out of memory."""
    from mbp_verify.theorem.cost import calibrate

    class Raising:
        def map(self, fn, tasks, on_result=None):
            return [
                (TaskFailure("it raised ValueError('x') on each of 3 attempts", 3, raised=True), 0.0) for _ in tasks
            ]

    with pytest.raises(RuntimeError, match="calibration trial at d = 16 failed: it raised ValueError") as caught:
        calibrate(_config(widths=(16, 32)), Raising())
    assert "memory" not in str(caught.value)


@pytest.mark.parametrize("workers", [0, 1])
def test_a_task_that_raises_is_retried_then_a_failure(workers):
    """As on Dask: the raising task is attempted 1 + retries times and comes back as a
    TaskFailure naming the exception; every other task's result comes back, in task order."""
    recorder = Recorder()
    with TrialPool(workers, retries=2) as pool:
        pool.observer = recorder
        results = pool.map(square_or_raise, [(v, 2) for v in range(5)])
    values = [value for value, _ in results]
    assert values[:2] + values[3:] == [0, 1, 9, 16]
    failure = values[2]
    assert isinstance(failure, TaskFailure) and failure.attempts == 3 and results[2][1] == 0.0 and failure.raised
    assert "ValueError('task 2 raised')" in failure.reason and "on each of 3 attempts" in failure.reason
    lost = [e for e in recorder.events if e[0] == "lost"]
    assert lost == [("lost", 2, True), ("lost", 2, True), ("lost", 2, False)]
    assert sum(e == ("started", 2) for e in recorder.events) == 3


@pytest.mark.parametrize("workers", [0, 2])
def test_a_trial_that_raises_once_changes_nothing_and_always_is_an_error_trial(tmp_path, workers):
    config = _config(widths=(16, 24), trials=6, looks=2, eps=0.3)
    reference = run_sweep(config, workers=0)
    with TrialPool(workers) as pool:
        once = run_sweep(config, pool=pool, trial_fn=RaiseOnce(tmp_path / "once", 2))
    assert (tmp_path / "once").exists()  # the trial did raise
    assert [c.to_dict() for c in once.cells] == [c.to_dict() for c in reference.cells] and once.errors == []
    with TrialPool(workers, retries=1) as pool:
        always = run_sweep(config, pool=pool, trial_fn=RaiseOnce(tmp_path / "always", 1, always=True))
    (error,) = always.errors
    assert error["width"] == 16 and error["index"] == 1 and "ZeroDivisionError" in error["error"]
    got, want = always.cells[0].to_dict()["trials"], reference.cells[0].to_dict()["trials"]
    assert got[1]["outcome"] == "unknown" and got[1]["lower"] is None
    assert got[:1] + got[2:] == want[:1] + want[2 : len(got)]
