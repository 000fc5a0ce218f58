"""Pruning counts, computed exactly in integers.

Theorem 1 prunes `floor(D ** (1 - alpha))` entries per layer. Evaluating that power in
float64 is wrong near integers (D = 2**25, alpha = 0.2 gives 1048575.99999... instead of
2**20), so alpha is read as the decimal the user wrote (`Fraction(repr(alpha))`) and the
floor is decided in exact integer arithmetic. Fraction-based rules (pruned fraction, kept
fraction) are also exact rationals with a named rounding rule.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Literal

from .._validation import validate_integer
from ..errors import InputError

__all__ = [
    "Rounding",
    "ROUNDING_RULES",
    "as_exact",
    "integer_nthroot",
    "validate_alpha",
    "validate_count",
    "theorem_prune_count",
    "prune_count_from_pruned_fraction",
    "prune_count_from_kept_fraction",
    "theorem_kept_fraction",
    "review_kept_fraction",
]

Rounding = Literal["floor", "ceil", "half_even", "half_up", "half_down"]
ROUNDING_RULES: tuple[str, ...] = ("floor", "ceil", "half_even", "half_up", "half_down")

# Exact integer roots are affordable while the exponent denominator stays small.
_MAX_EXACT_DENOMINATOR = 10_000


def as_exact(value: "float | int | str | Fraction", what: str = "value") -> Fraction:
    """The rational a user meant: floats via their shortest repr (0.2 -> 1/5)."""
    if isinstance(value, bool):
        raise InputError(f"{what} must be a number, got a bool")
    if isinstance(value, Fraction):
        return value
    if isinstance(value, int):
        return Fraction(value)
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{what} must be a number, got {value!r}") from None
    if not math.isfinite(number):
        raise InputError(f"{what} must be finite, got {value!r}")
    return Fraction(repr(number)) if not isinstance(value, str) else Fraction(value.strip())


def validate_alpha(alpha: "float | Fraction | str") -> Fraction:
    """Alpha as an exact rational in the open interval (0, 1)."""
    exact = as_exact(alpha, "alpha")
    if not 0 < exact < 1:
        raise InputError(f"alpha must lie in the open interval (0, 1), got {float(exact)!r}")
    return exact


def _validate_size(size: int) -> int:
    return validate_integer(size, "number of weights D", 1)


def validate_count(n_prune: int, size: int) -> int:
    """Check 0 <= n_prune <= D for an integer count."""
    if isinstance(n_prune, bool) or not isinstance(n_prune, (int,)) and not hasattr(n_prune, "__index__"):
        raise InputError(f"n_prune must be an integer, got {n_prune!r}")
    count = int(n_prune.__index__()) if not isinstance(n_prune, int) else n_prune
    if not 0 <= count <= size:
        raise InputError(f"n_prune must lie in [0, D={size}], got {count}")
    return count


def integer_nthroot(value: int, n: int) -> int:
    """floor(value ** (1/n)) for integers value >= 0 and n >= 1, exactly (Newton from above)."""
    if value < 2 or n == 1:
        return value
    # A float guess a little above the root, raised until it is provably above, then Newton's
    # iteration x -> ((n-1) x + value // x^(n-1)) // n, which decreases to the floor root.
    log2_root = math.log2(value) / n
    root = int(2.0**log2_root * (1 + 2.0**-40)) + 2 if log2_root < 1000 else 1 << -(-value.bit_length() // n)
    while root**n <= value:
        root *= 2
    while True:
        lower = ((n - 1) * root + value // root ** (n - 1)) // n
        if lower >= root:
            break
        root = lower
    if not root**n <= value < (root + 1) ** n:  # the invariant that makes the count exact
        raise ArithmeticError(f"integer root of a {value.bit_length()}-bit number failed")
    return root


def _floor_rational_power(base: int, exponent: Fraction) -> int:
    """floor(base ** exponent) for integer base >= 1 and rational exponent in [0, 1]."""
    p, q = exponent.numerator, exponent.denominator
    if q <= _MAX_EXACT_DENOMINATOR and p * math.log2(base) < 4_000_000:
        return integer_nthroot(base**p, q)
    # Large reduced denominator q: base ** (p/q) is an integer only if base is a perfect
    # q-th power, so for base < 2**q it is irrational and high precision decides the floor.
    if base == 1:
        return 1
    import mpmath  # only for exponents with long denominators

    for digits in (80, 400):
        with mpmath.workdps(digits):
            value = mpmath.power(base, mpmath.mpf(p) / q)
            if abs(value - mpmath.nint(value)) > mpmath.mpf(10) ** (-(digits - 20)):
                return int(mpmath.floor(value))
    raise InputError(f"cannot decide floor({base}**({p}/{q})) exactly; give alpha with fewer digits")


def theorem_prune_count(size: int, alpha: "float | Fraction | str") -> int:
    """Theorem 1's count `floor(D ** (1 - alpha))`, exact."""
    size = _validate_size(size)
    exact_alpha = validate_alpha(alpha)
    return _floor_rational_power(size, 1 - exact_alpha)


def _round_rational(value: Fraction, rule: str) -> int:
    if rule not in ROUNDING_RULES:
        raise InputError(f"unknown rounding rule {rule!r}; known: {', '.join(ROUNDING_RULES)}")
    floor = value.numerator // value.denominator
    remainder = value - floor
    if rule == "floor":
        return floor
    if rule == "ceil":
        return floor + (remainder != 0)
    half = Fraction(1, 2)
    if remainder != half:
        return floor + (remainder > half)
    if rule == "half_up":
        return floor + 1
    if rule == "half_down":
        return floor
    return floor + (floor % 2)  # half_even


def _validate_fraction(fraction: "float | Fraction | str", what: str) -> Fraction:
    exact = as_exact(fraction, what)
    if not 0 <= exact <= 1:
        raise InputError(f"{what} must lie in [0, 1], got {float(exact)!r}")
    return exact


def prune_count_from_pruned_fraction(size: int, fraction: "float | Fraction | str", rounding: str = "floor") -> int:
    """Entries to prune when a fraction of D is to be pruned: rounding(fraction * D)."""
    size = _validate_size(size)
    return _round_rational(_validate_fraction(fraction, "pruned fraction") * size, rounding)


def prune_count_from_kept_fraction(size: int, fraction: "float | Fraction | str", rounding: str = "floor") -> int:
    """Entries to prune when a fraction gamma of D is to be kept: D - rounding(gamma * D)."""
    size = _validate_size(size)
    return size - _round_rational(_validate_fraction(fraction, "kept fraction") * size, rounding)


def theorem_kept_fraction(size: int, alpha: "float | Fraction | str") -> Fraction:
    """gamma_l = 1 - floor(D^(1-alpha)) / D as an exact rational (no exact zeros assumed)."""
    return 1 - Fraction(theorem_prune_count(size, alpha), _validate_size(size))


def review_kept_fraction(size: int, alpha: "float | Fraction | str") -> float:
    """The review's reading gamma_l = D^(-alpha) (kept and pruned swapped); for comparison."""
    size = _validate_size(size)
    return float(size) ** (-float(validate_alpha(alpha)))
