"""Exact tests of the marginal of hypothesis (iii), with the scale estimated from the data.

Under iid U[-a, a] (a unknown): |w| ~ U[0, a], and conditional on M = max|w| (and on where it
sits) the other n - 1 values |w| / M are iid U[0, 1]. A Kolmogorov–Smirnov test on them is
therefore exact although a is estimated (no Lilliefors-type bias). The signs are iid fair coins
independent of the magnitudes: an exact binomial test of the sign counts, and a two-sample KS
test of the magnitudes of positive against negative entries. M / a ~ Beta(n, 1) gives an exact
confidence interval for a, hence for the implied K = a * sqrt(max(d_l, d_l-1)). Across layers,
Hogg's likelihood-ratio statistic for equal scales is exactly chi-square with 2(k - 1) degrees
of freedom: it tests the theorem's single K. Ties (float16 / bfloat16 storage) make the KS
tests conservative.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
from scipy import stats

from .._validation import validate_probability
from ..errors import InputError
from .spectrum import ks_distance
from .testresult import AuditTestResult

# P(an entry is exactly 0) under (iii): generators draw numbers on a grid (torch's float32 uniform_
# draws 24-bit numbers, so about 2^-24 of its draws are exactly 0; weights drawn so and saved as
# float64 keep them), with a factor 4 to spare; stored rounded formats add their zero cell's
# width / a (`rounding`).
GENERATOR_ZERO_RATE = 2.0**-22
ZERO_LEVEL = 1e-9

__all__ = [
    "GENERATOR_ZERO_RATE",
    "ZERO_LEVEL",
    "ScaleEstimate",
    "estimate_scale",
    "uniform_magnitudes_test",
    "sign_balance_test",
    "sign_magnitude_test",
    "common_scale_test",
]


@dataclass(frozen=True)
class ScaleEstimate:
    """The half-width a of U[-a, a] and the implied K, with exact confidence intervals."""

    entries: int
    max_abs: float
    half_width: float
    half_width_ci: tuple[float, float]
    max_width: int
    rms: float
    confidence: float

    @property
    def implied_K(self) -> float:
        """a * sqrt(max(d_l, d_l-1)): the K of hypothesis (iii) this layer would need."""
        return self.half_width * math.sqrt(self.max_width)

    @property
    def implied_K_ci(self) -> tuple[float, float]:
        root = math.sqrt(self.max_width)
        return (self.half_width_ci[0] * root, self.half_width_ci[1] * root)

    @property
    def implied_K_rms(self) -> float:
        """sqrt(3 mean w^2) * sqrt(max(d_l, d_l-1)): K read off the variance (equal to implied_K under (iii))."""
        return math.sqrt(3.0) * self.rms * math.sqrt(self.max_width)

    def rescaled(self, shift: int) -> "ScaleEstimate":
        """The estimate for the matrix times 2**shift (exact unless the result leaves float64's range)."""
        with np.errstate(over="ignore", under="ignore"):
            up = lambda v: float(np.ldexp(v, shift))  # noqa: E731
            return replace(
                self,
                max_abs=up(self.max_abs),
                half_width=up(self.half_width),
                half_width_ci=(up(self.half_width_ci[0]), up(self.half_width_ci[1])),
                rms=up(self.rms),
            )

    def to_dict(self) -> dict:
        return {
            "entries": self.entries,
            "max_abs": self.max_abs,
            "half_width": self.half_width,
            "half_width_ci": list(self.half_width_ci),
            "confidence": self.confidence,
            "implied_K": self.implied_K,
            "implied_K_ci": list(self.implied_K_ci),
            "implied_K_rms": self.implied_K_rms,
            "rms": self.rms,
            "max_width": self.max_width,
        }


def estimate_scale(
    matrix: np.ndarray, confidence: float = 0.95, top: "tuple[float, float] | None" = None
) -> ScaleEstimate:
    """Unbiased a = M (n + 1) / n and the exact interval from M / a ~ Beta(n, 1).

    `top` is the interval known to hold the real maximum when the values are stored rounded
    (`rounding.top_cell`); the interval then runs from its lower end's bound to its upper end's."""
    w = _matrix(matrix)
    confidence = validate_probability(confidence, "confidence")
    n = w.size
    m = float(np.abs(w).max())
    low, high = (m, m) if top is None else (float(top[0]), float(top[1]))
    if not 0 < low <= m <= high:
        raise InputError(f"the interval {top} does not hold the largest magnitude {m!r}")
    tail = (1.0 - confidence) / 2.0
    ci = (low / (1.0 - tail) ** (1.0 / n), high / tail ** (1.0 / n))
    rms = m * float(np.sqrt(np.mean(np.square(w / m))))  # relative to the maximum: w * w may under- or overflow
    return ScaleEstimate(n, m, m * (n + 1) / n, ci, max(w.shape), rms, confidence)


def uniform_magnitudes_test(
    matrix: np.ndarray, cells: "tuple[np.ndarray, np.ndarray] | None" = None
) -> AuditTestResult:
    """Exact conditional KS: the n - 1 non-maximal |w| / max|w| against U[0, 1].

    The p-value is scipy's exact distribution of the two-sided one-sample KS statistic
    (`kstwo`), as `scipy.stats.kstest(..., method="exact")` computes it. With `cells`, the
    rounding cells (lo, hi) of every |w| (`rounding.magnitude_cells`, for values stored in a
    reduced-precision format), the test is `_rounded_magnitudes_test`: still valid.
    """
    magnitudes = np.abs(_matrix(matrix)).ravel()
    if cells is not None:
        result = _rounded_magnitudes_test(magnitudes, cells)
        zero_cell = float(np.max(cells[1].ravel()[magnitudes == 0], initial=0.0))
        return _with_zeros(result, magnitudes, GENERATOR_ZERO_RATE + zero_cell / result.effect["scale_floor"])
    top = int(np.argmax(magnitudes))
    ratios = np.sort(np.delete(magnitudes, top) / magnitudes[top])
    n = ratios.size
    distance = ks_distance(ratios)  # the U[0, 1] distribution function is the identity
    result = _uniform_result(
        distance,
        float(stats.kstwo.sf(distance, n)),
        ratios,
        "exact conditional Kolmogorov-Smirnov of |w|/max|w| against U[0,1] (scale-free, exact)",
        float(magnitudes[top]),
    )
    return _with_zeros(result, magnitudes, GENERATOR_ZERO_RATE)


def _with_zeros(result: AuditTestResult, magnitudes: np.ndarray, rate: float) -> AuditTestResult:
    """Exact zeros, which a continuous uniform almost never gives (pruned weights have many).

    Under (iii) an entry is exactly 0 with probability at most `rate`; z* is the smallest count
    with P(Binomial(n, rate) >= z*) <= ZERO_LEVEL. With Z >= z* zeros the p-value is ZERO_LEVEL,
    else the KS p-value plus ZERO_LEVEL: P(p <= u) <= P(Z >= z*) + P(p_KS <= u - ZERO_LEVEL) <= u.
    """
    n, zeros = magnitudes.size, int(np.count_nonzero(magnitudes == 0))
    rate = min(1.0, rate)
    threshold = int(stats.binom.isf(ZERO_LEVEL, n, rate)) + 1
    while threshold > 0 and stats.binom.sf(threshold - 2, n, rate) <= ZERO_LEVEL:  # isf is approximate
        threshold -= 1
    while stats.binom.sf(threshold - 1, n, rate) > ZERO_LEVEL:
        threshold += 1
    excess = zeros >= threshold
    pvalue = ZERO_LEVEL if excess else min(1.0, result.pvalue + ZERO_LEVEL)
    method = (
        f"{result.method}; {threshold} or more exact zeros (probability <= {ZERO_LEVEL:g} under (iii)) "
        f"reject at p = {ZERO_LEVEL:g}"
    )
    effect = {**result.effect, "zeros": zeros, "zeros_rejected_from": threshold}
    return AuditTestResult(result.name, result.component, result.statistic, pvalue, method, effect)


def _rounded_magnitudes_test(magnitudes: np.ndarray, cells: "tuple[np.ndarray, np.ndarray]") -> AuditTestResult:
    """KS at rounding-cell boundaries of the |w| below the top cell [c, c_hi], against U[0, c].

    Rounding is monotone, so the real max|u| lies in the top cell and, given which entries were
    rounded into it, the others are iid U[0, c] with c the cell's lower end. At a cell boundary b
    the stored values below b are exactly the real values below b, so the distance there is the
    real data's; the sup over boundaries only is at most the continuous KS distance, and the
    continuous null (`kstwo`) is conservative. If every |w| is in the top cell, p is the bound
    ((c_hi - c) / c_hi)^(n - 1) on the probability of that event.
    """
    lo, hi = (np.asarray(c, dtype=np.float64).ravel() for c in cells)
    if lo.shape != magnitudes.shape or hi.shape != magnitudes.shape:
        raise InputError(f"need one rounding cell per entry ({magnitudes.size}), got {lo.size} and {hi.size}")
    top = float(magnitudes.max())
    in_top = magnitudes == top
    floor, ceiling = float(lo[in_top].min()), float(hi[in_top].max())
    method = (
        "exact conditional Kolmogorov-Smirnov of the |w| below the top rounding cell against U[0, its lower end], "
        "taken at the cells' boundaries (values stored rounded; conservative)"
    )
    rest = ~in_top
    n = int(rest.sum())
    if n == 0:
        pvalue = ((ceiling - floor) / ceiling) ** (magnitudes.size - 1)
        return _uniform_result(1.0, float(pvalue), np.ones(1), method, floor)
    order = np.argsort(magnitudes[rest], kind="stable")
    values, lo, hi = magnitudes[rest][order], lo[rest][order], hi[rest][order]
    _, first, counts = np.unique(values, return_index=True, return_counts=True)
    below, through = first / n, (first + counts) / n  # empirical F just below and just above each value
    distance = float(max(np.max(np.abs(through - hi[first] / floor)), np.max(np.abs(below - lo[first] / floor))))
    return _uniform_result(distance, float(stats.kstwo.sf(distance, n)), values / floor, method, floor)


def _uniform_result(distance: float, pvalue: float, ratios: np.ndarray, method: str, floor: float) -> AuditTestResult:
    n = ratios.size
    quartiles = np.interp([0.25 * (n - 1), 0.5 * (n - 1), 0.75 * (n - 1)], np.arange(n), ratios)
    return AuditTestResult(
        "uniform_magnitudes",
        "uniform",
        distance,
        pvalue,
        method,
        {
            "ks_distance": distance,
            "ratio_quartiles": [float(q) for q in quartiles],
            "uniform_quartiles": [0.25, 0.5, 0.75],
            "scale_floor": floor,
        },
    )


def sign_balance_test(matrix: np.ndarray) -> AuditTestResult:
    """Exact two-sided binomial test: positive vs negative entries (zeros excluded and counted)."""
    w = _matrix(matrix)
    positive, negative = int(np.count_nonzero(w > 0)), int(np.count_nonzero(w < 0))
    nonzero = positive + negative
    result = stats.binomtest(positive, nonzero, 0.5)
    return AuditTestResult(
        "sign_balance",
        "symmetric",
        positive / nonzero,
        float(result.pvalue),
        "exact two-sided binomial test of P(w > 0) = 1/2",
        {"positive_fraction": positive / nonzero, "zeros": int(w.size - nonzero)},
    )


def sign_magnitude_test(matrix: np.ndarray) -> AuditTestResult:
    """Two-sample KS of |w| over positive entries against |w| over negative ones."""
    w = _matrix(matrix).ravel()
    positive, negative = np.abs(w[w > 0]), np.abs(w[w < 0])
    if positive.size == 0 or negative.size == 0:
        raise InputError("the entries all have one sign: magnitudes cannot be compared across signs")
    result = stats.ks_2samp(positive, negative)
    scale = float(np.abs(w).max())
    return AuditTestResult(
        "sign_magnitude",
        "symmetric",
        float(result.statistic),
        float(result.pvalue),
        "two-sample Kolmogorov-Smirnov of |w| for w > 0 against w < 0 (exact for small samples)",
        {
            "ks_distance": float(result.statistic),
            "mean_over_max": float(w.mean()) / scale,
            "mean_z": float(w.mean() / (w.std() / math.sqrt(w.size))) if w.std() > 0 else 0.0,
        },
    )


def common_scale_test(
    matrices: Sequence[np.ndarray], tops: "Sequence[tuple[float, float]] | None" = None
) -> AuditTestResult:
    """Hogg's exact LRT that every layer has the same K (|w| sqrt(max(d_l, d_l-1)) ~ U[0, K]).

    `tops` (one per layer, `rounding.top_cell`) are intervals known to hold each layer's real
    maximum when the values are stored rounded. The statistic is then the smallest one those
    maxima allow (a lower bound on the real data's statistic, so its chi-square p-value stays
    valid): with every layer's log-scaled maximum in [l_i, h_i] it is
    2 sum n_i (L - min(h_i, L)), L = max l_i.
    """
    if len(matrices) < 2:
        raise InputError("the common-K test needs at least two layers")
    layers = [_matrix(m) for m in matrices]  # InputError for an all-zero layer: every maximum is positive
    if tops is None:
        tops = [(float(np.abs(w).max()),) * 2 for w in layers]
    if len(tops) != len(layers):
        raise InputError(f"need one maximum's interval per layer ({len(layers)}), got {len(tops)}")
    sizes = np.array([w.size for w in layers], dtype=np.float64)
    widths = np.array([0.5 * math.log(max(w.shape)) for w in layers])
    low = np.log([float(t[0]) for t in tops]) + widths
    high = np.log([float(t[1]) for t in tops]) + widths
    largest = float(low.max())
    statistic = float(2.0 * np.sum(sizes * (largest - np.minimum(high, largest))))
    df = 2 * (len(layers) - 1)
    implied = [estimate_scale(w).implied_K for w in layers]
    rounded = "" if all(t[0] == t[1] for t in tops) else "; smallest statistic the rounded maxima allow"
    return AuditTestResult(
        "common_K",
        "uniform",
        statistic,
        float(stats.chi2.sf(statistic, df)),
        f"Hogg's likelihood-ratio test of equal uniform scales, exactly chi-square({df}){rounded}",
        {"implied_K": implied, "max_over_min": max(implied) / min(implied), "df": df},
    )


def _matrix(matrix: np.ndarray) -> np.ndarray:
    w = np.asarray(matrix, dtype=np.float64)
    if w.ndim != 2 or w.size < 2:
        raise InputError(f"need a 2-D weight matrix with at least 2 entries, got shape {w.shape}")
    if not np.isfinite(w).all():
        raise InputError("the weight matrix contains NaN or infinite entries")
    if not (w != 0).any():
        raise InputError("every entry is zero: nothing to audit")
    return w
