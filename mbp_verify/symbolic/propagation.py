"""The layerwise error-propagation bound, derived symbolically for a given depth L.

With h_l = sigma_l(W_l h_{l-1}), g_l = sigma_l(W~_l g_{l-1}), h_0 = g_0 = x, ||x|| <= 1:
  ||h_l||        <= K_l ||W_l|| ||h_{l-1}|| + ||sigma_l(0) 1||      (N_l, offsets from sigma(0) != 0)
  ||h_l - g_l||  <= K_l (||E_l|| N_{l-1} + ||W~_l|| ||h_{l-1} - g_{l-1}||)
because W_l h - W~_l g = E_l h + W~_l (h - g); the last layer is linear (K_L = 1). sympy unrolls
the recursion into a closed form with non-negative coefficients (so the bound is monotone in
every norm) and lambdify makes it a fast function.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import sympy as sp

from ..errors import InputError

__all__ = ["PropagationBound", "propagation_bound"]


@dataclass(frozen=True)
class PropagationBound:
    """Closed-form bound of sup_{||x||<=1} ||f(x) - F(x)|| for depth L."""

    depth: int
    expression: sp.Expr
    symbols: tuple[tuple[sp.Symbol, ...], ...]  # (a, b, e, K, c): ||W||, ||W~||, ||E||, K_l, offsets
    _function: Callable[..., float]

    def evaluate(
        self,
        norms_full: Sequence[float],
        norms_pruned: Sequence[float],
        norms_error: Sequence[float],
        lipschitz: Sequence[float],
        offsets: "Sequence[float] | None" = None,
    ) -> float:
        """Plug (upper bounds of) the norms in; returns an upper bound of the sup error."""
        L = self.depth
        offsets = [0.0] * (L - 1) if offsets is None else list(offsets)
        for name, values, size in (
            ("norms_full", norms_full, L),
            ("norms_pruned", norms_pruned, L),
            ("norms_error", norms_error, L),
            ("lipschitz", lipschitz, L - 1),
            ("offsets", offsets, L - 1),
        ):
            if len(values) != size:
                raise InputError(f"{name} needs {size} values for depth {L}, got {len(values)}")
            if any(not (v >= 0) for v in values):
                raise InputError(f"{name} must be non-negative numbers")
        return float(self._function(*norms_full, *norms_pruned, *norms_error, *lipschitz, *offsets))


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
    function = sp.lambdify([*a, *b, *e, *K, *c], closed, modules="math")
    return PropagationBound(L, closed, (a, b, e, K, c), function)
