"""The averaged-activation bound: exact on linear networks, applicability, and tightness."""

import numpy as np
import pytest

from mbp_verify.bounds import bracket_sup_error, layer_constants
from mbp_verify.bounds.averaged import applicable, averaged_bound, depth_factor
from mbp_verify.bounds.grid import certified_grid_value
from mbp_verify.bounds.parts import pair_parts
from mbp_verify.engine import Network, prune_network, sample_network
from mbp_verify.errors import InputError


def _averaged(pair, factors=(1.0,)):
    rng = np.random.default_rng(0)
    return averaged_bound(pair_parts(pair, rng), layer_constants(pair.original), rng, factors)


@pytest.mark.parametrize("widths", [[3, 5, 4], [4, 6, 6, 2], [2, 3, 7, 5, 3]])
def test_exact_for_linear_networks(widths):
    pair = prune_network(sample_network(widths, 5, activation="identity"), 0.4)
    difference = np.linalg.multi_dot(pair.pruned.weights[::-1]) - np.linalg.multi_dot(pair.original.weights[::-1])
    exact = np.linalg.norm(difference, 2)
    value = _averaged(pair).value
    assert exact <= value <= exact * (1 + 1e-4)


def test_tighter_than_layerwise_on_relu_networks():
    pair = prune_network(sample_network([64, 64, 64, 64], 1), 0.2)
    result = bracket_sup_error(pair, rng=0, certify_all=True)  # layerwise is skipped where it cannot win
    value = _averaged(pair).value
    assert value < 0.6 * result.upper_bounds["layerwise"]
    assert value < 5 * result.lower


def test_every_factor_is_sound_and_the_smallest_is_kept():
    pair = prune_network(sample_network([16, 16, 16, 16], 3), 0.3)
    values = [_averaged(pair, (k,)).value for k in (0.5, 1.0, 2.0)]
    assert _averaged(pair, (0.5, 1.0, 2.0)).value == min(values)
    assert depth_factor(3) == pytest.approx(0.9) and depth_factor(20) == 0.5


def test_not_applicable_without_hidden_layers():
    linear = prune_network(Network([np.arange(12.0).reshape(3, 4) + 1]), 0.3)
    assert set(bracket_sup_error(linear, effort="fast").upper_bounds) == {"layerwise"}


@pytest.mark.parametrize("activation", ["sigmoid", "softplus", "hardsigmoid"])
def test_sigma_zero_offsets_are_sound_and_needed(activation):
    """sigma(0) != 0: with tiny first-layer weights the hidden states sit near sigma(0) 1, so
    f - F ~ -E_2 sigma(0) 1 is nearly constant. The bound with its offset terms covers the grid
    value; the linear part alone (the negative control) does not."""
    rng = np.random.default_rng(0)
    net = sample_network([2, 8, 8, 3], 2, activation=activation)
    net = net.with_weights([net.weights[0] * 1e-3, *net.weights[1:]])
    pair = prune_network(net, 0.4)
    constants = layer_constants(pair.original)
    assert applicable(constants, pair_parts(pair, rng))
    bound = averaged_bound(pair_parts(pair, rng), constants, rng)
    with_offsets = float(bound.total([c.sigma0 for c in constants], [0, 0, 0]))
    grid = certified_grid_value(pair, angles=2000)
    assert grid <= with_offsets
    assert bound.value < grid  # the linear part alone would be unsound
    assert bracket_sup_error(pair, rng=0).upper_bounds["averaged"] >= grid


def test_input_directions_live_in_input_space():
    pair = prune_network(sample_network([7, 12, 12, 5], 4), 0.3)
    bound = _averaged(pair)
    assert len(bound.input_directions) == pair.original.depth
    assert all(v.shape == (7,) and np.linalg.norm(v) == pytest.approx(1.0) for v in bound.input_directions)


def test_factors_are_validated():
    pair = prune_network(sample_network([4, 5, 3], 0), 0.3)
    with pytest.raises(InputError, match="factors"):
        _averaged(pair, ())
    with pytest.raises(InputError, match="factors"):
        _averaged(pair, (0.0,))
