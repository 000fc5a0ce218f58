"""Local slope ranges: the sigma' table, the reachable intervals and the bounds built on them.

References: 300-digit mpmath difference quotients (slope table), forward passes at points of the
ball and sphere (reachable intervals), and the replayed dense-grid value of ||f - F|| in the
plane (bounds). Negative control: slopes taken at the interval's centre only (no range) give
an upper bound below the grid value, and the same check flags it.
"""

import mpmath
import numpy as np
import pytest
import sympy as sp

from mbp_verify.bounds import bracket_sup_error, layer_constants
from mbp_verify.bounds.grid import certified_grid_value
from mbp_verify.bounds.reachable import reachable_intervals
from mbp_verify.bounds.scaling import scale_pair
from mbp_verify.bounds.slope_table import SlopeTable, slope_table
from mbp_verify.engine import prune_network, sample_network
from mbp_verify.symbolic import symbolic_activation
from mbp_verify.symbolic.registry import X

TEN = ("relu", "leaky_relu", "tanh", "sigmoid", "gelu", "gelu_tanh", "silu", "hardtanh", "elu", "softplus")


@pytest.mark.parametrize("name", TEN)
def test_table_encloses_difference_quotients(name):
    net = sample_network([2, 3, 1], np.random.default_rng(0), activation=name)
    spec, constants = net.activations[0], layer_constants(net)[0]
    table = slope_table(spec, constants)
    _, expr = symbolic_activation(spec)
    sigma = sp.lambdify(X, expr, modules="mpmath")
    rng = np.random.default_rng(1)
    centres = rng.standard_normal(30) * np.array([0.5, 3.0, 40.0])[rng.integers(0, 3, 30)]
    widths = rng.exponential(1.0, 30) * np.array([0.01, 0.3, 5.0])[rng.integers(0, 3, 30)]
    lo, hi = centres - widths, centres + widths
    low, high = table.query(lo, hi)
    chord_low, chord_high = table.chord_query(lo, hi)
    assert (low >= constants.slope_min).all() and (high <= constants.slope_max).all()
    with mpmath.workdps(300):  # tanh(-108) = -1 + 1e-94: the quotient of two such values needs > 94 digits
        for a0, b0, l, h in zip(lo, hi, low, high):
            for t, s in rng.uniform(0, 1, (4, 2)):
                a, b = a0 + (b0 - a0) * t, a0 + (b0 - a0) * s
                if a == b:
                    continue
                quotient = (sigma(mpmath.mpf(b)) - sigma(mpmath.mpf(a))) / (mpmath.mpf(b) - mpmath.mpf(a))
                assert l <= quotient <= h, (name, a, b, quotient, l, h)
        for a0, b0, l, h in zip(lo, hi, chord_low, chord_high):
            for t in rng.uniform(0, 1, 4):
                a = a0 + (b0 - a0) * t
                if a != 0:
                    chord = (sigma(mpmath.mpf(a)) - sigma(mpmath.mpf(0))) / mpmath.mpf(a)
                    assert l <= chord <= h, (name, a, chord, l, h)


def test_table_is_local_where_it_should_be():
    net = sample_network([2, 3, 1], np.random.default_rng(0), activation="tanh")
    table = slope_table(net.activations[0], layer_constants(net)[0])
    low, high = table.query(np.array([2.0, -0.25]), np.array([3.0, 0.25]))
    assert low[0] >= 1 - np.tanh(3.0) ** 2 - 1e-3 and high[0] <= 1 - np.tanh(2.0) ** 2 + 1e-3
    assert low[1] >= 1 - np.tanh(0.25) ** 2 - 1e-2 and high[1] >= 1.0
    chord_low, chord_high = table.chord_query(np.array([2.0, -0.25]), np.array([3.0, 0.25]))
    assert chord_low[0] >= np.tanh(3.0) / 3 - 1e-2 and chord_high[0] <= np.tanh(2.0) / 2 + 1e-2
    assert chord_low[1] >= np.tanh(0.25) / 0.25 - 1e-2 and chord_high[1] >= 1.0


@pytest.mark.parametrize("name", TEN)
@pytest.mark.parametrize("scale", [2.0**-30, 1.0, 4.0, 2.0**20])
def test_reachable_intervals_contain_pre_activations(name, scale):
    rng = np.random.default_rng(7)
    pair = prune_network(sample_network([3, 12, 9, 6, 2], rng, activation=name, scale=scale), 0.3)
    constants = layer_constants(pair.original)
    _, scaling = scale_pair(pair)
    x = rng.standard_normal((3000, 3))
    x /= np.linalg.norm(x, axis=1, keepdims=True) * (1 + 1e-12)
    x[1500:] *= rng.uniform(0, 1, (1500, 1)) ** (1 / 3)
    for net in (pair.original, pair.pruned):
        intervals = reachable_intervals(net, constants, scaling)
        h = x
        for layer, (low, high) in enumerate(intervals):
            a = h @ net.weights[layer].T
            assert (a >= low).all() and (a <= high).all()
            h = net.activations[layer](a)


def _pair(name: str, seed: int):
    rng = np.random.default_rng(seed)
    return prune_network(sample_network([2, 14, 14, 3], rng, activation=name, scale=1.5), 0.3)


@pytest.mark.parametrize("name", TEN)
def test_local_bounds_are_sound_and_never_looser(name):
    pair = _pair(name, 3)
    local = bracket_sup_error(pair, rng=0, effort="fast")
    landed = bracket_sup_error(pair, rng=0, effort="fast", slopes="global")
    grid = certified_grid_value(pair, angles=3000)
    for method, upper in local.upper_bounds.items():
        assert grid <= upper, (method, upper, grid)
        if method in landed.upper_bounds:  # averaged_local exists only with local ranges
            assert upper <= landed.upper_bounds[method] * (1 + 1e-12)
    assert local.lower - local.lower_margin <= local.upper


def test_negative_control_centre_slopes_are_caught(monkeypatch):
    """Slopes at each interval's centre only (a point, no range) undercut the grid value (or the
    bracket's own replayed lower bound)."""
    original = SlopeTable._query

    def centre_only(self, table, lo, hi):
        low, high = original(self, table, lo, hi)
        mid = 0.5 * (low + high)
        return mid, mid

    monkeypatch.setattr(SlopeTable, "_query", centre_only)
    caught = 0
    for name in ("tanh", "gelu", "silu"):
        pair = _pair(name, 3)
        try:
            result = bracket_sup_error(pair, rng=0, effort="fast")
        except ArithmeticError:  # the bracket's own check: its replayed lower exceeds the upper bound
            caught += 1
            continue
        caught += certified_grid_value(pair, angles=3000) > result.upper
    assert caught >= 2


def _slopes_with_and_without_chain(pair):
    from mbp_verify.bounds import certified_spectral_norm
    from mbp_verify.bounds.reachable import local_slopes
    from mbp_verify.bounds.scaling import pair_scaling

    constants, scaling = layer_constants(pair.original), pair_scaling(pair)
    norms = tuple([certified_spectral_norm(w).upper for w in net.weights] for net in (pair.original, pair.pruned))
    return local_slopes(pair, constants, scaling, norms), local_slopes(pair, constants, scaling, None)


@pytest.mark.parametrize("name", ["relu", "leaky_relu(a=0.2)", "identity"])
@pytest.mark.parametrize("d0", [2, 9])
def test_homogeneous_slope_ranges_do_not_depend_on_the_norm_chain(name, d0):
    """The bracket certifies ||W_l||, ||W~_l|| late for positively homogeneous activations because
    every reachable interval contains 0 (x = 0 maps to 0), so no norm chain changes their slope
    ranges: here rows of one sign (one-signed intervals after a ReLU) and a zero row included."""
    rng = np.random.default_rng(d0)
    network = sample_network([d0, 12, 12, 12, 3], rng, activation=name)
    weights = [w.copy() for w in network.weights]
    weights[1][0] = np.abs(weights[1][0])
    weights[2][1] = -np.abs(weights[2][1])
    weights[2][2] = 0.0
    pair = prune_network(network.__class__(weights, network.activations), 0.3)
    with_chain, without = _slopes_with_and_without_chain(pair)
    for field in ("state_low", "state_high", "diff_low", "diff_high"):
        for a, b in zip(getattr(with_chain, field), getattr(without, field)):
            assert np.array_equal(a, b), field


def test_negative_control_the_norm_chain_narrows_tanh_slopes():
    """The control: for tanh the certified norms do narrow some slope range (so deferring them there would cost)."""
    network = sample_network([9, 12, 12, 12, 3], np.random.default_rng(0), activation="tanh")
    with_chain, without = _slopes_with_and_without_chain(prune_network(network, 0.3))
    assert any(not np.array_equal(a, b) for a, b in zip(with_chain.state_low, without.state_low))
