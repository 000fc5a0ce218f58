"""Fraction-based count rules: exact rationals with a named rounding (no float artefacts)."""

from __future__ import annotations

from fractions import Fraction

from hypothesis import given
from hypothesis import strategies as st

from mbp_verify.engine import prune_count_from_kept_fraction, prune_count_from_pruned_fraction
from mbp_verify.suite import mbp_property


@mbp_property(
    id="count.pruned_fraction_rules",
    statement="pruned-fraction counts equal floor/ceil/half-even/half-up of the exact rational p*D",
    source="docs/design.md section 3 (count rules: fraction -> count, declared rounding)",
)
@given(size=st.integers(1, 10**6), numerator=st.integers(0, 10**4))
def test_pruned_fraction_rules(size, numerator):
    fraction = Fraction(min(numerator, 10**4), 10**4)
    decimal = str(float(fraction))  # the decimal a user would type
    exact = Fraction(decimal) * size
    floor = exact.numerator // exact.denominator
    assert prune_count_from_pruned_fraction(size, decimal, "floor") == floor
    assert prune_count_from_pruned_fraction(size, decimal, "ceil") == -((-exact.numerator) // exact.denominator)
    frac_part = exact - floor
    half_even = floor + (frac_part > Fraction(1, 2) or (frac_part == Fraction(1, 2) and floor % 2 == 1))
    assert prune_count_from_pruned_fraction(size, decimal, "half_even") == half_even
    half_up = floor + (frac_part >= Fraction(1, 2))
    assert prune_count_from_pruned_fraction(size, decimal, "half_up") == half_up


@mbp_property(
    id="count.halfway_and_float_cases",
    statement="pinned cases: 0.25*10 -> 2 (half-even), 0.35*10 -> 4, 0.3*10 -> 3 under ceil, 0.7 kept of 10 -> 3 "
    "pruned",
    source="docs/design.md section 3 (torch rounds half-to-even; float 0.3*10 = 3.0000000000000004)",
)
def test_pinned_cases():
    assert prune_count_from_pruned_fraction(10, 0.25, "half_even") == 2
    assert prune_count_from_pruned_fraction(10, 0.35, "half_even") == 4
    assert prune_count_from_pruned_fraction(10, 0.3, "ceil") == 3
    assert prune_count_from_pruned_fraction(10, 0.15, "half_even") == 2
    assert prune_count_from_kept_fraction(10, 0.7, "floor") == 3
    assert prune_count_from_kept_fraction(10, 0.8, "half_even") == 2


@mbp_property(
    id="count.kept_fraction_complements",
    statement="pruning fraction p with rule r equals keeping 1-p with the mirrored rule (floor <-> ceil)",
    source="docs/design.md section 3 (TF-MOT rounds the kept count)",
)
@given(size=st.integers(1, 10**6), numerator=st.integers(0, 1000))
def test_kept_pruned_duality(size, numerator):
    p = Fraction(numerator, 1000)
    assert prune_count_from_pruned_fraction(size, p, "floor") == prune_count_from_kept_fraction(size, 1 - p, "ceil")
    assert prune_count_from_pruned_fraction(size, p, "ceil") == prune_count_from_kept_fraction(size, 1 - p, "floor")
