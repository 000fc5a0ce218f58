"""Theorem 1's count m = floor(D^(1-alpha)) and the compression ratio it implies.

Each property compares the engine with an independent exact oracle: integer powers
(m^q <= D^p < (m+1)^q for 1 - alpha = p/q), never the float expression D**(1-alpha).
"""

from __future__ import annotations

from fractions import Fraction

import mpmath
import numpy as np
from hypothesis import assume, given
from hypothesis import strategies as st

from mbp_verify.engine import (
    magnitude_mask,
    review_kept_fraction,
    theorem_kept_fraction,
    theorem_prune_count,
)
from mbp_verify.suite import mbp_property

# alpha with at most two decimals keeps the integer oracle cheap (q <= 100).
alphas = st.integers(1, 99).map(lambda k: k / 100)
sizes = st.integers(1, 10**7)


def oracle_floor_power(size: int, alpha: float) -> int:
    """Largest m with m^q <= D^p where 1 - alpha = p/q, by bisection on exact integers."""
    exponent = 1 - Fraction(repr(alpha))
    p, q = exponent.numerator, exponent.denominator
    target = size**p
    lo, hi = 0, size
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if mid**q <= target:
            lo = mid
        else:
            hi = mid - 1
    return lo


@mbp_property(
    id="count.theorem_exact",
    statement="theorem_prune_count(D, alpha) equals floor(D^(1-alpha)) decided in exact integer arithmetic",
    source="Theorem 1 (MBP prunes the floor(D_l^(1-alpha)) smallest entries)",
)
@given(size=sizes, alpha=alphas)
def test_theorem_count_matches_integer_oracle(size, alpha, mbp_evidence):
    assert theorem_prune_count(size, alpha) == oracle_floor_power(size, alpha)


@mbp_property(
    id="count.float_artefacts",
    statement="the count is exact where D^(1-alpha) is an integer, where float64 powers misround",
    source="Theorem 1; docs/design.md section 2 (counts computed exactly)",
)
@given(base=st.integers(2, 40), power=st.sampled_from([2, 4, 5, 10]))
def test_exact_at_perfect_powers(base, power, mbp_evidence):
    # D = base^power and alpha = 1/power give D^(1-alpha) = base^(power-1) exactly.
    size = base**power
    alpha = 1 / power
    expected = base ** (power - 1)
    assert theorem_prune_count(size, alpha) == expected
    naive = int(np.floor(float(size) ** (1 - alpha)))
    mbp_evidence["naive_float_wrong"] = mbp_evidence.get("naive_float_wrong", 0) + int(naive != expected)


@mbp_property(
    id="gamma.exact_formula",
    statement="the reference mask keeps gamma_l = 1 - floor(D^(1-alpha))/D of the weights (no exact zeros)",
    source="Theorem 1 and the definition gamma_l = ||vec(W~_l)||_0 / D_l",
)
@given(rows=st.integers(1, 60), cols=st.integers(1, 60), alpha=alphas, seed=st.integers(0, 2**32 - 1))
def test_gamma_of_reference_mask(rows, cols, alpha, seed):
    weights = np.random.default_rng(seed).uniform(0.5, 1.0, size=(rows, cols)) * np.where(
        np.random.default_rng(seed + 1).random((rows, cols)) < 0.5, -1, 1
    )
    mask = magnitude_mask(weights, theorem_prune_count(weights.size, alpha))
    nonzero = int(np.count_nonzero(np.where(mask, weights, 0.0)))
    assert Fraction(nonzero, weights.size) == theorem_kept_fraction(weights.size, alpha)


@mbp_property(
    id="gamma.bounds",
    statement="1 - D^(-alpha) <= gamma_l < 1 - D^(-alpha) + 1/D",
    source="Theorem 1 (m = floor(D^(1-alpha)) gives m <= D^(1-alpha) < m + 1)",
)
@given(size=sizes, alpha=alphas)
def test_gamma_bounds(size, alpha):
    gamma = theorem_kept_fraction(size, alpha)
    with mpmath.workdps(60):
        lower = 1 - mpmath.power(size, -mpmath.mpf(Fraction(repr(alpha)).numerator) / Fraction(repr(alpha)).denominator)
        g = mpmath.mpf(gamma.numerator) / gamma.denominator
        assert lower <= g
        assert g < lower + mpmath.mpf(1) / size


@mbp_property(
    id="gamma.monotone_in_alpha",
    statement="a larger alpha prunes no more: gamma_l is non-decreasing in alpha",
    source="Theorem 1 (count floor(D^(1-alpha)) decreases with alpha)",
)
@given(size=sizes, a=alphas, b=alphas)
def test_gamma_monotone(size, a, b):
    assume(a != b)
    low, high = sorted((a, b))
    assert theorem_kept_fraction(size, low) <= theorem_kept_fraction(size, high)


@mbp_property(
    id="gamma.review_reading_inconsistent",
    statement="the review's gamma_l = D^(-alpha) keeps what the theorem prunes; its kept fraction -> 0, the "
    "theorem's -> 1",
    source="Review of Qian & Klabjan, 'alpha effectively specifies gamma_l = D_l^(-alpha)'; docs/design.md section 2",
)
@given(alpha=alphas, exponent=st.integers(4, 12))
def test_review_reading_swaps_kept_and_pruned(alpha, exponent, mbp_evidence):
    size = 10**exponent
    kept_review = int(mpmath.floor(mpmath.mpf(size) * review_kept_fraction(size, alpha)))
    pruned_theorem = theorem_prune_count(size, alpha)
    # Same number up to float rounding of D^(-alpha): the review keeps the theorem's pruned count,
    # so the two kept fractions are complements.
    assert abs(kept_review - pruned_theorem) <= 1
    assert abs(review_kept_fraction(size, alpha) + float(theorem_kept_fraction(size, alpha)) - 1) <= 2 / size
    if review_kept_fraction(size, alpha) < 0.5:  # past D = 2^(1/alpha) the readings fall on opposite sides
        assert theorem_kept_fraction(size, alpha) > 0.5
    mbp_evidence["max_D_checked"] = max(mbp_evidence.get("max_D_checked", 0), size)
