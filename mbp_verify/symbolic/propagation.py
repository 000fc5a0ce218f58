"""The layerwise error-propagation bound, derived symbolically for a given depth L.

With h_l = sigma_l(W_l h_{l-1}), g_l = sigma_l(W~_l g_{l-1}), h_0 = g_0 = x, ||x|| <= 1:
  ||h_l||        <= K_l ||W_l|| ||h_{l-1}|| + ||sigma_l(0) 1||      (N_l, offsets from sigma(0) != 0)
  ||h_l - g_l||  <= K_l (||E_l|| N_{l-1} + ||W~_l|| ||h_{l-1} - g_{l-1}||)
because W_l h - W~_l g = E_l h + W~_l (h - g); the last layer is linear (K_L = 1). sympy unrolls
the recursion into a closed form with non-negative coefficients (so the bound is monotone in
every norm); it is evaluated exactly in rationals and rounded up once.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

import mpmath
import sympy as sp

from ..errors import InputError
from .intervals import float_up, upper

__all__ = ["PropagationBound", "propagation_bound"]


@dataclass(frozen=True)
class PropagationBound:
    """Closed-form bound of sup_{||x||<=1} ||f(x) - F(x)|| for depth L."""

    depth: int
    expression: sp.Expr
    symbols: tuple[tuple[sp.Symbol, ...], ...]  # (a, b, e, K, c): ||W||, ||W~||, ||E||, K_l, offsets

    def exact(
        self,
        norms_full: Sequence["float | Fraction"],
        norms_pruned: Sequence["float | Fraction"],
        norms_error: Sequence["float | Fraction"],
        lipschitz: Sequence["float | Fraction"],
        offsets: "Sequence[float | Fraction] | None" = None,
    ) -> Fraction:
        """The polynomial at the given finite values (floats are read exactly), in rational arithmetic."""
        values = self._values(norms_full, norms_pruned, norms_error, lipschitz, offsets)
        if not all(_finite(v) for v in values):
            raise InputError("the propagation bound needs finite values; use evaluate() for infinite ones")
        symbols = [s for group in self.symbols for s in group]
        exact = sp.Rational(self.expression.xreplace({s: _rational(v) for s, v in zip(symbols, values)}))
        return Fraction(int(exact.p), int(exact.q))

    def evaluate(
        self,
        norms_full: Sequence[float],
        norms_pruned: Sequence[float],
        norms_error: Sequence[float],
        lipschitz: Sequence[float],
        offsets: "Sequence[float] | None" = None,
    ) -> float:
        """Plug (upper bounds of) the norms in; returns an upper bound of the sup error: the exact value
        of the polynomial rounded up to float64 (+inf beyond its range, or when a value is +inf)."""
        values = self._values(norms_full, norms_pruned, norms_error, lipschitz, offsets)
        if not all(_finite(v) for v in values):
            return math.inf
        exact = self.exact(norms_full, norms_pruned, norms_error, lipschitz, offsets)
        bits = max(exact.numerator.bit_length(), exact.denominator.bit_length()) + 64
        saved, mpmath.iv.prec = mpmath.iv.prec, bits
        try:  # an enclosure of the quotient (exact: the denominator is a power of 2)
            return float_up(upper(mpmath.iv.mpf(exact.numerator) / mpmath.iv.mpf(exact.denominator)))
        finally:
            mpmath.iv.prec = saved

    def _values(self, norms_full, norms_pruned, norms_error, lipschitz, offsets) -> list:
        """The values in symbol order, after checking their counts and signs."""
        L = self.depth
        offsets = [0.0] * (L - 1) if offsets is None else list(offsets)
        values: list = []
        for name, given, size in (
            ("norms_full", norms_full, L),
            ("norms_pruned", norms_pruned, L),
            ("norms_error", norms_error, L),
            ("lipschitz", lipschitz, L - 1),
            ("offsets", offsets, L - 1),
        ):
            if len(given) != size:
                raise InputError(f"{name} needs {size} values for depth {L}, got {len(given)}")
            if any(not (v >= 0) for v in given):
                raise InputError(f"{name} must be non-negative numbers")
            values += list(given)
        return values


def _finite(value: "float | Fraction") -> bool:
    return isinstance(value, Fraction) or math.isfinite(value)  # a Fraction beyond float64 is finite


def _rational(value: "float | Fraction") -> sp.Rational:
    exact = Fraction(value)
    return sp.Rational(exact.numerator, exact.denominator)


@functools.cache
def propagation_bound(depth: int) -> PropagationBound:
    """Derive the bound for `depth` layers (cached)."""
    if not isinstance(depth, int) or depth < 1:
        raise InputError(f"depth must be a positive integer, got {depth!r}")
    L = depth
    a = sp.symbols(f"a1:{L + 1}", nonnegative=True)  # ||W_l||
    b = sp.symbols(f"b1:{L + 1}", nonnegative=True)  # ||W~_l||
    e = sp.symbols(f"e1:{L + 1}", nonnegative=True)  # ||E_l||
    K = sp.symbols(f"K1:{L}", nonnegative=True) if L > 1 else ()
    c = sp.symbols(f"c1:{L}", nonnegative=True) if L > 1 else ()
    norm, diff = sp.Integer(1), sp.Integer(0)
    for l in range(L):
        gain = K[l] if l < L - 1 else sp.Integer(1)
        offset = c[l] if l < L - 1 else sp.Integer(0)
        diff = gain * (e[l] * norm + b[l] * diff)
        norm = gain * a[l] * norm + offset
    closed = sp.expand(diff)
    return PropagationBound(L, closed, (a, b, e, K, c))
