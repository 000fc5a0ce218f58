"""The symbolic propagation bound evaluated at concrete norms: an upper bound, never rounded below.

`PropagationBound.evaluate` used to be a lambdified float expression: rounded to nearest (below the
exact polynomial in about half of random evaluations), 0.0 where a product underflowed and +inf
where one overflowed though the exact value is 1e-100 or 1e100.
"""

import random
from fractions import Fraction

import numpy as np
import pytest

from mbp_verify.engine import Network, apply_masks
from mbp_verify.symbolic import propagation_bound


def _exact(bound, values):
    symbols = [s for group in bound.symbols for s in group]
    return Fraction(*map(int, bound.expression.xreplace(dict(zip(symbols, map(Fraction, values)))).as_numer_denom()))


def test_evaluate_is_never_below_the_exact_polynomial():
    rng = random.Random(20210701)
    for depth in (2, 3, 4):
        bound = propagation_bound(depth)
        for _ in range(150):
            values = [rng.uniform(0.1, 3.0) for _ in range(3 * depth + 2 * (depth - 1))]
            split = [values[:depth], values[depth : 2 * depth], values[2 * depth : 3 * depth]]
            tail = values[3 * depth :]
            got = bound.evaluate(*split, tail[: depth - 1], tail[depth - 1 :])
            exact = _exact(bound, values)
            assert Fraction(got) >= exact  # sound
            assert Fraction(np.nextafter(got, 0.0)) < exact  # and the smallest such float


@pytest.mark.parametrize(
    "scales, sup",
    [
        ((1e-200, 1e-200, 1e300), Fraction(1e-200) * Fraction(1e-200) * Fraction(1e300)),  # was 0.0
        ((1e200, 1e200, 1e-300), Fraction(1e200) * Fraction(1e200) * Fraction(1e-300)),  # was inf
    ],
)
def test_a_network_whose_norm_products_leave_the_float_range(scales, sup):
    # F(x) = w3 w2 w1 x (identity activations, 1 x 1 layers); f prunes the last layer: f = 0, so
    # sup ||f - F|| = |w3 w2 w1| exactly, and the bound is exact for this network.
    network = Network([np.array([[s]]) for s in scales], "identity")
    pair = apply_masks(network, [np.ones((1, 1)), np.ones((1, 1)), np.zeros((1, 1))])
    full = [abs(float(w[0, 0])) for w in pair.original.weights]
    pruned = [abs(float(w[0, 0])) for w in pair.pruned.weights]
    error = [abs(float(e[0, 0])) for e in pair.error_matrices()]
    got = propagation_bound(3).evaluate(full, pruned, error, [1.0, 1.0], [0.0, 0.0])
    assert sup <= Fraction(got) and np.isfinite(got)
    assert got == pytest.approx(float(sup), rel=1e-15)


def test_infinite_norms_give_an_infinite_bound():
    assert propagation_bound(2).evaluate([np.inf, 1.0], [1.0, 1.0], [1.0, 1.0], [1.0], [0.0]) == np.inf
