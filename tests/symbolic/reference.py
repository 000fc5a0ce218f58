"""An independent high-precision reference for the registered activations' constants.

Nothing here uses sympy or `mbp_verify.symbolic`: each activation is written again by hand in
mpmath (sigma and sigma', piece by piece), and its extremes are found by dense sampling
(linear on [-24, 24], log-spaced out to 1e50 on each side) and `mpmath.findroot` on
sigma'' = 0 (sigma'' by mpmath's numerical differentiation), plus sigma' at the kinks (both
sides) and far out on both tails. The chord slope q(z) = (sigma(z) - sigma(0)) / z gets the
same treatment (its critical points solve z sigma'(z) = sigma(z) - sigma(0)), with
q(0+-) = sigma'(0+-).

`Reference.derivative_range(a, b)` and `Reference.chord_range(a, b)` give the exact ranges on
an interval: the hull of the values at its ends (one-sided at kinks, limits at +-inf) and at the
critical points inside it, which is exact because sigma' and q are continuous between kinks.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

import mpmath
from mpmath import mpf

__all__ = ["DPS", "Reference", "reference", "REFERENCE_NAMES"]

DPS = 50
_FAR = mpf(10) ** 50  # "infinity" for the tails: every registered sigma' has settled there (to 1e-100)


@dataclass(frozen=True)
class _Piece:
    lo: object  # mpf or -inf
    hi: object
    sigma: Callable
    slope: Callable


def _linear(c, d=0):
    return (lambda x: c * x + d), (lambda x: mpf(c))


def _sigmoid(x):
    return 1 / (1 + mpmath.exp(-x))


def _selu_constants():
    return mpf("1.0507009873554804934193349852946"), mpf("1.6732632423543772848170429916717")


def _pieces(name: str, a) -> list[_Piece]:
    inf = mpmath.inf
    whole = lambda s, d: [_Piece(-inf, inf, s, d)]  # noqa: E731
    zero = lambda x: mpf(0)  # noqa: E731
    if name == "identity":
        return whole(*_linear(1))
    if name == "relu":
        return [_Piece(-inf, 0, zero, zero), _Piece(0, inf, *_linear(1))]
    if name == "leaky_relu":
        return [_Piece(-inf, 0, *_linear(a)), _Piece(0, inf, *_linear(1))]
    if name == "relu6":
        return [_Piece(-inf, 0, zero, zero), _Piece(0, 6, *_linear(1)), _Piece(6, inf, lambda x: mpf(6), zero)]
    if name == "hardtanh":
        return [
            _Piece(-inf, -1, lambda x: mpf(-1), zero),
            _Piece(-1, 1, *_linear(1)),
            _Piece(1, inf, lambda x: mpf(1), zero),
        ]
    if name in ("elu", "selu"):
        scale, alpha = _selu_constants() if name == "selu" else (mpf(1), a)
        return [
            _Piece(-inf, 0, lambda x: scale * alpha * mpmath.expm1(x), lambda x: scale * alpha * mpmath.exp(x)),
            _Piece(0, inf, *_linear(scale)),
        ]
    if name == "celu":
        return [
            _Piece(-inf, 0, lambda x: a * mpmath.expm1(x / a), lambda x: mpmath.exp(x / a)),
            _Piece(0, inf, *_linear(1)),
        ]
    if name == "sigmoid":
        return whole(_sigmoid, lambda x: _sigmoid(x) * _sigmoid(-x))
    if name == "tanh":
        return whole(mpmath.tanh, lambda x: mpmath.sech(x) ** 2)
    if name == "softplus":
        return whole(lambda x: mpmath.log1p(mpmath.exp(a * x)) / a, lambda x: _sigmoid(a * x))
    if name == "softsign":
        return whole(lambda x: x / (1 + abs(x)), lambda x: 1 / (1 + abs(x)) ** 2)
    if name == "silu":
        return whole(lambda x: x * _sigmoid(x), lambda x: _sigmoid(x) * (1 + x * _sigmoid(-x)))
    if name == "gelu":
        phi = lambda x: mpmath.exp(-x * x / 2) / mpmath.sqrt(2 * mpmath.pi)  # noqa: E731
        cdf = lambda x: mpmath.erfc(-x / mpmath.sqrt(2)) / 2  # noqa: E731
        return whole(lambda x: x * cdf(x), lambda x: cdf(x) + x * phi(x))
    if name == "gelu_tanh":
        c, k = mpmath.sqrt(2 / mpmath.pi), mpf(44715) / 10**6
        u = lambda x: c * (x + k * x**3)  # noqa: E731
        # (1 + tanh(u)) / 2 = sigmoid(2u): no cancellation for u -> -oo
        return whole(
            lambda x: x * _sigmoid(2 * u(x)),
            lambda x: _sigmoid(2 * u(x)) + x * mpmath.sech(u(x)) ** 2 * c * (1 + 3 * k * x * x) / 2,
        )
    if name == "mish":
        sp_ = lambda x: mpmath.log1p(mpmath.exp(x))  # noqa: E731
        return whole(
            lambda x: x * mpmath.tanh(sp_(x)),
            lambda x: mpmath.tanh(sp_(x)) + x * mpmath.sech(sp_(x)) ** 2 * _sigmoid(x),
        )
    if name == "hardsigmoid":
        return [
            _Piece(-inf, -3, zero, zero),
            _Piece(-3, 3, *_linear(mpf(1) / 6, mpf(1) / 2)),
            _Piece(3, inf, lambda x: mpf(1), zero),
        ]
    if name == "hardswish":
        return [
            _Piece(-inf, -3, zero, zero),
            _Piece(-3, 3, lambda x: x * (x + 3) / 6, lambda x: (2 * x + 3) / 6),
            _Piece(3, inf, lambda x: x, lambda x: mpf(1)),
        ]
    raise KeyError(name)


REFERENCE_NAMES = (
    "identity relu leaky_relu relu6 hardtanh elu celu selu sigmoid tanh softplus softsign silu gelu gelu_tanh mish "
    "hardsigmoid hardswish"
).split()
_DEFAULT_PARAMETER = {"leaky_relu": "0.01", "elu": "1", "celu": "1", "softplus": "1"}


def _far(x):
    """x, or +-_FAR beyond it: mpmath's erfc fails near 1e300, and every registered sigma' and
    chord slope is within 1e-100 of its limit beyond 1e50 (the tests allow that much there)."""
    return max(-_FAR, min(_FAR, x))


def _clamp(x, piece: _Piece):
    """A point standing for x inside the closed piece (the tails' ends are far out)."""
    if x == mpmath.inf:
        return _FAR if piece.hi == mpmath.inf else mpf(piece.hi)
    if x == -mpmath.inf:
        return -_FAR if piece.lo == -mpmath.inf else mpf(piece.lo)
    return _far(x)


def _grid(lo, hi, fine: bool) -> list:
    """Sample points of [lo, hi] (ends may be infinite), linear on [-24, 24] and log-spaced per
    tail out to 1e50: 2,401 and 487 (fine), or 961 and 244."""
    per_unit, per_decade = (50, 10) if fine else (20, 5)
    points = [mpf(k) / per_unit for k in range(-24 * per_unit, 24 * per_unit + 1)]
    points += [
        s * mpmath.power(10, mpf(e) / per_decade) for s in (1, -1) for e in range(per_decade + 1, 50 * per_decade + 1)
    ]
    return sorted(p for p in points if lo <= p <= hi)


def _critical(f: Callable, lo, hi, fine: bool) -> list:
    """Local extrema of f on the open interval (lo, hi): sampled, then f' = 0 solved by findroot."""
    grid = _grid(lo, hi, fine)
    values = [f(x) for x in grid]
    found = []
    for i in range(1, len(grid) - 1):
        left, mid, right = values[i - 1], values[i], values[i + 1]
        noise = mpf(10) ** (10 - DPS) * (abs(mid) + mpf(10) ** -300)
        if (mid - left) * (right - mid) > 0 or (abs(mid - left) <= noise and abs(right - mid) <= noise):
            continue  # monotone here, or flat to within rounding (a linear piece)
        derivative = lambda t: mpmath.diff(f, t)  # noqa: E731
        try:
            root = mpmath.findroot(derivative, (grid[i - 1], grid[i + 1]), solver="anderson")
        except (ValueError, ZeroDivisionError):
            root = grid[i]
        if not grid[i - 1] <= root <= grid[i + 1]:
            root = grid[i]
        found.append(root)
    return found


@dataclass(frozen=True)
class Reference:
    """The exact constants of one activation (50 digits)."""

    name: str
    pieces: tuple[_Piece, ...]
    slope_critical: tuple  # (piece index, x) where sigma' has a local extremum
    chord_critical: tuple  # x where q has a local extremum
    sigma0: object

    @property
    def kinks(self) -> frozenset:
        """Finite piece ends (as floats): where sigma' has two one-sided values."""
        return frozenset(float(p.lo) for p in self.pieces if p.lo != -mpmath.inf)

    # ---- sigma' ----------------------------------------------------------------------------
    def _slope_values(self, a, b) -> list:
        values = []
        for piece in self.pieces:
            lo, hi = max(a, piece.lo), min(b, piece.hi)
            if not lo < hi and not (a == b and piece.lo <= a <= piece.hi):
                continue
            values += [piece.slope(_clamp(lo, piece)), piece.slope(_clamp(hi, piece))]
        values += [self.pieces[k].slope(x) for k, x in self.slope_critical if a < x < b]
        return values

    def derivative_range(self, a, b) -> tuple:
        """(min, max) of sigma' on [a, b] (a <= b; ends may be +-inf; one-sided values at kinks)."""
        with mpmath.workdps(DPS):
            values = self._slope_values(mpf(a), mpf(b))
            return min(values), max(values)

    @functools.cached_property
    def slope_inf(self):
        return self.derivative_range(-mpmath.inf, mpmath.inf)[0]

    @functools.cached_property
    def slope_sup(self):
        return self.derivative_range(-mpmath.inf, mpmath.inf)[1]

    @property
    def lipschitz(self):
        with mpmath.workdps(DPS):  # negation rounds to the working precision
            return max(self.slope_sup, -self.slope_inf)

    # ---- sigma and the chord slope ----------------------------------------------------------
    def sigma(self, x):
        x = mpf(x)
        for piece in self.pieces:
            if piece.lo <= x <= piece.hi:
                return piece.sigma(x)
        raise ValueError(x)

    def chord(self, z):
        """q(z) = (sigma(z) - sigma(0)) / z; q(+-0) = sigma'(0+-); q(+-inf) its limit."""
        if z == 0:
            raise ValueError("q(0) has two one-sided values")
        z = _far(z)
        extra = max(0, -int(mpmath.floor(mpmath.log(abs(z), 2))))  # sigma(z) - sigma(0) cancels that many bits
        with mpmath.workprec(mpmath.mp.prec + extra + 10):
            return +((self.sigma(z) - self.sigma(0)) / z)

    def _at_zero(self, side: int):
        piece = next(p for p in self.pieces if (p.lo < 0 <= p.hi if side < 0 else p.lo <= 0 < p.hi))
        return piece.slope(mpf(0))

    def chord_range(self, a, b) -> tuple:
        """(min, max) of q on [a, b] minus {0} (a <= b, ends may be +-inf)."""
        with mpmath.workdps(DPS):
            return self._chord_range(mpf(a), mpf(b))

    def _chord_range(self, a, b) -> tuple:
        values = []
        for end, side in ((a, 1), (b, -1)):
            values.append(self._at_zero(side) if end == 0 else self.chord(end))
        if a < 0 < b:
            values += [self._at_zero(-1), self._at_zero(1)]
        values += [self.chord(mpf(x)) for x in (*self.chord_critical, *(self.kinks - {0.0})) if a < x < b]
        return min(values), max(values)


@functools.cache
def reference(name: str, parameter: "str | None" = None, fine: bool = False) -> Reference:
    """The reference for a registered name (its default parameter unless `parameter` is given;
    `fine` samples 2.5 times as densely before the root finding)."""
    with mpmath.workdps(DPS):
        a = mpf(parameter if parameter is not None else _DEFAULT_PARAMETER.get(name, "1"))
        pieces = tuple(_pieces(name, a))
        slope_critical = tuple((k, x) for k, p in enumerate(pieces) for x in _critical(p.slope, p.lo, p.hi, fine))
        probe = Reference(name, pieces, (), (), mpf(0))
        sigma0 = probe.sigma(0)
        probe = Reference(name, pieces, (), (), sigma0)
        chord_critical = []
        for side_lo, side_hi in ((-mpmath.inf, mpf(0)), (mpf(0), mpmath.inf)):
            chord = lambda z: probe.chord(z) if z != 0 else probe._at_zero(1 if side_lo == 0 else -1)  # noqa: E731
            chord_critical += _critical(chord, side_lo, side_hi, fine)
        return Reference(name, pieces, slope_critical, tuple(chord_critical), sigma0)
