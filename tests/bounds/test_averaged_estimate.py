"""The averaged bound's estimate from below: never above the certified bound, so skipping loses nothing.

The bracket certifies the averaged bound only when `estimate_averaged` does not already exceed
the ellipsoid bound; that is lossless only if every estimate is below the certified value it
stands for. Checked segment by segment and for the whole cut sum, with global and local slope
ranges (where the certified bound may pick any cover of each layer) and several scalings.
"""

from __future__ import annotations

import numpy as np
import pytest

from mbp_verify.bounds import bracket, bracket_sup_error, layer_constants
from mbp_verify.bounds.averaged import averaged_bound, estimate_averaged
from mbp_verify.bounds.parts import pair_parts
from mbp_verify.bounds.segment_estimates import estimate_segment_norms
from mbp_verify.engine import prune_network, sample_network
from mbp_verify.errors import InputError

_ROUNDING = 1 + 1e-12

PAIRS = [
    ("relu", [6, 20, 20, 4], 0.3, None),
    ("relu", [10, 30, 30, 30, 30, 5], 0.2, None),
    ("tanh", [8, 24, 16, 24, 3], 0.3, [(0.3, 1.0), (0.5, 0.9), (0.0, 0.6)]),
    ("gelu", [5, 12, 12, 12, 12, 12, 12, 2], 0.4, [(0.0, 1.0)] * 6),
    ("leaky_relu", [4, 16, 3], 0.5, [(0.2, 1.0)]),
    ("identity", [7, 9, 11, 6], 0.3, None),
]


def _case(activation, widths, alpha, seed=0):
    pair = prune_network(sample_network(widths, seed, activation=activation), alpha)
    rng = np.random.default_rng(seed)
    return pair, pair_parts(pair, rng), layer_constants(pair.original), rng


@pytest.mark.parametrize("activation, widths, alpha, ranges", PAIRS)
def test_every_segment_estimate_is_below_its_certified_norm(activation, widths, alpha, ranges):
    _, parts, constants, rng = _case(activation, widths, alpha)
    certified = averaged_bound(parts, constants, rng, (1.0,), ranges)
    estimates = estimate_segment_norms(parts, certified.scalings, np.random.default_rng(1))
    assert set(estimates) == set(certified.segment_norms)
    for segment, estimate in estimates.items():
        assert estimate.value <= certified.segment_norms[segment] * _ROUNDING
        # and a useful one: power iteration from 4 columns gets close in 6 rounds
        assert estimate.value >= 0.7 * certified.segment_norms[segment]
        assert np.linalg.norm(estimate.direction) == pytest.approx(1.0)


@pytest.mark.parametrize("factors", [(1.0,), (0.85, 1.0, 1.15)])
@pytest.mark.parametrize("activation, widths, alpha, ranges", PAIRS)
def test_the_estimate_is_below_the_certified_bound(activation, widths, alpha, ranges, factors):
    _, parts, constants, rng = _case(activation, widths, alpha)
    certified = averaged_bound(parts, constants, rng, factors, ranges).value
    estimate = estimate_averaged(parts, constants, np.random.default_rng(2), factors, ranges)
    assert estimate.value <= certified * _ROUNDING
    assert estimate.value >= 0.3 * certified
    assert all(v.shape == (widths[0],) for v in estimate.input_directions)


def test_the_estimate_covers_every_choice_of_slope_covers():
    """With local ranges the certified bound may use a cover with m = 0 (a layer's range starting
    at 0); an estimate that kept the global cover would exceed it (the negative control)."""
    pair, parts, constants, rng = _case("tanh", [8, 24, 16, 24, 3], 0.3)
    ranges = [(0.0, 1.0), (0.0, 0.05), (0.0, 1.0)]
    certified = averaged_bound(parts, constants, rng, (1.0,), ranges).value
    with_global_covers = estimate_averaged(parts, constants, np.random.default_rng(2), (1.0,), None).value
    assert estimate_averaged(parts, constants, np.random.default_rng(2), (1.0,), ranges).value <= certified
    assert with_global_covers > certified


def test_the_bracket_skips_only_what_could_not_win():
    pair = prune_network(sample_network([48, 48, 48, 48, 48], 3), 0.2)
    skipped = bracket_sup_error(pair, rng=0, effort="fast")
    assert skipped.unavailable["averaged"].startswith("not certified")
    assert "averaged_estimate" in skipped.timings and "averaged" not in skipped.timings
    rng = np.random.default_rng(0)
    assert averaged_bound(pair_parts(pair, rng), layer_constants(pair.original), rng).value > skipped.upper


def test_without_the_ellipsoid_bound_the_averaged_one_is_certified(monkeypatch):
    monkeypatch.setattr(bracket, "_ellipsoid", lambda *args: None)
    pair = prune_network(sample_network([48, 48, 48, 48, 48], 3), 0.2)
    result = bracket_sup_error(pair, rng=0, effort="fast")
    assert "averaged" in result.upper_bounds and "averaged_estimate" not in result.timings


@pytest.mark.parametrize(
    "keyword, value, message",
    [("certify_all", 1, "certify_all must be True or False"), ("slopes", "both", "slopes must be 'local' or 'global'")],
)
def test_bad_bracket_options_are_input_errors(keyword, value, message):
    pair = prune_network(sample_network([4, 6, 3], 0), 0.3)
    with pytest.raises(InputError, match=message):
        bracket_sup_error(pair, rng=0, effort="fast", **{keyword: value})
