"""The wall-clock limit used for sympy calls and pruners under test."""

import time

import pytest

from mbp_verify.timeouts import time_limit


class Late(Exception):
    pass


def test_a_block_past_its_limit_is_interrupted():
    started = time.monotonic()
    with pytest.raises(Late):
        with time_limit(0.2, Late):
            while True:
                time.sleep(0.01)
    assert time.monotonic() - started < 5


def test_no_limit_when_seconds_is_zero_and_the_alarm_is_cleared_after_the_block():
    with time_limit(0, Late):
        time.sleep(0.05)
    with time_limit(0.2, Late):
        pass
    time.sleep(0.3)  # a leftover alarm would raise here
