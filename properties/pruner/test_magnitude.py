"""Magnitude ranking: order, inf, permutation equivariance, sign and scale invariance,
nesting of pruned sets (docs/design.md section 3; ties as the pruner declares them)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st

from mbp_verify.conformance.checks import (
    assert_count,
    assert_magnitude_order,
    describe_indices,
    has_ties,
    keep_mask,
)
from mbp_verify.strategies import prune_cases, tie_free_prune_cases, tie_free_weight_arrays, weight_arrays
from mbp_verify.suite import mbp_property

SPEC = "docs/design.md section 3 (spec of a correct magnitude pruner)"


# Bug classes pinned so that the default and quick profiles always meet them:
# float16 magnitudes whose squares overflow (>= 256 -> inf) or underflow (< 2.4e-4 -> 0), in
# both orders (a stable or arbitrary pick among the resulting ties is wrong in one of them),
# square matrices with distinct magnitudes (a transposed mask keeps the wrong entries), and
# values that tie only when ranked in a narrower dtype.
_F16_OVERFLOW = np.array([0, 256, 257, 258, 259, 260, 261], dtype=np.float16)
_F16_UNDERFLOW = np.array([2.0e-4, 1.0e-4, 6.0e-8, 1.0, 3.0e-5], dtype=np.float16)
_SQUARE = (np.arange(1, 10, dtype=np.float64).reshape(3, 3) * np.array([1, -1, 1])).astype(np.float32)
PINNED_ORDER_CASES = (
    (_F16_OVERFLOW, 2),
    (_F16_OVERFLOW[::-1].copy(), 2),
    (_F16_OVERFLOW.reshape(1, 7) * np.float16(-1), 4),
    (_F16_UNDERFLOW, 1),
    (_F16_UNDERFLOW[::-1].copy(), 2),
    (_SQUARE, 3),
    (np.ascontiguousarray(_SQUARE.T), 3),
    (np.arange(16, dtype=np.float64).reshape(4, 4) - 7.5, 6),
    # ranking in a narrower dtype: one-ulp neighbours and huge values collapse into ties
    (np.array([np.nextafter(np.float32(1), np.float32(2)), 1.0, 3.0], dtype=np.float32), 1),
    (np.array([1e300, 1e299, 1.0], dtype=np.float64), 2),
)


def _pinned(test):
    for weights, n in reversed(PINNED_ORDER_CASES):
        test = example(case=(weights, n))(test)
    return test


def _magnitude_only(pruner) -> None:
    if pruner.rules.ranking != "magnitude":
        pytest.skip(f"the pruner declares ranking={pruner.rules.ranking}: magnitude properties do not apply")


@mbp_property(
    id="pruner.magnitude_order",
    statement="every pruned |w| <= every kept |w| (ties, zeros, one-ulp neighbours, all dtypes)",
    source=SPEC,
)
@given(case=st.one_of(prune_cases(), tie_free_prune_cases()))
@_pinned
def test_magnitude_order(pruner_under_test, counterexample, case):
    _magnitude_only(pruner_under_test)
    weights, n = case
    with counterexample.case(weights=weights, n_prune=n):
        assert_magnitude_order(weights, keep_mask(pruner_under_test.prune(weights, n), weights))


@mbp_property(
    id="pruner.magnitude_order",
    statement="every pruned |w| <= every kept |w| (ties, zeros, one-ulp neighbours, all dtypes)",
    source=SPEC,
)
def test_magnitude_order_every_n(pruner_under_test, counterexample, mbp_evidence):
    """Pinned 2-D to 5-D arrays with distinct magnitudes and mixed signs, every n in [0, D]."""
    _magnitude_only(pruner_under_test)
    base = np.arange(1, 25, dtype=np.float64) * 7 % 25 * np.where(np.arange(24) % 3, 1.0, -1.0)
    arrays = [
        base[:12].reshape(3, 4).astype(np.float32),
        base.reshape(2, 3, 4),
        base.reshape(4, 6).T,
        base.reshape(2, 1, 3, 2, 2),  # a Conv3d kernel is 5-D
    ]
    for weights in arrays:
        for n in range(weights.size + 1):
            with counterexample.case(weights=weights, n_prune=n):
                assert_magnitude_order(weights, keep_mask(pruner_under_test.prune(weights, n), weights))
    mbp_evidence["pinned_cases"] = sum(a.size + 1 for a in arrays)


@mbp_property(
    id="pruner.magnitude_order",
    statement="every pruned |w| <= every kept |w| (ties, zeros, one-ulp neighbours, all dtypes)",
    source=SPEC,
)
def test_magnitude_order_large_arrays(pruner_under_test, counterexample, mbp_evidence):
    """Layers of real size, where a pruner may take a fast path (a sampled or approximate threshold,
    ranking in a narrower dtype, a blocked selection) that the small generated arrays never reach:
    70 000 float32 magnitudes 2**-20 apart (1024 of them share one float16 value) and a 5-D
    20 000-entry float64 kernel, each in random order with mixed signs."""
    _magnitude_only(pruner_under_test)
    rng = np.random.default_rng(70_000)
    close = (1 + rng.permutation(70_000) * 2.0**-20) * rng.choice([-1.0, 1.0], 70_000)
    kernel = (rng.permutation(20_000) + 1.0) * rng.choice([-1.0, 1.0], 20_000)
    cases = [(close.astype(np.float32), n) for n in (1, 23_333, 69_999)]
    cases += [(kernel.reshape(4, 5, 10, 10, 10), n) for n in (7, 10_000)]
    for weights, n in cases:
        with counterexample.case(weights=weights, n_prune=n):
            assert_magnitude_order(weights, keep_mask(pruner_under_test.prune(weights, n), weights))
    mbp_evidence["large_cases"] = len(cases)


@mbp_property(
    id="pruner.inf_policy",
    statement="+-inf rank as the largest magnitudes: exact count and order hold with infinities",
    source=SPEC,
)
@given(case=st.one_of(prune_cases(allow_inf=True), tie_free_prune_cases(allow_inf=True)))
def test_inf_policy(pruner_under_test, counterexample, case):
    _magnitude_only(pruner_under_test)
    weights, n = case
    with counterexample.case(weights=weights, n_prune=n):
        keep = keep_mask(pruner_under_test.prune(weights, n), weights)
        assert_count(keep, weights, n, pruner_under_test.rules)
        assert_magnitude_order(weights, keep)


@mbp_property(
    id="pruner.permutation_equivariance",
    statement="permuting the entries permutes the mask (distinct magnitudes)",
    source=SPEC,
)
@given(case=tie_free_prune_cases(), data=st.data())
def test_permutation_equivariance(pruner_under_test, counterexample, case, data):
    _magnitude_only(pruner_under_test)
    weights, n = case
    order = np.array(data.draw(st.permutations(range(weights.size)), label="permutation"), dtype=np.intp)
    permuted = np.ascontiguousarray(weights).ravel()[order].reshape(weights.shape)
    with counterexample.case(weights=weights, n_prune=n):
        keep = keep_mask(pruner_under_test.prune(weights, n), weights).ravel()
        keep_permuted = keep_mask(pruner_under_test.prune(permuted, n), permuted).ravel()
        wrong = np.flatnonzero(keep_permuted != keep[order])
        assert wrong.size == 0, f"mask of the permuted weights is not the permuted mask at {describe_indices(wrong)}"


def _flip(weights: np.ndarray, flips: list[bool]) -> np.ndarray:
    signs = np.where(np.array(flips), -1, 1).astype(weights.dtype).reshape(weights.shape)
    return weights * signs


@mbp_property(
    id="pruner.sign_invariance",
    statement="flipping signs does not change the mask (with ties under tie=index or keep_all_at_threshold)",
    source=SPEC,
)
@given(data=st.data())
def test_sign_invariance(pruner_under_test, counterexample, data):
    _magnitude_only(pruner_under_test)
    exact_ties = pruner_under_test.rules.ties_deterministic
    weights, n = data.draw(prune_cases() if exact_ties else tie_free_prune_cases(), label="case")
    flipped = _flip(
        weights, data.draw(st.lists(st.booleans(), min_size=weights.size, max_size=weights.size), label="flips")
    )
    with counterexample.case(weights=weights, n_prune=n):
        keep = keep_mask(pruner_under_test.prune(weights, n), weights)
        keep_flipped = keep_mask(pruner_under_test.prune(flipped, n), flipped)
        wrong = np.flatnonzero((keep != keep_flipped).ravel())
        assert wrong.size == 0, f"sign flips changed the mask at flat indices {describe_indices(wrong)}"


@mbp_property(
    id="pruner.scale_invariance",
    statement="multiplying by c > 0 does not change the mask (exact power-of-two and general scales)",
    source=SPEC,
)
@given(data=st.data(), scale=st.sampled_from([0.25, 0.5, 2.0, 4.0, 3.0, 0.1]))
def test_scale_invariance(pruner_under_test, counterexample, data, scale):
    _magnitude_only(pruner_under_test)
    exact = scale in (0.25, 0.5, 2.0, 4.0)
    exact_ties = pruner_under_test.rules.ties_deterministic and exact
    weights, n = data.draw(prune_cases() if exact_ties else tie_free_prune_cases(), label="case")
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        scaled = (weights.astype(np.float64) * scale).astype(weights.dtype)
    before = np.abs(weights.astype(np.float64)).ravel()
    after = np.abs(scaled.astype(np.float64)).ravel()
    if exact:  # no overflow or subnormal loss: magnitudes scale exactly
        with np.errstate(over="ignore", under="ignore"):  # both ways: no overflow, no lost subnormal bits
            assume(np.array_equal(after, before * scale) and np.array_equal(after / scale, before))
    else:  # the scaled magnitudes keep their strict order
        order = np.argsort(before, kind="stable")
        assume(np.all(np.isfinite(after)) and np.all(np.diff(after[order]) > 0))
    with counterexample.case(weights=weights, n_prune=n):
        keep = keep_mask(pruner_under_test.prune(weights, n), weights)
        keep_scaled = keep_mask(pruner_under_test.prune(scaled, n), scaled)
        wrong = np.flatnonzero((keep != keep_scaled).ravel())
        assert wrong.size == 0, f"scaling by {scale} changed the mask at flat indices {describe_indices(wrong)}"


def _check_nesting(pruner, counterexample, weights, n1, n2):
    with counterexample.case(weights=weights, n_prune=n2):
        small = ~keep_mask(pruner.prune(weights, n1), weights).ravel()
        large = ~keep_mask(pruner.prune(weights, n2), weights).ravel()
        lost = np.flatnonzero(small & ~large)
        assert lost.size == 0, (
            f"pruned sets not nested: entries {describe_indices(lost)} pruned at n_prune={n1} are kept at n_prune={n2}"
        )


@mbp_property(
    id="pruner.nesting",
    statement="the pruned set at n1 is inside the pruned set at n2 >= n1 (with ties under tie=index or "
    "keep_all_at_threshold)",
    source=SPEC,
)
@given(data=st.data())
def test_nesting(pruner_under_test, counterexample, data):
    _magnitude_only(pruner_under_test)
    exact_ties = pruner_under_test.rules.ties_deterministic
    weights = data.draw(weight_arrays() if exact_ties else tie_free_weight_arrays(), label="weights")
    n1 = data.draw(st.integers(0, weights.size), label="n1")
    n2 = data.draw(st.integers(n1, weights.size), label="n2")
    _check_nesting(pruner_under_test, counterexample, weights, n1, n2)


@mbp_property(
    id="pruner.nesting_under_ties",
    statement="with tied magnitudes the pruned sets are still nested as the count grows (advisory for tie=any)",
    source="docs/design.md section 3 (torch breaks ties arbitrarily: pruned sets are not nested under ties)",
    tier="advisory",
)
@given(data=st.data())
def test_nesting_under_ties(pruner_under_test, counterexample, data):
    _magnitude_only(pruner_under_test)
    if pruner_under_test.rules.ties_deterministic:
        pytest.skip(
            f"tie={pruner_under_test.rules.tie}: nesting with ties is checked by the required property pruner.nesting"
        )
    tied = np.ones(64, dtype=np.float32)  # a large tie group: torch.topk changes its pick as n grows
    for n in range(8):
        _check_nesting(pruner_under_test, counterexample, tied, n, n + 1)
    size = data.draw(st.integers(2, 100), label="size")
    distinct = data.draw(st.integers(1, 3), label="distinct magnitudes")
    dtype = data.draw(st.sampled_from([np.float16, np.float32, np.float64]), label="dtype")
    levels = data.draw(st.lists(st.integers(0, distinct - 1), min_size=size, max_size=size), label="levels")
    weights = (np.array(levels, dtype=np.float64) + 1.0).astype(dtype)
    assume(has_ties(weights))
    n1 = data.draw(st.integers(0, size), label="n1")
    n2 = data.draw(st.integers(n1, size), label="n2")
    _check_nesting(pruner_under_test, counterexample, weights, n1, n2)
