"""Chain-level findings: (i), (ii) naming the layer that breaks it, the consequences of the
violations (surrogate and shuffled controls), and how far layers moved from their initial values."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

import mbp_verify.audit.hypotheses as hypotheses
from mbp_verify.audit import (
    WeightFile,
    activation_verdicts,
    audit_selection,
    chain_consequences,
    layer_movement,
    parse_activations,
    select_layers,
    shuffled_network,
    surrogate_network,
    width_verdict,
)
from mbp_verify.audit.consequences import RatioBracket
from mbp_verify.engine import Network, sample_network
from mbp_verify.errors import InputError
from mbp_verify.seeding import rng_for
from mbp_verify.symbolic import derive_lipschitz


def test_width_condition_names_the_breaking_layers():
    names = ["fc1", "fc2", "fc3", "fc4"]
    verdict = width_verdict([100, 128, 64, 256, 10], names)
    assert verdict.status == "rejected" and verdict.evidence["breaking_layers"] == ["fc2"]
    assert "fc2 (d_2 = 64)" in verdict.detail
    assert width_verdict([64, 128, 128, 10], names[:3]).status == "consistent"
    assert width_verdict([64, 10], names[:1]).status == "not_applicable"
    with pytest.raises(InputError):
        width_verdict([64, 10], names)


def test_activations_one_for_all_or_one_per_hidden_layer():
    assert parse_activations("relu", 3) == ("relu",) * 3
    assert parse_activations("leaky_relu(a=0.2),tanh", 2) == ("leaky_relu(a=0.2)", "tanh")
    for bad in ("", "relu,,tanh", "nonsense"):
        with pytest.raises(InputError):
            parse_activations(bad, 2)
    verdicts = activation_verdicts(("tanh",), ["W1", "W2"])
    assert [v.status for v in verdicts] == ["consistent", "consistent"] and verdicts[0].evidence["lipschitz"] == 1.0


def test_activation_count_must_match_the_hidden_layers():
    with pytest.raises(InputError, match="hidden activations"):
        activation_verdicts(("relu", "relu"), ["W1", "W2"])


def test_a_non_lipschitz_activation_is_rejected(monkeypatch):
    unbounded = dataclasses.replace(derive_lipschitz("relu"), name="x^2", lipschitz=None)
    monkeypatch.setattr(hypotheses, "derive_lipschitz", lambda spec: unbounded)
    assert activation_verdicts(("relu",), ["W1", "W2"])[0].status == "rejected"


def test_surrogate_matches_rms_and_shuffle_keeps_values():
    net = Network([rng_for(1, "tests.audit.chain").standard_normal((40, 30)) * 0.3, np.ones((5, 40))], "relu")
    surrogate = surrogate_network(net, rng_for(1, "s"))
    shuffled = shuffled_network(net, rng_for(1, "p"))
    for w, s, p in zip(net.weights, surrogate.weights, shuffled.weights):
        half = math.sqrt(3.0) * np.sqrt(np.mean(w * w))
        assert s.shape == w.shape and np.abs(s).max() <= half
        assert np.sqrt(np.mean(s * s)) == pytest.approx(np.sqrt(np.mean(w * w)), rel=0.1)
        assert np.array_equal(np.sort(p.ravel()), np.sort(w.ravel()))
    assert not np.array_equal(shuffled.weights[0], net.weights[0])


def test_consequences_are_deterministic_and_consistent():
    net = sample_network([16, 32, 4], rng_for(2, "tests.audit.consequences"))
    first = chain_consequences(net, 0.3, seed=5, effort="fast")
    again = chain_consequences(net, 0.3, seed=5, effort="fast")
    for name in ("real", "surrogate", "shuffled"):
        a, b = getattr(first, name), getattr(again, name)
        assert (a.lower, a.upper) == (b.lower, b.upper) and np.array_equal(a.witness, b.witness)
    assert first.counts == (math.floor(512**0.7), math.floor(128**0.7))
    for ratio in (first.survival, first.dependence_cost, first.marginal_cost):
        assert ratio.low <= ratio.estimate <= ratio.high
    assert first.survival.estimate == pytest.approx(first.dependence_cost.estimate * first.marginal_cost.estimate)
    assert "costliest" in first.summary()


@pytest.mark.parametrize(
    "call",
    [
        lambda: surrogate_network(np.eye(2), rng_for(1, "tests.audit.bad")),
        lambda: shuffled_network([np.eye(2)], rng_for(1, "tests.audit.bad")),
        lambda: chain_consequences(np.eye(2), 0.3, seed=1),
    ],
)
def test_consequences_need_a_network(call):
    with pytest.raises(InputError, match="need a Network"):
        call()


def test_audit_selection_rejects_a_negative_seed():
    selection = select_layers(WeightFile.from_arrays({"W1": np.eye(3), "W2": np.eye(3)}))
    with pytest.raises(InputError, match="seed must be non-negative"):
        audit_selection(selection, seed=-1)


def test_ratio_brackets_and_costliest_neither():
    bracket = lambda lo, hi: type("B", (), {"lower": lo, "upper": hi})()
    ratio = RatioBracket.of(bracket(2.0, 4.0), bracket(1.0, 2.0))
    assert (ratio.estimate, ratio.low, ratio.high) == (2.0, 1.0, 4.0)
    assert RatioBracket.of(bracket(1.0, 2.0), bracket(0.0, 1.0)).to_dict()["estimate"] == "inf"  # the JSON convention


def test_layer_movement_against_direct_norms():
    rng = rng_for(3, "tests.audit.movement")
    w0 = rng.uniform(-1, 1, (20, 30))
    w = w0 + 0.1 * rng.standard_normal((20, 30))
    moved = layer_movement("W", w, w0)
    assert moved.relative_frobenius == pytest.approx(np.linalg.norm(w - w0) / np.linalg.norm(w0))
    assert moved.relative_spectral == pytest.approx(np.linalg.norm(w - w0, 2) / np.linalg.norm(w0, 2))
    with pytest.raises(InputError, match="differ"):
        layer_movement("W", w, w0.T)
    with pytest.raises(InputError, match="all zero"):
        layer_movement("W", w, np.zeros_like(w))
