"""Difference-aware upper bound: the coupled (F, f - F) chain with averaged activations.

F's hidden state h_l and the difference Delta_l = g_l - h_l (g: f's state) obey one affine
recursion whose diagonals are activation difference quotients:

  h_l     = sigma(0) 1 + Lambda_l W_l h_{l-1},          Lambda_l = (sigma(a) - sigma(0)) / a
  Delta_l = D_l (W~_l Delta_{l-1} - E_l h_{l-1}),       D_l = (sigma(a~) - sigma(a)) / (a~ - a)
  f(x) - F(x) = [-E_L, W~_L] [h_{L-1}; Delta_{L-1}],   [h_1; Delta_1] = diag(Lambda_1, D_1) [W_1; -E_1] x

Every diagonal entry lies in [s_min, s_max] (the symbolic slope range, or the narrower range
reachable over the unit ball, `reachable`), so f - F is a chain
of block matrices separated by diagonals diag(Lambda_l, D_l) = m I + r S with |S| <= I.
Expanding every diagonal (Combettes & Pesquet, "Lipschitz certificates for layered network
structures driven by averaged activation operators", SIAM J. Math. Data Sci. 2020) gives

  sup ||f(x) - F(x)|| <= sum over cut sets C of prod_{l in C} r_l prod_{l not in C} |m_l| prod_segments ||segment||,

where a segment is the product of consecutive blocks between cuts. A segment from layer i to
j is [[P, 0], [X, P~]] with P = W_j...W_i, P~ = W~_j...W~_i and X = P~ - P (computed from the
sparse E_l, never by cancellation). The last layer enters exactly (no diagonal after it),
and the uncut chain is the linear difference W~_L...W~_1 - W_L...W_1 weighted by prod m_l.
Scaling the difference rows of layer l by beta_l > 0 commutes with the diagonals and leaves
the bound valid; beta_l = c ||W_l|| / ||E_l|| with c from `depth_factor` (optionally times a
few multipliers, each certified, the smallest kept); every segment norm is certified
(`segments`, `spectral`) and widened by its rounding error (`products`).

With sigma(0) != 0 the offset c_l = sigma_l(0) 1 added to h_l enters the rest of the chain like
an input [c_l; 0] to the segments from layer l + 1 on, so f - F gains the terms
|sigma_l(0)| x (the cut sum of the chain after layer l, its first segment applied to the vector
[1; 0] itself) (`AveragedBound.tails`, combined by `total`).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from ..errors import InputError
from .constants import LayerConstants
from .parts import PairParts
from .products import Tracked
from .rounding import add_up, frobenius_up, matmul_error_up, mul_up, sqrt_up, up
from .segment_estimates import estimate_segment_norms
from .segments import Segment, SegmentProducts, StoredLayer, chain_segments, segment_norm
from .spectral import in_safe_range

__all__ = [
    "AveragedBound",
    "AveragedEstimate",
    "averaged_bound",
    "estimate_averaged",
    "applicable",
    "unavailable_reason",
    "depth_factor",
]

# Deeper chains (2^(L-1) cut sets per evaluation) compare the local midpoints with the global (m, r) only.
_SEARCH_DEPTH = 8


@dataclass(frozen=True, eq=False)
class AveragedBound:
    """The bound, the scalings used, certified segment norms and input-side directions."""

    value: float
    scalings: tuple[float, ...]
    segment_norms: dict[Segment, float]
    input_directions: tuple[np.ndarray, ...]  # top right singular vectors of segments starting at layer 1
    tails: tuple[float, ...] = ()  # tails[l]: the cut sum of the chain after hidden layer l applied to 1 (offsets)

    def total(self, offsets: Sequence[float], shifts: Sequence[int]) -> Fraction:
        """The bound for the pair itself, exactly: 2^S value + sum_l |sigma_l(0)| 2^(s_{l+1} + ... + s_L) tails[l],
        given |sigma_l(0)| <= offsets[l] and the layers' power-of-two shifts (`scaling`)."""
        exact = Fraction(self.value) * Fraction(2) ** sum(shifts)
        for layer, (offset, tail) in enumerate(zip(offsets, self.tails)):
            if offset:
                exact += Fraction(offset) * Fraction(tail) * Fraction(2) ** sum(shifts[layer + 1 :])
        return exact


def unavailable_reason(constants: Sequence[LayerConstants], parts: PairParts) -> "str | None":
    """Why the bound does not apply (None if it does): it needs a hidden layer and weights whose
    magnitudes keep the Gram products clear of overflow and underflow (the bracket passes the
    power-of-two scaled pair)."""
    if len(constants) < 1:
        return "needs a hidden layer"
    matrices = itertools.chain(parts.full, parts.pruned, parts.errors)  # one layer at a time
    if not all(map(in_safe_range, matrices)):
        return "a weight matrix W_l, W~_l or E_l of the scaled pair has its largest entry outside [2^-300, 2^300]"
    return None


def applicable(constants: Sequence[LayerConstants], parts: PairParts) -> bool:
    """Whether `unavailable_reason` finds nothing."""
    return unavailable_reason(constants, parts) is None


def _cut_sum(
    norm: "dict[Segment, float]", depth: int, mids: Sequence[float], radii: Sequence[float], first: int = 0
) -> float:
    """Sum over cut sets of prod r (cut) prod |m| (uncut) prod segment norms, rounded up, for the
    chain of layers first..L-1 (cuts after layers first..L-2)."""
    terms = []
    for cuts in itertools.product((False, True), repeat=depth - 1 - first):
        factors, start = [], first
        for position, cut in enumerate(cuts, start=first):
            factors.append(radii[position] if cut else abs(mids[position]))
            if cut:
                factors.append(norm[start, position])
                start = position + 1
        factors.append(norm[start, depth - 1])
        terms.append(mul_up(*factors))
    return add_up(*terms)


def _cover(low: float, high: float, mid: float) -> tuple[float, float]:
    """(m, r) with [m - r, m + r] containing [low, high] for the float m (r rounded up)."""
    return mid, max(up(high - mid), up(mid - low), 0.0)


def _candidates(low: float, high: float, constants: LayerConstants) -> list[tuple[float, float]]:
    """Ways to write a slope in [low, high] as m + r t, |t| <= 1: the global (m, r) and a few local ones."""
    options = [(constants.mid_slope, constants.slope_radius)]
    for mid in (0.5 * (low + high), low, high):
        options.append(_cover(low, high, mid))
    return options


def _estimate(norm: "dict[Segment, float]", depth: int, choice: Sequence[tuple[float, float]]) -> float:
    """The cut sum in plain float arithmetic (to compare choices; the chosen one is certified)."""
    total = 0.0
    for cuts in itertools.product((False, True), repeat=depth - 1):
        term, start = 1.0, 0
        for position, cut in enumerate(cuts):
            m, r = choice[position]
            term *= r if cut else abs(m)
            if cut:
                term *= norm[start, position]
                start = position + 1
        total += term * norm[start, depth - 1]
    return total


def _best_cut_sum(
    norm: "dict[Segment, float]",
    depth: int,
    constants: Sequence[LayerConstants],
    ranges: "Sequence[tuple[float, float]] | None",
) -> tuple[float, list[float], list[float]]:
    """The certified cut sum for the best (m_l, r_l) found by a coordinate search over each layer's
    candidates (every candidate covers the layer's slopes, so every choice is sound), and that choice."""
    mids, radii = [c.mid_slope for c in constants], [c.slope_radius for c in constants]
    landed = _cut_sum(norm, depth, mids, radii)
    if ranges is None or depth < 2:
        return landed, mids, radii
    options = [_candidates(low, high, c) for (low, high), c in zip(ranges, constants)]
    choice = [o[1] for o in options]  # start from the local midpoints
    best = _estimate(norm, depth, choice)
    for _ in range(2 if depth <= _SEARCH_DEPTH else 0):
        for layer, layer_options in enumerate(options):
            for option in layer_options:
                trial = [*choice[:layer], option, *choice[layer + 1 :]]
                value = _estimate(norm, depth, trial)
                if value < best:
                    best, choice = value, trial
    local_mids, local_radii = [m for m, _ in choice], [r for _, r in choice]
    local = _cut_sum(norm, depth, local_mids, local_radii)
    return (local, local_mids, local_radii) if local < landed else (landed, mids, radii)


def _ones_norm_up(tracked: "Tracked | StoredLayer") -> float:
    """An upper bound of ||exact @ 1|| for the exact matrix `tracked` stands for."""
    rows, cols = tracked.shape
    product = np.asarray(tracked.value @ np.ones(cols)).ravel()
    ones = sqrt_up(float(cols))
    rounding = matmul_error_up(cols, rows, tracked.frobenius, ones)
    return add_up(frobenius_up(product), rounding, mul_up(tracked.error, ones))


def _offset_parts(segment: SegmentProducts, last: int) -> tuple[float, "float | None"]:
    """For the offset 1 entering the segment's first layer: bounds of ||X 1|| and ||P 1|| (None
    for the segment ending at the output, which uses X only)."""
    return _ones_norm_up(segment.X), (None if segment.j == last else _ones_norm_up(segment.P))  # type: ignore[arg-type]


def _offset_norms(
    ones: "Mapping[Segment, tuple[float, float | None]]", first: int, last: int, beta: Sequence[float]
) -> "dict[Segment, float]":
    """For the offset 1 entering layer `first`: bounds of ||segment [1; 0]||, i.e. ||[P 1; beta_j X 1]||
    (||X 1|| for the segment ending at the output), by segment end j, from `_offset_parts`."""
    result = {}
    for j in range(first, last + 1):
        x_ones, p_ones = ones[first, j]
        x = mul_up(abs(1.0 if j == last else beta[j]), x_ones)
        result[first, j] = x if j == last else sqrt_up(add_up(_square_up(mul_up(1.0, p_ones)), _square_up(x)))  # type: ignore[arg-type]
    return result


def _square_up(value: float) -> float:
    return mul_up(value, value)


def depth_factor(depth: int) -> float:
    """The scaling factor c that minimised the bound on sampled ReLU networks of this depth
    (1.0 at L = 2 down to 0.7 at L = 5, measured at widths 256-1024); any c > 0 is sound."""
    return float(np.clip(1.2 - 0.1 * depth, 0.5, 1.0))


def _scalings(parts: PairParts, factor: float) -> list[float]:
    """beta_l = factor c(L) ||W_l|| / ||E_l|| per hidden layer (estimated norms; the geometric mean
    of the other ratios where E_l = 0)."""
    full = [parts.estimate("full", l) for l in range(parts.depth - 1)]
    error = [parts.estimate("error", l) for l in range(parts.depth - 1)]
    ratios = [f / e for f, e in zip(full, error) if e > 0]
    fallback = float(np.exp(np.mean(np.log(ratios)))) if ratios else 1.0
    return [factor * depth_factor(parts.depth) * (f / e if e > 0 else fallback) for f, e in zip(full, error)]


def _smallest_cut_sum(
    norm: "dict[Segment, float]",
    depth: int,
    constants: Sequence[LayerConstants],
    ranges: "Sequence[tuple[float, float]] | None",
) -> float:
    """The smallest cut sum (plain float) over every choice of covers `_best_cut_sum` can make:
    the global one alone without ranges; every combination of each layer's candidates up to
    _SEARCH_DEPTH layers (the coordinate search may stop at any); else the global covers and the
    local midpoints. Each cut set's product of segment norms is computed once and weighted by
    every combination's factors."""
    global_covers = [(c.mid_slope, c.slope_radius) for c in constants]
    if ranges is None or depth < 2:
        return _estimate(norm, depth, global_covers)
    options = [_candidates(low, high, c) for (low, high), c in zip(ranges, constants)]
    if depth > _SEARCH_DEPTH:
        return min(_estimate(norm, depth, global_covers), _estimate(norm, depth, [o[1] for o in options]))
    cut_sets = list(itertools.product((False, True), repeat=depth - 1))
    products = np.empty(len(cut_sets))
    for index, cuts in enumerate(cut_sets):
        value, start = 1.0, 0
        for position, cut in enumerate(cuts):
            if cut:
                value *= norm[start, position]
                start = position + 1
        products[index] = value * norm[start, depth - 1]
    weights = np.ones((1, len(cut_sets)))
    for layer, layer_options in enumerate(options):
        table = np.array([[r if cuts[layer] else abs(m) for cuts in cut_sets] for m, r in layer_options])
        weights = (weights[:, None, :] * table[None, :, :]).reshape(-1, len(cut_sets))
    return float(np.min(weights @ products))


@dataclass(frozen=True)
class AveragedEstimate:
    """An estimate from below of `averaged_bound(...).value` and the input directions it found."""

    value: float
    input_directions: tuple[np.ndarray, ...]


def estimate_averaged(
    parts: PairParts,
    constants: Sequence[LayerConstants],
    rng: np.random.Generator,
    factors: Sequence[float] = (1.0,),
    ranges: "Sequence[tuple[float, float]] | None" = None,
) -> AveragedEstimate:
    """A value that the certified averaged bound (same arguments) cannot be below, up to the
    rounding of the estimate: the smallest cut sum (`_smallest_cut_sum`) of segment-norm
    estimates from below (`segment_estimates`), the smallest over `factors`. The
    bracket skips the certificate when this already exceeds a certified bound."""
    depth = parts.depth
    if all(e.nnz == 0 for e in parts.errors):
        return AveragedEstimate(0.0, ())
    value, directions = np.inf, ()
    for factor in factors:
        estimates = estimate_segment_norms(parts, _scalings(parts, factor), rng)
        total = _smallest_cut_sum({s: e.value for s, e in estimates.items()}, depth, constants, ranges)
        if total < value:
            value = total
            directions = tuple(e.direction for s, e in estimates.items() if s[0] == 0)
    return AveragedEstimate(float(value), directions)


def averaged_bound(
    parts: PairParts,
    constants: Sequence[LayerConstants],
    rng: np.random.Generator,
    factors: Sequence[float] = (1.0,),
    ranges: "Sequence[tuple[float, float]] | None" = None,
) -> AveragedBound:
    """The certified averaged-activation bound of sup ||f(x) - F(x)|| over the unit ball.

    Each factor k in `factors` sets beta_l = k c(L) ||W_l|| / ||E_l|| (estimated norms,
    c(L) = `depth_factor`) and gives a sound bound; the smallest is returned. `ranges` are
    per hidden layer (low, high) enclosing every slope Lambda_l and D_l reachable over the unit
    ball (`reachable.LocalSlopes`); the segment norms do not depend on (m_l, r_l), so several
    covers of each range are compared and the smallest certified sum is kept.
    """
    if not factors or not all(f > 0 and np.isfinite(f) for f in factors):
        raise InputError(f"factors must be positive finite numbers, got {list(factors)}")
    depth = parts.depth
    if all(e.nnz == 0 for e in parts.errors):
        return AveragedBound(0.0, (), {}, (), (0.0,) * (depth - 1))  # f = F exactly
    best: "AveragedBound | None" = None
    for factor in factors:
        # The chain's products are computed segment by segment (`chain_segments`) and recomputed
        # for every factor rather than kept: a few d x d arrays at a time, never all of them.
        beta = _scalings(parts, factor)
        certified: dict[Segment, float] = {}
        ones: dict[Segment, tuple[float, "float | None"]] = {}
        directions = []
        for first in range(depth):
            for segment in chain_segments(parts, first):
                certified[segment.i, segment.j], direction = segment_norm(segment, parts, beta, rng)
                if direction is not None:
                    directions.append(direction)
                if first > 0:
                    ones[segment.i, segment.j] = _offset_parts(segment, depth - 1)
                del segment  # its products go while the next segment's are computed
        value, mids, radii = _best_cut_sum(certified, depth, constants, ranges)
        if best is None or value < best.value:
            tails = tuple(
                _cut_sum({**certified, **_offset_norms(ones, l + 1, depth - 1, beta)}, depth, mids, radii, first=l + 1)
                for l in range(depth - 1)
            )
            best = AveragedBound(value, tuple(beta), certified, tuple(directions), tails)
    return best  # type: ignore[return-value]  (factors is non-empty)
