"""Exact counts: the theorem's floor(D^(1-alpha)), fraction rules, validation."""

import subprocess
import sys
from fractions import Fraction

import mpmath
import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from mbp_verify.engine import (
    prune_count_from_kept_fraction,
    prune_count_from_pruned_fraction,
    theorem_kept_fraction,
    theorem_prune_count,
    validate_alpha,
    validate_count,
)
from mbp_verify.engine.counts import integer_nthroot
from mbp_verify.errors import InputError


@pytest.mark.parametrize(
    "size, alpha, expected",
    [
        (2**25, 0.2, 2**20),  # D^(0.8) is exactly 2^20
        (10**6, 0.5, 1000),
        (3**10, 0.5, 3**5),
        (1, 0.3, 1),
        (2, 0.5, 1),
        (1000, 0.3, 125),
        (10**12, 0.25, 10**9),
    ],
)
def test_theorem_count_exact_values(size, alpha, expected):
    assert theorem_prune_count(size, alpha) == expected


def test_alpha_read_as_the_decimal_typed():
    assert validate_alpha(0.2) == Fraction(1, 5)
    assert validate_alpha("0.25") == Fraction(1, 4)


def test_long_decimal_alpha_uses_high_precision_path():
    # A 15-digit alpha has a reduced denominator far above the exact-root limit.
    with mpmath.workdps(50):
        expected = int(mpmath.floor(mpmath.mpf(10**6) ** (1 - mpmath.mpf("0.123456789012345"))))
    assert theorem_prune_count(10**6, 0.123456789012345) == expected


@pytest.mark.parametrize("alpha", [0, 1, -0.1, 1.5, float("nan"), float("inf"), "abc", True])
def test_alpha_outside_open_interval(alpha):
    with pytest.raises(InputError, match="alpha"):
        theorem_prune_count(100, alpha)


@pytest.mark.parametrize("size", [0, -3, 2.5, True])
def test_bad_sizes(size):
    with pytest.raises(InputError, match="D"):
        theorem_prune_count(size, 0.3)


@pytest.mark.parametrize("count", [-1, 11, 2.0, "3", None])
def test_counts_outside_range_or_not_integer(count):
    with pytest.raises(InputError, match="n_prune"):
        validate_count(count, 10)


def test_numpy_integer_count_is_accepted():
    import numpy as np

    assert validate_count(np.int64(4), 10) == 4


def test_fraction_rules_and_bad_rule():
    assert prune_count_from_pruned_fraction(10, 0.25, "half_even") == 2
    assert prune_count_from_pruned_fraction(10, 0.25, "half_up") == 3
    assert prune_count_from_pruned_fraction(10, 0.25, "half_down") == 2
    assert prune_count_from_kept_fraction(10, 0.25, "ceil") == 7
    with pytest.raises(InputError, match="rounding"):
        prune_count_from_pruned_fraction(10, 0.2, "banker")
    with pytest.raises(InputError, match="fraction"):
        prune_count_from_pruned_fraction(10, 1.2)


def test_kept_fraction_is_exact_rational():
    assert theorem_kept_fraction(100, 0.5) == Fraction(9, 10)


@given(value=st.one_of(st.integers(0, 2**64), st.integers(0, 10**400)), n=st.integers(1, 300))
@example(value=2**1000 - 1, n=1000)  # the root is 1: the float guess must not overshoot into a wrong floor
@example(value=3**200, n=200)  # exact powers land on their root
@example(value=3**200 - 1, n=200)
@example(value=10**400, n=1)
def test_integer_nthroot_is_the_floor_root(value, n):
    root = integer_nthroot(value, n)
    assert root**n <= value < (root + 1) ** n


@pytest.mark.parametrize("size", [np.int64(100), np.int32(100), np.uint64(100), 100.0])
def test_numpy_and_integral_sizes_are_accepted(size):
    assert theorem_prune_count(size, 0.2) == 39  # floor(100^0.8) = floor(39.81)


@pytest.mark.parametrize("size", [100.5, "100", True, None, 0, -3])
def test_non_integer_sizes_are_refused(size):
    with pytest.raises(InputError, match="number of weights D"):
        theorem_prune_count(size, 0.2)


def test_importing_the_package_loads_neither_sympy_nor_scipy_special():
    code = "import sys, mbp_verify; print(sorted(m for m in ('sympy', 'scipy.special', 'mpmath') if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
