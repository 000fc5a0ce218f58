"""Exact one-sided binomial verdicts: Clopper–Pearson bounds and the two tests of a guarantee.

A guarantee "P(failure) < delta" is checked from k failures in n independent trials:

- **guarantee test** (H0: p >= delta): pass when the one-sided Clopper–Pearson *upper* bound on p
  lies below delta, i.e. p-value `P_delta(K <= k)` <= 1 - confidence;
- **refutation test** (H0: p <= delta): refuted when the one-sided Clopper–Pearson *lower* bound
  lies above delta, i.e. p-value `P_delta(K >= k)` <= 1 - confidence.

The bound and the p-value decide identically (the Clopper–Pearson bound is the inversion of the
exact binomial tail), so a verdict can be adjusted for multiplicity through its p-value.
scipy.stats owns the distributions (`beta.ppf`, `binom.cdf`, `binom.sf`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from scipy import stats

from .._validation import validate_integer, validate_probability
from ..errors import InputError

__all__ = [
    "CP_METHOD",
    "BinomialTest",
    "BinomialVerdict",
    "validate_counts",
    "clopper_pearson_upper",
    "clopper_pearson_lower",
    "tail_pvalue",
    "guarantee_test",
    "refutation_test",
]

CP_METHOD = "exact binomial, one-sided Clopper-Pearson"
BinomialTest = Literal["guarantee", "refutation"]


def validate_counts(k: int, n: int) -> tuple[int, int]:
    """Integers with 0 <= k <= n and n >= 1 (InputError otherwise)."""
    k, n = validate_integer(k, "event count k"), validate_integer(n, "trial count n", 1)
    if k > n:
        raise InputError(f"need 0 <= k <= n and n >= 1, got k={k}, n={n}")
    return k, n


def clopper_pearson_upper(k: int, n: int, confidence: float) -> float:
    """One-sided upper bound U with P(p <= U) >= confidence (exact, conservative)."""
    k, n = validate_counts(k, n)
    confidence = validate_probability(confidence, "confidence")
    if k == n:
        return 1.0
    return float(stats.beta.ppf(confidence, k + 1, n - k))


def clopper_pearson_lower(k: int, n: int, confidence: float) -> float:
    """One-sided lower bound L with P(p >= L) >= confidence (exact, conservative)."""
    k, n = validate_counts(k, n)
    confidence = validate_probability(confidence, "confidence")
    if k == 0:
        return 0.0
    return float(stats.beta.ppf(1.0 - confidence, k, n - k + 1))


def tail_pvalue(k: int, n: int, p: float, tail: Literal["lower", "upper"]) -> float:
    """Exact binomial tail: P_p(K <= k) ("lower") or P_p(K >= k) ("upper")."""
    k, n = validate_counts(k, n)
    p = validate_probability(p, "event probability p", closed=True)
    if tail == "lower":
        return float(stats.binom.cdf(k, n, p))
    if tail == "upper":
        return float(stats.binom.sf(k - 1, n, p))
    raise InputError(f"tail must be 'lower' or 'upper', got {tail!r}")


@dataclass(frozen=True)
class BinomialVerdict:
    """One exact binomial test of "P(event) vs delta" with its evidence (n, k, bound, p-value)."""

    test: BinomialTest
    n: int
    k: int
    delta: float
    confidence: float
    bound: float
    pvalue: float
    method: str = CP_METHOD

    @property
    def rejected(self) -> bool:
        """H0 rejected: the guarantee is established (guarantee test) or refuted (refutation test)."""
        return self.pvalue <= 1.0 - self.confidence

    @property
    def decision(self) -> str:
        if self.test == "guarantee":
            return "pass" if self.rejected else "inconclusive"
        return "fail" if self.rejected else "inconclusive"

    def statement(self) -> str:
        """One line a reader can check: the bound, its side, n, k, confidence and method."""
        side = "upper" if self.test == "guarantee" else "lower"
        relation = "<" if self.test == "guarantee" else ">"
        holds = self.bound < self.delta if self.test == "guarantee" else self.bound > self.delta
        return (
            f"{self.test}: {side} bound {self.bound:.4g} {relation if holds else 'not ' + relation} "
            f"delta={self.delta:g} (k={self.k} of n={self.n}, confidence {self.confidence:g}, {self.method})"
        )

    def to_dict(self) -> dict:
        return {
            "test": self.test,
            "n": self.n,
            "k": self.k,
            "delta": self.delta,
            "confidence": self.confidence,
            "bound": self.bound,
            "pvalue": self.pvalue,
            "decision": self.decision,
            "method": self.method,
        }


def guarantee_test(k_not_certified: int, n: int, delta: float, confidence: float) -> BinomialVerdict:
    """Pass when the CP upper bound on P(not certified) is below delta."""
    k, n = validate_counts(k_not_certified, n)
    delta = validate_probability(delta, "delta")
    return BinomialVerdict(
        "guarantee",
        n,
        k,
        delta,
        validate_probability(confidence, "confidence"),
        clopper_pearson_upper(k, n, confidence),
        tail_pvalue(k, n, delta, "lower"),
    )


def refutation_test(k_violated: int, n: int, delta: float, confidence: float) -> BinomialVerdict:
    """Refuted when the CP lower bound on P(violated) is above delta."""
    k, n = validate_counts(k_violated, n)
    delta = validate_probability(delta, "delta")
    return BinomialVerdict(
        "refutation",
        n,
        k,
        delta,
        validate_probability(confidence, "confidence"),
        clopper_pearson_lower(k, n, confidence),
        tail_pvalue(k, n, delta, "upper"),
    )
