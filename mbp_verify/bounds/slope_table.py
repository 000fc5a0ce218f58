"""Certified ranges of sigma' on intervals: a per-activation table, queried for many neurons at once.

The real line is cut at exact binary points (0, multiples of 1/16 up to |x| = 8, then powers of
two up to 2^20, and the two unbounded tails). On each cell and each piece of sigma that overlaps
it in more than a point, `symbolic.enclosure.PieceSlopes.enclose` gives a rigorous mpmath-interval
enclosure of sigma' (the same enclosures that certify the global slope range); its ends are
rounded outwards to float64 and the cell's range is the hull over its pieces, intersected with
the activation's derived global range [slope_min, slope_max].

Why this is what the bounds need: every registered activation is Lipschitz, hence absolutely
continuous, so a difference quotient (sigma(b) - sigma(a)) / (b - a) is the mean of sigma' over
[a, b] and lies in [ess inf, ess sup] of sigma' there, which the hull of the cells meeting [a, b]
contains (single points, such as a kink, do not count). A range query for an interval is a
range-minimum / range-maximum over consecutive cells (a sparse table, vectorised with numpy).

The table also holds the chord slope q(x) = (sigma(x) - sigma(0)) / x, the diagonal of F's state
(sigma(a) = sigma(0) + q(a) a): on a cell [a, b] with 0 < a, q(x) = (a q(a) + int_a^x sigma') / x
= t q(a) + (1 - t) s with t = a / x in [a / b, 1] and s a mean of sigma' over the cell, so q lies
in hull(q(a), (a / b) q(a) + (1 - a / b) S) with S the cell's sigma' range and q(a) from a point
enclosure of sigma (symmetrically for b < 0; on the cells next to 0, q is a mean of sigma' over
[0, x]). For gelu, silu or tanh near 0, q varies about half as fast as sigma'.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import mpmath
import numpy as np
import sympy as sp
from mpmath import iv

from ..engine.activations import ActivationSpec
from ..symbolic.analysis import split_pieces
from ..symbolic.enclosure import PieceSlopes
from ..symbolic.intervals import (
    Box,
    Undefined,
    Unsupported,
    compile_enclosure,
    float_down,
    float_up,
    lower,
    precision,
    upper,
)
from ..symbolic.intervals import interval as interval_of
from ..symbolic.registry import symbolic_activation
from .constants import LayerConstants

__all__ = ["SlopeTable", "slope_table"]

_FINE_STEP, _FINE_END, _COARSE_END = 1 / 16, 8, 20  # cells of 1/16 on [-8, 8], then powers of two to 2^20
_WIDEN = 2.0**-40  # outward margin of every enclosure end (see `_interval_floats`)


def _breakpoints() -> np.ndarray:
    fine = np.arange(-_FINE_END / _FINE_STEP, _FINE_END / _FINE_STEP + 1) * _FINE_STEP
    coarse = 2.0 ** np.arange(int(math.log2(_FINE_END)) + 1, _COARSE_END + 1)
    return np.concatenate([-coarse[::-1], fine, coarse])


@dataclass(frozen=True, eq=False)
class _Ranges:
    """lows[k] <= g <= highs[k] on cell k, with sparse tables for range-min / range-max queries."""

    lows: np.ndarray
    highs: np.ndarray
    min_levels: tuple[np.ndarray, ...]
    max_levels: tuple[np.ndarray, ...]


def _ranges(lows: np.ndarray, highs: np.ndarray) -> _Ranges:
    return _Ranges(lows, highs, _sparse_levels(lows, np.minimum), _sparse_levels(highs, np.maximum))


@dataclass(frozen=True, eq=False)
class SlopeTable:
    """Per cell k = [B[k-1], B[k]] (B[-1] = -inf, B[n] = +inf): the range of sigma' (a.e.) and of
    the chord slope q(x) = (sigma(x) - sigma(0)) / x (x != 0)."""

    breakpoints: np.ndarray
    derivative: _Ranges
    chord: _Ranges

    @property
    def lows(self) -> np.ndarray:
        return self.derivative.lows

    @property
    def highs(self) -> np.ndarray:
        return self.derivative.highs

    def query(self, lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Ranges (low, high) of sigma' over the intervals [lo, hi] (arrays of one shape, lo <= hi);
        NaN ends give the whole table's range. Every difference quotient of two points of [lo, hi] lies there."""
        return self._query(self.derivative, lo, hi)

    def chord_query(self, lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Ranges of (sigma(x) - sigma(0)) / x over x in [lo, hi], x != 0 (as `query`)."""
        return self._query(self.chord, lo, hi)

    def _query(self, table: _Ranges, lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        lo, hi = np.asarray(lo, dtype=np.float64), np.asarray(hi, dtype=np.float64)
        bad = np.isnan(lo) | np.isnan(hi)
        first = np.searchsorted(self.breakpoints, np.where(bad, -np.inf, lo), side="right")
        last = np.searchsorted(self.breakpoints, np.where(bad, np.inf, hi), side="left")
        last = np.maximum(last, first)  # a point on a breakpoint: the cell to its right contains it
        span = last - first + 1
        level = np.floor(np.log2(span)).astype(np.int64)
        level = np.where((1 << (level + 1)) <= span, level + 1, level)  # guard the float log
        level = np.where((1 << level) > span, level - 1, level)
        low = np.full(lo.shape, np.inf)
        high = np.full(lo.shape, -np.inf)
        for k in np.unique(level):
            rows = level == k
            a, b = first[rows], last[rows] - (1 << int(k)) + 1
            low[rows] = np.minimum(table.min_levels[k][a], table.min_levels[k][b])
            high[rows] = np.maximum(table.max_levels[k][a], table.max_levels[k][b])
        return low, high


def _sparse_levels(values: np.ndarray, pick) -> tuple[np.ndarray, ...]:
    levels = [values]
    while (1 << len(levels)) <= len(values):
        previous, step = levels[-1], 1 << (len(levels) - 1)
        levels.append(pick(previous[:-step], previous[step:]))
    return tuple(levels)


def _interval_floats(value) -> tuple[float, float]:
    """Outward float64 ends of an mpmath interval, each widened by _WIDEN (1 + its magnitude): the
    enclosures are of the activation with its parameters as exact decimals (leaky_relu(a=0.2) has
    slope 1/5), while the network applies the float (0.2 + 1.1e-17), a relative difference of at
    most 2^-53 in sigma'; the widening covers that many times over (the reference test in
    tests/symbolic finds the cells of elu(a=2.2) too narrow for the float's function without it)."""
    low, high = float_down(lower(value)), float_up(upper(value))
    return low - _WIDEN * (1.0 + abs(low)), high + _WIDEN * (1.0 + abs(high))


class _Pieces:
    """sigma's pieces: slope enclosures on boxes and point values of sigma (the piece that applies)."""

    def __init__(self, spec_text: str) -> None:
        _, expr = symbolic_activation(spec_text)
        self.split = split_pieces(expr)
        self.slopes = [PieceSlopes(piece, interval.start, interval.end) for piece, interval in self.split]
        self._values = [compile_enclosure(piece) for piece, _ in self.split]

    def derivative(self, a, b) -> tuple[float, float]:
        """The hull of the pieces' sigma' enclosures on [a, b] (overlaps of one point do not count)."""
        low, high = math.inf, -math.inf
        for piece in self.slopes:
            lo, hi = max(a, piece.lo), min(b, piece.hi)
            if not lo < hi:
                continue
            try:
                low_k, high_k = _interval_floats(piece.enclose(lo, hi))
            except (Undefined, ZeroDivisionError, ArithmeticError):
                return -math.inf, math.inf
            low, high = min(low, low_k), max(high, high_k)
        return low, high

    def value(self, x: float):
        """An mpmath interval containing sigma(x), from the piece whose interval holds x."""
        for (_, interval), enclosure in zip(self.split, self._values):
            if interval.contains(sp.Float(x, 30)) is sp.true or (x == 0 and interval.contains(0) is sp.true):
                return enclosure(Box(interval_of(x)))
        raise Undefined(f"no piece of sigma contains {x}")


def _chord(pieces: _Pieces, near, far, derivative: tuple[float, float]) -> tuple[float, float]:
    """Range of q(x) = (sigma(x) - sigma(0)) / x on the cell between `near` (its end nearest 0,
    != 0) and `far`: q(x) = t q(near) + (1 - t) s with t = near / x in [near / far, 1] and s a mean
    of sigma' over the cell, affine in t, so q lies in hull(q(near), t0 q(near) + (1 - t0) S)."""
    try:
        q = (pieces.value(float(near)) - pieces.value(0.0)) / interval_of(near)
        t0 = iv.mpf(0) if far in (-mpmath.inf, mpmath.inf) else interval_of(near) / interval_of(far)
        other = t0 * q + (1 - t0) * iv.mpf([derivative[0], derivative[1]])
    except (Undefined, ZeroDivisionError, ArithmeticError):
        return -math.inf, math.inf
    low, high = _interval_floats(q)
    other_low, other_high = _interval_floats(other)
    return min(low, other_low), max(high, other_high)


@functools.cache
def _cached(spec_text: str, slope_min: float, slope_max: float) -> SlopeTable:
    breakpoints = _breakpoints()
    ends = [-mpmath.inf, *[mpmath.mpf(float(b)) for b in breakpoints], mpmath.inf]
    count = len(ends) - 1
    lows, highs = np.full(count, slope_min), np.full(count, slope_max)
    chord_lows, chord_highs = lows.copy(), highs.copy()
    try:
        pieces = _Pieces(spec_text)
    except (Unsupported, ValueError, ArithmeticError):
        pieces = None
    if pieces is not None:
        with precision():
            for k in range(count):
                a, b = ends[k], ends[k + 1]
                derivative = pieces.derivative(a, b)
                if derivative[0] <= derivative[1]:
                    lows[k], highs[k] = _clip(derivative, slope_min, slope_max)
                if a > 0 and math.isfinite(derivative[0]) and math.isfinite(derivative[1]):
                    chord = _chord(pieces, a, b, derivative)
                elif b < 0 and math.isfinite(derivative[0]) and math.isfinite(derivative[1]):
                    chord = _chord(pieces, b, a, derivative)
                else:
                    chord = derivative  # a cell next to 0: q is a mean of sigma' over [0, x]
                if chord[0] <= chord[1]:
                    chord_lows[k], chord_highs[k] = _clip(chord, slope_min, slope_max)
    return SlopeTable(breakpoints, _ranges(lows, highs), _ranges(chord_lows, chord_highs))


def _clip(values: tuple[float, float], slope_min: float, slope_max: float) -> tuple[float, float]:
    """The range intersected with the global one (which holds every slope); the global one if disjoint."""
    low, high = max(values[0], slope_min), min(values[1], slope_max)
    return (low, high) if low <= high else (slope_min, slope_max)


def slope_table(spec: ActivationSpec, constants: LayerConstants) -> SlopeTable:
    """The table of sigma' ranges of one activation (computed once per process and activation)."""
    return _cached(str(spec), constants.slope_min, constants.slope_max)
