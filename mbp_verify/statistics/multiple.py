"""Holm's step-down procedure: family-wise error control across a family of tests.

Holm (1979) controls the family-wise error rate at `alpha` under any dependence between the
tests, and is uniformly more powerful than Bonferroni.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .._validation import validate_probability
from ..errors import InputError

__all__ = ["HolmResult", "holm"]


@dataclass(frozen=True)
class HolmResult:
    """Holm-adjusted p-values and rejections, in the order the p-values were given."""

    pvalues: tuple[float, ...]
    adjusted: tuple[float, ...]
    rejected: tuple[bool, ...]
    alpha: float

    @property
    def any_rejected(self) -> bool:
        return any(self.rejected)

    def to_dict(self) -> dict:
        return {
            "method": "holm",
            "alpha": self.alpha,
            "pvalues": list(self.pvalues),
            "adjusted": list(self.adjusted),
            "rejected": list(self.rejected),
        }


def holm(pvalues: Sequence[float], alpha: float = 0.05) -> HolmResult:
    """Adjust `pvalues` by Holm's method and reject those with adjusted p <= alpha."""
    values = np.asarray(pvalues, dtype=np.float64)
    if values.ndim != 1 or values.size == 0:
        raise InputError("holm needs a non-empty 1-D sequence of p-values")
    if np.isnan(values).any() or (values < 0).any() or (values > 1).any():
        raise InputError("p-values must lie in [0, 1]")
    alpha = validate_probability(alpha, "alpha")
    m = values.size
    order = np.argsort(values, kind="stable")
    scaled = values[order] * (m - np.arange(m))
    adjusted_sorted = np.minimum(np.maximum.accumulate(scaled), 1.0)
    adjusted = np.empty(m)
    adjusted[order] = adjusted_sorted
    return HolmResult(
        tuple(values.tolist()), tuple(adjusted.tolist()), tuple(bool(a <= alpha) for a in adjusted), alpha
    )
