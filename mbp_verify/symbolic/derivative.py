"""Numeric derivatives sigma'(x) of registered activations, lambdified from the sympy registry.

The lower-bound search differentiates ||f(x) - F(x)||^2 through both networks; the chain rule
needs sigma' at every pre-activation. Taking it from the same sympy expression the Lipschitz
derivation uses keeps the gradient and the certified constants about one function. At a kink
the derivative of the right-hand piece is used (any value in the Clarke subdifferential is a
valid ascent direction).
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np
import sympy as sp

from ..engine.activations import ActivationSpec, parse_activation
from .registry import CONSTANT_VALUES, X, symbolic_activation

__all__ = ["activation_derivative"]


@functools.cache
def _lambdified(spec: ActivationSpec) -> Callable[[np.ndarray], np.ndarray]:
    _, expr = symbolic_activation(spec)
    folded = sp.piecewise_fold(expr) if isinstance(expr, sp.Piecewise) else expr
    if isinstance(folded, sp.Piecewise):
        # Differentiate piece by piece: sympy's diff of a Piecewise keeps the strict conditions,
        # so the kink belongs to the right-hand piece as documented above.
        derivative = sp.Piecewise(*[(sp.diff(piece, X), cond) for piece, cond in folded.args])
    else:
        derivative = sp.diff(folded, X)
    function = sp.lambdify(X, derivative.subs(CONSTANT_VALUES), modules=["numpy", "scipy"])
    return function


_SETTLED = 700.0  # |x| beyond which the float formulas overflow (exp(710) = inf)


def activation_derivative(spec: "str | ActivationSpec") -> Callable[[np.ndarray], np.ndarray]:
    """sigma' as a vectorised float64 function (same shape out as in). Where the formula overflows
    (sigmoid' = e^-x / (1 + e^-x)^2 is inf / inf at x = -1e5) the value at +-700 stands in: every
    registered sigma' is within 1e-300 of its limit there (a test checks this against a 50-digit
    reference), and NaN would stop the ascent's gradient."""
    parsed = parse_activation(spec)
    function = _lambdified(parsed)

    def evaluate(x: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):  # unused Piecewise branches
            values = np.asarray(function(x), dtype=np.float64)
        return np.broadcast_to(values, np.shape(x)).copy() if values.shape != np.shape(x) else values

    def derivative(x: np.ndarray) -> np.ndarray:
        values = evaluate(x)
        overflow = ~np.isfinite(values) & np.isfinite(x) & (np.abs(x) > _SETTLED)
        if np.any(overflow):
            values[overflow] = evaluate(np.clip(np.asarray(x, dtype=np.float64)[overflow], -_SETTLED, _SETTLED))
        return values

    return derivative
