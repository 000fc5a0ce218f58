"""Monte Carlo p-values that are valid at any number of draws.

For a statistic T whose null distribution can be sampled exactly (a random permutation of the
data under exchangeability, or a parameter-free null such as iid U[-1, 1] for a scale-free
statistic), `p = (1 + #{b : T_b >= T}) / (B + 1)` satisfies P(p <= u) <= u for every u and every
B: under the null, T and the B draws are exchangeable, so the rank of T is uniform (ties only
make p larger). The price of a small B is resolution, not validity: p is never below
1 / (B + 1), so a family corrected for multiplicity needs `minimum_draws(level, family_size)`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

from .._validation import validate_integer, validate_probability
from ..errors import InputError

__all__ = ["MonteCarloResult", "monte_carlo_test", "minimum_draws"]

Alternative = Literal["greater", "less"]


@dataclass(frozen=True)
class MonteCarloResult:
    """One Monte Carlo test: the observed statistic, its p-value and a summary of the null draws."""

    statistic: float
    pvalue: float
    draws: int
    exceedances: int
    alternative: str
    null_mean: float
    null_sd: float

    @property
    def smallest_pvalue(self) -> float:
        """The resolution: no p-value below 1 / (B + 1) is possible with B draws."""
        return 1.0 / (self.draws + 1)

    @property
    def standardized(self) -> "float | None":
        """(T - mean of the null draws) / their sd: how far out T is (None when the draws are constant)."""
        if not self.null_sd > 0:
            return None
        return (self.statistic - self.null_mean) / self.null_sd

    def to_dict(self) -> dict:
        return {
            "statistic": self.statistic,
            "pvalue": self.pvalue,
            "draws": self.draws,
            "exceedances": self.exceedances,
            "alternative": self.alternative,
            "null_mean": self.null_mean,
            "null_sd": self.null_sd,
            "standardized": self.standardized,
            "method": f"Monte Carlo, (1 + #{{T_b {'>=' if self.alternative == 'greater' else '<='} T}}) / (B + 1)",
        }


def monte_carlo_test(
    statistic: float, null_statistics: "np.ndarray | list[float]", alternative: Alternative = "greater"
) -> MonteCarloResult:
    """p = (1 + #{T_b >= T}) / (B + 1) ("greater"), or with <= ("less"); exact at every B >= 1."""
    observed = float(statistic)
    null = np.asarray(null_statistics, dtype=np.float64)
    if null.ndim != 1 or null.size == 0:
        raise InputError("a Monte Carlo test needs a non-empty 1-D array of null statistics")
    if not math.isfinite(observed) or not np.isfinite(null).all():
        raise InputError("Monte Carlo statistics must be finite numbers")
    if alternative == "greater":
        exceed = int(np.count_nonzero(null >= observed))
    elif alternative == "less":
        exceed = int(np.count_nonzero(null <= observed))
    else:
        raise InputError(f"alternative must be 'greater' or 'less', got {alternative!r}")
    draws = int(null.size)
    sd = float(null.std(ddof=1)) if draws > 1 else 0.0
    return MonteCarloResult(observed, (1 + exceed) / (draws + 1), draws, exceed, alternative, float(null.mean()), sd)


def minimum_draws(level: float, family_size: int = 1) -> int:
    """Smallest B with 1 / (B + 1) <= level / family_size (so Holm or Bonferroni can reject at all)."""
    level = validate_probability(level, "level")
    family_size = validate_integer(family_size, "family_size", minimum=1)
    return max(1, math.ceil(family_size / level - 1e-9) - 1)
