"""bracket_sup_error: the contract other modules code against."""

import json
import math

import numpy as np
import pytest

from mbp_verify.bounds import (
    ErrorBracket,
    bracket_sup_error,
    certified_grid_value,
    grid_sup,
    layer_constants,
    maximise_error,
    pair_parts,
    replay_error,
)
from mbp_verify.bounds.grid import observed_errors
from mbp_verify.engine import NetworkPair, apply_masks, prune_network, sample_network
from mbp_verify.errors import InputError


@pytest.fixture(scope="module")
def relu_pair():
    return prune_network(sample_network([12, 40, 40, 6], 3), 0.3)


def test_contract_fields(relu_pair):
    result = bracket_sup_error(relu_pair, rng=1, effort="fast")
    assert isinstance(result, ErrorBracket)
    assert 0 < result.lower <= result.upper
    assert result.upper == result.upper_bounds[result.upper_method] == min(result.upper_bounds.values())
    assert result.ratio == pytest.approx(result.upper / result.lower)
    assert result.witness.shape == (12,) and np.linalg.norm(result.witness) <= 1.0
    value = np.linalg.norm(relu_pair.pruned.forward(result.witness) - relu_pair.original.forward(result.witness))
    assert value == result.lower  # replayed on a fresh forward pass
    assert set(result.timings) >= {"prepare", "layerwise", "ellipsoid", "lower_search", "replay"}
    assert {"averaged", "averaged_estimate"} & set(result.timings)
    document = json.loads(json.dumps(result.to_dict()))
    assert document["witness"] == [float(v) for v in result.witness]


def test_decide(relu_pair):
    result = bracket_sup_error(relu_pair, rng=2, effort="fast")
    assert result.decide(result.upper) == "certified"
    assert result.decide(result.lower * 0.5) == "violated"
    assert result.decide(0.5 * (result.lower + result.upper)) == "unknown"
    with pytest.raises(InputError, match="eps"):
        result.decide(float("nan"))


def test_seeded_runs_are_reproducible(relu_pair):
    a = bracket_sup_error(relu_pair, rng=np.random.SeedSequence(5), effort="fast")
    b = bracket_sup_error(relu_pair, rng=np.random.SeedSequence(5), effort="fast")
    assert a.lower == b.lower and a.upper == b.upper and np.array_equal(a.witness, b.witness)


def test_no_pruning_gives_zero_bracket():
    net = sample_network([5, 7, 3], 0)
    pair = apply_masks(net, [np.ones((7, 5)), np.ones((3, 7))])
    result = bracket_sup_error(pair, effort="fast")
    assert result.upper == 0.0 and result.lower == 0.0 and math.isinf(result.ratio)
    assert result.decide(0.0) == "certified"


@pytest.mark.parametrize("bad, message", [("x", "NetworkPair"), (None, "NetworkPair")])
def test_rejects_non_pairs(bad, message):
    with pytest.raises(InputError, match=message):
        bracket_sup_error(bad)


ENTRY_POINTS = {
    "bracket_sup_error": lambda pair: bracket_sup_error(pair, effort="fast"),
    "pair_parts": lambda pair: pair_parts(pair, np.random.default_rng(0)),
    "maximise_error": lambda pair: maximise_error(pair, np.ones((1, 2)), iterations=1, on_sphere=True),
    "replay_error": lambda pair: replay_error(pair, np.zeros(2), [1.0]),
    "observed_errors": lambda pair: observed_errors(pair, np.zeros((1, 2))),
    "grid_sup": lambda pair: grid_sup(pair, angles=8),
    "certified_grid_value": lambda pair: certified_grid_value(pair, angles=8),
}


@pytest.mark.parametrize("entry", sorted(ENTRY_POINTS))
def test_every_pair_entry_point_checks_its_pair(entry):
    call = ENTRY_POINTS[entry]
    with pytest.raises(InputError, match="NetworkPair"):
        call("not a pair")
    net = sample_network([2, 3, 2], 0)
    other = sample_network([2, 4, 2], 0)
    with pytest.raises(InputError, match="different widths"):
        call(NetworkPair(net, other, (), ()))
    with pytest.raises(InputError, match="same activations"):
        call(NetworkPair(net, sample_network([2, 3, 2], 0, activation="tanh"), (), ()))
    call(prune_network(net, 0.3))  # a proper pair passes


def test_layer_constants_needs_a_network():
    with pytest.raises(InputError, match="Network"):
        layer_constants(prune_network(sample_network([2, 3, 2], 0), 0.3))


def test_rejects_bad_effort_and_rng(relu_pair):
    with pytest.raises(InputError, match="effort"):
        bracket_sup_error(relu_pair, effort="slow")
    with pytest.raises(InputError, match="rng"):
        bracket_sup_error(relu_pair, rng="seed")


@pytest.mark.parametrize("activation", ["relu", "leaky_relu(a=0.25)", "identity"])
@pytest.mark.parametrize("scale", [1.0, 2.0**-300, 2.0**200])
def test_exact_line_for_one_input_dimension(activation, scale):
    """d0 = 1, positively homogeneous: the sup is max ||g(+-1)||; the bound equals it up to the
    replay margin and covers the exact rational value (properties/bounds/extreme.py)."""
    from fractions import Fraction

    from properties.bounds.extreme import exact_square_error

    pair = prune_network(sample_network([1, 9, 7, 3], 5, activation=activation, scale=scale), 0.3)
    result = bracket_sup_error(pair, rng=0, effort="fast")
    exact = max(exact_square_error(pair, np.array([end])) for end in (1.0, -1.0))
    upper = result.upper_bounds["exact_line"]
    assert Fraction(upper) ** 2 >= exact
    assert result.upper_method == "exact_line" and result.ratio <= 1 + 1e-9


def test_exact_line_only_where_it_is_exact():
    # d0 = 2 (the sup is not at +-e1) and tanh (not homogeneous): no exact_line bound
    for widths, activation in (([2, 9, 3], "relu"), ([1, 9, 3], "tanh")):
        pair = prune_network(sample_network(widths, 5, activation=activation), 0.3)
        assert "exact_line" not in bracket_sup_error(pair, rng=0, effort="fast").upper_bounds


def test_layerwise_is_skipped_only_where_it_cannot_win():
    """Where its estimate from below exceeds the ellipsoid bound the layerwise bound is not certified
    (nor the ||E_l||, nor for ReLU at d0 > 3 the ||W_l||, ||W~_l||): certify_all shows that the
    certified value is indeed above both that estimate and the bracket's upper end, which is unchanged."""
    pair = prune_network(sample_network([64, 64, 64, 64], 1), 0.2)
    skipped = bracket_sup_error(pair, rng=0)
    everything = bracket_sup_error(pair, rng=0, certify_all=True)
    reason = skipped.unavailable["layerwise"]
    assert reason.startswith("not certified: an estimate from below") and "layerwise" not in skipped.upper_bounds
    estimate = float(reason.split("(")[1].split(")")[0])
    assert everything.upper_bounds["layerwise"] >= estimate * (1 - 1e-3) and estimate > skipped.upper
    assert skipped.upper == everything.upper and "norms" not in skipped.timings and "norms" in everything.timings
    assert 0 < skipped.lower_margin < 1e-12 * skipped.lower  # replayed with Frobenius norms: still tiny


def test_norms_are_certified_where_branch_and_bound_or_the_slopes_use_them():
    """d0 <= 3 (branch-and-bound's Lipschitz sum and replays) and non-homogeneous activations
    (the reachable slopes' norm chain) certify ||W_l||, ||W~_l|| before the bounds; without an
    ellipsoid bound (sigma(0) != 0) nothing skips the layerwise bound."""
    small = bracket_sup_error(prune_network(sample_network([3, 16, 16, 2], 1), 0.3), rng=0)
    assert "norms" in small.timings and "branch_and_bound" in small.upper_bounds
    smooth = bracket_sup_error(prune_network(sample_network([8, 16, 16, 2], 1, activation="tanh"), 0.3), rng=0)
    assert "norms" in smooth.timings
    offset = bracket_sup_error(prune_network(sample_network([8, 16, 16, 2], 1, activation="sigmoid"), 0.3), rng=0)
    assert "ellipsoid" in offset.unavailable and "layerwise" in offset.upper_bounds


def test_the_same_seed_sequence_twice_gives_the_same_bracket():
    """The norm estimates are seeded from the caller's SeedSequence without spawning from it (a spawn
    would change it, and a second bracket from the same object would differ: found while adding them)."""
    pair = prune_network(sample_network([4, 2, 1], 3, scale=0.5), 0.1)
    seed = np.random.SeedSequence([20210701, 7])
    first, second = bracket_sup_error(pair, rng=seed, effort="fast"), bracket_sup_error(pair, rng=seed, effort="fast")
    assert first.upper_bounds == second.upper_bounds and first.lower == second.lower
    assert seed.n_children_spawned == 0


def test_a_loose_frobenius_margin_is_replayed_with_certified_norms(monkeypatch):
    """Where the norms were skipped, a replay margin above _TIGHT_MARGIN of the value (forced here by
    a threshold of 0) certifies ||W_l||, ||W~_l|| after the search and replays the same witness
    again: the same value, a margin no larger, and `norms` timed."""
    from mbp_verify.bounds import bracket as bracket_module

    pair = prune_network(sample_network([64, 64, 64, 64, 64, 64], 2), 0.3)
    loose = bracket_sup_error(pair, rng=0, effort="fast")
    monkeypatch.setattr(bracket_module, "_TIGHT_MARGIN", 0.0)
    tight = bracket_sup_error(pair, rng=0, effort="fast")
    assert "norms" not in loose.timings and "norms" in tight.timings
    assert tight.lower == loose.lower and np.array_equal(tight.witness, loose.witness)
    assert 0 < tight.lower_margin <= loose.lower_margin
    assert tight.upper_bounds == loose.upper_bounds
