"""Rigorous branch-and-bound for inf and sup of sigma' over the whole real line.

Each piece of sigma (a closed interval of R, ends possibly infinite) is covered by boxes. A box
gets an interval enclosure of sigma' from `intervals` (plain, tightened by sigma'' — monotone
boxes are evaluated at their ends, the others by the mean-value form — and, on tails, by the
rewritings of `intervals`; an algebraic sigma' is also evaluated at x = +-1/s on |x| >= 1).
The box with the largest upper end is split (at the midpoint,
geometrically on long positive or negative ranges, and [a, oo) at max(1, 8a, a^2)), and values
of sigma' at points (box ends and midpoints, and a log-scale local search on tails) give the
best attained value. The search stops when upper and attained values agree to `tol`, or at its
budget: the upper end is then still a proven bound, with the gap reported.

When sigma' contains sin and cos of one argument A that sweeps more than pi over a box (as
sin(x) + cos(x) on any long box, or sin(log(1 + x)) on a tail), A is replaced there by a free
angle theta in [0, 2 pi] (exact: sin and cos are 2 pi-periodic) and theta is searched by its
own branch-and-bound. No window, grid or spacing assumption enters any bound.
"""

from __future__ import annotations

import heapq
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import mpmath
import sympy as sp
from mpmath import iv

from .intervals import (
    THETA,
    Box,
    Undefined,
    canonical,
    compile_enclosure,
    float_down,
    float_up,
    intersect,
    interval,
    lower,
    precision,
    upper,
)
from .registry import X

__all__ = ["PieceSlopes", "SlopeExtremes", "slope_extremes"]

TOL = 1e-12  # relative gap at which an extremum counts as found exactly
_ANGLE_SPLITS = 60  # theta boxes split per relaxed evaluation (40 left x sin(log(|x| + 1)) undecided at 80 bits)
_HOPELESS = 150  # pops after which an enclosure still unbounded is given up


class PieceSlopes:
    """sigma' and sigma'' of one piece, compiled for interval evaluation, on [lo, hi]."""

    def __init__(self, piece: sp.Expr, lo: sp.Expr, hi: sp.Expr) -> None:
        first = canonical(sp.diff(piece, X))
        self.lo, self.hi = _end(lo, right=False), _end(hi, right=True)
        self._points: dict = {}
        self.first = compile_enclosure(first)
        self.second = compile_enclosure(sp.diff(first, X))
        self._algebraic = first if first.is_algebraic_expr(X) and not first.is_rational_function(X) else None
        self._tails: dict[int, object] = {}
        trig = [a for a in first.atoms(sp.sin, sp.cos)]
        arguments = {a.args[0] for a in trig}
        self.angle = None
        if len(arguments) == 1 and next(iter(arguments)).has(X) and not first.has(sp.tan):
            (argument,) = arguments
            relaxed = first.xreplace({sp.sin(argument): sp.sin(THETA), sp.cos(argument): sp.cos(THETA)})
            self.angle = (
                compile_enclosure(argument),
                compile_enclosure(relaxed),
                compile_enclosure(sp.diff(relaxed, THETA)),
            )

    def point(self, x) -> "object | None":
        """Enclosure of sigma'(x) at one point (None where it cannot be evaluated)."""
        if x not in self._points:
            try:
                self._points[x] = self.first(Box(interval(x)))
            except (Undefined, ZeroDivisionError):
                self._points[x] = None
        return self._points[x]

    def _tail(self, sign: int):
        """sigma' at x = sign / s as a function of s > 0, simplified (sympy knows s > 0), compiled;
        None when sigma' is not algebraic (or rational: `intervals` flips those itself)."""
        if self._algebraic is None:
            return None
        if sign not in self._tails:
            s = sp.Symbol("s", positive=True)
            flipped = sp.simplify(self._algebraic.subs(X, sign / s)).subs(s, X)
            self._tails[sign] = compile_enclosure(flipped)
        return self._tails[sign]

    def _on_tail(self, value, box):
        """`value` intersected with the flipped form on a box in [1, oo) or (-oo, -1]: x / sqrt(x^2 + 1)
        on [a, oo) is 1 / sqrt(s^2 + 1) on s in [0, 1/a], bounded by 1 where the plain enclosure is
        oo / oo, and on [a, 2a] it has none of the plain form's dependency (x over a root of x^2)."""
        if not (box.a >= 1 or box.b <= -1):
            return value
        sign = 1 if box.a >= 1 else -1
        flipped = self._tail(sign)
        if flipped is None:
            return value
        try:
            return intersect(value, flipped(Box(sign / box)))  # s = sign / x sweeps [0, 1/|finite end|]
        except (Undefined, ZeroDivisionError):
            return value

    def enclose(self, a, b):
        """Enclosure of sigma' on [a, b] (possibly the whole line)."""
        box = interval(a, b)
        try:
            value = self.first(Box(box))
        except (Undefined, ZeroDivisionError):
            value = iv.mpf([-mpmath.inf, mpmath.inf])
        value = self._on_tail(value, box)
        try:
            slope = self.second(Box(box))
        except (Undefined, ZeroDivisionError):
            slope = None
        if slope is not None and (slope.a >= 0 or slope.b <= 0):
            ends = [self.point(e) if e not in (-mpmath.inf, mpmath.inf) else None for e in (a, b)]
        if slope is not None:
            if slope.a >= 0:  # sigma' non-decreasing on the box
                value = _cut(value, _lo(ends[0]), _hi(ends[1]))
            elif slope.b <= 0:
                value = _cut(value, _lo(ends[1]), _hi(ends[0]))
            elif a != -mpmath.inf and b != mpmath.inf:
                m = (mpmath.mpf(a) + mpmath.mpf(b)) / 2
                centre = self.point(m)
                if centre is not None:
                    value = intersect(value, centre + slope * (box - m))
        if self.angle is not None:
            argument, relaxed, d_theta = self.angle
            try:
                sweep = argument(Box(box))
                if not (sweep.b - sweep.a < mpmath.pi):
                    value = intersect(value, _angle_search(relaxed, d_theta, box))
            except (Undefined, ZeroDivisionError):
                pass
        return value


def _end(value: sp.Expr, right: bool):
    """A piece end, rounded outwards (down on the left, up on the right) when it is not a float:
    the piece's boxes then cover all of it (a kink at 1/3 must not lose its last sliver, where
    sigma' may take its largest value)."""
    if value is sp.oo:
        return mpmath.inf
    if value is -sp.oo:
        return -mpmath.inf
    with precision():
        enclosure = compile_enclosure(value)(Box(interval(0)))
    return upper(enclosure) if right else lower(enclosure)


def _lo(value) -> "mpmath.mpf | None":
    return None if value is None else lower(value)


def _hi(value) -> "mpmath.mpf | None":
    return None if value is None else upper(value)


def _cut(value, lo, hi):
    return intersect(value, iv.mpf([lo if lo is not None else -mpmath.inf, hi if hi is not None else mpmath.inf]))


def _angle_search(relaxed, d_theta, box):
    """Enclosure of the relaxed sigma'(x, theta) over x in box and all theta: branch-and-bound on theta."""

    def enclose(t0, t1):
        theta = iv.mpf([t0, t1])
        value = relaxed(Box(box, theta))
        slope = d_theta(Box(box, theta))
        lo_end, hi_end = relaxed(Box(box, interval(t0))), relaxed(Box(box, interval(t1)))
        if slope.a >= 0:
            return intersect(value, iv.mpf([_lo(lo_end), _hi(hi_end)]))
        if slope.b <= 0:
            return intersect(value, iv.mpf([_lo(hi_end), _hi(lo_end)]))
        m = (t0 + t1) / 2
        return intersect(value, relaxed(Box(box, interval(m))) + slope * (theta - m))

    two_pi = upper(2 * iv.pi)  # theta covers all of [0, 2 pi] (2 * mpmath.pi may round below it)
    result = None
    for sign in (1, -1):
        heap = [(-sign * _pick(enclose(0, two_pi), sign), 0, mpmath.mpf(0), two_pi)]
        count = 1
        for _ in range(_ANGLE_SPLITS):
            _, _, t0, t1 = heapq.heappop(heap)
            m = (t0 + t1) / 2
            for u0, u1 in ((t0, m), (m, t1)):
                count += 1
                heapq.heappush(heap, (-sign * _pick(enclose(u0, u1), sign), count, u0, u1))
        top = sign * -heap[0][0]
        result = iv.mpf([-mpmath.inf, top]) if sign == 1 else iv.mpf([top, _hi(result)])
    return result


def _pick(value, sign: int):
    return _hi(value) if sign == 1 else _lo(value)


@dataclass(frozen=True)
class SlopeExtremes:
    """Proven bounds: sup sigma' in [sup_attained, sup_bound], inf sigma' in [inf_bound, inf_attained]."""

    sup_bound: float  # >= sup sigma' (rounded up)
    sup_attained: float  # <= sup sigma' (a value sigma' takes or approaches, rounded down)
    sup_where: float  # where sup_attained was found
    sup_at_end: bool  # the leading box is unbounded (the sup may be a limit at +-oo)
    inf_bound: float
    inf_attained: float
    inf_where: float
    inf_at_end: bool
    boxes: int
    converged: bool

    @property
    def lipschitz_bound(self) -> float:
        return max(self.sup_bound, -self.inf_bound)

    @property
    def lipschitz_attained(self) -> float:
        return max(self.sup_attained, -self.inf_attained)


def _initial(piece: PieceSlopes) -> list[tuple]:
    cuts = [c for c in (-1, 0, 1) if piece.lo < c < piece.hi]
    ends = [piece.lo, *[mpmath.mpf(c) for c in cuts], piece.hi]
    return list(zip(ends, ends[1:]))


def _split(a, b) -> "object":
    if a == -mpmath.inf and b == mpmath.inf:
        return mpmath.mpf(0)
    if b == mpmath.inf:
        return max(mpmath.mpf(1), 8 * a, a * a) if a >= 0 else mpmath.mpf(0)
    if a == -mpmath.inf:
        return -_split(-b, mpmath.inf)
    if a > 0 and b > 4 * a:
        return mpmath.sqrt(a * b)
    if b < 0 and a < 4 * b:
        return -mpmath.sqrt(a * b)
    return (a + b) / 2


def _samples(a, b) -> list:
    if a != -mpmath.inf and b != mpmath.inf:
        return [a, (a + b) / 2, b]
    if a == -mpmath.inf and b == mpmath.inf:
        return [mpmath.mpf(0)]
    start = mpmath.log(max(abs(a if b == mpmath.inf else b), mpmath.mpf(1)))
    sign = 1 if b == mpmath.inf else -1
    return [sign * mpmath.exp(start + k * mpmath.mpf(0.25)) for k in range(40)]


def _local_search(f: Callable, best_x, step) -> tuple:
    """Golden-section refinement of a sampled maximum of f on log scale around best_x."""
    sign = 1 if best_x > 0 else -1
    v = mpmath.log(abs(best_x))
    lo, hi = v - step, v + step
    g = (mpmath.sqrt(5) - 1) / 2
    for _ in range(60):
        c, d = hi - g * (hi - lo), lo + g * (hi - lo)
        if f(sign * mpmath.exp(c)) >= f(sign * mpmath.exp(d)):
            hi = d
        else:
            lo = c
    x = sign * mpmath.exp((lo + hi) / 2)
    return f(x), x


def _search(pieces: list[PieceSlopes], sign: int, deadline: float, max_boxes: int, cache: dict) -> tuple:
    def upper(k, a, b):
        key = (k, a, b)
        if key not in cache:
            cache[key] = pieces[k].enclose(a, b)
        value = cache[key]
        return _hi(value) if sign == 1 else -_lo(value)

    def attained(k, x):
        value = pieces[k].point(x)
        if value is None:
            return -math.inf
        return _lo(value) if sign == 1 else -_hi(value)

    heap, count = [], 0
    best, best_x = -mpmath.inf, mpmath.mpf(0)
    for k, piece in enumerate(pieces):
        for a, b in _initial(piece):
            count += 1
            heapq.heappush(heap, (-upper(k, a, b), count, k, a, b))
    pops, converged = 0, False
    top_box = None
    while heap:
        top, _, k, a, b = heap[0]
        top = -top
        top_box = (a, b)
        if top != mpmath.inf and best > -mpmath.inf and top - best <= TOL * max(1, abs(best)):
            converged = True
            break
        if pops >= max_boxes or time.monotonic() > deadline or (top == mpmath.inf and pops >= _HOPELESS):
            break
        heapq.heappop(heap)
        pops += 1
        points = _samples(a, b)
        values = [attained(k, p) for p in points]
        i = max(range(len(values)), key=values.__getitem__)
        if len(points) > 3 and values[i] > -math.inf:
            value, x = _local_search(lambda t: attained(k, t), points[i], mpmath.mpf(0.5))
            values.append(value)
            points.append(x)
            i = len(values) - 1
        if values[i] > best:
            best, best_x = values[i], points[i]
        m = _split(a, b)
        if not (a < m < b):
            continue  # cannot be split further at this precision: stays as the bound
        for u, v in ((a, m), (m, b)):
            count += 1
            heapq.heappush(heap, (-upper(k, u, v), count, k, u, v))
    bound = -heap[0][0] if heap else best
    at_end = top_box is not None and (top_box[0] == -mpmath.inf or top_box[1] == mpmath.inf)
    return bound, best, best_x, at_end, pops, converged


def slope_extremes(pieces: list[PieceSlopes], *, seconds: float = 20.0, max_boxes: int = 6000) -> SlopeExtremes:
    """Proven enclosures of sup sigma' and inf sigma' over the union of the pieces."""
    deadline = time.monotonic() + seconds
    cache: dict = {}
    with precision():
        up = _search(pieces, 1, deadline, max_boxes, cache)
        down = _search(pieces, -1, deadline, max_boxes, cache)
    return SlopeExtremes(
        sup_bound=float_up(up[0]),
        sup_attained=float_down(up[1]),
        sup_where=float(up[2]),
        sup_at_end=up[3],
        inf_bound=-float_up(down[0]),
        inf_attained=-float_down(down[1]),
        inf_where=float(down[2]),
        inf_at_end=down[3],
        boxes=up[4] + down[4],
        converged=up[5] and down[5],
    )
