"""Differential box propagation: it encloses f(x) - F(x) at points of every box, and it cancels
what the separate enclosures of f and F cannot."""

import numpy as np
import pytest

from mbp_verify.bounds import layer_constants
from mbp_verify.bounds.branch import _propagate
from mbp_verify.bounds.differential import difference_enclosure
from mbp_verify.engine import prune_network, sample_network

TEN = ("relu", "leaky_relu", "tanh", "sigmoid", "gelu", "gelu_tanh", "silu", "hardtanh", "elu", "softplus")


@pytest.mark.parametrize("name", TEN)
@pytest.mark.parametrize("scale", [2.0**-30, 1.0, 3.0, 2.0**12])
def test_encloses_the_difference_in_every_box(name, scale):
    rng = np.random.default_rng(11)
    pair = prune_network(sample_network([2, 10, 8, 3], rng, activation=name, scale=scale), 0.4)
    constants = layer_constants(pair.original)
    centres = rng.uniform(-1, 1, (40, 2))
    half = np.full_like(centres, 0.125)
    mid, rad = difference_enclosure(pair, constants, centres, half)
    for corner in ((-1, -1), (-1, 1), (1, -1), (1, 1), (0.3, -0.7), (0, 0)):
        x = centres + half * np.array(corner)
        values = pair.pruned.forward(x) - pair.original.forward(x)
        assert (np.abs(values - mid) <= rad).all()


def test_cancels_shared_relu_neurons():
    # small boxes: the separate enclosures of f and F keep their full widths; the difference does not
    pair = prune_network(sample_network([2, 16, 16, 3], 4), 0.2)
    constants = layer_constants(pair.original)
    centres = np.random.default_rng(0).uniform(-0.7, 0.7, (64, 2))
    half = np.full_like(centres, 2.0**-8)
    _, d_rad = difference_enclosure(pair, constants, centres, half)
    _, f_rad = _propagate(pair.pruned, constants, centres, half)
    _, full_rad = _propagate(pair.original, constants, centres, half)
    assert np.median(d_rad / (f_rad + full_rad)) < 0.5
