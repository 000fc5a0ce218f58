"""Lipschitz constants K = sup_x |sigma'(x)| and slope ranges, sound by construction.

Two analyses meet here. The rigorous one (`enclosure`: interval branch-and-bound of sigma' over
the whole line) gives every number that is reported: K and the slope range are its proven upper
(and lower) bounds, rounded outwards, so they are never below the true values. The symbolic one
(sympy, piece by piece: critical points, one-sided limits, limits at +-infinity) decides what
interval arithmetic cannot: that sigma jumps or that sigma' tends to infinity (not Lipschitz),
and names the exact form and the argsup when its value lies inside the rigorous enclosure.

Each answer has a kind: `exact` (upper bound and attained value agree to 1e-12 relative),
`bound` (a proven upper bound; `gap` says how far the best attained value is below it), or
`not_lipschitz`. Where neither analysis can decide, `DerivationUndecided` (an InputError) says so.
"""

from __future__ import annotations

import functools
import math
import time
from dataclasses import dataclass, field, replace
from typing import Any

import mpmath
import sympy as sp

from ..engine.activations import ActivationSpec, parse_activation
from ..errors import InputError
from .analysis import (
    DIGITS,
    check_real_on_reals,
    critical_points,
    exp_powers_small,
    jumps,
    one_sided_limit,
    split_pieces,
)
from .enclosure import PieceSlopes, slope_extremes
from .intervals import Unsupported
from .registry import CONSTANT_VALUES, X, parse_expression, symbolic_activation

__all__ = [
    "LipschitzDerivation",
    "DerivationUndecided",
    "derive_lipschitz",
    "lipschitz_constant",
    "derive_softmax",
    "derive_expression",
]

DEFAULT_SECONDS = 30.0  # budget of the rigorous search when the caller gives none


class DerivationUndecided(InputError):
    """Neither a proven finite bound nor a proof that sigma is not Lipschitz was found."""


@dataclass(frozen=True)
class LipschitzDerivation:
    """The result of a derivation: the constant, its kind, its exact form, where it is reached, and how."""

    name: str
    expression: str
    derivative: str
    lipschitz: "float | None"  # proven upper bound of sup|sigma'| (None: not Lipschitz)
    exact: "str | None"
    attained: bool
    argsup: "float | None"
    sigma0: "float | None"
    sigma0_exact: str
    positively_homogeneous: bool
    monotone: bool
    steps: tuple[str, ...] = field(default=())
    slope_min: "float | None" = None  # proven lower bound of inf sigma'
    slope_max: "float | None" = None  # proven upper bound of sup sigma'
    kind: str = "exact"  # "exact", "bound" or "not_lipschitz"
    gap: "float | None" = None  # lipschitz minus the best value of |sigma'| found (0 <= gap)

    @property
    def is_lipschitz(self) -> bool:
        return self.lipschitz is not None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "expression": self.expression,
            "derivative": self.derivative,
            "is_lipschitz": self.is_lipschitz,
            "kind": self.kind,
            "lipschitz": self.lipschitz,
            "gap": self.gap,
            "exact": self.exact,
            "attained": self.attained,
            "argsup": self.argsup,
            "sigma0": self.sigma0,
            "sigma0_exact": self.sigma0_exact,
            "positively_homogeneous": self.positively_homogeneous,
            "monotone": self.monotone,
            "slope_min": self.slope_min,
            "slope_max": self.slope_max,
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


def _limit_candidates(
    derivative: sp.Expr, interval: sp.Interval, steps: list[str], at_infinity: bool = True
) -> list[_Candidate]:
    """sympy's limits of sigma' at the piece's ends (infinite ones decide 'not Lipschitz')."""
    if not derivative.has(X):
        return [
            _Candidate(sp.nsimplify(derivative) if not derivative.has(sp.Float) else derivative, 0.0, "constant", True)
        ]
    candidates = []
    for end, direction in ((interval.start, "+"), (interval.end, "-")):
        if end.is_infinite and not at_infinity:
            continue
        value = one_sided_limit(derivative, end, direction, steps)
        kind = "limit at infinity" if end.is_infinite else "one-sided limit at a piece end"
        steps.append(f"  lim sigma'(x) as x -> {end}{'' if end.is_infinite else direction} = {value}")
        if isinstance(value, sp.AccumBounds) and value.min.is_finite and value.max.is_finite:
            # sigma' oscillates (e.g. cos at infinity): its values there fill [min, max].
            candidates += [
                _Candidate(value.min, float(end), f"{kind} (oscillation, lower end)", False),
                _Candidate(value.max, float(end), f"{kind} (oscillation, upper end)", False),
            ]
        else:
            candidates.append(_Candidate(value, float(end), kind, False))
    return candidates


def _critical_candidates(derivative: sp.Expr, interval: sp.Interval, steps: list[str]) -> list[_Candidate]:
    if not derivative.has(X):
        return []
    numeric = sp.lambdify(X, derivative.subs(CONSTANT_VALUES), modules="mpmath")
    candidates = []
    for point, exact, root in critical_points(derivative, interval, steps):
        if exact:
            value = sp.simplify(derivative.subs(X, point))
        else:
            with mpmath.workdps(DIGITS):
                value = sp.Float(numeric(mpmath.mpf(float(point))), DIGITS)
        # a point where sigma'' only reads as zero is no evidence that a supremum is attained
        kind, attained = ("critical point", True) if root else ("end of a saturated run", False)
        candidates.append(_Candidate(value, float(point), kind, attained))
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
        difference = piece.subs(X, c * X) - c * piece
        if (
            sp.count_ops(difference) > 60 or not exp_powers_small(difference) or sp.simplify(difference) != 0
        ):  # large: not decided, not claimed
            return False
    return True


@dataclass(frozen=True)
class _Setup:
    name: str
    expr: sp.Expr
    pieces: tuple
    derivatives: tuple
    steps: tuple[str, ...]
    sigma0: float
    sigma0_exact: str
    derivative_text: str


def _setup(name: str, expr: sp.Expr) -> "tuple[_Setup, LipschitzDerivation | None]":
    """Pieces and realness; a 'not Lipschitz' verdict when sigma jumps between pieces."""
    steps = [f"sigma(x) = {expr}"]
    pieces = split_pieces(expr)
    check_real_on_reals(expr, pieces)
    derivatives = [sp.diff(piece, X) for piece, _ in pieces]
    for (piece, interval), derivative in zip(pieces, derivatives):
        steps.append(f"on {interval}: sigma = {piece}, sigma' = {derivative}")
    sigma0 = expr.subs(X, 0)
    derivative_text = (
        str(sp.diff(expr, X))
        if not isinstance(expr, sp.Piecewise)
        else str(sp.Piecewise(*[(d, i.as_relational(X)) for d, (_, i) in zip(derivatives, pieces)]))
    )
    discontinuities = jumps(pieces, steps) if len(pieces) > 1 else []
    setup = _Setup(
        name,
        expr,
        tuple(pieces),
        tuple(derivatives),
        tuple(steps),
        float(sp.N(sigma0.subs(CONSTANT_VALUES), DIGITS)),
        str(sigma0),
        derivative_text,
    )
    if not discontinuities:
        return setup, None
    return setup, _not_lipschitz(setup, f"sigma jumps at x = {discontinuities[0]:g}", steps)


def _not_lipschitz(setup: _Setup, reason: str, steps: list[str]) -> LipschitzDerivation:
    steps.append(f"{reason}: sigma is not Lipschitz")
    return LipschitzDerivation(
        setup.name,
        str(setup.expr),
        setup.derivative_text,
        None,
        None,
        False,
        None,
        setup.sigma0,
        setup.sigma0_exact,
        False,
        False,
        tuple(steps),
        kind="not_lipschitz",
    )


def _limits(setup: _Setup, steps: list[str], at_infinity: bool = True) -> list[_Candidate]:
    return [
        c
        for (_, interval), d in zip(setup.pieces, setup.derivatives)
        for c in _limit_candidates(d, interval, steps, at_infinity)
    ]


def _unbounded_verdict(setup: _Setup) -> "LipschitzDerivation | None":
    """sympy's limits of sigma' at the piece ends: a 'not Lipschitz' verdict if one is infinite."""
    steps = list(setup.steps)
    unbounded = [c for c in _limits(setup, steps) if _is_unbounded(c.value)]
    if not unbounded:
        return None
    return _not_lipschitz(setup, f"sigma' is unbounded ({unbounded[0].kind} at {unbounded[0].where})", steps)


def _grows(setup: _Setup) -> bool:
    """A cheap hint (ordering only, never a verdict): |sigma'| grows a lot between 1e6 and 1e12."""
    for (_, interval), derivative in zip(setup.pieces, setup.derivatives):
        f = sp.lambdify(X, derivative.subs(CONSTANT_VALUES), modules="mpmath")
        for sign in (1, -1):
            near, far = sign * mpmath.mpf(10) ** 6, sign * mpmath.mpf(10) ** 12
            if not (interval.start <= near <= interval.end and interval.start <= far <= interval.end):
                continue
            try:
                with mpmath.workdps(DIGITS):
                    if abs(f(far)) > 1e3 * (1 + abs(f(near))):
                        return True
            except (ValueError, ZeroDivisionError, TypeError, OverflowError):
                continue
    return False


def _rigorous(setup: _Setup, seconds: float) -> LipschitzDerivation:
    """The interval branch-and-bound's answer: every number in it is proven."""
    steps = list(setup.steps)
    try:
        slopes = [PieceSlopes(piece, interval.start, interval.end) for piece, interval in setup.pieces]
    except Unsupported as exc:
        raise DerivationUndecided(f"cannot bound sigma' of {setup.expr} rigorously: {exc}") from None
    found = slope_extremes(slopes, seconds=seconds)
    if found.converged and not all(math.isfinite(v) for v in (found.sup_bound, found.inf_bound)):
        raise DerivationUndecided(
            f"sup|sigma'| of {setup.expr} is proven finite but beyond the float64 range (1.8e308): "
            "no float constant can be reported"
        )
    if not all(math.isfinite(v) for v in (found.sup_bound, found.inf_bound)):
        raise DerivationUndecided(
            f"no finite bound of sigma' for {setup.expr} was proven within {seconds:g} s of "
            "interval search, and sympy did not show sigma' unbounded; no constant is claimed"
        )
    upper_side = found.sup_bound >= -found.inf_bound
    where, at_end = (found.sup_where, found.sup_at_end) if upper_side else (found.inf_where, found.inf_at_end)
    limit = at_end and abs(where) > 1e6
    argsup = math.copysign(math.inf, where) if limit else where
    K, best = found.lipschitz_bound, found.lipschitz_attained
    gap = max(0.0, math.nextafter(K - best, math.inf))
    kind = "exact" if found.converged else "bound"
    steps.append(
        f"interval branch-and-bound over R ({found.boxes} boxes): sup sigma' in [{found.sup_attained!r}, "
        f"{found.sup_bound!r}], inf sigma' in [{found.inf_bound!r}, {found.inf_attained!r}]"
    )
    steps.append(
        f"K = sup|sigma'| <= {K!r} ({kind}; values of |sigma'| up to {best!r} are reached or approached"
        f"{f', near x = {where:g}' if not limit else f', as x -> {argsup}'})"
    )
    return LipschitzDerivation(
        setup.name,
        str(setup.expr),
        setup.derivative_text,
        K,
        None,
        not limit,
        argsup,
        setup.sigma0,
        setup.sigma0_exact,
        False,
        found.inf_bound >= 0 or found.sup_bound <= 0,
        tuple(steps),
        slope_min=found.inf_bound,
        slope_max=found.sup_bound,
        kind=kind,
        gap=gap,
    )


def _refine(setup: _Setup, proven: LipschitzDerivation) -> LipschitzDerivation:
    """Exact form, attainment and homogeneity from sympy, kept only where they agree with `proven`."""
    steps = list(proven.steps)
    candidates = _limits(setup, steps, at_infinity=not proven.attained)  # limits at +-oo only where the sup may be one
    for (_, interval), derivative in zip(setup.pieces, setup.derivatives):
        candidates += _critical_candidates(derivative, interval, steps)
    ends = [c for c in candidates if c.kind.startswith("one-sided")]
    for i, a in enumerate(ends):  # a boundary where both one-sided derivatives agree is a point of differentiability
        for b in ends[i + 1 :]:
            if a.where == b.where and abs(a.number - b.number) < 1e-25:
                candidates.append(_Candidate(a.value, a.where, "differentiable piece boundary", True))
    homogeneous = _homogeneous(list(setup.pieces))
    lower = proven.lipschitz - proven.gap

    def inside(value: float) -> bool:
        return lower - 1e-15 * max(1.0, value) <= value <= proven.lipschitz + 1e-15 * max(1.0, value)

    if (
        proven.attained
        and proven.kind == "exact"
        and not (candidates and inside(max(abs(c.number) for c in candidates)))
    ):
        candidates += [c for c in _limits(setup, steps) if c.where in (math.inf, -math.inf)]
    best = max((abs(c.number) for c in candidates), default=math.nan)
    if proven.kind != "exact" or not inside(best):
        steps.append(f"symbolic candidates give {best!r}, outside the proven enclosure: the proven values stand")
        return replace(proven, steps=tuple(steps), positively_homogeneous=homogeneous)
    winners = [c for c in candidates if abs(c.number) >= best - 1e-25]
    attained = any(c.attained for c in winners)
    chosen = next((c for c in winners if c.attained), winners[0])
    exact = _exact_text(sp.Abs(chosen.value) if chosen.number < 0 else chosen.value)
    steps.append(
        f"K = {exact or best!r} symbolically ({'max, attained' if attained else 'sup, not attained'} "
        f"via {chosen.kind} at x = {chosen.where:g}), inside the proven enclosure"
    )
    return replace(
        proven,
        exact=exact,
        attained=attained,
        argsup=chosen.where,
        positively_homogeneous=homogeneous,
        steps=tuple(steps),
    )


def derive_expression(
    name: str, expr: sp.Expr, *, seconds: float = DEFAULT_SECONDS, report=None, refine: bool = True
) -> LipschitzDerivation:
    """Derive for a sympy expression; `report(proven)` is called with the rigorous answer before the
    symbolic refinement starts (a worker sends it to its parent, in case the refinement runs late).
    `refine=False` skips the refinement (exact forms, attainment, homogeneity): the numbers are the same."""
    started = time.monotonic()
    setup, verdict = _setup(name, expr)
    if verdict is None and _grows(setup):
        verdict = _unbounded_verdict(setup)
    if verdict is not None:
        return verdict
    try:
        proven = _rigorous(setup, max(1.0, seconds - (time.monotonic() - started)))
    except DerivationUndecided:
        verdict = _unbounded_verdict(setup)
        if verdict is not None:
            return verdict
        raise
    if report is not None:
        report(proven)
    return _refine(setup, proven) if refine else proven


def derive_softmax() -> LipschitzDerivation:
    """softmax: R^n -> R^n in the 2-norm. Its Jacobian is J = diag(p) - p p^T."""
    p = sp.Symbol("p", nonnegative=True)
    steps = [
        "softmax(x)_i = exp(x_i) / sum_j exp(x_j); Jacobian J = diag(p) - p p^T (symmetric, PSD)",
        "Gershgorin, row i: J_ii + sum_{j != i} |J_ij| = p_i(1 - p_i) + p_i(1 - p_i) = 2 p_i (1 - p_i)",
    ]
    radius = 2 * p * (1 - p)
    critical = sp.solveset(sp.diff(radius, p), p, sp.Interval(0, 1))
    bound = max(radius.subs(p, c) for c in list(critical) + [0, 1])
    steps.append(
        f"d/dp [2p(1-p)] = 0 at p = {list(critical)}: max over [0, 1] is {bound}, so ||J||_2 = lambda_max <= {bound}"
    )
    a = sp.Symbol("a", real=True)
    p1 = sp.exp(a) / (sp.exp(a) + 1)
    eigen = sp.simplify(2 * p1 * (1 - p1)).subs(a, 0)
    steps.append(
        f"n = 2, x = (a, 0): J has eigenvalues 0 and 2 p_1 p_2, equal to {eigen} at a = 0: the bound is attained"
    )
    assert eigen == bound
    return LipschitzDerivation(
        "softmax",
        "exp(x_i)/sum_j exp(x_j)",
        "diag(p) - p p^T",
        float(bound),
        str(bound),
        True,
        0.0,
        None,
        "1/n in every component",
        False,
        False,
        tuple(steps),
        gap=0.0,
    )


@functools.cache
def _cached(name: str, expr_text: "str | None") -> LipschitzDerivation:
    if expr_text is not None:
        return derive_expression(name, parse_expression(expr_text))
    if name == "softmax":
        return derive_softmax()
    spec, expr = symbolic_activation(name)
    return derive_expression(str(spec), expr)


def derive_lipschitz(
    spec: "str | ActivationSpec", *, expr: "str | None" = None, time_limit: "float | None" = None
) -> LipschitzDerivation:
    """Derive the Lipschitz constant of a registered activation or of `expr` (in x).

    Without `time_limit` the derivation runs in this process (cached). With one it runs in a
    worker process that is killed when over time (`mbp_verify.symbolic.worker`): the answer then
    comes within the limit, possibly as a proven `bound`, or `DerivationTimeout` is raised.
    """
    if expr is not None:
        label = spec if isinstance(spec, str) and spec else "custom"
        key = (str(label), expr.strip())
    elif isinstance(spec, str) and spec.strip().lower() == "softmax":
        key = ("softmax", None)
    else:
        key = (str(parse_activation(spec)), None)
    if time_limit is None:
        return _cached(*key)
    from .worker import derive_in_worker  # the worker module imports this one

    return derive_in_worker(key[0], key[1], time_limit)


def lipschitz_constant(spec: "str | ActivationSpec") -> float:
    """K for a registered activation; InputError if it is not Lipschitz."""
    derivation = derive_lipschitz(spec)
    if derivation.lipschitz is None or not math.isfinite(derivation.lipschitz):
        raise InputError(f"activation {derivation.name} is not Lipschitz")
    return derivation.lipschitz
