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
import signal
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Iterator

import mpmath
import numpy as np
import sympy as sp

from ..engine.activations import ActivationSpec, parse_activation
from ..errors import InputError
from .registry import CONSTANT_VALUES, X, parse_expression, symbolic_activation

__all__ = ["LipschitzDerivation", "derive_lipschitz", "lipschitz_constant", "derive_softmax"]

_DIGITS = 30
_SOLVE_SECONDS = 2.0
_SCAN = (-40.0, 40.0, 40_001)


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
        return float(sp.N(self.value.subs(CONSTANT_VALUES), _DIGITS))


class _SolveTimeout(Exception):
    pass


@contextmanager
def _time_limit(seconds: float) -> Iterator[None]:
    """Interrupt a long sympy solve (main thread only; elsewhere no limit is applied)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def _raise(signum, frame):
        raise _SolveTimeout()

    previous = signal.signal(signal.SIGALRM, _raise)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _pieces(expr: sp.Expr) -> list[tuple[sp.Expr, sp.Interval]]:
    folded = sp.piecewise_fold(expr.rewrite(sp.Piecewise)) if expr.has(sp.Abs, sp.Max, sp.Min, sp.sign) else expr
    if not isinstance(folded, sp.Piecewise):
        return [(folded, sp.Interval(-sp.oo, sp.oo))]
    pairs = []
    for piece, where in folded.as_expr_set_pairs(sp.Reals):
        for interval in (where.args if isinstance(where, sp.Union) else (where,)):
            if isinstance(interval, sp.Interval) and interval.measure != 0:
                pairs.append((piece, interval))
    return pairs


def _numeric_roots(func: sp.Expr, lo: float, hi: float) -> list[float]:
    """Points of (lo, hi) where `func` (= sigma'') vanishes or may vanish.

    A float64 scan proposes brackets with a strict sign change; each is kept only if `func`
    evaluated at 30 digits (mpmath) has opposite signs at its ends, so rounding noise cannot
    create roots, and is refined by mpmath bisection. Where the scan reads exact zeros over a
    run of points (sigma' saturated to float precision, e.g. gelu_tanh for large |x|) the
    run's ends are returned too: sigma' is constant there to within rounding, so those
    points carry its extreme values on the run.
    """
    concrete = func.subs(CONSTANT_VALUES)
    fast = sp.lambdify(X, concrete, modules=["numpy", "scipy"])
    precise = sp.lambdify(X, concrete, modules="mpmath")
    grid = np.linspace(lo, hi, _SCAN[2])
    with np.errstate(all="ignore"):
        values = np.asarray(fast(grid), dtype=float) * np.ones_like(grid)
    points: list[float] = []
    zero = values == 0
    edges = np.flatnonzero(np.diff(zero.astype(np.int8)))
    points += [float(grid[i + 1]) if not zero[i] else float(grid[i]) for i in edges]
    if zero[0]:
        points.append(float(grid[0]))
    if zero[-1]:
        points.append(float(grid[-1]))
    with mpmath.workdps(_DIGITS):
        for i in np.flatnonzero(np.sign(values[:-1]) * np.sign(values[1:]) < 0):
            a, b = mpmath.mpf(float(grid[i])), mpmath.mpf(float(grid[i + 1]))
            fa, fb = precise(a), precise(b)
            if fa * fb > 0:
                continue  # a float64 artefact, not a sign change
            for _ in range(80):  # bisection: the bracket shrinks below 1e-20
                if fa == 0 or b - a < mpmath.mpf(10) ** -22:
                    break
                mid = (a + b) / 2
                fm = precise(mid)
                a, b, fa = (mid, b, fm) if fa * fm > 0 else (a, mid, fa)
            points.append(float(a if fa == 0 else (a + b) / 2))
    return sorted(set(points))


def _critical_points(derivative: sp.Expr, interval: sp.Interval, steps: list[str]) -> list[tuple[sp.Expr, bool]]:
    """Critical points of sigma' inside the open piece: (point, exact?)."""
    second = sp.diff(derivative, X)
    if not second.has(X) and second == 0:
        return []
    open_piece = sp.Interval.open(interval.start, interval.end)
    try:
        with _time_limit(_SOLVE_SECONDS):
            solved = sp.solveset(sp.numer(sp.together(second)), X, open_piece)
        if isinstance(solved, sp.FiniteSet):
            steps.append(f"  sigma'' = 0 on {open_piece}: solved exactly, {sorted(solved, key=lambda t: float(t))}")
            return [(point, True) for point in solved]
        if solved is sp.S.EmptySet:
            steps.append(f"  sigma'' = 0 has no solution on {open_piece}")
            return []
    except (_SolveTimeout, NotImplementedError, TypeError, ValueError):
        pass
    lo = max(float(interval.start), _SCAN[0])
    hi = min(float(interval.end), _SCAN[1])
    roots = _numeric_roots(second, lo, hi)
    steps.append(f"  sigma'' = 0 is transcendental on {open_piece}: {len(roots)} candidate point(s) on [{lo:g}, {hi:g}] "
                 f"(roots in 30-digit verified sign-change brackets, ends of saturated runs): {[round(r, 12) for r in roots]}")
    return [(sp.Float(r, _DIGITS), False) for r in roots]


def _piece_candidates(piece: sp.Expr, interval: sp.Interval, steps: list[str]) -> list[_Candidate]:
    derivative = sp.diff(piece, X)
    steps.append(f"on {interval}: sigma = {piece}, sigma' = {derivative}")
    candidates: list[_Candidate] = []
    if not derivative.has(X):
        return [_Candidate(sp.nsimplify(derivative) if not derivative.has(sp.Float) else derivative, 0.0, "constant", True)]
    numeric = sp.lambdify(X, derivative.subs(CONSTANT_VALUES), modules="mpmath")
    for point, exact in _critical_points(derivative, interval, steps):
        if exact:
            value = sp.simplify(derivative.subs(X, point))
        else:
            with mpmath.workdps(_DIGITS):
                value = sp.Float(numeric(mpmath.mpf(float(point))), _DIGITS)
        candidates.append(_Candidate(value, float(point), "critical point", True))
    for end, direction in ((interval.start, "+"), (interval.end, "-")):
        value = _limit(derivative, end, direction, steps)
        kind = "limit at infinity" if end.is_infinite else "one-sided limit at a piece end"
        steps.append(f"  lim sigma'(x) as x -> {end}{'' if end.is_infinite else direction} = {value}")
        candidates.append(_Candidate(value, float(end), kind, False))
    return candidates


def _limit(derivative: sp.Expr, end: sp.Expr, direction: str, steps: list[str]) -> sp.Expr:
    """sympy's limit, or (when it takes too long) a high-precision evaluation near the end."""
    try:
        with _time_limit(_SOLVE_SECONDS):
            return sp.limit(derivative, X, end, direction)
    except (_SolveTimeout, NotImplementedError, ValueError):
        pass
    f = derivative.subs(CONSTANT_VALUES)
    if end.is_infinite:
        points = [sp.Integer(10) ** k * (1 if end > 0 else -1) for k in (2, 3, 4)]
    else:
        sign = 1 if direction == "+" else -1
        points = [end + sign * sp.Integer(10) ** (-k) for k in (10, 20, 30)]
    values = [sp.N(f.subs(X, t), _DIGITS) for t in points]
    if any(not v.is_finite for v in values) or abs(values[-1] - values[-2]) > 1e-12 * (1 + abs(values[-1])):
        steps.append(f"  limit at {end}: no symbolic answer and no numeric convergence; treated as unbounded")
        return sp.oo
    steps.append(f"  limit at {end}: evaluated at 30 digits ({[float(v) for v in values]})")
    return sp.Float(values[-1], _DIGITS)


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
            with _time_limit(_SOLVE_SECONDS):
                if sp.simplify(piece.subs(X, c * X) - c * piece) != 0:
                    return False
        except _SolveTimeout:
            return False
    return True


def _derive(name: str, expr: sp.Expr) -> LipschitzDerivation:
    steps = [f"sigma(x) = {expr}"]
    pieces = _pieces(expr)
    candidates = [cand for piece, interval in pieces for cand in _piece_candidates(piece, interval, steps)]
    # A boundary point where both one-sided derivatives agree is a point of differentiability.
    ends = [c for c in candidates if c.kind.startswith("one-sided")]
    for i, a in enumerate(ends):
        for b in ends[i + 1:]:
            if a.where == b.where and not _is_unbounded(a.value) and abs(a.number - b.number) < 1e-25:
                candidates.append(_Candidate(a.value, a.where, "differentiable piece boundary", True))
    sigma0 = expr.subs(X, 0)
    sigma0_number = float(sp.N(sigma0.subs(CONSTANT_VALUES), _DIGITS))
    derivative_text = str(sp.diff(expr, X)) if not isinstance(expr, sp.Piecewise) else \
        str(sp.Piecewise(*[(sp.diff(p, X), i.as_relational(X)) for p, i in pieces]))
    homogeneous = _homogeneous(pieces)
    unbounded = [c for c in candidates if _is_unbounded(c.value)]
    if unbounded:
        steps.append(f"sigma' is unbounded ({unbounded[0].kind} at {unbounded[0].where}): sigma is not Lipschitz")
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
