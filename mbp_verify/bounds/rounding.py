"""Directed rounding for certified bounds: upper bounds of sums, products and roots in float64.

numpy and Python round to nearest, so an exact result lies within half an ulp of the computed
one; stepping one float towards +inf (`np.nextafter`) after every correctly rounded operation
therefore gives a value >= the exact result. `math.fsum` is correctly rounded, so one step
after it bounds an exact sum. The constants follow Higham, *Accuracy and Stability of
Numerical Algorithms* (2002), section 3.1: an inner product of length n computed in any order
(FMA or not) is within gamma_n = n u / (1 - n u) of the exact one, relative to the inner
product of absolute values, with u = 2^-53. Values that leave the float64 range are combined
exactly as `fractions.Fraction` and brought back with `float_up` / `float_down`.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np

__all__ = [
    "UNIT_ROUNDOFF",
    "UNDERFLOW_UNIT",
    "gamma",
    "up",
    "add_up",
    "mul_up",
    "sqrt_up",
    "frobenius_up",
    "matmul_error_up",
    "gram_error_up",
    "cholesky_error_up",
    "float_up",
    "float_down",
    "ldexp_up",
]

UNIT_ROUNDOFF = 2.0**-53
UNDERFLOW_UNIT = 2.0**-1074  # smallest positive subnormal float64


def up(value: float) -> float:
    """The next float64 above `value` (an upper bound of any exact x that rounds to value)."""
    return float(np.nextafter(float(value), math.inf))


def float_up(value: Fraction) -> float:
    """The smallest float64 >= the exact rational `value` (+inf beyond the float64 range)."""
    try:
        nearest = float(value)  # int / int division is correctly rounded, also into subnormals
    except OverflowError:
        return math.inf if value > 0 else -float(np.finfo(np.float64).max)
    if math.isinf(nearest):
        return nearest if nearest > 0 else -float(np.finfo(np.float64).max)
    return nearest if Fraction(nearest) >= value else up(nearest)


def float_down(value: Fraction) -> float:
    """The largest float64 <= the exact rational `value` (-inf below the float64 range)."""
    return -float_up(-value)


def ldexp_up(value: float, exponent: int) -> float:
    """An upper bound of value * 2^exponent for a finite float (exact unless it under/overflows)."""
    return float_up(Fraction(value) * Fraction(2) ** exponent)


def add_up(*values: float) -> float:
    """An upper bound of the exact sum of the given floats."""
    return up(math.fsum(values))


def mul_up(*values: float) -> float:
    """An upper bound of the exact product of non-negative floats."""
    if any(value < 0 for value in values):
        raise ValueError("mul_up expects non-negative factors")
    if any(value == 0 for value in values):
        return 0.0  # exact
    result = 1.0
    for value in values:
        result = up(result * value)
    return result


def sqrt_up(value: float) -> float:
    """An upper bound of sqrt(value) for value >= 0 (math.sqrt is correctly rounded)."""
    return up(math.sqrt(value)) if value > 0 else 0.0


def gamma(n: int) -> float:
    """gamma_n = n u / (1 - n u), rounded up; inner products of length n err by at most this."""
    if n < 0:
        raise ValueError("gamma needs n >= 0")
    nu = n * UNIT_ROUNDOFF
    if nu >= 0.5:
        raise ValueError(f"gamma_{n} is not defined (n u >= 1/2)")
    return up(up(nu) / (1.0 - nu)) * (1.0 + 4 * UNIT_ROUNDOFF)


def frobenius_up(matrix: np.ndarray) -> float:
    """An upper bound of ||A||_F.

    BLAS sums the squares in some order: with fl(a a) = a^2 (1 + d) + e, |d| <= u, |e| <= eta/2,
    the computed s satisfies S <= s / (1 - gamma_N) + N eta for the exact sum S of squares
    (N = number of entries). Entries far from 1 in magnitude are first scaled by a power of two
    (exact), so that the squares neither overflow nor all underflow.
    """
    values = np.asarray(matrix, dtype=np.float64).ravel(order="K")  # no copy for C or F order
    if values.size == 0:
        return 0.0
    largest = max(float(values.max()), -float(values.min()))
    if largest == 0.0 or not math.isfinite(largest):
        return largest
    exponent = 0
    if not 2.0**-400 <= largest <= 2.0**400:
        exponent = math.frexp(largest)[1]
        values = np.ldexp(values, -exponent)
    computed = float(np.dot(values, values))
    n = values.size + 1
    total = up(up(computed / (1.0 - gamma(n))) + n * UNDERFLOW_UNIT)
    try:
        return up(math.ldexp(sqrt_up(total), exponent))
    except OverflowError:
        return math.inf


def matmul_error_up(inner: int, entries: int, left_frobenius: float, right_frobenius: float) -> float:
    """Bound of ||fl(A B) - A B||_2 given upper bounds of ||A||_F and ||B||_F.

    |fl(AB) - AB| <= gamma_k |A||B| entrywise (k = inner dimension, any summation order), and
    || |A||B| ||_2 <= || |A||B| ||_F <= ||A||_F ||B||_F. Underflow adds at most k eta per entry,
    i.e. sqrt(entries) k eta in norm.
    """
    underflow = mul_up(sqrt_up(float(entries)), float(inner + 1), UNDERFLOW_UNIT)
    return add_up(mul_up(gamma(inner + 1), left_frobenius, right_frobenius), underflow)


def gram_error_up(size: int, length: int, *frobenius: float) -> float:
    """Bound of ||fl(G) - G||_2 for a computed size x size Gram matrix G = M^T M (or M M^T).

    `length` is the number of roundings per entry (inner dimension plus any extra scalings),
    and the product of `frobenius` bounds ||M||_F^2: |fl(G) - G| <= gamma_length |M|^T |M|
    entrywise, plus at most `length` eta per entry lost to underflow, i.e. size * length * eta
    in spectral norm.
    """
    underflow = mul_up(float(size), float(length), UNDERFLOW_UNIT)
    return add_up(mul_up(gamma(length), *frobenius), underflow)


def cholesky_error_up(n: int, diagonal: np.ndarray) -> float:
    """Rump's rho for a float Cholesky R of an n x n symmetric C with this diagonal: |R^T R - C| <=
    gamma_{n+1} |R|^T |R| (Higham 2002, Thm 10.3) and ||R||_F^2 <= tr|C| / (1 - gamma_{n+1}) give
    ||R^T R - C||_2 <= rho = gamma_{n+1} tr|C| / (1 - gamma_{n+1}) + 4 n (2(n + 1) + max|C_ii|) eta
    (Rump, "Verification of positive definiteness", BIT 46 (2006), with his underflow term)."""
    magnitudes = np.abs(diagonal)
    largest = float(np.max(magnitudes))
    trace = up(float(np.sum(magnitudes)) * (1.0 + gamma(n)))
    g = gamma(n + 1)
    return up(add_up(mul_up(g, trace) / (1.0 - g), mul_up(4.0 * n, add_up(2.0 * (n + 1), largest), UNDERFLOW_UNIT)))
