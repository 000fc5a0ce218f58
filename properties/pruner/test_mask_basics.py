"""Rule-independent mask invariants: shape, binary, exact count, no mutation, determinism,
boundaries (docs/design.md section 3, "Spec of a correct magnitude pruner")."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from mbp_verify.conformance.checks import assert_binary, assert_count, keep_mask
from mbp_verify.strategies import as_view, prune_cases, weight_arrays
from mbp_verify.suite import mbp_property

SPEC = "docs/design.md section 3 (spec of a correct magnitude pruner)"


@mbp_property(id="pruner.shape", statement="the mask has the weights' shape (1-D to 4-D, D = 1 included)", source=SPEC)
@given(case=prune_cases())
def test_shape(pruner_under_test, counterexample, case):
    weights, n = case
    with counterexample.case(weights=weights, n_prune=n):
        mask = pruner_under_test.prune(weights, n)
        assert np.shape(mask) == weights.shape, f"mask shape {np.shape(mask)} != weights shape {weights.shape}"


@mbp_property(id="pruner.binary", statement="every mask entry is 0/1 or bool (no soft masks, no NaN)", source=SPEC)
@given(case=prune_cases())
def test_binary(pruner_under_test, counterexample, case):
    weights, n = case
    with counterexample.case(weights=weights, n_prune=n):
        assert_binary(pruner_under_test.prune(weights, n))


@mbp_property(
    id="pruner.exact_count",
    statement="exactly n_prune entries are pruned, also with ties, exact zeros and +-0.0 (min_kept as declared)",
    source=SPEC,
)
@given(case=prune_cases())
def test_exact_count(pruner_under_test, counterexample, mbp_evidence, case):
    weights, n = case
    with counterexample.case(weights=weights, n_prune=n):
        keep = keep_mask(pruner_under_test.prune(weights, n), weights)
        assert_count(keep, weights, n, pruner_under_test.rules)


@mbp_property(
    id="pruner.exact_count",
    statement="exactly n_prune entries are pruned, also with ties, exact zeros and +-0.0 (min_kept as declared)",
    source=SPEC,
)
def test_exact_count_every_n(pruner_under_test, counterexample, mbp_evidence):
    """Every n in [0, D] for sizes where float round trips of n/D go wrong (49 * (1/49) < 1), and a 5-D kernel."""
    checked = 0
    for size in (7, 10, 49, 98, 100, 255):
        rng = np.random.default_rng(size)
        weights = rng.permutation(np.arange(1, size + 1, dtype=np.float64)) * rng.choice([-1.0, 1.0], size)
        for n in range(size + 1):
            with counterexample.case(weights=weights, n_prune=n):
                keep = keep_mask(pruner_under_test.prune(weights, n), weights)
                assert_count(keep, weights, n, pruner_under_test.rules)
            checked += 1
    kernel = (np.random.default_rng(5).permutation(24) + 1.0).reshape(2, 1, 3, 2, 2)  # 5-D: a Conv3d kernel
    for n in range(kernel.size + 1):
        with counterexample.case(weights=kernel, n_prune=n):
            assert_count(keep_mask(pruner_under_test.prune(kernel, n), kernel), kernel, n, pruner_under_test.rules)
        checked += 1
    mbp_evidence["counts_checked"] = checked


@mbp_property(
    id="pruner.exact_count",
    statement="exactly n_prune entries are pruned, also with ties, exact zeros and +-0.0 (min_kept as declared)",
    source=SPEC,
)
def test_exact_count_float16_beyond_65504(pruner_under_test, counterexample):
    """D = 70000 float16 weights: a float16 count or `mask.sum()` overflows (max 65504)."""
    size = 70_000
    weights = (np.random.default_rng(7).permutation(size) % 2048 + 1).astype(np.float16)
    for n in (0, 1, 3_001, 66_000, size):
        with counterexample.case(weights=weights, n_prune=n):
            keep = keep_mask(pruner_under_test.prune(weights, n), weights)
            assert_count(keep, weights, n, pruner_under_test.rules)


@mbp_property(id="pruner.no_mutation", statement="pruning leaves the input array bit-for-bit unchanged", source=SPEC)
@given(case=prune_cases())
def test_no_mutation(pruner_under_test, counterexample, case):
    weights, n = case
    before = np.array(weights, copy=True)
    with counterexample.case(weights=before, n_prune=n):
        pruner_under_test.prune(weights, n)
        equal = _bitwise_equal(weights, before)
        assert equal.all(), (
            f"the pruner modified its input: {int(np.sum(~equal))} of {weights.size} entries changed, "
            f"first at flat index {int(np.flatnonzero(~equal)[0])}"
        )


def _bitwise_equal(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a_bytes = np.ascontiguousarray(a).view(np.uint8).reshape(a.size, -1)
    b_bytes = np.ascontiguousarray(b).view(np.uint8).reshape(b.size, -1)
    return (a_bytes == b_bytes).all(axis=1)


@mbp_property(
    id="pruner.determinism", statement="the same input gives the same mask, also on an equal copy", source=SPEC
)
@given(case=prune_cases())
def test_determinism(pruner_under_test, counterexample, case):
    weights, n = case
    with counterexample.case(weights=weights, n_prune=n):
        first = keep_mask(pruner_under_test.prune(weights, n), weights)
        again = keep_mask(pruner_under_test.prune(weights, n), weights)
        copy = keep_mask(pruner_under_test.prune(np.array(weights, copy=True), n), weights)
        assert np.array_equal(first, again), (
            f"two calls on the same input differ at flat indices {np.flatnonzero(first != again)[:6].tolist()}"
        )
        assert np.array_equal(first, copy), (
            f"an equal copy gives another mask at flat indices {np.flatnonzero(first != copy)[:6].tolist()}"
        )


@mbp_property(
    id="pruner.determinism", statement="the same input gives the same mask, also on an equal copy", source=SPEC
)
def test_determinism_in_a_fresh_process(pruner_under_test, counterexample, mbp_evidence):
    """State kept between calls (a cache, a call counter, set-up on the first call) shows as a fresh
    process answering differently from one that has answered before; the calls above all run in
    one long-lived process, whose first call may have gone to a property that does not judge it."""
    weights = (np.arange(1, 25, dtype=np.float64) * 7 % 25 * np.where(np.arange(24) % 3, 1.0, -1.0)).reshape(4, 6)
    n = 9
    with counterexample.case(weights=weights, n_prune=n):
        before = [keep_mask(pruner_under_test.prune(weights, n), weights) for _ in range(2)]
        mbp_evidence["fresh_process"] = pruner_under_test.restart()
        fresh = keep_mask(pruner_under_test.prune(weights, n), weights)
        for label, mask in (("a second call", before[1]), ("the first call of a fresh process", fresh)):
            assert np.array_equal(before[0], mask), (
                f"{label} gives another mask than the first at flat indices "
                f"{np.flatnonzero(before[0] != mask)[:6].tolist()} (state kept between calls?)"
            )


@mbp_property(
    id="pruner.boundaries",
    statement="n_prune = 0 keeps everything, n_prune = D prunes everything (but min_kept), D = 1 works",
    source=SPEC,
)
@given(
    weights=weight_arrays(),
    single=st.sampled_from([(1,), (1, 1), (1, 1, 1, 1)]),
    dtype=st.sampled_from([np.float16, np.float32, np.float64]),
    value=st.sampled_from([0.0, -0.0, 1.5, -3.0]),
)
def test_boundaries(pruner_under_test, counterexample, weights, single, dtype, value):
    rules = pruner_under_test.rules
    one = np.full(single, value, dtype=dtype)
    for array in (weights, one, as_view(one, "fortran")):
        for n in (0, array.size):
            with counterexample.case(weights=array, n_prune=n):
                keep = keep_mask(pruner_under_test.prune(array, n), array)
                assert_count(keep, array, n, rules)
