"""Replay of witnesses and the unit-ball projection."""

import numpy as np
import pytest

from mbp_verify.bounds import layer_constants, replay_error, unit_ball_point
from mbp_verify.bounds.rounding import frobenius_up
from mbp_verify.engine import prune_network, sample_network
from mbp_verify.errors import InputError


@pytest.fixture(scope="module")
def pair():
    return prune_network(sample_network([5, 9, 4], 2, activation="tanh"), 0.3)


def test_replay_value_is_a_fresh_forward_pass(pair):
    x = unit_ball_point(np.arange(5.0) - 2)
    replay = replay_error(pair, x, [c.lipschitz for c in layer_constants(pair.original)])
    assert replay.value == float(np.linalg.norm(pair.pruned.forward(x) - pair.original.forward(x)))
    assert 0 < replay.margin < 1e-12 and replay.certified_lower == replay.value - replay.margin
    assert replay.input_norm_bound <= 1.0


@pytest.mark.parametrize("vector", [np.full(7, 1e300), np.full(7, 1e-300), np.array([1.0, 0, 0, 0, 0, 0, 1e-17])])
def test_unit_ball_point_is_certified_inside(vector):
    point = unit_ball_point(vector)
    assert frobenius_up(point) <= 1.0 and np.linalg.norm(point) > 1 - 1e-9


def test_zero_stays_zero():
    assert not unit_ball_point(np.zeros(3)).any()


def test_bad_witnesses(pair):
    lipschitz = [c.lipschitz for c in layer_constants(pair.original)]
    with pytest.raises(InputError, match="NaN"):
        replay_error(pair, np.array([np.nan, 0, 0, 0, 0]), lipschitz)
    with pytest.raises(InputError, match="NaN"):
        unit_ball_point(np.array([np.inf, 0.0]))
    with pytest.raises(InputError, match="shape"):
        replay_error(pair, np.zeros(4), lipschitz)
    with pytest.raises(InputError, match="Lipschitz"):
        replay_error(pair, np.zeros(5), [])
