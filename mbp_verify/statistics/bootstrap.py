"""Log–log power-law fits with stratified bootstrap confidence intervals.

A scaling law `y ~ C x^s` is fitted by least squares of log y on log x over every sample
(all trials at every width). Resampling trials *within* each x (stratified bootstrap) keeps
the design fixed; the percentile interval of the resampled slopes is the confidence interval.
With x fixed per stratum the pooled least-squares slope only depends on the per-stratum means
of log y, so each replicate costs one weighted regression on a handful of points.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .._validation import validate_integer, validate_probability
from ..errors import InputError

__all__ = ["SlopeFit", "loglog_slope"]

BOOTSTRAP_METHOD = "least squares on log-log, stratified percentile bootstrap"


@dataclass(frozen=True)
class SlopeFit:
    """Fitted exponent s and prefactor C of y ~ C x^s, with a bootstrap interval for s."""

    slope: float
    intercept: float
    ci: tuple[float, float]
    confidence: float
    n_boot: int
    x: tuple[float, ...]
    n_per_x: tuple[int, ...]
    method: str = BOOTSTRAP_METHOD

    @property
    def prefactor(self) -> float:
        """C = exp(intercept)."""
        return float(np.exp(self.intercept))

    def predict(self, x: float) -> float:
        """C x^s at x."""
        return float(np.exp(self.intercept + self.slope * np.log(x)))

    def within(self, target: float, tolerance: float) -> bool:
        """|s - target| <= tolerance (the point estimate)."""
        return abs(self.slope - target) <= tolerance

    def ci_contains(self, value: float) -> bool:
        return self.ci[0] <= value <= self.ci[1]

    def to_dict(self) -> dict:
        return {
            "slope": self.slope,
            "ci": list(self.ci),
            "confidence": self.confidence,
            "prefactor": self.prefactor,
            "n_boot": self.n_boot,
            "x": list(self.x),
            "n_per_x": list(self.n_per_x),
            "method": self.method,
        }


def _weighted_slopes(logx: np.ndarray, means: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Weighted least squares of `means` (..., strata) on logx: (slopes, intercepts)."""
    xbar = np.dot(weights, logx) / weights.sum()
    centred = logx - xbar
    slopes = (means * (weights * centred)).sum(axis=-1) / np.dot(weights, centred**2)
    ybar = (means * weights).sum(axis=-1) / weights.sum()
    return slopes, ybar - slopes * xbar


def loglog_slope(
    x: Sequence[float],
    samples: Sequence[Sequence[float]],
    *,
    rng: np.random.Generator,
    n_boot: int = 4000,
    confidence: float = 0.95,
) -> SlopeFit:
    """Fit log y = intercept + slope log x over all samples; bootstrap trials within each x."""
    xs = np.asarray(x, dtype=np.float64)
    if xs.ndim != 1 or xs.size < 2 or len(samples) != xs.size:
        raise InputError("need at least two x values and one list of samples per x")
    if not (np.all(np.isfinite(xs)) and np.all(xs > 0)) or np.unique(xs).size != xs.size:
        raise InputError(f"x values must be distinct, positive and finite, got {list(x)}")
    logs = []
    for value, group in zip(xs, samples):
        arr = np.asarray(group, dtype=np.float64)
        if arr.ndim != 1 or arr.size == 0 or not np.all(np.isfinite(arr)) or np.any(arr <= 0):
            raise InputError(f"samples at x={value:g} must be a non-empty list of positive finite numbers")
        logs.append(np.log(arr))
    n_boot = validate_integer(n_boot, "n_boot", 100)
    confidence = validate_probability(confidence, "confidence")
    if not isinstance(rng, np.random.Generator):
        raise InputError(f"rng must be a numpy Generator (e.g. seeding.rng_for(...)), got {type(rng).__name__}")
    logx = np.log(xs)
    counts = np.array([g.size for g in logs], dtype=np.float64)
    slope, intercept = _weighted_slopes(logx, np.array([g.mean() for g in logs]), counts)
    boot_means = np.empty((n_boot, xs.size))
    for j, group in enumerate(logs):
        picks = rng.integers(0, group.size, size=(n_boot, group.size))
        boot_means[:, j] = group[picks].mean(axis=1)
    boot_slopes, _ = _weighted_slopes(logx, boot_means, counts)
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(boot_slopes, [tail, 1.0 - tail])
    return SlopeFit(
        float(slope),
        float(intercept),
        (float(low), float(high)),
        confidence,
        n_boot,
        tuple(float(v) for v in xs),
        tuple(int(c) for c in counts),
    )
