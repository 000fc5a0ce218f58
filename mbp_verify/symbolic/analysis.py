"""Real analysis of one-variable sympy expressions, piece by piece, for the derivations.

Splits a function at its `Piecewise` kinks, checks that it is a finite real function on all of
R and continuous across its kinks, finds the critical points of a derivative (exactly with
`solveset`, or in sign-change brackets verified at 30 digits), and takes one-sided limits,
without a time limit of their own: callers that need one run the whole derivation in a worker
process (`mbp_verify.symbolic.worker`). solveset is only asked where sigma'' is algebraic (a
polynomial in x or in one exponential, times exponentials), where it answers quickly.
"""

from __future__ import annotations

import math

import mpmath
import numpy as np
import sympy as sp
from sympy.calculus.util import continuous_domain

from ..errors import InputError
from .registry import CONSTANT_VALUES, X

__all__ = [
    "DIGITS",
    "split_pieces",
    "check_real_on_reals",
    "jumps",
    "numeric_roots",
    "critical_points",
    "one_sided_limit",
    "exp_powers_small",
]

DIGITS = 30
_SCAN = (-40.0, 40.0, 40_001)
# sympy's polynomial code writes exp(p/q * t) as exp(t/q)**p and stores p + 1 dense coefficients:
# softplus(beta=9.87654321) (p = 987654321) took every byte of memory in `factor`. Beyond this
# power sigma'' is solved in a rescaled variable, or, failing that, located numerically.
_MAX_EXP_POWER = 4096


def _algebraic(numerator: sp.Expr) -> bool:
    """A product of exponentials and one polynomial in x: solveset decides it quickly."""
    rest = [f for f in sp.Mul.make_args(numerator) if not isinstance(f, sp.exp) and f.has(X)]
    return all(f.is_polynomial(X) or _exp_polynomial(f) for f in rest)


def _exp_polynomial(factor: sp.Expr) -> bool:
    """A polynomial in one exp, tanh or sinh of a linear argument, e.g. exp(-x) - 1 (solveset inverts it)."""
    atoms = factor.atoms(sp.exp, sp.tanh, sp.sinh)
    if (
        len(atoms) != 1
        or not next(iter(atoms)).args[0].is_polynomial(X)
        or sp.degree(next(iter(atoms)).args[0], X) != 1
    ):
        return False
    g = sp.Dummy("g")
    replaced = factor.subs(atoms.pop(), g)
    return not replaced.has(X) and replaced.is_polynomial(g)


def _exp_coefficients(expr: sp.Expr) -> list[sp.Rational]:
    """The rational coefficients c of the terms c*t in the arguments of expr's exponentials."""
    found = []
    for atom in expr.atoms(sp.exp):
        for term in sp.Add.make_args(atom.args[0]):
            coefficient = term.as_coeff_Mul()[0]
            if isinstance(coefficient, sp.Rational) and coefficient != 0:
                found.append(coefficient)
    return found


def _exp_power(expr: sp.Expr) -> int:
    """The largest power p that sympy's polynomials would give an exponential atom exp(p/q t + ...)."""
    return max((abs(int(c.p)) for c in _exp_coefficients(expr)), default=0)


def exp_powers_small(expr: sp.Expr) -> bool:
    """Whether sympy's polynomial code (factor, cancel, simplify) can take `expr` without building
    a polynomial of enormous degree in an exponential."""
    return _exp_power(expr) <= _MAX_EXP_POWER


def _exp_rescaling(expr: sp.Expr) -> "sp.Rational | None":
    """g > 0 such that expr(y/g) has small exponential powers (sympy's polynomials then stay small),
    1 if expr's are small already, None if no such g exists (e.g. exp(x) next to exp(987654321 x/10**8))."""
    if exp_powers_small(expr):
        return sp.Integer(1)
    coefficients = _exp_coefficients(expr)
    numerators, denominators = [abs(int(c.p)) for c in coefficients], [int(c.q) for c in coefficients]
    g = sp.Rational(math.gcd(*numerators), math.lcm(*denominators))
    if not exp_powers_small(expr.xreplace({X: X / g})):
        return None
    return g


def split_pieces(expr: sp.Expr) -> list[tuple[sp.Expr, sp.Interval]]:
    """(piece, interval) pairs covering R (Abs, Max, Min and sign are rewritten as Piecewise)."""
    folded = sp.piecewise_fold(expr.rewrite(sp.Piecewise)) if expr.has(sp.Abs, sp.Max, sp.Min, sp.sign) else expr
    if not isinstance(folded, sp.Piecewise):
        return [(folded, sp.Interval(-sp.oo, sp.oo))]
    pairs = []
    try:
        expr_sets = folded.as_expr_set_pairs(sp.Reals)
    except NotImplementedError:  # e.g. Abs(sin(x)): kinks at infinitely many points
        raise InputError(
            f"activation {expr} has kinks sympy cannot list (infinitely many?); write it with finitely many kinks"
        ) from None
    undefined = sp.Reals - sp.Union(*[where for _, where in expr_sets])
    if undefined != sp.S.EmptySet:  # Piecewise((x, x < 0)) says nothing for x >= 0
        raise InputError(
            f"activation {expr} is not defined on {_describe(undefined)}; end a Piecewise with a (value, True) clause"
        )
    for piece, where in expr_sets:
        for interval in where.args if isinstance(where, sp.Union) else (where,):
            if isinstance(interval, sp.Interval) and interval.measure != 0:
                pairs.append((piece, interval))
    return pairs


def numeric_roots(func: sp.Expr, lo: float, hi: float) -> tuple[list[float], list[float]]:
    """Points of (lo, hi) where `func` (= sigma'') vanishes, and where it reads as zero.

    A float64 scan proposes brackets with a strict sign change; each is kept only if `func`
    evaluated at 30 digits (mpmath) has opposite signs at its ends, so rounding noise cannot
    create roots, and is refined by mpmath bisection: the first list. Where the scan reads exact
    zeros over a run of points (sigma' saturated to float precision, e.g. gelu_tanh for large
    |x|) the run's ends are the second list: sigma' is constant there to within rounding, so
    those points carry its extreme values on the run, but they are not roots (softplus(beta=9.87)
    saturates from x = 3.6 on and never reaches its supremum 1).
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
    saturated = [float(grid[i + 1]) if not zero[i] else float(grid[i]) for i in edges]
    if zero[0]:
        saturated.append(float(grid[0]))
    if zero[-1]:
        saturated.append(float(grid[-1]))
    with mpmath.workdps(DIGITS):
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
        for i in np.flatnonzero(zero[1:-1] & ~zero[:-2] & ~zero[2:]) + 1:  # one zero between a sign change
            if precise(mpmath.mpf(float(grid[i - 1]))) * precise(mpmath.mpf(float(grid[i + 1]))) < 0:
                points.append(float(grid[i]))  # a root in (grid[i-1], grid[i+1]): sigma'(0) of sigmoid
    return sorted(set(points)), sorted(set(saturated) - set(points))


def critical_points(derivative: sp.Expr, interval: sp.Interval, steps: list[str]) -> list[tuple[sp.Expr, bool, bool]]:
    """Critical points of sigma' inside the open piece, and points where sigma'' reads as zero:
    (point, exact?, a proven root of sigma''?)."""
    second = sp.diff(derivative, X)
    if not second.has(X) and second == 0:
        return []
    open_piece = sp.Interval.open(interval.start, interval.end)
    g = _exp_rescaling(second)  # solve sigma''(y/g) = 0 for y = g x, on g times the piece
    if g is not None:
        scaled = second.xreplace({X: X / g}) if g != 1 else second
        numerator = sp.factor(sp.numer(sp.together(scaled)))
    try:
        solved = (
            sp.solveset(numerator, X, sp.Interval.open(interval.start * g, interval.end * g))
            if g is not None and _algebraic(numerator)
            else None
        )
        if isinstance(solved, sp.FiniteSet):
            solved = sp.FiniteSet(*[point / g for point in solved])
            steps.append(f"  sigma'' = 0 on {open_piece}: solved exactly, {sorted(solved, key=lambda t: float(t))}")
            return [(point, True, True) for point in solved]
        if solved is sp.S.EmptySet:
            steps.append(f"  sigma'' = 0 has no solution on {open_piece}")
            return []
    except (NotImplementedError, TypeError, ValueError):
        pass
    lo = max(float(interval.start), _SCAN[0])
    hi = min(float(interval.end), _SCAN[1])
    roots, saturated = numeric_roots(second, lo, hi)
    steps.append(
        f"  sigma'' = 0 is transcendental on {open_piece}: {len(roots)} root(s) on [{lo:g}, {hi:g}] in 30-digit "
        f"verified sign-change brackets: {[round(r, 12) for r in roots]}; {len(saturated)} end(s) of runs where "
        "sigma'' reads as zero"
    )
    found = [(sp.Float(r, DIGITS), False, True) for r in roots]
    return found + [(sp.Float(r, DIGITS), False, False) for r in saturated]


def one_sided_limit(func: sp.Expr, end: sp.Expr, direction: str, steps: list[str]) -> sp.Expr:
    """sympy's limit of `func` at `end` ("+" from the right, "-" from the left), or, when sympy
    takes too long, a 30-digit evaluation closer and closer to the end (oo if it does not settle)."""
    try:
        return sp.limit(func, X, end, direction)
    except (NotImplementedError, ValueError):
        pass
    f = func.subs(CONSTANT_VALUES)
    if end.is_infinite:
        points = [sp.Integer(10) ** k * (1 if end > 0 else -1) for k in (2, 3, 4)]
    else:
        sign = 1 if direction == "+" else -1
        points = [end + sign * sp.Integer(10) ** (-k) for k in (10, 20, 30)]
    values = [sp.N(f.subs(X, t), DIGITS) for t in points]
    if any(not v.is_finite for v in values) or abs(values[-1] - values[-2]) > 1e-12 * (1 + abs(values[-1])):
        steps.append(f"  limit at {end}: no symbolic answer and no numeric convergence; treated as unbounded")
        return sp.oo
    steps.append(f"  limit at {end}: evaluated at 30 digits ({[float(v) for v in values]})")
    return sp.Float(values[-1], DIGITS)


def check_real_on_reals(expr: sp.Expr, pieces: list[tuple[sp.Expr, sp.Interval]]) -> None:
    """InputError unless every piece is a finite real, continuous function on its interval.

    sympy's `continuous_domain` decides where it can (log(x), 1/x, sqrt(x), tan(x) fail); a
    float64 scan of [-40, 40] catches what it cannot decide (NaN, inf or complex values).
    """
    for piece, interval in pieces:
        inner = sp.Interval.open(interval.start, interval.end)
        try:
            missing = inner - continuous_domain(piece, X, inner)
        except (NotImplementedError, TypeError, ValueError):
            missing = sp.S.EmptySet  # undecided: the scan below still looks
        if missing != sp.S.EmptySet:
            raise InputError(
                f"activation {expr} is not a finite, continuous real function on all of R "
                f"(it fails on {_describe(missing)})"
            )
        lo, hi = max(float(interval.start), _SCAN[0]), min(float(interval.end), _SCAN[1])
        grid = np.linspace(lo, hi, 2001)[1:-1]
        with np.errstate(all="ignore"):
            values = np.asarray(sp.lambdify(X, piece.subs(CONSTANT_VALUES), modules=["numpy", "scipy"])(grid + 0j))
            values = values * np.ones_like(grid)
        bad = ~np.isfinite(values) | (np.abs(np.imag(values)) > 1e-12 * (1 + np.abs(values)))
        precise = sp.lambdify(X, piece.subs(CONSTANT_VALUES), modules="mpmath")
        for point in grid[bad][:20]:  # float64 overflow is not a failure: confirm at 30 digits
            with mpmath.workdps(DIGITS):
                try:
                    value = mpmath.mpmathify(precise(mpmath.mpf(float(point))))
                except (ValueError, ZeroDivisionError, OverflowError):
                    value = mpmath.nan
            if not (isinstance(value, mpmath.mpf) and mpmath.isfinite(value)):
                raise InputError(
                    f"activation {expr} is not a finite real function on all of R (e.g. at x = {point:.6g})"
                )


def _describe(points: sp.Set) -> str:
    text = str(points)
    return text if len(text) <= 120 else text[:119] + "…"


def jumps(pieces: list[tuple[sp.Expr, sp.Interval]], steps: list[str]) -> list[float]:
    """Finite piece boundaries where sigma's one-sided limits differ (sigma jumps there)."""
    found = []
    ordered = sorted(pieces, key=lambda p: float(p[1].start))
    for (left, left_interval), (right, right_interval) in zip(ordered, ordered[1:]):
        point = left_interval.end
        if point != right_interval.start or point.is_infinite:
            continue
        a, b = one_sided_limit(left, point, "-", steps), one_sided_limit(right, point, "+", steps)
        if (
            a.has(sp.oo, -sp.oo, sp.zoo, sp.nan)
            or b.has(sp.oo, -sp.oo, sp.zoo, sp.nan)
            or abs(float(sp.N((a - b).subs(CONSTANT_VALUES), DIGITS))) > 1e-25
        ):
            steps.append(f"  sigma jumps at x = {point}: left limit {a}, right limit {b}")
            found.append(float(point))
    return found
