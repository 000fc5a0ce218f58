"""Whole-network pruning (Theorem 1's MBP and random pruning) and the network model."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from mbp_verify.engine import prune_network, sample_network, theorem_prune_count, uniform_half_width
from mbp_verify.seeding import rng_for
from mbp_verify.suite import mbp_property

widths_strategy = st.lists(st.integers(1, 24), min_size=2, max_size=6)
alphas = st.integers(5, 95).map(lambda k: k / 100)


@mbp_property(
    id="prune.network_counts_exact",
    statement="MBP on a network prunes exactly floor(D_l^(1-alpha)) smallest entries of every layer and zeroes "
    "exactly those",
    source="Theorem 1 (mask M = {M_l}, pruning the smallest floor(D_l^(1-alpha)) entries of W_l)",
)
@given(widths=widths_strategy, alpha=alphas, trial=st.integers(0, 10**6))
def test_network_counts(widths, alpha, trial, mbp_root_seed):
    net = sample_network(widths, rng_for(mbp_root_seed, "prune.network_counts_exact", trial))
    pair = prune_network(net, alpha)
    for w, mask, pruned, count in zip(net.weights, pair.masks, pair.pruned.weights, pair.counts):
        assert count == theorem_prune_count(w.size, alpha)
        assert int(mask.size - np.count_nonzero(mask)) == count
        assert np.array_equal(pruned == 0, ~mask)  # iid uniform weights have no exact zeros
        if 0 < count < w.size:
            assert np.abs(w[~mask]).max() <= np.abs(w[mask]).min()
    for error, mask in zip(pair.error_matrices(), pair.masks):
        assert np.count_nonzero(error) == mask.size - np.count_nonzero(mask)


@mbp_property(
    id="prune.random_same_count",
    statement="random pruning removes exactly the same per-layer count as MBP, from a seeded uniform subset",
    source="Qian & Klabjan, random pruning (the paper's second technique), same count as Theorem 1",
)
@given(widths=widths_strategy, alpha=alphas, trial=st.integers(0, 10**6))
def test_random_pruning_counts(widths, alpha, trial, mbp_root_seed):
    net = sample_network(widths, rng_for(mbp_root_seed, "prune.random_same_count.net", trial))
    pair = prune_network(net, alpha, method="random", rng=rng_for(mbp_root_seed, "prune.random_same_count", trial))
    again = prune_network(net, alpha, method="random", rng=rng_for(mbp_root_seed, "prune.random_same_count", trial))
    assert pair.counts == prune_network(net, alpha).counts
    for mask, count, mask_again in zip(pair.masks, pair.counts, again.masks):
        assert int(mask.size - np.count_nonzero(mask)) == count
        assert np.array_equal(mask, mask_again)


@mbp_property(
    id="network.sample_hypothesis_iii",
    statement="sampled weights lie in [-K/sqrt(max(d_l,d_l-1)), K/sqrt(max(d_l,d_l-1))] and are reproducible from "
    "the seed",
    source="Theorem 1, hypothesis (iii)",
)
@given(widths=widths_strategy, scale=st.floats(0.1, 10), trial=st.integers(0, 10**6))
def test_sampling_range_and_reproducibility(widths, scale, trial, mbp_root_seed):
    net = sample_network(widths, rng_for(mbp_root_seed, "network.sample_hypothesis_iii", trial), scale=scale)
    same = sample_network(widths, rng_for(mbp_root_seed, "network.sample_hypothesis_iii", trial), scale=scale)
    for w, w2 in zip(net.weights, same.weights):
        half = uniform_half_width(*w.shape, scale)
        assert np.abs(w).max() <= half
        assert np.array_equal(w, w2)


@mbp_property(
    id="network.positive_homogeneity",
    statement="for ReLU, leaky ReLU and identity, F(cx) = cF(x) and (f-F)(cx) = c(f-F)(x) for c > 0, so the sup sits "
    "on the sphere",
    source="docs/design.md section 2 (epsilon-closeness: sup attained on the unit sphere for homogeneous sigma)",
)
@given(
    widths=widths_strategy,
    activation=st.sampled_from(["relu", "leaky_relu(a=0.2)", "identity"]),
    scale=st.floats(1e-3, 1e3),
    trial=st.integers(0, 10**6),
)
def test_positive_homogeneity(widths, activation, scale, trial, mbp_root_seed):
    rng = rng_for(mbp_root_seed, "network.positive_homogeneity", trial)
    net = sample_network(widths, rng, activation=activation)
    pair = prune_network(net, 0.5)
    x = rng.standard_normal((4, widths[0]))
    diff = pair.pruned.forward(x) - net.forward(x)
    diff_scaled = pair.pruned.forward(scale * x) - net.forward(scale * x)
    np.testing.assert_allclose(diff_scaled, scale * diff, rtol=1e-9, atol=1e-12 * scale)
