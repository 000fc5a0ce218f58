"""Saturating activations at large inputs: the enclosures clip to sigma's range.

The interval enclosures of an activation (`bounds.enclosures`, used by branch-and-bound and the
reachable slope ranges) charge numpy's evaluation error 16 u (|z| + |sigma(z)| + 1): at z = 1e84
that is 1.8e69 for a tanh whose value is +-1. Before sigma's range was used, a hardtanh pair with
a 1e84 first layer got a branch-and-bound bound of 1.1e61 for an error of 4.8e-10, and a tanh net
with 1e200 weights no finite bound at all (its squared output norms overflowed too).
"""

import math

import mpmath
import numpy as np
import pytest

from mbp_verify.bounds import bracket_sup_error, layer_constants
from mbp_verify.bounds.enclosures import activation_enclosure
from mbp_verify.engine import Network, apply_masks, parse_activation
from tests.symbolic.reference import _pieces

RANGES = [
    ("tanh", -1.0, 1.0),
    ("sigmoid", 0.0, 1.0),
    ("hardtanh", -1.0, 1.0),
    ("hardsigmoid", 0.0, 1.0),
    ("relu6", 0.0, 6.0),
    ("elu(a=2.5)", -2.5, math.inf),
    ("softplus(beta=3.7)", 0.0, math.inf),
    ("gelu", -math.inf, math.inf),
]


def _constants(spec):
    return layer_constants(Network([np.ones((2, 2)), np.ones((1, 2))], spec))[0]


@pytest.mark.parametrize("spec, low, high", RANGES)
def test_value_range_encloses_sigma(spec, low, high):
    c = _constants(spec)
    assert (c.value_min, c.value_max) == (low, high)  # the tight range, for these
    name, parsed = spec.split("(")[0], parse_activation(spec)
    a = mpmath.mpf(parsed.params[0][1]) if parsed.params else None
    with mpmath.workdps(40):
        pieces = _pieces(name, a)
        for x in [mpmath.mpf(v) for v in np.concatenate([np.linspace(-50, 50, 401), [-1e50, 1e50]])]:
            value = next(p.sigma(x) for p in pieces if p.lo <= x <= p.hi)
            assert c.value_min <= value <= c.value_max


def test_selu_range_is_rounded_outwards():
    c = _constants("selu")
    lam_alpha = mpmath.mpf("1.0507009873554804934193349852946") * mpmath.mpf("1.6732632423543772848170429916717")
    assert c.value_min <= -lam_alpha and c.value_max == math.inf


@pytest.mark.parametrize("spec", ["tanh", "hardtanh", "sigmoid", "hardsigmoid"])
def test_an_enclosure_at_1e84_stays_in_the_range(spec):
    c = _constants(spec)
    mid, rad = np.array([[1e84, -1e84, 0.0]]), np.array([[1.0, 1e83, 1e90]])
    centre, radius = activation_enclosure(parse_activation(spec), c, mid, rad)
    assert np.all(centre - radius >= c.value_min - 1e-12) and np.all(centre + radius <= c.value_max + 1e-12)


def _sampled_sup(pair, d0, scale=1.0):
    if d0 == 1:
        ts = np.concatenate([np.linspace(-1, 1, 20001), np.geomspace(1e-100, 1, 2000), -np.geomspace(1e-100, 1, 2000)])
        points = ts[:, None]
    else:
        r, t = np.meshgrid(np.linspace(0, 1, 101), np.linspace(0, 2 * np.pi, 400))
        points = np.stack([(r * np.cos(t)).ravel(), (r * np.sin(t)).ravel()], axis=1)
    difference = (pair.pruned.forward(points) - pair.original.forward(points)) / scale
    return float(np.max(np.linalg.norm(difference, axis=1))) * scale


def test_hardtanh_with_a_1e84_first_layer():
    network = Network(
        [
            np.array([[1.9522938477796757e84], [-6.963632857430357e82]]),
            np.array([[1.5, 1.5], [1.5, -1.0], [-1.0, 1.0], [1.0, 1.5]]),
            np.array(
                [[4.784100066391994e-10, -3.885199098301815e-08, -1.0496091273718494e-14, -2.582104069267754e-13]]
            ),
        ],
        "hardtanh",
    )
    pair = apply_masks(network, [np.array([[1.0], [0.0]]), np.ones((4, 2)), np.ones((1, 4))])
    result = bracket_sup_error(pair, rng=128, effort="default")
    sup = _sampled_sup(pair, 1)
    assert sup <= result.upper <= 1e-6  # was 1.1e61 (branch_and_bound), 6.5e75 (ellipsoid)
    assert result.upper_method == "branch_and_bound"


def test_tanh_with_1e200_weights_has_a_finite_bound():
    network = Network([np.full((2, 2), 1e200), np.full((2, 2), 1e200), np.full((1, 2), 1e200)], "tanh")
    masks = [np.array([[1.0, 0.0], [0.0, 1.0]]), np.array([[1.0, 1.0], [0.0, 0.0]]), np.array([[1.0, 0.0]])]
    pair = apply_masks(network, masks)
    with np.errstate(all="ignore"):
        result = bracket_sup_error(pair, rng=0, effort="default")
        sup = _sampled_sup(pair, 2, scale=1e200)
    # |F - f| <= 1e200 (|t1 - t~1| + |t2|) <= 3e200: tanh layers are bounded by 1
    assert math.isfinite(result.upper) and sup <= result.upper <= 3.0000001e200  # was +inf
