"""Rigorous interval enclosures of one-variable sympy expressions, on bounded and unbounded boxes.

`compile_enclosure(expr)` turns an expression in `X` (and optionally a free angle `THETA`) into a
function from mpmath intervals (`mpmath.iv`, outward-rounded, endpoints may be +-inf) to an
interval that contains every value of the expression on the box. Elementary functions come
from mpmath's interval context or are composed from it (tanh, sinh, cosh, atan, asinh are
monotone or built from exp); where an operation is undefined on part of the box (log or sqrt
of a possibly non-positive interval) `Undefined` is raised and the caller splits the box.

Plain interval arithmetic is useless on tails such as [T, oo) whenever an unbounded factor
meets a vanishing one (x exp(-x), x/(1 + x^2)). Two exact rewritings tighten those nodes,
each intersected with the plain enclosure (both are sound, so the intersection is too):

* a rational function of one generator g (g = x or one exp(...) atom) is also evaluated as
  R(1/s) at s = 1/g, after `cancel`, when |g| >= 1 on the box;
* a product of factors of constant sign on a tail box is monotone in |.| when the sum of the
  factors' logarithmic derivatives f'/f has a constant sign there; then its modulus is bounded
  by its value at the finite end of the box.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace

import mpmath
import sympy as sp
from mpmath import iv

from .registry import CONSTANT_VALUES, X

__all__ = [
    "PREC",
    "THETA",
    "precision",
    "Box",
    "Undefined",
    "Unsupported",
    "canonical",
    "compile_enclosure",
    "interval",
    "hull",
    "intersect",
    "lower",
    "upper",
    "float_down",
    "float_up",
]

PREC = 80  # working precision (bits) of every interval operation
THETA = sp.Symbol("theta", real=True)  # a free angle standing for an unbounded sin/cos argument
_DEPTH = 2  # nesting of the monotonicity refinement (derivatives of derivatives)


class Undefined(ArithmeticError):
    """The expression may leave the reals (or is singular) somewhere on the box."""


class Unsupported(ValueError):
    """The expression uses a function the enclosure does not know."""


@dataclass(frozen=True)
class Box:
    """Values of the variables: x (and the free angle, when the expression uses it)."""

    x: object
    theta: object = None
    depth: int = _DEPTH


Enclosure = Callable[[Box], object]


def interval(lo, hi=None):
    """An mpmath interval [lo, hi] (a point when hi is omitted)."""
    return iv.mpf([lo, lo if hi is None else hi])


def lower(value) -> mpmath.mpf:
    """The exact lower end of an interval, as an mpf (no rounding to mpmath's working precision:
    `mpmath.mpf(value.a)` rounds to nearest at mp.prec, 53 bits by default, which can move a
    bound to the wrong side of the value it encloses, e.g. the upper end of 1/6 to below 1/6)."""
    return mpmath.mp.make_mpf(value._mpi_[0])


def upper(value) -> mpmath.mpf:
    """The exact upper end of an interval, as an mpf (see `lower`)."""
    return mpmath.mp.make_mpf(value._mpi_[1])


def float_down(value) -> float:
    """The largest float64 <= value (an mpf, possibly infinite)."""
    if value == -mpmath.inf:
        return -math.inf
    f = float(value)
    return f if f <= value else math.nextafter(f, -math.inf)


def float_up(value) -> float:
    """The smallest float64 >= value (an mpf, possibly infinite)."""
    if value == mpmath.inf:
        return math.inf
    f = float(value)
    return f if f >= value else math.nextafter(f, math.inf)


def hull(a, b):
    return iv.mpf([min(a.a, b.a), max(a.b, b.b)])


def intersect(a, b):
    lo, hi = max(a.a, b.a), min(a.b, b.b)
    return iv.mpf([lo, hi]) if lo <= hi else a


def _finite(v) -> bool:
    return v.a != -iv.inf and v.b != iv.inf


def _constant(value: sp.Expr):
    if isinstance(value, sp.Integer):
        return iv.mpf(int(value))
    if isinstance(value, sp.Rational):
        return iv.mpf(int(value.p)) / iv.mpf(int(value.q))
    if isinstance(value, sp.Float):  # its exact binary value (iv.mpf rounds it outwards to PREC)
        return iv.mpf(mpmath.mp.make_mpf(value._mpf_))
    if value is sp.pi:
        return iv.pi
    if value is sp.E:
        return iv.e
    with mpmath.workprec(PREC + 40):
        mid = mpmath.mp.make_mpf(sp.N(value, 40)._mpf_)  # 40 digits (~133 bits) from sympy's evalf
        pad = abs(mid) * mpmath.mpf(2) ** (-PREC - 10) + mpmath.mpf(2) ** (-1000)
        # directed rounding: mid -/+ pad at mpmath's default 53 bits would round both ends to
        # the nearest float, an interval that need not contain the constant (sqrt(2) did not)
        return iv.mpf([mpmath.fsub(mid, pad, rounding="d"), mpmath.fadd(mid, pad, rounding="u")])


def _monotone(point: Callable, at_minus_inf, at_plus_inf) -> Callable:
    """An increasing function from an accurate point evaluation, widened by 2^-PREC relative."""

    def end(v, lower: bool):
        if v == -iv.inf:
            return at_minus_inf
        if v == iv.inf:
            return at_plus_inf
        with mpmath.workprec(PREC + 30):
            y = point(mpmath.mpf(v))
            pad = abs(y) * mpmath.mpf(2) ** (-PREC) + mpmath.mpf(2) ** (-2 * PREC)
            # directed rounding at the working precision: at mpmath's default 53 bits, y -/+ pad
            # rounds to nearest and can land on the wrong side (erf(6) became exactly 1)
            return mpmath.fsub(y, pad, rounding="d") if lower else mpmath.fadd(y, pad, rounding="u")

    return lambda z: iv.mpf([end(z.a, True), end(z.b, False)])


_ATAN = _monotone(mpmath.atan, -mpmath.pi / 2 - mpmath.mpf(2) ** -70, mpmath.pi / 2 + mpmath.mpf(2) ** -70)
_ASINH = _monotone(mpmath.asinh, -iv.inf, iv.inf)
_ERF = _monotone(mpmath.erf, -1, 1)


def _tanh(z):
    return 1 - 2 / (iv.exp(2 * z) + 1)


def _sinh(z):
    return (iv.exp(z) - iv.exp(-z)) / 2  # both terms increase with z: no overestimation


def _cosh(z):
    ends = hull(
        (iv.exp(interval(z.a)) + iv.exp(-interval(z.a))) / 2, (iv.exp(interval(z.b)) + iv.exp(-interval(z.b))) / 2
    )
    return hull(ends, iv.mpf(1)) if z.a <= 0 <= z.b else ends


def _log(z):
    if not z.a > 0:
        raise Undefined("log of a possibly non-positive number")
    return iv.log(z)


def _sqrt(z):
    if z.a < 0:
        raise Undefined("square root of a possibly negative number")
    return iv.sqrt(z)


def _abs(z):
    if z.a >= 0:
        return z
    if z.b <= 0:
        return -z
    return iv.mpf([0, max(-z.a, z.b)])


def _sign(z):
    return iv.mpf([-1 if z.a < 0 else 0 if z.a == 0 else 1, 1 if z.b > 0 else 0 if z.b == 0 else -1])


_UNARY: dict[type, Callable] = {
    sp.exp: iv.exp,
    sp.log: _log,
    sp.sin: iv.sin,
    sp.cos: iv.cos,
    sp.tanh: _tanh,
    sp.sinh: _sinh,
    sp.cosh: _cosh,
    sp.sech: lambda z: 1 / _cosh(z),
    sp.atan: _ATAN,
    sp.asinh: _ASINH,
    sp.erf: _ERF,
    sp.erfc: lambda z: 1 - _ERF(z),
    sp.Abs: _abs,
    sp.sign: _sign,
}


def _power(base, exponent: sp.Expr, exponent_fn: Enclosure) -> Callable[[Box, object], object]:
    if isinstance(exponent, sp.Integer):
        n = int(exponent)
        if n >= 0:
            return lambda box, b: b**n

        def negative(box, b):
            if b.a <= 0 <= b.b:
                raise Undefined("division by a possibly zero number")
            return 1 / b ** (-n)

        return negative
    if exponent == sp.Rational(1, 2):
        return lambda box, b: _sqrt(b)
    return lambda box, b: iv.exp(exponent_fn(box) * _log(b))


def _generator(node: sp.Expr) -> "sp.Expr | None":
    """x or the single exp(...) atom of which `node` is a non-polynomial rational function."""
    if not node.has(X):
        return None
    exps = node.atoms(sp.exp)
    if not exps and node.is_rational_function(X) and not node.is_polynomial(X):
        return X
    if len(exps) == 1:
        (atom,) = exps
        g = sp.Dummy("g")
        replaced = node.subs(atom, g)
        if not replaced.has(X) and replaced.is_rational_function(g) and not replaced.is_polynomial(g):
            return atom
    return None


def _exp_generator(factor: sp.Expr) -> "sp.Expr | None":
    """The single exp(...) atom of which `factor` is a rational function (polynomials included)."""
    exps = factor.atoms(sp.exp)
    if len(exps) != 1:
        return None
    (atom,) = exps
    g = sp.Dummy("g")
    replaced = factor.subs(atom, g)
    return atom if not replaced.has(X) and replaced.is_rational_function(g) else None


@contextmanager
def precision() -> Iterator[None]:
    """Run interval work at PREC bits, and plain mpf arithmetic at PREC bits too (both contexts
    are global): interval ends are PREC-bit numbers, and at mpmath's default 53 bits even
    negating one rounds it to nearest, possibly past the value it bounds (-(-1/6) became
    0.16666666666666666 < 1/6)."""
    saved = iv.prec, mpmath.mp.prec
    iv.prec = mpmath.mp.prec = PREC
    try:
        yield
    finally:
        iv.prec, mpmath.mp.prec = saved


class _Compiler:
    def __init__(self, flip: bool = True) -> None:
        self._cache: dict[sp.Expr, Enclosure] = {}
        self._flip = flip  # the flipped form R(1/s) is not flipped again

    def __call__(self, expr: sp.Expr) -> Enclosure:
        if expr not in self._cache:
            self._cache[expr] = self._build(expr)
        return self._cache[expr]

    def _build(self, e: sp.Expr) -> Enclosure:
        if e == X:
            return lambda box: box.x
        if e == THETA:
            return lambda box: box.theta
        if not e.free_symbols:
            value = _constant(e)
            return lambda box: value
        if isinstance(e, sp.Add):
            return self._rational(e, self._sum(e.args))
        if isinstance(e, sp.Mul):
            return self._mul(e)
        if isinstance(e, sp.Pow):
            base_fn, exp_fn = self(e.base), self(e.exp)
            rule = _power(e.base, e.exp, exp_fn)
            return self._rational(e, lambda box: rule(box, base_fn(box)))
        for kind, op in _UNARY.items():
            if isinstance(e, kind):
                arg = self(e.args[0])
                return lambda box: op(arg(box))
        if isinstance(e, (sp.Max, sp.Min)):
            parts = [self(a) for a in e.args]
            pick = max if isinstance(e, sp.Max) else min
            return lambda box: (lambda vs: iv.mpf([pick(v.a for v in vs), pick(v.b for v in vs)]))(
                [p(box) for p in parts]
            )
        if isinstance(e, sp.Piecewise):
            parts = [self(piece) for piece, _ in e.args]  # every branch: a hull, sound whichever applies

            def branches(box):
                value = parts[0](box)
                for p in parts[1:]:
                    value = hull(value, p(box))
                return value

            return branches
        raise Unsupported(f"no interval enclosure for {type(e).__name__} in {e}")

    def _sum(self, terms) -> Enclosure:
        fns = [self(t) for t in terms]

        def total(box):
            value = fns[0](box)
            for f in fns[1:]:
                value = value + f(box)
            return value

        return total

    def _rational(self, node: sp.Expr, plain: Enclosure) -> Enclosure:
        generator = _generator(node) if self._flip else None
        if generator is None:
            return plain
        s = sp.Dummy("s")
        flipped = sp.cancel(node.subs(generator, 1 / s)).subs(s, X)
        gen_fn = self(generator)
        holder: list[Enclosure] = []

        def tightened(box):
            value = plain(box)
            g = gen_fn(box)
            if g.a > 1 or g.b < -1:
                if not holder:
                    holder.append(_Compiler(flip=False)(flipped))
                try:
                    value = intersect(value, holder[0](Box(1 / g, box.theta)))
                except Undefined:
                    pass
            return value

        return tightened

    def _mul(self, e: sp.Expr) -> Enclosure:
        coefficient, rest = e.as_coeff_Mul()
        if isinstance(coefficient, sp.Rational) and not coefficient.is_Integer and rest.has(X, THETA):
            # (rest * p) / q rather than rest * (p / q): exact wherever rest * p / q is a float
            # (x/3 at x = 3 gives 1, so hardswish' = x/3 + 1/2 reaches exactly 3/2, not 3/2 + 2^-79)
            p, q, rest_fn = int(coefficient.p), int(coefficient.q), self(rest)
            return lambda box: rest_fn(box) * p / q
        groups: dict[object, list[sp.Expr]] = {}
        for factor in e.args:
            key = X if factor.is_rational_function(X) else _exp_generator(factor) or factor
            groups.setdefault(key, []).append(factor)
        nodes = [sp.Mul(*fs) for fs in groups.values()]
        if len(nodes) == 1 and len(e.args) > 1 and nodes[0] == e:
            fns = [self(f) for f in e.args]
            return self._rational(e, lambda box: _product(fns, box))
        fns = [self(n) for n in nodes]
        plain = lambda box: _product(fns, box)
        varying = [n for n in nodes if n.has(X)]
        if len(varying) < 2:
            return plain
        known = [_sign_everywhere(n) for n in nodes]  # sign for every real x (0: unknown)
        holder: list[Enclosure] = []

        def refined(box):
            value = plain(box)
            x = box.x
            if _finite(value) or box.depth <= 0 or (x.a != -iv.inf and x.b != iv.inf):
                return value
            parts = [f(box) for f in fns]
            signs = [known[i] or (1 if p.a > 0 else -1 if p.b < 0 else 0) for i, p in enumerate(parts)]
            if 0 in signs:
                return value
            if not holder:
                holder.append(self(sp.Add(*[_log_derivative(n) for n in varying])))
            try:
                slope = holder[0](replace(box, depth=box.depth - 1))
            except Undefined:
                return value
            negative = signs.count(-1) % 2 == 1
            if x.b == iv.inf and x.a != -iv.inf and slope.b <= 0:
                end = refined(replace(box, x=interval(x.a), depth=0))
            elif x.a == -iv.inf and x.b != iv.inf and slope.a >= 0:
                end = refined(replace(box, x=interval(x.b), depth=0))
            else:
                return value
            top = _abs(end).b
            return intersect(value, iv.mpf([-top, 0]) if negative else iv.mpf([0, top]))

        return refined


def _sign_everywhere(node: sp.Expr) -> int:
    """+1 / -1 when `node` has that sign for every real x (sympy's assumptions, or a product of
    powers of exp, cosh, sech and positive constants, which never vanish); 0 when unknown."""
    if node.is_positive:
        return 1
    if node.is_negative:
        return -1
    sign = 1
    for factor in sp.Mul.make_args(node):
        base = factor.base if isinstance(factor, sp.Pow) and factor.exp.is_integer else factor
        if isinstance(base, (sp.exp, sp.cosh, sp.sech)) or base.is_positive:
            continue
        if base.is_negative and factor.exp.is_integer if isinstance(factor, sp.Pow) else base.is_negative:
            sign = -sign if not (isinstance(factor, sp.Pow) and factor.exp.is_even) else sign
            continue
        return 0
    return sign


def _log_derivative(node: sp.Expr) -> sp.Expr:
    """f'/f, factor by factor, so that nothing cancels numerically (exp(g) gives g')."""
    if isinstance(node, sp.Mul):
        return sp.Add(*[_log_derivative(f) for f in node.args])
    if isinstance(node, sp.Pow) and not node.exp.has(X):
        return node.exp * sp.diff(node.base, X) / node.base
    if isinstance(node, sp.exp):
        return sp.diff(node.args[0], X)
    return sp.diff(node, X) / node


def _product(fns, box):
    value = fns[0](box)
    for f in fns[1:]:
        value = value * f(box)
    return value


_W = sp.Wild("w")


def canonical(expr: sp.Expr) -> sp.Expr:
    """`expr` with its constants' values, and tanh(u)^2 written as 1 - sech(u)^2 (so that sympy's
    1 - tanh(u)^2 becomes sech(u)^2: visibly positive, with a clean logarithmic derivative)."""
    return sp.sympify(expr).subs(CONSTANT_VALUES).replace(sp.tanh(_W) ** 2, 1 - sp.sech(_W) ** 2)


def compile_enclosure(expr: sp.Expr) -> Enclosure:
    """Interval enclosure of `expr` (in X, optionally THETA); raises Unsupported for unknown functions."""
    with precision():
        return _Compiler()(canonical(expr))
