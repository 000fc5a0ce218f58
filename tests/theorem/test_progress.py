"""The sweep's progress line: counts of done, in-flight and lost trials, the time left in the
look from the cost model, redrawn on a terminal, one summary line elsewhere."""

import io

from mbp_verify.theorem import TrialSpec
from mbp_verify.theorem.cost import CostModel
from mbp_verify.theorem.progress import SweepProgress


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def _tasks(widths, random_trials=0):
    return [(TrialSpec(width=w, alpha=0.3, eps=0.2, random_trials=random_trials), 1, i) for i, w in enumerate(widths)]


def test_counts_and_time_left_follow_the_cost_model_and_the_measured_speed():
    model = CostModel(width=16, seconds=1.0, exponent=2.0, peak_bytes=0)  # d = 32 costs 4 s, paired 8 s
    assert model.task_seconds(_tasks([32])[0]) == 4.0 and model.task_seconds(_tasks([32], 5)[0]) == 8.0
    clock, stream = Clock(), io.StringIO()
    shown = SweepProgress(2, 2, model.task_seconds, stream=stream, interactive=True, clock=clock)
    shown.begin(_tasks([16, 16, 32, 32]))  # predicted 1 + 1 + 4 + 4 s
    for position in range(3):
        shown.started(position)
    assert shown.seconds_left() == 10 / 2  # nothing back yet: the model's seconds, over 2 workers
    clock.now = 1.0
    shown.finished(0, 2.0)  # twice as slow as predicted
    shown(0, 1, 4)
    assert shown.in_flight == 2 and shown.seconds_left() == (1 + 4 + 4) * 2.0 / 2
    shown.lost(1, True)
    shown.started(1)
    shown.lost(2, False)
    clock.now = 1.1
    shown.finished(2, 0.0)  # an error trial: took no measured time
    shown(0, 2, 4)  # redrawn too soon: not drawn
    assert stream.getvalue().count("\r") == 1
    clock.now = 2.0
    shown.finished(1, 2.0)
    shown(0, 3, 4)
    last = stream.getvalue().split("\r")[-1].strip()
    assert last.startswith("theorem: look 1/2 [#######...] 3/4 trials, 0 in flight,")
    assert "2 lost (1 resubmitted, 1 error trials), ~4 s left in this look" in last
    shown.close()
    assert stream.getvalue().endswith("theorem: 3 trials run in 2 s, 2 lost (1 resubmitted, 1 error trials)\n")


def test_off_the_terminal_only_the_summary_line_and_restored_trials_are_counted():
    clock, stream = Clock(), io.StringIO()
    shown = SweepProgress(2, 1, None, stream=stream, interactive=False, clock=clock)
    shown.begin([])
    shown(0, 5, 5)  # look 1: all five restored from the checkpoint
    shown.begin(_tasks([16, 16]))
    assert shown.seconds_left() is None  # no cost model and nothing measured yet
    shown(1, 3, 5)  # look 2: three restored before its trials run
    for position in range(2):
        shown.started(position)
        shown.finished(position, 0.5)
        shown(1, 4 + position, 5)
    clock.now = 200.0
    shown.close()
    assert stream.getvalue() == "theorem: 2 trials run in 3 min (8 restored from the checkpoint), 0 lost\n"


def test_a_new_looks_first_trial_is_not_taken_for_a_restored_one():
    """The executor reports a trial's end before the sweep reports the look it belongs to."""
    stream = io.StringIO()
    shown = SweepProgress(2, 1, None, stream=stream, interactive=False, clock=Clock())
    for look, total in ((0, 2), (1, 2)):
        shown.begin(_tasks([16] * total))
        for position in range(total):
            shown.started(position)
            shown.finished(position, 0.1)
            shown(look, position + 1, total)
    assert shown.restored == 0 and shown.ran == 4
    shown.close()
    assert stream.getvalue() == "theorem: 4 trials run in 0 s, 0 lost\n"
