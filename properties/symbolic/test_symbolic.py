"""Derived Lipschitz constants against numerics; the propagation bound against observed errors."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp
from hypothesis import given
from hypothesis import strategies as st

from mbp_verify.engine import parse_activation, prune_network, sample_network
from mbp_verify.seeding import rng_for
from mbp_verify.suite import mbp_property
from mbp_verify.symbolic import (
    derive_lipschitz,
    lipschitz_constant,
    propagation_bound,
    registered_names,
    symbolic_activation,
)
from mbp_verify.symbolic.registry import CONSTANT_VALUES, X


@mbp_property(
    id="symbolic.lipschitz_numeric_crosscheck",
    statement="finite differences on a dense grid never exceed the derived K and come within 1e-6 of it",
    source="Theorem 1 hypothesis (i): sigma_l is K_l-Lipschitz",
)
@pytest.mark.parametrize("name", registered_names())
def test_lipschitz_crosscheck(name, mbp_evidence):
    d = derive_lipschitz(name)
    f = parse_activation(name)
    centre = 0.0 if d.argsup is None or not np.isfinite(d.argsup) else d.argsup
    grid = np.unique(np.concatenate([np.linspace(-40, 40, 400_001), centre + np.linspace(-1e-3, 1e-3, 20_001)]))
    grid = grid[np.concatenate([[True], np.diff(grid) > 5e-8])]  # spacing >= 5e-8: rounding stays below 1e-7
    values = f(grid)
    spacing = np.diff(grid)
    quotients = np.diff(values) / spacing
    # A difference quotient is a mean of sigma' (never beyond K); float64 evaluation adds at
    # most a few ulps of |sigma| at each end, divided by the spacing.
    rounding = 8 * np.finfo(float).eps * (np.abs(values[:-1]) + np.abs(values[1:])) / spacing
    excess = np.abs(quotients) - d.lipschitz * (1 + 1e-12) - rounding
    assert excess.max() <= 0, f"difference quotient {np.abs(quotients)[excess.argmax()]!r} exceeds K = {d.lipschitz!r}"
    assert np.abs(quotients).max() >= d.lipschitz - 1e-6
    assert (
        quotients.min() >= d.slope_min - 1e-9 - rounding.max()
        and quotients.max() <= d.slope_max + 1e-9 + rounding.max()
    )
    mbp_evidence.update(
        K=d.lipschitz, max_quotient=float(np.abs(quotients).max()), slope_range=[d.slope_min, d.slope_max]
    )


@mbp_property(
    id="symbolic.numeric_matches_symbolic",
    statement="the engine's numpy activation and the sympy registry are the same function (1e-9 relative)",
    source="docs/design.md section 5 (the bound must describe the network that is evaluated)",
)
@pytest.mark.parametrize("name", registered_names())
def test_numeric_equals_symbolic(name):
    spec, expr = symbolic_activation(name)
    g = sp.lambdify(X, expr.subs(CONSTANT_VALUES), modules=["numpy", "scipy"])
    x = np.linspace(-12, 12, 2401)
    with np.errstate(divide="ignore", invalid="ignore"):  # numpy evaluates every Piecewise branch everywhere
        symbolic = np.asarray(g(x), dtype=float) * np.ones_like(x)
    np.testing.assert_allclose(spec(x), symbolic, rtol=1e-9, atol=1e-12)


@mbp_property(
    id="symbolic.propagation_bound_sound",
    statement="the evaluated propagation bound is >= ||f(x) - F(x)|| at sampled and adversarial unit inputs",
    source="docs/design.md section 2 (deterministic error propagation)",
)
@given(
    depth=st.integers(1, 5),
    width=st.integers(2, 24),
    alpha=st.sampled_from([0.2, 0.3, 0.5]),
    activation=st.sampled_from(["relu", "tanh", "sigmoid", "leaky_relu(a=0.2)", "softplus"]),
    trial=st.integers(0, 10**6),
)
def test_propagation_bound_sound(depth, width, alpha, activation, trial, mbp_root_seed):
    rng = rng_for(mbp_root_seed, "symbolic.propagation_bound_sound", trial)
    pair = prune_network(sample_network([width] * (depth + 1), rng, activation=activation), alpha)
    norm = lambda m: np.linalg.norm(m, 2) * (1 + 1e-12)
    K = [lipschitz_constant(a) for a in pair.original.activations]
    offsets = [
        abs(derive_lipschitz(a).sigma0) * np.sqrt(w.shape[0])
        for a, w in zip(pair.original.activations, pair.original.weights)
    ]
    bound = propagation_bound(depth).evaluate(
        [norm(w) for w in pair.original.weights],
        [norm(w) for w in pair.pruned.weights],
        [norm(e) for e in pair.error_matrices()],
        K,
        offsets,
    )
    x = rng.standard_normal((256, width))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    top = np.linalg.svd(pair.error_matrices()[0])[2][:1]
    x = np.vstack([x, top, -top])
    observed = np.linalg.norm(pair.pruned.forward(x) - pair.original.forward(x), axis=1).max()
    assert observed <= bound * (1 + 1e-9) + 1e-15


@mbp_property(
    id="symbolic.propagation_exact_depth_one",
    statement="for L = 1 the bound equals sup ||E_1 x|| = ||E_1||_2, reached at E_1's top right singular vector",
    source="docs/design.md section 2",
)
@given(rows=st.integers(1, 30), cols=st.integers(1, 30), trial=st.integers(0, 10**6))
def test_exact_for_one_layer(rows, cols, trial, mbp_root_seed):
    rng = rng_for(mbp_root_seed, "symbolic.propagation_exact_depth_one", trial)
    pair = prune_network(sample_network([cols, rows], rng), 0.3)
    error = pair.error_matrices()[0]
    sigma = np.linalg.norm(error, 2)
    bound = propagation_bound(1).evaluate(
        [np.linalg.norm(pair.original.weights[0], 2)], [np.linalg.norm(pair.pruned.weights[0], 2)], [sigma], [], []
    )
    v = np.linalg.svd(error)[2][0]
    achieved = np.linalg.norm(pair.pruned.forward(v) - pair.original.forward(v))
    assert bound == pytest.approx(sigma) and achieved == pytest.approx(bound, rel=1e-9, abs=1e-15)
