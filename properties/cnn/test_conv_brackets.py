"""Conv brackets against the dense reference: the network unfolded by `to_dense()`.

A conv pair and its unfolding are the same function, so their brackets must overlap
(conv lower - margin <= dense upper, dense lower - margin <= conv upper), and the conv upper
bound must lie above every replayed dense witness (the dense bracket's own, and the best of a
brute-force sample of the unit sphere). With identity activations the supremum is exactly the
largest singular value of the difference of the unfolded products, which both sides of the
conv bracket must respect. Unfolding is exact except where circular taps alias (a kernel larger
than the image), where entries are sums of taps rounded once: those cases get a tolerance of
1e-12 times a bound of ||F(x)|| + ||f(x)||. Deterministic (false-failure rate 0): every
comparison is between certified quantities, or allows for the reference's own rounding.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from mbp_verify.bounds import bracket_sup_error, layer_constants, replay_error, unit_ball_point
from mbp_verify.bounds.conv_bracket import bracket_conv_sup_error, conv_layer_norms
from mbp_verify.engine import NetworkPair, prune_network, sample_conv_network
from mbp_verify.seeding import rng_for
from mbp_verify.suite import mbp_property

_MAX_FEATURES = 3 * 8 * 8
_SPHERE_SAMPLES = 64


@st.composite
def conv_pair_specs(draw: st.DrawFn, max_side: int = 8) -> dict:
    """Input up to 3x8x8 (<= 192 features), 1-2 conv layers with channels 1-8, kernels 1-5,
    strides 1-2, zero, circular or valid padding, 0-1 dense layers, four activations,
    magnitude or random pruning at alpha in [0.05, 0.95], every layer scaled by 2^shift."""
    h, w = draw(st.integers(1, max_side)), draw(st.integers(1, max_side))
    depth = draw(st.integers(1, 2))
    kernels = draw(st.lists(st.integers(1, 5), min_size=depth, max_size=depth))
    paddings = draw(st.lists(st.sampled_from(["zeros", "circular", "valid"]), min_size=depth, max_size=depth))
    return {
        "input_shape": (draw(st.integers(1, min(3, _MAX_FEATURES // (h * w)))), h, w),
        "channels": draw(st.lists(st.integers(1, 8), min_size=depth, max_size=depth)),
        "kernel_size": kernels,
        "stride": draw(st.lists(st.integers(1, 2), min_size=depth, max_size=depth)),
        "padding": paddings,
        "dense": draw(st.lists(st.integers(1, 6), max_size=1)),
        "activation": draw(st.sampled_from(["relu", "identity", "tanh", "leaky_relu(a=0.2)"])),
        "method": draw(st.sampled_from(["magnitude", "random"])),
        "alpha": draw(st.integers(5, 95)),
        "shift": draw(st.sampled_from([0, 0, 0, -60, 60])),
        "trial": draw(st.integers(0, 10**6)),
    }


def _pair(spec: dict, rng: np.random.Generator) -> NetworkPair:
    """The conv pair a spec describes (a 'valid' layer whose input shrank below its kernel becomes 'zeros')."""
    paddings, shape = list(spec["padding"]), spec["input_shape"]
    for i, (k, s) in enumerate(zip(spec["kernel_size"], spec["stride"])):
        if paddings[i] == "valid" and k > min(shape[1:]):
            paddings[i] = "zeros"
        size = [(n - k) // s + 1 if paddings[i] == "valid" else -(-n // s) for n in shape[1:]]
        shape = (spec["channels"][i], *size)
    net = sample_conv_network(
        spec["input_shape"],
        spec["channels"],
        rng,
        kernel_size=spec["kernel_size"],
        stride=spec["stride"],
        padding=paddings,
        dense=spec["dense"],
        activation=spec["activation"],
    )
    net = net.with_weights([np.ldexp(w, spec.get("shift", 0)) for w in net.weights])
    return prune_network(net, Fraction(spec["alpha"], 100), method=spec["method"], rng=rng)


def _dense_pair(pair: NetworkPair) -> NetworkPair:
    full, pruned = pair.original.to_dense(), pair.pruned.to_dense()
    masks = tuple(w == p for w, p in zip(full.weights, pruned.weights))
    return NetworkPair(full, pruned, masks, tuple(int(np.count_nonzero(~m)) for m in masks))


def _tolerance(pair: NetworkPair) -> float:
    """0 when unfolding is exact; else 1e-12 times prod ||A_l|| + prod ||A~_l|| (>= ||F(x)|| + ||f(x)||)."""
    aliased = any(
        g is not None
        and g.padding == "circular"
        and (g.kernel_shape[2] > g.input_shape[1] or g.kernel_shape[3] > g.input_shape[2])
        for g in pair.original.geometries
    )
    if not aliased:
        return 0.0
    norms = conv_layer_norms(pair.original, pair.pruned)
    scale = float(np.prod([float(v) for v in norms.full])) + float(np.prod([float(v) for v in norms.pruned]))
    return 1e-12 * max(scale, 1.0)


def _product(network) -> np.ndarray:
    matrix = np.eye(network.widths[0])
    for w in network.weights:
        matrix = w @ matrix
    return matrix


def check_against_dense(spec: dict, rng: np.random.Generator, evidence: dict) -> None:
    """The checks of this module's properties for one drawn pair (module docstring)."""
    pair = _pair(spec, rng)
    dense = _dense_pair(pair)
    conv_bracket = bracket_conv_sup_error(pair.original, pair.pruned, effort="fast", rng=rng)
    dense_bracket = bracket_sup_error(dense, effort="fast", rng=rng)
    tol = _tolerance(pair)
    assert conv_bracket.lower - conv_bracket.lower_margin <= dense_bracket.upper + tol, (conv_bracket, dense_bracket)
    assert dense_bracket.lower - dense_bracket.lower_margin <= conv_bracket.upper + tol, (conv_bracket, dense_bracket)
    # Brute force on the sphere (the supremum lies there for relu, identity and leaky relu; for
    # tanh the sphere is still inside the ball), the best point replayed on the dense pair.
    points = rng.standard_normal((_SPHERE_SAMPLES, dense.original.widths[0]))
    points /= np.linalg.norm(points, axis=1, keepdims=True)
    values = np.linalg.norm(dense.pruned.forward(points) - dense.original.forward(points), axis=1)
    best = replay_error(dense, unit_ball_point(points[int(np.argmax(values))]), _lipschitz(dense))
    assert best.certified_lower <= conv_bracket.upper + tol
    if spec["activation"] == "identity":
        exact = float(np.linalg.norm(_product(dense.pruned) - _product(dense.original), 2))
        assert conv_bracket.upper >= exact * (1 - 1e-12) - tol
        assert conv_bracket.lower - conv_bracket.lower_margin <= exact * (1 + 1e-12) + tol
    if dense_bracket.lower > 0:
        ratio = conv_bracket.lower / dense_bracket.lower
        evidence["min_conv_lower_over_dense_lower"] = min(evidence.get("min_conv_lower_over_dense_lower", ratio), ratio)
        ratio = conv_bracket.upper / dense_bracket.upper
        evidence["max_conv_upper_over_dense_upper"] = max(evidence.get("max_conv_upper_over_dense_upper", ratio), ratio)
    evidence["pairs_checked"] = evidence.get("pairs_checked", 0) + 1


def _lipschitz(pair: NetworkPair) -> list[float]:
    return [c.lipschitz for c in layer_constants(pair.original)]


_ALIASED = {
    "input_shape": (1, 2, 3),
    "channels": [3, 2],
    "kernel_size": [5, 3],
    "stride": [1, 2],
    "padding": ["circular", "circular"],
    "dense": [2],
    "activation": "relu",
    "method": "magnitude",
    "alpha": 30,
    "trial": 1,
}


@mbp_property(
    id="cnn.bracket_matches_dense",
    statement="the conv bracket overlaps the dense bracket of the unfolded pair, lies above every replayed dense "
    "witness (and the exact sup of linear pairs)",
    source="issue 17 acceptance: every conv bracket overlaps the bracket of the equivalent dense network (docs/cnn.md)",
)
@settings(max_examples=12, deadline=None)
@given(spec=conv_pair_specs(max_side=6))
@example(spec=_ALIASED)  # circular kernels larger than the image: the unfolded entries are rounded sums
@example(
    spec={
        **_ALIASED,
        "input_shape": (3, 8, 8),
        "channels": [8, 8],
        "kernel_size": [3, 3],
        "stride": [1, 1],
        "padding": ["zeros", "zeros"],
        "activation": "identity",
        "trial": 2,
    }
)  # the largest size, linear
def test_bracket_matches_dense(spec, mbp_root_seed, mbp_evidence):
    check_against_dense(spec, rng_for(mbp_root_seed, "cnn.bracket_matches_dense", spec["trial"]), mbp_evidence)


@pytest.mark.slow
@mbp_property(
    id="cnn.bracket_matches_dense_thorough",
    statement="cnn.bracket_matches_dense over 300 fuzzed pairs (input up to 3x8x8, kernels 1-5, strides 1-2, all "
    "paddings, channels 1-8)",
    source="issue 17 acceptance (docs/cnn.md)",
)
@settings(max_examples=300, deadline=None)
@given(spec=conv_pair_specs())
def test_bracket_matches_dense_thorough(spec, mbp_root_seed, mbp_evidence):
    check_against_dense(spec, rng_for(mbp_root_seed, "cnn.bracket_matches_dense_thorough", spec["trial"]), mbp_evidence)


@mbp_property(
    id="cnn.bracket_negative_control",
    statement="negative control: a layerwise bound built from the (c_out, c_in*kh*kw) reshaped kernels instead of "
    "the conv operators is below the exact sup, and the dense-reference check rejects it",
    source="docs/cnn.md (the reshaped kernel matrix is not the operator)",
)
def test_bracket_negative_control():
    ones = np.ones((1, 1, 3, 3))  # circular 4x4: operator norm 9, reshape norm 3
    net = sample_conv_network((1, 4, 4), [1], 0, padding="circular", activation="identity").with_weights([ones])
    pair = prune_network(net, Fraction(1, 100))  # floor(9^0.99) = 8 of 9 entries pruned
    exact = float(np.linalg.norm(_product(pair.pruned.to_dense()) - _product(pair.original.to_dense()), 2))
    reshaped = float(np.linalg.norm((ones - pair.pruned.weights[0]).reshape(1, -1), 2))
    assert reshaped < exact  # sqrt(8) < 8: the reshape is no bound
    conv = bracket_conv_sup_error(pair.original, pair.pruned)
    assert conv.upper >= exact * (1 - 1e-12) and conv.lower >= exact * (1 - 1e-9)
    with pytest.raises(AssertionError):
        assert reshaped >= exact * (1 - 1e-12) - _tolerance(pair)


def _exact_difference_square(pair: NetworkPair, x: np.ndarray, slope: Fraction) -> Fraction:
    """||f(x) - F(x)||^2 in exact rational arithmetic from the unfolded (exact: no aliasing) matrices;
    hidden activation max(z, slope z) (relu: slope 0, identity: slope 1, leaky_relu(a)): exact."""
    outputs = []
    for network in (pair.pruned, pair.original):
        h = [Fraction(v) for v in x.tolist()]
        dense = network.to_dense()
        for layer, w in enumerate(dense.weights):
            h = [sum((Fraction(a) * b for a, b in zip(row, h) if a), Fraction(0)) for row in w.tolist()]
            if layer < dense.depth - 1:
                h = [v if v > 0 else slope * v for v in h]
        outputs.append(h)
    return sum(((a - b) ** 2 for a, b in zip(*outputs)), Fraction(0))


_SLOPES = {"relu": Fraction(0), "identity": Fraction(1), "leaky_relu(a=0.25)": Fraction(1, 4)}


@mbp_property(
    id="cnn.replay_margin_exact",
    statement="the conv replay's margin holds against exact rational forward passes: (lower - margin)^2 <= "
    "exact^2 <= (lower + margin)^2 and exact <= upper at the witness, at scales 2^-400 ... 2^300",
    source="docs/cnn.md (why the replay margin is sound)",
)
@settings(max_examples=8, deadline=None)
@given(
    spec=conv_pair_specs(max_side=5),
    activation=st.sampled_from(sorted(_SLOPES)),
    shift=st.sampled_from([0, -400, 300, -120]),
)
def test_replay_margin_exact(spec, activation, shift, mbp_root_seed, mbp_evidence):
    rng = rng_for(mbp_root_seed, "cnn.replay_margin_exact", spec["trial"])
    spec = {
        **spec,
        "activation": activation,
        "shift": shift,
        "padding": ["zeros" if p == "circular" else p for p in spec["padding"]],
    }
    pair = _pair(spec, rng)
    result = bracket_conv_sup_error(pair.original, pair.pruned, effort="fast", rng=rng)
    x = np.asarray(result.witness, dtype=np.float64)
    exact = _exact_difference_square(pair, x, _SLOPES[activation])
    # homogeneous activations: the replay runs on the exactly rescaled pair, so no scale overflows it
    assert np.isfinite(result.lower_margin) and "scaled by 2^-S" in result.lower_method
    value, margin = Fraction(result.lower), Fraction(result.lower_margin)
    assert max(value - margin, Fraction(0)) ** 2 <= exact <= (value + margin) ** 2
    assert not np.isfinite(result.upper) or exact <= Fraction(result.upper) ** 2  # the upper bound, exactly
    mbp_evidence["witnesses_checked"] = mbp_evidence.get("witnesses_checked", 0) + 1
