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


def _exact_difference(pair, x, activation: str, digits: int = 60):
    """||f(x) - F(x)|| at `digits` digits, the activation from its symbolic form with the
    parameters as written (decimals) and as applied (floats): both values."""
    import mpmath
    import sympy as sp

    from mbp_verify.symbolic.registry import CONSTANT_VALUES, X, symbolic_activation

    values = []
    for applied in (False, True):
        sigma = sp.lambdify(X, symbolic_activation(activation, applied=applied)[1].subs(CONSTANT_VALUES), "mpmath")
        with mpmath.workdps(digits):
            outputs = []
            for net in (pair.pruned, pair.original):
                h = [mpmath.mpf(float(v)) for v in x]
                for layer, w in enumerate(net.weights):
                    h = [mpmath.fsum(mpmath.mpf(float(a)) * b for a, b in zip(row, h)) for row in w]
                    if layer < net.depth - 1:
                        h = [sigma(v) for v in h]
                outputs.append(h)
            values.append(mpmath.sqrt(mpmath.fsum((a - b) ** 2 for a, b in zip(*outputs))))
    return values


def _chain(activation: str, scale: float):
    pair = prune_network(sample_network([12] + [40] * 7 + [6], 8, scale=scale, activation=activation), 0.3)
    x = unit_ball_point(np.random.default_rng(8).standard_normal(12))
    return pair, x, [c.lipschitz for c in layer_constants(pair.original)]


def _assert_covers(pair, x, activation, value, margin):
    import mpmath

    for exact in _exact_difference(pair, x, activation):
        with mpmath.workdps(60):
            assert abs(mpmath.mpf(value) - exact) <= mpmath.mpf(margin)


@pytest.mark.parametrize("activation, scale", [("gelu", 1.0), ("gelu", 2.0), ("tanh", 1.0), ("tanh", 4.0)])
def test_smooth_activations_replay_tightly_on_a_deep_chain(activation, scale, monkeypatch):
    """An 8-layer chain where evaluating the activation in float64 (16 ulp per entry, amplified by
    the later layers' norms) leaves a margin above 1e-9 of the value (the control): the replay
    then evaluates it by mpmath at 120 bits, and the margin is below 1e-12 of the value and
    still covers the 60-digit value."""
    from mbp_verify.bounds import replay as replay_module

    pair, x, lipschitz = _chain(activation, scale)
    replay = replay_error(pair, x, lipschitz)
    assert replay.margin < 1e-12 * replay.value
    _assert_covers(pair, x, activation, replay.value, replay.margin)
    monkeypatch.setattr(replay_module, "_accurate_functions", lambda spec: None)
    assert replay_error(pair, x, lipschitz).margin > 1e-9 * replay.value


@pytest.mark.parametrize(
    "activation", ["gelu", "tanh", "sigmoid", "silu", "elu", "leaky_relu(a=0.2)", "softplus(beta=2.9191)", "selu"]
)
def test_the_mpmath_reference_covers_both_readings_of_the_parameters(activation):
    """The mpmath pass itself (also where the float64 one would be kept): its margin covers the
    60-digit value with the parameters as written (a = 1/5) and as applied (the float 0.2)."""
    from mbp_verify.bounds.replay import _margin, _spectral_uppers

    pair, x, lipschitz = _chain(activation, 4.0)
    value = replay_error(pair, x, lipschitz).value
    norms = (_spectral_uppers(pair.original, None), _spectral_uppers(pair.pruned, None))
    margin = _margin(pair, lipschitz, norms, x, value, accurate=True)
    assert margin < 1e-8 * value
    _assert_covers(pair, x, activation, value, margin)


def test_inputs_beyond_the_accurate_range_keep_the_float_evaluation():
    """Pre-activations above 2^20 are not sent to mpmath: the layer keeps the 16-ulp evaluation,
    and the margin still covers the exact value."""
    pair = prune_network(sample_network([3, 5, 5, 2], 2, scale=2.0**24, activation="tanh"), 0.4)
    x = unit_ball_point(np.array([0.6, -0.3, 0.7]))
    replay = replay_error(pair, x, [1.0, 1.0])
    _assert_covers(pair, x, "tanh", replay.value, replay.margin)


def test_a_smooth_last_hidden_layer_after_relu_layers_is_refined():
    """ReLU layers, then a GELU last hidden layer, few weights pruned (alpha = 0.7): the float64
    evaluation's margin exceeds 1e-9 of the small difference, so the mpmath pass applies: any
    hidden activation that is not exact counts, the last one too."""
    from mbp_verify.bounds.replay import _margin, _spectral_uppers
    from mbp_verify.engine import Network

    base = sample_network([12] + [40] * 7 + [6], 8, activation="relu")
    pair = prune_network(Network(base.weights, ["relu"] * 6 + ["gelu"]), 0.7)
    x = unit_ball_point(np.random.default_rng(8).standard_normal(12))
    lipschitz = [c.lipschitz for c in layer_constants(pair.original)]
    replay = replay_error(pair, x, lipschitz)
    norms = (_spectral_uppers(pair.original, None), _spectral_uppers(pair.pruned, None))
    assert _margin(pair, lipschitz, norms, x, replay.value, accurate=False) > 1e-9 * replay.value
    assert replay.margin < 1e-12 * replay.value
