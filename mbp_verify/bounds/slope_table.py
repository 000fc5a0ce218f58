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
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import mpmath
import numpy as np

from ..engine.activations import ActivationSpec
from ..symbolic.analysis import split_pieces
from ..symbolic.enclosure import PieceSlopes
from ..symbolic.intervals import Undefined, Unsupported, precision
from ..symbolic.registry import symbolic_activation
from .constants import LayerConstants

__all__ = ["SlopeTable", "slope_table"]

_FINE_STEP, _FINE_END, _COARSE_END = 1 / 16, 8, 20  # cells of 1/16 on [-8, 8], then powers of two to 2^20


def _breakpoints() -> np.ndarray:
    fine = np.arange(-_FINE_END / _FINE_STEP, _FINE_END / _FINE_STEP + 1) * _FINE_STEP
    coarse = 2.0 ** np.arange(int(math.log2(_FINE_END)) + 1, _COARSE_END + 1)
    return np.concatenate([-coarse[::-1], fine, coarse])


def _down(value) -> float:
    if value == -mpmath.inf:
        return -math.inf
    f = float(value)
    return f if f <= value else math.nextafter(f, -math.inf)


def _up(value) -> float:
    if value == mpmath.inf:
        return math.inf
    f = float(value)
    return f if f >= value else math.nextafter(f, math.inf)


@dataclass(frozen=True, eq=False)
class SlopeTable:
    """lows[k] <= sigma' <= highs[k] (a.e.) on cell k; cell k is [B[k-1], B[k]] (B[-1] = -inf, B[n] = +inf)."""

    breakpoints: np.ndarray
    lows: np.ndarray
    highs: np.ndarray
    _min_levels: tuple[np.ndarray, ...]
    _max_levels: tuple[np.ndarray, ...]

    def query(self, lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Ranges (low, high) of sigma' over the intervals [lo, hi] (arrays of one shape, lo <= hi);
        NaN ends give the whole table's range."""
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
            low[rows] = np.minimum(self._min_levels[k][a], self._min_levels[k][b])
            high[rows] = np.maximum(self._max_levels[k][a], self._max_levels[k][b])
        return low, high


def _sparse_levels(values: np.ndarray, pick) -> tuple[np.ndarray, ...]:
    levels = [values]
    while (1 << len(levels)) <= len(values):
        previous, step = levels[-1], 1 << (len(levels) - 1)
        levels.append(pick(previous[:-step], previous[step:]))
    return tuple(levels)


@functools.cache
def _cached(spec_text: str, slope_min: float, slope_max: float) -> SlopeTable:
    breakpoints = _breakpoints()
    ends = [-mpmath.inf, *[mpmath.mpf(float(b)) for b in breakpoints], mpmath.inf]
    count = len(ends) - 1
    lows, highs = np.full(count, slope_min), np.full(count, slope_max)
    try:
        _, expr = symbolic_activation(spec_text)
        pieces = [PieceSlopes(piece, interval.start, interval.end) for piece, interval in split_pieces(expr)]
    except (Unsupported, ValueError, ArithmeticError):
        pieces = []
    if pieces:
        with precision():
            for k in range(count):
                a, b = ends[k], ends[k + 1]
                low, high = math.inf, -math.inf
                for piece in pieces:
                    lo, hi = max(a, piece.lo), min(b, piece.hi)
                    if not lo < hi:
                        continue  # no overlap, or a single point (measure zero)
                    try:
                        value = piece.enclose(lo, hi)
                    except (Undefined, ZeroDivisionError, ArithmeticError):
                        low, high = -math.inf, math.inf
                        continue
                    low, high = min(low, _down(value.a)), max(high, _up(value.b))
                if low <= high:
                    lows[k], highs[k] = max(low, slope_min), min(high, slope_max)
                if not lows[k] <= highs[k]:  # an enclosure disjoint from the global range: keep the global one
                    lows[k], highs[k] = slope_min, slope_max
    return SlopeTable(breakpoints, lows, highs, _sparse_levels(lows, np.minimum), _sparse_levels(highs, np.maximum))


def slope_table(spec: ActivationSpec, constants: LayerConstants) -> SlopeTable:
    """The table of sigma' ranges of one activation (computed once per process and activation)."""
    return _cached(str(spec), constants.slope_min, constants.slope_max)
