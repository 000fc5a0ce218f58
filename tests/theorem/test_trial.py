"""One trial: width profiles, seeding, pruning rules, the decided outcome."""

import numpy as np
import pytest

from mbp_verify.engine import theorem_prune_count
from mbp_verify.errors import InputError
from mbp_verify.seeding import rng_for
from mbp_verify.theorem import TrialSpec, prune_trial_network, run_trial, sample_trial_network, width_profile


@pytest.mark.parametrize("shape", ["square", "rectangular"])
@pytest.mark.parametrize("depth", [2, 3, 6])
def test_width_profiles_satisfy_hypothesis_ii(shape, depth):
    widths = width_profile(32, depth, shape)
    assert len(widths) == depth + 1
    hidden = widths[1:-1]
    assert min(hidden) == 32 and min(hidden) >= max(widths[0], widths[-1])


@pytest.mark.parametrize("args", [(3, 3, "square"), (32, 1, "square"), (32, 3, "triangle"), (32.5, 3, "square")])
def test_bad_profiles(args):
    with pytest.raises(InputError):
        width_profile(*args)


@pytest.mark.parametrize(
    "change",
    [
        dict(alpha=1.0),
        dict(eps=0.0),
        dict(eps=float("nan")),
        dict(weights="laplace"),
        dict(pruning="smallest"),
        dict(effort="huge"),
        dict(activation="nope"),
        dict(scale=-1.0),
        dict(eps="x"),
        dict(scale=None),
        dict(random_trials="x"),
        dict(random_trials=1.5),
        dict(width="16"),
        dict(depth=None),
    ],
)
def test_bad_specs(change):
    with pytest.raises(InputError):
        TrialSpec(**{**dict(width=16, alpha=0.3, eps=0.5), **change})


@pytest.mark.parametrize("seed,index", [(-1, 0), (0, -1), (0, 1.5), ("7", 0)])
def test_run_trial_rejects_bad_arguments(seed, index):
    with pytest.raises(InputError):
        run_trial(TrialSpec(width=16, alpha=0.3, eps=0.5), seed, index)
    with pytest.raises(InputError, match="TrialSpec"):
        run_trial(None, 0, 0)


def test_networks_are_shared_across_alpha_eps_and_pruning_but_not_trials():
    a = TrialSpec(width=16, alpha=0.2, eps=0.5)
    b = a.with_changes(alpha=0.3, eps=0.1, pruning="random")
    assert a.network_id == b.network_id
    net_a = sample_trial_network(a, rng_for(1, a.network_id, 0))
    net_b = sample_trial_network(b, rng_for(1, b.network_id, 0))
    net_c = sample_trial_network(a, rng_for(1, a.network_id, 1))
    assert all(np.array_equal(x, y) for x, y in zip(net_a.weights, net_b.weights))
    assert not np.array_equal(net_a.weights[0], net_c.weights[0])
    assert a.network_id != a.with_changes(weights="gaussian").network_id


def test_trial_is_a_function_of_seed_spec_and_index():
    spec = TrialSpec(width=16, alpha=0.3, eps=0.2, random_trials=4)
    first, again, other = run_trial(spec, 5, 3), run_trial(spec, 5, 3), run_trial(spec, 5, 4)
    assert first == again and first != other
    assert first.index == 3 and 0 < first.lower <= first.upper
    assert 0 < first.random_lower <= first.random_upper
    assert other.random_lower is None and other.random_upper is None  # index 4 >= random_trials
    expected = "certified" if first.upper <= spec.eps else "violated" if first.lower > spec.eps else "unknown"
    assert first.outcome == expected


def test_review_reading_keeps_only_d_to_minus_alpha():
    spec = TrialSpec(width=32, alpha=0.3, eps=0.5, pruning="review")
    rng = rng_for(0, spec.network_id, 0)
    pair = prune_trial_network(spec, sample_trial_network(spec, rng), rng)
    for mask in pair.masks:
        kept = int(np.count_nonzero(mask))
        assert kept == int(np.floor(mask.size * mask.size**-0.3)) or abs(kept - mask.size**0.7) < 1
    theorem = prune_trial_network(spec.with_changes(pruning="magnitude"), pair.original, rng)
    assert theorem.counts == tuple(theorem_prune_count(m.size, 0.3) for m in pair.masks)


def test_heavy_tailed_control_breaks_hypothesis_iii():
    spec = TrialSpec(width=64, alpha=0.3, eps=0.5, weights="cauchy")
    net = sample_trial_network(spec, rng_for(0, spec.network_id, 0))
    half = 1 / np.sqrt(64)
    w = net.weights[0]
    assert np.median(np.abs(w)) == pytest.approx(half / 2, rel=0.1)  # typical entries as under (iii)
    assert np.abs(w).max() > 50 * half  # the largest ones far outside [-a, a]
