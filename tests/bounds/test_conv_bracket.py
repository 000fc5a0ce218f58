"""bracket_conv_sup_error against references: the exact sup of linear conv pairs (SVD of the
unfolded operators), exact rational replays of ReLU conv pairs, the dense bracket of to_dense()."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from mbp_verify.bounds import bracket_sup_error
from mbp_verify.bounds.conv_ascent import maximise_conv_error, top_error_direction
from mbp_verify.bounds.conv_bracket import (
    _error_kernel,
    bracket_conv_sup_error,
    conv_layer_constants,
    conv_layer_norms,
    conv_layerwise_bound,
)
from mbp_verify.bounds.conv_coupled import coupled_bound, coupled_exponents, coupled_unavailable_reason
from mbp_verify.bounds.conv_replay import replay_conv_error
from mbp_verify.engine import ConvNetwork, apply_masks, prune_network, sample_conv_network
from mbp_verify.errors import InputError


def _pair(shape=(2, 5, 5), channels=(3, 4), dense=(3,), padding="zeros", stride=1, activation="relu", seed=0):
    net = sample_conv_network(shape, channels, seed, dense=dense, padding=padding, stride=stride, activation=activation)
    return prune_network(net, 0.3)


def _dense_pair(pair):
    """The unfolded pair: masks recovered from the unfolded matrices (exact: no aliasing here)."""
    full, pruned = pair.original.to_dense(), pair.pruned.to_dense()
    masks = [(p != 0) | (w == 0) for w, p in zip(full.weights, pruned.weights)]
    dense = apply_masks(full, masks)
    assert all(np.array_equal(a, b) for a, b in zip(dense.pruned.weights, pruned.weights))
    return dense


def _product(network) -> np.ndarray:
    matrix = np.eye(network.widths[0])
    for w in network.to_dense().weights:
        matrix = w @ matrix
    return matrix


@pytest.mark.parametrize(
    "padding, stride, channels, dense",
    [("zeros", 1, (3, 4), (3,)), ("circular", 2, (2,), (4,)), ("valid", 1, (3, 2), ()), ("zeros", 2, (4,), ())],
)
def test_linear_pair_brackets_the_exact_sup(padding, stride, channels, dense):
    """Identity activations: sup ||f - F|| = ||A_f - A_F||_2 exactly; the search finds it."""
    pair = _pair(channels=channels, dense=dense, padding=padding, stride=stride, activation="identity")
    exact = np.linalg.norm(_product(pair.pruned) - _product(pair.original), 2)
    result = bracket_conv_sup_error(pair.original, pair.pruned)
    assert result.lower - result.lower_margin <= exact * (1 + 1e-12)
    assert result.upper >= exact * (1 - 1e-12)
    assert result.lower >= 0.999 * exact  # the ascent on a linear map is a power iteration
    assert result.decide(result.upper) == "certified"
    assert result.decide(0.5 * result.lower) == "violated"


def _exact_output(network: ConvNetwork, x: np.ndarray) -> list[Fraction]:
    """F(x) in exact rational arithmetic from the unfolded (exact, non-aliasing) matrices."""
    h = [Fraction(v) for v in x.ravel().tolist()]
    dense = network.to_dense()
    for layer, w in enumerate(dense.weights):
        rows = [[Fraction(v) for v in row] for row in w.tolist()]
        h = [sum((a * b for a, b in zip(row, h) if a), Fraction(0)) for row in rows]
        if layer < dense.depth - 1:
            h = [max(v, Fraction(0)) for v in h]
    return h


def test_replay_margin_holds_against_exact_rationals():
    pair = _pair(shape=(1, 4, 4), channels=(2, 3), dense=(2,), seed=3)
    result = bracket_conv_sup_error(pair.original, pair.pruned, effort="fast")
    out_f, out_full = _exact_output(pair.pruned, result.witness), _exact_output(pair.original, result.witness)
    square = sum(((a - b) ** 2 for a, b in zip(out_f, out_full)), Fraction(0))
    low, high = (
        Fraction(result.lower) - Fraction(result.lower_margin),
        Fraction(result.lower) + Fraction(result.lower_margin),
    )
    assert max(low, Fraction(0)) ** 2 <= square <= high**2
    assert 0 < result.lower_margin < 1e-12 * result.lower  # sound, and small enough to decide with


def test_replay_margin_scales_with_the_norm_bounds():
    """The margin propagates errors with the given operator norms: larger norms, larger margin."""
    pair = _pair(seed=4)
    x = top_error_direction(pair.original, pair.pruned, np.random.default_rng(0)).ravel()
    full, kept, _ = conv_layer_norms(pair.original, pair.pruned).uppers()
    tight = replay_conv_error(pair.original, pair.pruned, x, [1.0, 1.0], (full, kept))
    loose = replay_conv_error(
        pair.original, pair.pruned, x, [1.0, 1.0], ([10 * v for v in full], [10 * v for v in kept])
    )
    assert tight.value == loose.value and loose.margin > tight.margin > 0


@pytest.mark.parametrize("activation", ["relu", "tanh", "leaky_relu(a=0.2)", "sigmoid"])
def test_conv_bracket_overlaps_the_dense_bracket(activation):
    pair = _pair(activation=activation, seed=5)
    conv = bracket_conv_sup_error(pair.original, pair.pruned, effort="fast", rng=1)
    dense = bracket_sup_error(_dense_pair(pair), effort="fast", rng=1)
    assert conv.lower - conv.lower_margin <= dense.upper
    assert dense.lower - dense.lower_margin <= conv.upper
    assert conv.lower >= 0.9 * dense.lower  # the conv search is as good as the dense one here
    assert conv.widths == dense.widths and conv.activations == dense.activations
    assert conv.counts == pair.counts  # MBP of entries with no exact zeros: differing entries = pruned count


def test_layerwise_is_the_symbolic_polynomial():
    """For two layers the polynomial is K (||A~_2|| ||E_1|| + ||E_2|| ||A_1||), exactly (K >= 1 for relu,
    rounded outwards)."""
    pair = _pair(channels=(3,), dense=(2,), seed=6)
    norms = conv_layer_norms(pair.original, pair.pruned)
    constants = conv_layer_constants(pair.original)
    k = Fraction(constants[0].lipschitz)
    assert 1 <= k <= 1 + 1e-15
    expected = k * (norms.pruned[1] * norms.error[0] + norms.error[1] * norms.full[0])
    assert conv_layerwise_bound(pair.original, norms, constants) == expected
    with pytest.raises(InputError, match="constants"):
        conv_layerwise_bound(pair.original, norms, ())


def test_non_mask_pruned_weights_add_the_rounding_remainder():
    """f need not be a masked F: W - W~ rounds, the remainder's norm is added, and the bound still
    holds (linear: the exact sup)."""
    net = sample_conv_network((1, 4, 4), (2,), 7, dense=(2,), activation="identity")
    other = net.with_weights([0.3 * w + 1e-20 for w in net.weights])
    assert all(np.any(_error_kernel(w, p)[1]) for w, p in zip(net.weights, other.weights))  # W - W~ rounds
    exact = np.linalg.norm(_product(other) - _product(net), 2)
    result = bracket_conv_sup_error(net, other)
    assert result.upper >= exact * (1 - 1e-12) and result.lower <= exact * (1 + 1e-12)
    assert "not exact" in result.unavailable["coupled"]


def test_search_accepts_flat_or_image_starts():
    pair = _pair(seed=8)
    starts = np.random.default_rng(0).standard_normal((3,) + pair.original.input_shape)
    a = maximise_conv_error(pair.original, pair.pruned, starts, iterations=5, on_sphere=True)
    b = maximise_conv_error(pair.original, pair.pruned, starts.reshape(3, -1), iterations=5, on_sphere=True)
    assert a.best_value == b.best_value and a.best_input.shape == (50,)
    assert abs(np.linalg.norm(a.best_input) - 1) < 1e-12


def test_bad_inputs_are_input_errors():
    pair = _pair()
    other = sample_conv_network((2, 5, 5), (3, 4), 0, dense=(3,), padding="circular")
    with pytest.raises(InputError, match="same architecture"):
        bracket_conv_sup_error(pair.original, other)
    with pytest.raises(InputError, match="ConvNetworks"):
        bracket_conv_sup_error(pair.original, pair.pruned.to_dense())
    with pytest.raises(InputError, match="effort"):
        bracket_conv_sup_error(pair.original, pair.pruned, effort="huge")
    with pytest.raises(InputError, match="seed"):
        bracket_conv_sup_error(pair.original, pair.pruned, rng=-1)
    with pytest.raises(InputError, match="witness must have"):
        replay_conv_error(pair.original, pair.pruned, np.zeros(3), [1.0, 1.0], ([1.0] * 3, [1.0] * 3))


def test_huge_weights_give_no_finite_upper_and_no_unsound_lower():
    net = sample_conv_network((1, 3, 3), (2,), 9, dense=(2,))
    big = net.with_weights([w * 1e300 for w in net.weights])
    pair = prune_network(big, 0.3)
    result = bracket_conv_sup_error(pair.original, pair.pruned, effort="fast")
    assert result.upper == float("inf") and "layerwise" in result.unavailable
    assert result.decide(1e308) == "unknown"


def _dense_block_bound(pair, exponents) -> float:
    """prod ||B_l|| from the unfolded matrices (the reference for the conv blocks; relu: s_l = 1)."""
    w = pair.original.to_dense().weights
    p = pair.pruned.to_dense().weights
    e = [a - b for a, b in zip(w, p)]
    betas = [2.0**k for k in exponents]
    value = np.linalg.norm(np.vstack([w[0], betas[0] * e[0]]), 2)
    for l in range(1, len(w) - 1):
        block = np.block([[w[l], np.zeros_like(w[l])], [betas[l] * e[l], betas[l] / betas[l - 1] * p[l]]])
        value *= np.linalg.norm(block, 2)
    return value * np.linalg.norm(np.hstack([e[-1], p[-1] / betas[-1]]), 2)


@pytest.mark.parametrize(
    "channels, dense, padding, stride",
    [((3, 4), (), "zeros", 1), ((2, 3, 2), (), "circular", 1), ((3,), (4,), "zeros", 2), ((2, 2), (3, 2), "valid", 1)],
)
def test_coupled_blocks_match_the_unfolded_blocks(channels, dense, padding, stride):
    pair = _pair(shape=(2, 5, 5), channels=channels, dense=dense, padding=padding, stride=stride, seed=11)
    norms = conv_layer_norms(pair.original, pair.pruned)
    exponents = coupled_exponents(*norms.uppers())
    constants = conv_layer_constants(pair.original)
    bound = float(coupled_bound(pair.original, pair.pruned, constants, exponents))
    reference = _dense_block_bound(pair, exponents)
    assert bound >= reference * (1 - 1e-12)
    if padding == "circular" and stride == 1:  # exact conv norms: only the certificates' slack (1e-5 per block)
        assert bound <= reference * (1 + 1e-3)
    result = bracket_conv_sup_error(pair.original, pair.pruned, effort="fast")
    assert result.upper_bounds["coupled"] == pytest.approx(bound, rel=1e-15)
    assert result.upper == min(result.upper_bounds.values())


def test_coupled_exponents_minimise_the_two_layer_relaxation():
    """For two layers b^2 = ||A_1|| ||A~_2|| / (||E_1|| ||E_2||), rounded to a power of two."""
    assert coupled_exponents([2.0, 1.0], [1.9, 1.0], [0.02, 0.005]) == (round(0.5 * np.log2(2.0 / (0.02 * 0.005))),)
    assert coupled_exponents([1.0, 1.0], [1.0, 1.0], [0.0, 0.1]) == (32,)  # E_1 = 0: b large (2^60 clip x 10)
    assert coupled_exponents([1.0, 1.0], [1.0, 1.0], [0.1, 0.0]) == (32,)  # E_2 = 0: b large too


@pytest.mark.parametrize("layer", [0, -1])
def test_coupled_with_one_pruned_layer_tends_to_layerwise(layer):
    """Only one layer pruned: the coupled bound is the one layerwise term, up to the clipped scaling."""
    net = sample_conv_network((2, 5, 5), (3, 3), 0, dense=(4,))
    masks = [np.ones(w.shape, bool) for w in net.weights]
    masks[layer].flat[0] = False
    pair = apply_masks(net, masks)
    result = bracket_conv_sup_error(pair.original, pair.pruned, effort="fast")
    assert result.upper_bounds["coupled"] <= result.upper_bounds["layerwise"] * (1 + 1e-6)


def test_coupled_unavailable_cases():
    tanh = _pair(activation="sigmoid", seed=12)
    result = bracket_conv_sup_error(tanh.original, tanh.pruned, effort="fast")
    assert "sigma(0) = 0" in result.unavailable["coupled"] and "coupled" not in result.upper_bounds
    net = sample_conv_network((1, 4, 4), (2,), 7, dense=(2,))
    other = net.with_weights([w * 3 * 2.0**-60 for w in net.weights])  # W - W~ rounds
    assert "not exact" in coupled_unavailable_reason(net, other, conv_layer_constants(net))
    single = sample_conv_network((1, 4, 4), (2,), 7)
    pair = prune_network(single, 0.3)
    assert "hidden layer" in bracket_conv_sup_error(pair.original, pair.pruned, effort="fast").unavailable["coupled"]
