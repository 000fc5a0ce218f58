"""The ellipsoid bound on the transposed chain and met in the middle (`meet`): the transposed pair's
chain is the transpose, the junction is the product within its bound, and every value covers every
slope pattern its sectors allow, at every scale."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from mbp_verify.bounds import bracket_sup_error, layer_constants
from mbp_verify.bounds.ellipsoid import (
    _DEEP_TRIALS,
    RULES,
    Sectors,
    _junction,
    _transposed_parts,
    _transposed_sectors,
    ellipsoid_bound,
    global_sectors,
    smallest_ellipsoid_bound,
)
from mbp_verify.engine import prune_network, sample_network
from properties.bounds.extreme import exact_square_error, reference_points, violations

from .test_ellipsoid import _blocks, _exact, _mul, _parts, _worst_slopes


def _dense(matrix) -> np.ndarray:
    return matrix.toarray() if hasattr(matrix, "toarray") else np.asarray(matrix)


def _chain(first, hidden, last, slopes) -> np.ndarray:
    m = first * slopes[0][:, None]
    for block, s in zip(hidden, slopes[1:]):
        m = (block @ m) * s[:, None]
    return last @ m


@pytest.mark.parametrize("first", [0, 1, 2])
def test_the_transposed_pair_chains_the_transpose(first):
    """For random slopes S, the transposed pair's chain with the swapped sectors' slopes is -M(S)^T
    (first = 0), and from layer `first` on it is the transpose of the chain's tail."""
    pair = prune_network(sample_network([3, 5, 4, 6, 2], 1), 0.4)
    blocks, output = _blocks(pair)
    rng = np.random.default_rng(first)
    slopes = [rng.random(b.shape[0]) for b in blocks]
    tail = output
    for block, s in zip(blocks[first + 1 :][::-1], slopes[first + 1 :][::-1]):
        tail = (tail * s) @ block  # C S_{L-1} B_{L-1} ... S_{first+2} B_{first+2}
    tail = tail * slopes[first]  # ... S_{first+1}
    tp = _transposed_parts(_parts(pair), first)
    swapped = _transposed_sectors(Sectors(tuple(slopes), tuple(slopes)), first).low
    t_first = np.vstack([_dense(tp.full[0]), -_dense(tp.errors[0])])
    t_hidden = [
        np.block([[_dense(tp.full[j]), np.zeros(tp.full[j].shape)], [-_dense(tp.errors[j]), _dense(tp.pruned[j])]])
        for j in range(1, len(swapped))
    ]
    width = tail.shape[1] // 2
    permute = np.block([[np.zeros((width, width)), np.eye(width)], [-np.eye(width), np.zeros((width, width))]])
    transposed = _chain(t_first, t_hidden, permute.T, swapped)  # back to [h; Delta] by P^T
    assert np.allclose(transposed, tail.T, rtol=0, atol=1e-12)
    # Negative control: the sectors must be swapped to [Delta; h] (unswapped slopes give another map).
    unswapped = [np.concatenate([s[s.size // 2 :], s[: s.size // 2]]) for s in swapped]
    assert not np.allclose(_chain(t_first, t_hidden, permute.T, unswapped), tail.T, rtol=0, atol=1e-6)


@pytest.mark.parametrize("rule", RULES)
def test_meeting_at_the_input_is_the_transposed_chains_forward_bound(rule):
    """meet = 0 is the forward bound of the transposed pair (same factors, the last product C' K'
    computed as G^T P^T K' = -C' K'), equal up to the roundings of that product."""
    pair = prune_network(sample_network([3, 6, 5, 4, 2], 2), 0.3)
    parts = _parts(pair)
    constants = layer_constants(pair.original)
    sectors = global_sectors(constants, pair.original.widths)
    met = ellipsoid_bound(parts, constants, sectors, rule, meet=0)
    reversed_constants = constants[::-1]  # read for the default sectors only, which are given here
    transposed = ellipsoid_bound(_transposed_parts(parts, 0), reversed_constants, _transposed_sectors(sectors, 0), rule)
    assert met == pytest.approx(transposed, rel=1e-12)
    assert met != pytest.approx(ellipsoid_bound(parts, constants, sectors, rule), rel=1e-3)  # another direction


def test_the_junction_is_the_product_within_its_bound():
    """G^T P^T K'^ in exact rationals against the float junction and its rounding bound."""
    rng = np.random.default_rng(2)
    mapped = rng.standard_normal((8, 6))
    back = np.triu(rng.standard_normal((8, 8)))
    out, rounding = _junction(mapped, 0.0, back, 0.0)
    permute_t = np.block([[np.zeros((4, 4)), -np.eye(4)], [np.eye(4), np.zeros((4, 4))]])
    exact = _mul(_mul([list(r) for r in zip(*_exact(mapped))], _exact(permute_t)), _exact(back))
    assert 0 < rounding < 1e-13
    assert max(abs(Fraction(float(v)) - x) for row, e in zip(out, exact) for v, x in zip(row, e)) <= rounding
    wrong, _ = _junction(mapped, 0.0, back.T, 0.0)  # negative control: K'^ must be read upper triangular
    assert np.abs(wrong - np.array(exact, dtype=float)).max() > 1e-3
    _, widened = _junction(mapped, 1e-9, back, 1e-9)  # the inputs' own errors are carried
    assert widened > 1e-9


# Small networks: ReLU-like sectors, tanh's [0, 1], gelu's and silu's chord slopes with a < 0.
CASES = [
    ([3, 6, 5, 4, 2], "relu", 0.3, 0),
    ([3, 6, 5, 4, 2], "relu", 0.3, 3),
    ([4, 5, 5, 5, 5, 3], "leaky_relu(a=0.2)", 0.5, 1),
    ([3, 5, 4, 5, 2], "tanh", 0.4, 2),
    ([3, 4, 5, 4, 2], "gelu", 0.4, 4),
    ([2, 5, 5, 5, 5, 5, 2], "silu", 0.3, 5),
]


@pytest.mark.parametrize(("widths", "activation", "alpha", "seed"), CASES)
def test_every_meeting_point_covers_every_slope_pattern(widths, activation, alpha, seed):
    """meet = 0 (the transposed chain alone) up to L - 2, both rules, both scale sets: each value
    >= a long attack on the maximum over slope patterns (coordinate ascent from random vertices),
    and >= the exact sup of ||f - F|| found by a dense search of the ball."""
    pair = prune_network(sample_network(widths, seed, activation=activation), alpha, method="random", rng=seed)
    constants = layer_constants(pair.original)
    sectors = global_sectors(constants, pair.original.widths)
    worst = _worst_slopes(pair, sectors, np.random.default_rng(seed), starts=10, sweeps=4)
    x = np.random.default_rng(seed).standard_normal((20000, widths[0]))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    sup = float(np.linalg.norm(pair.pruned.forward(x) - pair.original.forward(x), axis=1).max())
    values = [
        ellipsoid_bound(_parts(pair), constants, sectors, rule, trials, meet)
        for meet in range(len(widths) - 2)
        for rule in RULES
        for trials in ((1.0, 0.8, 0.5), _DEEP_TRIALS)
    ]
    assert sup <= worst <= min(values)


def test_the_check_catches_an_unsound_backward_sector():
    """Negative control: halving the sectors' upper ends gives a backward value below the slope
    patterns of the true sectors."""
    pair = prune_network(sample_network([4, 8, 8, 8, 3], 2), 0.5)
    constants = layer_constants(pair.original)
    true = global_sectors(constants, pair.original.widths)
    narrow = Sectors(true.low, tuple(h * 0.5 for h in true.high))
    worst = _worst_slopes(pair, true, np.random.default_rng(0))
    assert all(worst > ellipsoid_bound(_parts(pair), constants, narrow, meet=meet) for meet in (0, 1, 2))


def test_deep_chains_meet_in_the_middle_in_the_bracket():
    """From 6 layers on, the smallest bound also tries the chain met in the middle (rule rows,
    the second scale set), and the bracket records its seconds."""
    pair = prune_network(sample_network([4, 6, 6, 6, 6, 6, 3], 7), 0.4)
    constants = layer_constants(pair.original)
    sectors = global_sectors(constants, pair.original.widths)
    timings: dict[str, float] = {}
    smallest = smallest_ellipsoid_bound(_parts(pair), constants, [sectors], timings)
    forward = [
        ellipsoid_bound(_parts(pair), constants, sectors, rule, trials)
        for rule in RULES
        for trials in ((1.0, 0.8, 0.5), _DEEP_TRIALS)
    ]
    met = ellipsoid_bound(_parts(pair), constants, sectors, "rows", _DEEP_TRIALS, 3)
    assert smallest == min(forward + [met]) and timings["ellipsoid_meet"] > 0
    shallow: dict[str, float] = {}
    short = prune_network(sample_network([4, 6, 6, 6, 6, 3], 7), 0.4)  # 5 layers
    short_constants = layer_constants(short.original)
    smallest_ellipsoid_bound(
        _parts(short), short_constants, [global_sectors(short_constants, short.original.widths)], shallow
    )
    assert "ellipsoid_meet" not in shallow
    result = bracket_sup_error(pair, rng=0, effort="fast")
    assert "ellipsoid_meet" in result.timings and result.upper_bounds["ellipsoid"] >= result.lower


def _scaled_deep(scales: list[int], activation: str, seed: int):
    """A 6-layer pair with layer l scaled by 2^scales[l], magnitude pruning."""
    net = sample_network([2, 4, 3, 4, 3, 4, 2], seed, activation=activation)
    return prune_network(net.with_weights([np.ldexp(w, s) for w, s in zip(net.weights, scales)]), 0.4)


@pytest.mark.parametrize(
    "scales",
    [
        [-300] * 6,
        [200] * 6,
        [200, 200, 200, 200, -300, -300],
        [-300, 200, -300, 200, -300, 200],
        [200, 200, -300, -300, 0, -300],
    ],
)
@pytest.mark.parametrize("activation", ["relu", "leaky_relu(a=0.25)"])
def test_sound_at_extreme_weight_scales(scales, activation):
    """Deep pairs at 2^-300 .. 2^200 (products far outside float64): the bracket (which scales the
    layers exactly) stays sound against exact rationals at the reference points and witness, with
    the ellipsoid met in the middle among its runs; the unscaled bound is a sound value or an
    ArithmeticError, never a wrong number."""
    pair = _scaled_deep(scales, activation, 3)
    with np.errstate(all="ignore"):
        result = bracket_sup_error(pair, rng=0, effort="fast", certify_all=True)
    assert not violations(pair, result), violations(pair, result)
    if sum(scales) < 1000:  # else no finite float64 bounds the error (2^1200): upper is +inf, as checked
        assert "ellipsoid" in result.upper_bounds and "ellipsoid_meet" in result.timings
    constants = layer_constants(pair.original)
    sectors = global_sectors(constants, pair.original.widths)
    squares = [exact_square_error(pair, x) for x in reference_points(2, homogeneous=True)]
    for meet in (0, 3):
        try:
            with np.errstate(all="ignore"):
                value = ellipsoid_bound(_parts(pair), constants, sectors, "rows", _DEEP_TRIALS, meet)
        except ArithmeticError:
            continue
        assert all(Fraction(value) ** 2 >= square for square in squares)


def test_a_meeting_point_outside_the_chain_is_refused():
    pair = prune_network(sample_network([3, 4, 4, 2], 0), 0.3)
    constants = layer_constants(pair.original)
    for meet in (-1, 2):
        with pytest.raises(ValueError, match="meet"):
            ellipsoid_bound(_parts(pair), constants, meet=meet)
