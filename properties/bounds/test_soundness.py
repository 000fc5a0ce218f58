"""Soundness of the certified bracket: no upper bound below an observed error, witnesses replay.

Networks are fuzzed by Hypothesis (depth 1-4, widths 1-16, ten activations, MBP / random /
largest-magnitude pruning, uniform or Gaussian weights, scales 0.5-3) with weights drawn from
`rng_for(root_seed, property id, trial)`. Input dimension 2 gives the true supremum to high
accuracy from a dense grid (circle or disc); `target()` steers Hypothesis towards networks where
grid / upper and lower / upper approach 1, i.e. where an unsound bound would show. A violation
is only reported when the grid value minus its float64 rounding margin exceeds the bound, so a
failure is a proof, never noise (false-failure rate 0).
"""

from __future__ import annotations

import numpy as np
from hypothesis import given, target
from hypothesis import strategies as st

from mbp_verify.bounds import bracket_sup_error, layer_constants, replay_error
from mbp_verify.bounds.grid import certified_grid_value, observed_errors
from mbp_verify.engine import prune_network, sample_network
from mbp_verify.seeding import rng_for, seed_sequence
from mbp_verify.suite import mbp_property

ACTIVATIONS = (
    "relu",
    "leaky_relu(a=0.2)",
    "identity",
    "tanh",
    "elu",
    "silu",
    "gelu",
    "hardswish",
    "sigmoid",
    "softplus",
)


@st.composite
def network_specs(draw: st.DrawFn, input_dim: "int | None" = None) -> dict:
    depth = draw(st.integers(1, 4))
    return {
        "widths": [input_dim or draw(st.integers(3, 12))]
        + draw(st.lists(st.integers(1, 16), min_size=depth - 1, max_size=depth - 1))
        + [draw(st.integers(1, 8))],
        "activation": draw(st.sampled_from(ACTIVATIONS)),
        "alpha": draw(st.sampled_from([0.1, 0.2, 0.3, 0.5, 0.8])),
        "method": draw(st.sampled_from(["magnitude", "random", "largest"])),
        "distribution": draw(st.sampled_from(["uniform", "gaussian"])),
        "scale": draw(st.sampled_from([0.5, 1.0, 3.0])),
        "trial": draw(st.integers(0, 10**6)),
    }


def bracketed(spec: dict, root_seed: int, property_id: str):
    """The pair `spec` describes and its fast bracket with every upper bound certified; every draw
    (weights, random pruning, search starts) comes from rng_for(root_seed, property_id, trial)."""
    rng = rng_for(root_seed, property_id, spec["trial"])
    net = sample_network(
        spec["widths"], rng, scale=spec["scale"], activation=spec["activation"], distribution=spec["distribution"]
    )
    pair = prune_network(net, spec["alpha"], method=spec["method"], rng=rng)
    return pair, bracket_sup_error(pair, rng=rng, effort="fast", certify_all=True)


@mbp_property(
    id="bounds.upper_sound_plane",
    statement="with input dimension 2 every certified upper bound is >= the dense-grid maximum of ||f - F|| "
    "(minus its rounding margin), and the replayed lower bound is <= it",
    source="docs/design.md section 2 (eps-closeness) and section 4 (CERTIFIED decisions must be sound)",
)
@given(spec=network_specs(input_dim=2))
def test_upper_sound_in_the_plane(spec, mbp_root_seed, mbp_evidence):
    pair, result = bracketed(spec, mbp_root_seed, "bounds.upper_sound_plane")
    grid_value = certified_grid_value(pair, angles=4000)
    for method, upper in result.upper_bounds.items():
        assert grid_value <= upper, f"{method} bound {upper!r} is below the replayed grid value {grid_value!r}"
    if result.upper > 0:
        target(grid_value / result.upper, label="grid / upper")
        target(result.lower / result.upper, label="lower / upper")
    assert result.lower - result.lower_margin <= result.upper
    mbp_evidence.setdefault("worst_grid_over_upper", 0.0)
    if result.upper > 0:
        mbp_evidence["worst_grid_over_upper"] = max(mbp_evidence["worst_grid_over_upper"], grid_value / result.upper)


@mbp_property(
    id="bounds.upper_sound_sampled",
    statement="in input dimensions 3-12 every upper bound is >= ||f(x) - F(x)|| at 2000 random points of the ball "
    "and sphere",
    source="docs/design.md section 4 (CERTIFIED decisions must be sound)",
)
@given(spec=network_specs())
def test_upper_sound_sampled(spec, mbp_root_seed):
    pair, result = bracketed(spec, mbp_root_seed, "bounds.upper_sound_sampled")
    rng = rng_for(mbp_root_seed, "bounds.upper_sound_sampled.points", spec["trial"])
    x = rng.standard_normal((2000, pair.original.widths[0]))
    x /= np.linalg.norm(x, axis=1, keepdims=True) * (1 + 1e-12)
    x[1000:] *= rng.uniform(0, 1, (1000, 1)) ** (1 / x.shape[1])
    values = observed_errors(pair, x)
    lipschitz = [c.lipschitz for c in layer_constants(pair.original)]
    worst = int(np.argmax(values))
    observed = replay_error(pair, x[worst], lipschitz).certified_lower
    if result.upper > 0:
        target(float(values[worst]) / result.upper, label="sampled / upper")
    for method, upper in result.upper_bounds.items():
        assert observed <= upper, f"{method} bound {upper!r} is below the observed error {observed!r}"


@mbp_property(
    id="bounds.lower_replayed",
    statement="the lower bound equals ||f(w) - F(w)|| on fresh float64 forward passes at its witness w, ||w|| <= 1",
    source="docs/design.md section 4 (VIOLATED needs a replayed witness)",
)
@given(spec=network_specs())
def test_lower_is_replayed(spec, mbp_root_seed):
    pair, result = bracketed(spec, mbp_root_seed, "bounds.lower_replayed")
    w = np.array(result.to_dict()["witness"])
    assert np.linalg.norm(w) <= 1.0
    assert result.lower == float(np.linalg.norm(pair.pruned.forward(w) - pair.original.forward(w)))
    assert result.lower - result.lower_margin <= result.upper


@mbp_property(
    id="bounds.averaged_skip_lossless",
    statement="skipping the averaged or the layerwise bound where an estimate of it from below exceeds the "
    "ellipsoid bound never changes the upper end: it equals the upper end with every bound certified",
    source="docs/brackets.md (an averaged or layerwise bound that cannot win is not certified)",
)
@given(spec=network_specs())
def test_averaged_skip_lossless(spec, mbp_root_seed, mbp_evidence):
    pair, _ = bracketed(spec, mbp_root_seed, "bounds.averaged_skip_lossless")
    seed = seed_sequence(mbp_root_seed, "bounds.averaged_skip_lossless.brackets", spec["trial"])
    every = bracket_sup_error(pair, rng=seed, effort="fast", certify_all=True)
    default = bracket_sup_error(pair, rng=seed, effort="fast")
    for method in ("averaged", "layerwise"):
        skipped = default.unavailable.get(method, "").startswith("not certified")
        mbp_evidence[f"skipped_{method}"] = mbp_evidence.get(f"skipped_{method}", 0) + skipped
    assert default.upper == every.upper
    assert set(default.upper_bounds) <= set(every.upper_bounds)
    for method, upper in default.upper_bounds.items():
        assert upper == every.upper_bounds[method]


@mbp_property(
    id="bounds.headline_ratio",
    statement="on a sampled 3-layer ReLU network (width 256, alpha 0.2; 128 under --quick) the bracket's "
    "upper / lower is at most 3 and the ellipsoid bound is the tightest",
    source="docs/benchmarks.md (certified bracket: target upper / lower <= 3 at depth 3)",
    tier="advisory",
)
def test_headline_ratio(mbp_root_seed, mbp_profile, mbp_evidence):
    width = 128 if mbp_profile == "mbp-quick" else 256
    rng = rng_for(mbp_root_seed, "bounds.headline_ratio")
    pair = prune_network(sample_network([width] * 4, rng), 0.2)
    result = bracket_sup_error(pair, rng=rng, effort="default")
    mbp_evidence.update(width=width, lower=result.lower, upper_bounds=result.upper_bounds, ratio=result.ratio)
    assert result.upper_method == "ellipsoid"
    assert result.ratio <= 3.0
