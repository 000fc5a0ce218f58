"""The building blocks of the certificates against high-precision references (mpmath, 50 digits).

Certified spectral norms must never be below the exact largest singular value, also for the
matrices that break naive estimates (tiny or huge entries, rank one, repeated singular values,
zero rows); a replayed value must lie within its stated rounding margin of the exact
||f(x) - F(x)||. References are computed at 50 significant digits, so a failure is a real
violation (false-failure rate 0).
"""

from __future__ import annotations

import functools

import mpmath
import numpy as np
import sympy as sp
from hypothesis import given, target
from hypothesis import strategies as st

from mbp_verify.bounds import certified_spectral_norm, layer_constants, replay_error
from mbp_verify.engine import prune_network, sample_network
from mbp_verify.seeding import rng_for
from mbp_verify.suite import mbp_property
from mbp_verify.symbolic import symbolic_activation
from mbp_verify.symbolic.registry import CONSTANT_VALUES, X

_DIGITS = 50


@st.composite
def adversarial_recipes(draw: st.DrawFn) -> dict:
    """Shape, kind, power-of-two scale (and value pool) of a matrix; its random parts come from
    `adversarial_matrix` with a generator from rng_for(root seed, property id, trial)."""
    kind = draw(st.sampled_from(["entries", "rank_one", "orthogonal", "spread"]))
    return {
        "rows": draw(st.integers(1, 7)),
        "cols": draw(st.integers(1, 7)),
        "kind": kind,
        "scale": 2.0 ** draw(st.integers(-1000, 1000)),
        "pool": draw(st.lists(st.floats(-1e3, 1e3, allow_nan=False, allow_subnormal=True), min_size=1, max_size=5))
        if kind == "entries"
        else None,
        "trial": draw(st.integers(0, 10**6)),
    }


def adversarial_matrix(recipe: dict, rng: np.random.Generator) -> np.ndarray:
    rows, cols, kind = recipe["rows"], recipe["cols"], recipe["kind"]
    if kind == "entries":
        matrix = rng.choice(np.array(recipe["pool"] + [0.0]), size=(rows, cols))
    elif kind == "rank_one":
        matrix = np.outer(rng.standard_normal(rows), rng.standard_normal(cols)) + 1e-9 * rng.standard_normal(
            (rows, cols)
        )
    elif kind == "orthogonal":  # all singular values equal: no gap for any iteration to exploit
        q, _ = np.linalg.qr(rng.standard_normal((max(rows, cols), max(rows, cols))))
        matrix = q[:rows, :cols]
    else:
        u, _ = np.linalg.qr(rng.standard_normal((rows, rows)))
        v, _ = np.linalg.qr(rng.standard_normal((cols, cols)))
        s = np.zeros((rows, cols))
        k = min(rows, cols)
        s[np.arange(k), np.arange(k)] = 10.0 ** -rng.uniform(0, 12, k)
        matrix = u @ s @ v.T
    return matrix * recipe["scale"]


def exact_spectral_norm(matrix: np.ndarray) -> mpmath.mpf:
    with mpmath.workdps(_DIGITS):
        a = mpmath.matrix(matrix.tolist())
        return max(mpmath.svd_r(a, compute_uv=False))


@mbp_property(
    id="bounds.spectral_certified",
    statement="certified_spectral_norm(A) >= the exact ||A||_2 (50-digit SVD) for adversarial A, and within 1e-4 of it",
    source="docs/design.md section 4; Rump, Verification of positive definiteness, BIT 2006",
)
@given(recipe=adversarial_recipes())
def test_spectral_norm_certified(recipe, mbp_root_seed):
    matrix = adversarial_matrix(recipe, rng_for(mbp_root_seed, "bounds.spectral_certified", recipe["trial"]))
    bound = certified_spectral_norm(matrix).upper
    exact = exact_spectral_norm(matrix)
    assert mpmath.mpf(bound) >= exact, f"certified {bound!r} < exact {exact}"
    if exact > 0:
        target(float(exact / mpmath.mpf(bound)), label="exact / certified")
        assert bound <= float(exact) * (1 + 1e-4) + 1e-300


@functools.cache
def _mp_activation(spec: str):
    _, expr = symbolic_activation(spec)
    return sp.lambdify(X, expr.subs(CONSTANT_VALUES), modules="mpmath")


def exact_output(weights, activations, x) -> list:
    with mpmath.workdps(_DIGITS):
        h = [mpmath.mpf(float(v)) for v in x]
        for layer, w in enumerate(weights):
            z = [mpmath.fsum(mpmath.mpf(float(w[r, c])) * h[c] for c in range(w.shape[1])) for r in range(w.shape[0])]
            h = [_mp_activation(str(activations[layer]))(v) for v in z] if layer < len(weights) - 1 else z
        return h


@mbp_property(
    id="bounds.replay_margin",
    statement="the replayed ||f(x) - F(x)|| is within its stated rounding margin of the 50-digit value",
    source="docs/design.md section 4 (a VIOLATED witness must exceed eps beyond the forward pass' rounding)",
)
@given(
    depth=st.integers(1, 3),
    width=st.integers(1, 6),
    activation=st.sampled_from(["relu", "tanh", "sigmoid", "gelu", "elu", "softplus", "leaky_relu(a=0.2)"]),
    trial=st.integers(0, 10**6),
)
def test_replay_margin(depth, width, activation, trial, mbp_root_seed):
    rng = rng_for(mbp_root_seed, "bounds.replay_margin", trial)
    pair = prune_network(
        sample_network([width] * (depth + 1), rng, scale=3.0, activation=activation), 0.5, method="largest"
    )
    x = rng.standard_normal(width)
    x /= np.linalg.norm(x) * (1 + 1e-12)
    replay = replay_error(pair, x, [c.lipschitz for c in layer_constants(pair.original)])
    with mpmath.workdps(_DIGITS):
        f = exact_output(pair.pruned.weights, pair.original.activations, x)
        F = exact_output(pair.original.weights, pair.original.activations, x)
        exact = mpmath.sqrt(mpmath.fsum((a - b) ** 2 for a, b in zip(f, F)))
        gap = abs(mpmath.mpf(replay.value) - exact)
        assert gap <= mpmath.mpf(replay.margin), f"|replayed - exact| = {gap} exceeds the margin {replay.margin!r}"
