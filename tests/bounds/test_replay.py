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


def _exact_product(w, x):
    from fractions import Fraction

    xs = [v if isinstance(v, Fraction) else Fraction(float(v)) for v in x]
    return [sum((Fraction(float(a)) * b for a, b in zip(row, xs)), Fraction(0)) for row in w]


@pytest.mark.parametrize("scale_w, scale_x", [(0, 0), (-500, -500), (-530, -520), (480, 500), (-1000, 0), (0, -1060)])
def test_split_product_is_within_its_bound_at_every_scale(scale_w, scale_x):
    from fractions import Fraction

    from mbp_verify.bounds.replay import _split_product

    rng = np.random.default_rng(abs(scale_w) + abs(scale_x))
    w = np.ldexp(rng.standard_normal((7, 300)), scale_w)
    hi = np.ldexp(rng.standard_normal(300), scale_x)
    lo = np.ldexp(rng.standard_normal(300), scale_x - 60)
    s, t, bound = _split_product(w, hi, lo)
    exact = _exact_product(w, [Fraction(float(a)) + Fraction(float(b)) for a, b in zip(hi, lo)])
    square = sum(((e - Fraction(float(a)) - Fraction(float(b))) ** 2 for e, a, b in zip(exact, s, t)), Fraction(0))
    assert square <= Fraction(bound) ** 2
    if (scale_w, scale_x) == (0, 0):  # the error-free split: far below the float64 product's error
        assert bound < 1e-25 * float(np.linalg.norm(w @ hi))


def test_margin_is_tight_on_a_deep_relu_chain():
    # depth 8, widths 64: the norm-product analysis gave margins ~1e-9 of the value here; the
    # reference pass is within ~1e-15, and the exact check confirms the margin still holds.
    from fractions import Fraction

    pair = prune_network(sample_network([16] + [64] * 7 + [8], 4, activation="relu"), 0.3)
    x = unit_ball_point(np.random.default_rng(4).standard_normal(16))
    replay = replay_error(pair, x, [1.0] * 7)
    assert replay.margin < 1e-12 * replay.value
    h_f, h = [Fraction(float(v)) for v in x], [Fraction(float(v)) for v in x]
    for layer, (wf, w) in enumerate(zip(pair.pruned.weights, pair.original.weights)):
        h_f, h = _exact_product(wf, h_f), _exact_product(w, h)
        if layer < 7:
            h_f, h = [max(v, Fraction(0)) for v in h_f], [max(v, Fraction(0)) for v in h]
    square = sum(((a - b) ** 2 for a, b in zip(h_f, h)), Fraction(0))
    low, high = Fraction(replay.value) - Fraction(replay.margin), Fraction(replay.value) + Fraction(replay.margin)
    assert low**2 <= square <= high**2
