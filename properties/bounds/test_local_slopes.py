"""Soundness of the local slope ranges: upper bounds built on reachable slopes are never below
the replayed dense-grid value, at ordinary and extreme weight scales, for ten activations.

Networks with input dimension 2 (depth 2-4, widths 1-16) are drawn by Hypothesis, weights from
`rng_for(root seed, property id, trial)`, scaled by 2^k for k in {-40, -2, 0, 2, 30}. Every upper
bound of `bracket_sup_error(slopes="local")` must be >= `certified_grid_value` (the grid's maximum
replayed in float64 minus its rounding margin: a violation is a proof) and <= the same method
with the activations' global slope ranges (the local ranges are never wider).
"""

from __future__ import annotations

import pytest
from hypothesis import example, given, settings, target
from hypothesis import strategies as st

from mbp_verify.bounds import bracket_sup_error
from mbp_verify.bounds.grid import certified_grid_value
from mbp_verify.engine import prune_network, sample_network
from mbp_verify.seeding import rng_for
from mbp_verify.suite import mbp_property

TEN = ("relu", "leaky_relu", "tanh", "sigmoid", "gelu", "gelu_tanh", "silu", "hardtanh", "elu", "softplus")


@st.composite
def plane_networks(draw: st.DrawFn) -> dict:
    depth = draw(st.integers(2, 4))
    return {
        "widths": [2]
        + draw(st.lists(st.integers(1, 16), min_size=depth - 1, max_size=depth - 1))
        + [draw(st.integers(1, 4))],
        "activation": draw(st.sampled_from(TEN)),
        "alpha": draw(st.sampled_from([0.2, 0.3, 0.5])),
        "distribution": draw(st.sampled_from(["uniform", "gaussian"])),
        "exponent": draw(st.sampled_from([-40, -2, 0, 2, 30])),
        "trial": draw(st.integers(0, 10**6)),
    }


def _check(spec: dict, root_seed: int, property_id: str) -> float:
    """Assert the property for one network; returns grid / upper (for targeting)."""
    rng = rng_for(root_seed, property_id, spec["trial"])
    net = sample_network(
        spec["widths"],
        rng,
        scale=2.0 ** spec["exponent"],
        activation=spec["activation"],
        distribution=spec["distribution"],
    )
    pair = prune_network(net, spec["alpha"])
    local = bracket_sup_error(pair, rng=rng_for(root_seed, property_id, spec["trial"]), effort="fast", certify_all=True)
    landed = bracket_sup_error(
        pair, rng=rng_for(root_seed, property_id, spec["trial"]), effort="fast", slopes="global", certify_all=True
    )
    grid = certified_grid_value(pair, angles=2000)
    for method, upper in local.upper_bounds.items():
        assert grid <= upper, f"{method} bound {upper!r} is below the replayed grid value {grid!r}"
        if method in landed.upper_bounds:
            assert upper <= landed.upper_bounds[method], (
                f"local {method} {upper!r} > global {landed.upper_bounds[method]!r}"
            )
    assert local.lower - local.lower_margin <= local.upper
    return grid / local.upper if local.upper > 0 else 0.0


_SMALLEST_HIDDEN = {
    "widths": [2, 1, 1],
    "activation": "gelu",
    "alpha": 0.5,
    "distribution": "gaussian",
    "exponent": 0,
    "trial": 0,
}


@mbp_property(
    id="bounds.local_slopes_sound",
    statement="upper bounds built on slope ranges reachable over the unit ball are >= the replayed dense-grid "
    "value of ||f - F|| (input dimension 2, ten activations, weight scales 2^-40 to 2^30) and never above the "
    "same bound with global slope ranges",
    source="issue: local slope ranges; docs/brackets.md",
)
@settings(max_examples=8)
@example(spec=_SMALLEST_HIDDEN)
@given(spec=plane_networks())
def test_local_slopes_sound(spec, mbp_root_seed):
    target(_check(spec, mbp_root_seed, "bounds.local_slopes_sound"), label="grid / upper")


@mbp_property(
    id="bounds.local_slopes_fuzz",
    statement="the local-slope soundness check on 300 drawn networks",
    source="issue: local slope ranges; docs/brackets.md",
)
@pytest.mark.slow
@settings(max_examples=300)
@given(spec=plane_networks())
def test_local_slopes_fuzz(spec, mbp_root_seed):
    target(_check(spec, mbp_root_seed, "bounds.local_slopes_fuzz"), label="grid / upper")
