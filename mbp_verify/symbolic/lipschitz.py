"""Tight Lipschitz constants K = sup_x |sigma'(x)|, derived with sympy.

The derivation works piece by piece (kinks are `Piecewise` boundaries): on each piece it
collects the candidates for the extrema of sigma' — critical points of sigma' (solved exactly
by `solveset` where sympy can, otherwise located numerically inside verified sign-change
brackets), one-sided limits at the piece's ends and limits at +-infinity — and takes the
largest |sigma'|. An infinite limit means sigma is not Lipschitz. The same candidates give
monotonicity (inf sigma' >= 0 or sup sigma' <= 0). Every derivation records its steps.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from typing import Any

import mpmath
import sympy as sp

from ..engine.activations import ActivationSpec, parse_activation
from ..errors import InputError
from .analysis import (
    DIGITS,
    SolveTimeout,
    check_real_on_reals,
    critical_points,
    jumps,
    one_sided_limit,
    split_pieces,
    solve_time_limit,
)
from .registry import CONSTANT_VALUES, X, parse_expression, symbolic_activation

__all__ = ["LipschitzDerivation", "derive_lipschitz", "lipschitz_constant", "derive_softmax"]



@dataclass(frozen=True)
class LipschitzDerivation:
    """The result of a derivation: the constant, its exact form, where it is reached, and how."""

    name: str
    expression: str
    derivative: str
    lipschitz: "float | None"
    exact: "str | None"
    attained: bool
    argsup: "float | None"
    sigma0: "float | None"
    sigma0_exact: str
    positively_homogeneous: bool
    monotone: bool
    steps: tuple[str, ...] = field(default=())
    slope_min: "float | None" = None  # inf sigma' (every difference quotient lies in [slope_min, slope_max])
    slope_max: "float | None" = None  # sup sigma'

    @property
    def is_lipschitz(self) -> bool:
        return self.lipschitz is not None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name, "expression": self.expression, "derivative": self.derivative,
            "is_lipschitz": self.is_lipschitz, "lipschitz": self.lipschitz, "exact": self.exact,
            "attained": self.attained, "argsup": self.argsup, "sigma0": self.sigma0,
            "sigma0_exact": self.sigma0_exact, "positively_homogeneous": self.positively_homogeneous,
            "monotone": self.monotone, "slope_min": self.slope_min, "slope_max": self.slope_max,
            "steps": list(self.steps),
        }


@dataclass(frozen=True)
class _Candidate:
    value: sp.Expr  # signed value of sigma' (exact where possible)
    where: float  # location (may be +-inf)
    kind: str
    attained: bool

    @property
    def number(self) -> float:
        return float(sp.N(self.value.subs(CONSTANT_VALUES), DIGITS))


def _piece_candidates(piece: sp.Expr, interval: sp.Interval, steps: list[str]) -> list[_Candidate]:
    derivative = sp.diff(piece, X)
    steps.append(f"on {interval}: sigma = {piece}, sigma' = {derivative}")
    candidates: list[_Candidate] = []
    if not derivative.has(X):
        return [_Candidate(sp.nsimplify(derivative) if not derivative.has(sp.Float) else derivative, 0.0, "constant", True)]
    numeric = sp.lambdify(X, derivative.subs(CONSTANT_VALUES), modules="mpmath")
    for point, exact in critical_points(derivative, interval, steps):
        if exact:
            value = sp.simplify(derivative.subs(X, point))
        else:
            with mpmath.workdps(DIGITS):
                value = sp.Float(numeric(mpmath.mpf(float(point))), DIGITS)
        candidates.append(_Candidate(value, float(point), "critical point", True))
    for end, direction in ((interval.start, "+"), (interval.end, "-")):
        value = one_sided_limit(derivative, end, direction, steps)
        kind = "limit at infinity" if end.is_infinite else "one-sided limit at a piece end"
        steps.append(f"  lim sigma'(x) as x -> {end}{'' if end.is_infinite else direction} = {value}")
        if isinstance(value, sp.AccumBounds) and value.min.is_finite and value.max.is_finite:
            # sigma' oscillates (e.g. cos at infinity): its values there fill [min, max].
            candidates += [_Candidate(value.min, float(end), f"{kind} (oscillation, lower end)", False),
                           _Candidate(value.max, float(end), f"{kind} (oscillation, upper end)", False)]
        else:
            candidates.append(_Candidate(value, float(end), kind, False))
    return candidates


def _is_unbounded(value: sp.Expr) -> bool:
    return bool(value.has(sp.oo, -sp.oo, sp.zoo, sp.nan)) or isinstance(value, sp.AccumBounds)


def _exact_text(value: sp.Expr) -> "str | None":
    if value.has(sp.Float):
        return None
    return str(sp.nsimplify(value) if not value.free_symbols else value)


def _homogeneous(pieces: list[tuple[sp.Expr, sp.Interval]]) -> bool:
    """sigma(cx) = c sigma(x) for c > 0: piece ends in {-oo, 0, oo} and each piece homogeneous."""
    c = sp.Symbol("c", positive=True)
    for piece, interval in pieces:
        if any(end not in (-sp.oo, 0, sp.oo) for end in (interval.start, interval.end)):
            return False
        try:
            with solve_time_limit():
                if sp.simplify(piece.subs(X, c * X) - c * piece) != 0:
                    return False
        except SolveTimeout:
            return False
    return True


def _derive(name: str, expr: sp.Expr) -> LipschitzDerivation:
    steps = [f"sigma(x) = {expr}"]
    pieces = split_pieces(expr)
    check_real_on_reals(expr, pieces)
    candidates = [cand for piece, interval in pieces for cand in _piece_candidates(piece, interval, steps)]
    # A boundary point where both one-sided derivatives agree is a point of differentiability.
    ends = [c for c in candidates if c.kind.startswith("one-sided")]
    for i, a in enumerate(ends):
        for b in ends[i + 1:]:
            if a.where == b.where and not _is_unbounded(a.value) and abs(a.number - b.number) < 1e-25:
                candidates.append(_Candidate(a.value, a.where, "differentiable piece boundary", True))
    sigma0 = expr.subs(X, 0)
    sigma0_number = float(sp.N(sigma0.subs(CONSTANT_VALUES), DIGITS))
    derivative_text = str(sp.diff(expr, X)) if not isinstance(expr, sp.Piecewise) else \
        str(sp.Piecewise(*[(sp.diff(p, X), i.as_relational(X)) for p, i in pieces]))
    homogeneous = _homogeneous(pieces)
    unbounded = [c for c in candidates if _is_unbounded(c.value)]
    discontinuities = jumps(pieces, steps)
    if unbounded or discontinuities:
        reason = (f"sigma jumps at x = {discontinuities[0]:g}" if discontinuities else
                  f"sigma' is unbounded ({unbounded[0].kind} at {unbounded[0].where})")
        steps.append(f"{reason}: sigma is not Lipschitz")
        return LipschitzDerivation(name, str(expr), derivative_text, None, None, False, None, sigma0_number,
                                   str(sigma0), homogeneous, False, tuple(steps))
    numbers = [c.number for c in candidates]
    magnitudes = [abs(n) for n in numbers]
    best = max(magnitudes)
    winners = [c for c, m in zip(candidates, magnitudes) if m >= best - 1e-25]
    attained = any(c.attained for c in winners)
    chosen = next((c for c in winners if c.attained), winners[0])
    monotone = min(numbers) >= -1e-25 or max(numbers) <= 1e-25
    exact = _exact_text(sp.Abs(chosen.value) if chosen.number < 0 else chosen.value)
    steps.append(f"K = sup|sigma'| = {exact or best!s} ({'max, attained' if attained else 'sup, not attained'} "
                 f"via {chosen.kind} at x = {chosen.where:g})")
    steps.append(f"slopes: inf sigma' = {min(numbers)!r}, sup sigma' = {max(numbers)!r}")
    return LipschitzDerivation(name, str(expr), derivative_text, best, exact, attained, chosen.where,
                               sigma0_number, str(sigma0), homogeneous, monotone, tuple(steps),
                               slope_min=min(numbers), slope_max=max(numbers))


def derive_softmax() -> LipschitzDerivation:
    """softmax: R^n -> R^n in the 2-norm. Its Jacobian is J = diag(p) - p p^T."""
    p = sp.Symbol("p", nonnegative=True)
    steps = ["softmax(x)_i = exp(x_i) / sum_j exp(x_j); Jacobian J = diag(p) - p p^T (symmetric, PSD)",
             "Gershgorin, row i: J_ii + sum_{j != i} |J_ij| = p_i(1 - p_i) + p_i(1 - p_i) = 2 p_i (1 - p_i)"]
    radius = 2 * p * (1 - p)
    critical = sp.solveset(sp.diff(radius, p), p, sp.Interval(0, 1))
    bound = max(radius.subs(p, c) for c in list(critical) + [0, 1])
    steps.append(f"d/dp [2p(1-p)] = 0 at p = {list(critical)}: max over [0, 1] is {bound}, so ||J||_2 = lambda_max <= {bound}")
    a = sp.Symbol("a", real=True)
    p1 = sp.exp(a) / (sp.exp(a) + 1)
    eigen = sp.simplify(2 * p1 * (1 - p1)).subs(a, 0)
    steps.append(f"n = 2, x = (a, 0): J has eigenvalues 0 and 2 p_1 p_2, equal to {eigen} at a = 0: the bound is attained")
    assert eigen == bound
    return LipschitzDerivation("softmax", "exp(x_i)/sum_j exp(x_j)", "diag(p) - p p^T", float(bound), str(bound),
                               True, 0.0, None, "1/n in every component", False, False, tuple(steps))


@functools.lru_cache(maxsize=None)
def _cached(name: str, expr_text: "str | None") -> LipschitzDerivation:
    if expr_text is not None:
        return _derive(name, parse_expression(expr_text))
    if name == "softmax":
        return derive_softmax()
    spec, expr = symbolic_activation(name)
    return _derive(str(spec), expr)


def derive_lipschitz(spec: "str | ActivationSpec", *, expr: "str | None" = None) -> LipschitzDerivation:
    """Derive the tight Lipschitz constant of a registered activation or of `expr` (in x)."""
    if expr is not None:
        label = spec if isinstance(spec, str) and spec else "custom"
        return _cached(str(label), expr.strip())
    if isinstance(spec, str) and spec.strip() == "softmax":
        return _cached("softmax", None)
    return _cached(str(parse_activation(spec)), None)


def lipschitz_constant(spec: "str | ActivationSpec") -> float:
    """K for a registered activation; InputError if it is not Lipschitz."""
    derivation = derive_lipschitz(spec)
    if derivation.lipschitz is None or not math.isfinite(derivation.lipschitz):
        raise InputError(f"activation {derivation.name} is not Lipschitz")
    return derivation.lipschitz
