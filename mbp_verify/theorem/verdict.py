"""Verdicts of Theorem 1's guarantee from trial outcomes: per cell (width), then the family.

Per cell, two group-sequential exact binomial tests run on the same trials (docs/design.md section 4):

- guarantee: H0 P(not certified) >= delta; rejected -> `pass` (the guarantee holds there);
- refutation: H0 P(violated) <= delta; rejected -> `fail` (a replayed witness refutes it).

Each cell's design has level beta/m (m cells, beta = 1 - confidence), so a cell may stop at a
look as soon as either boundary is crossed, whatever the other cells do. The final sequential
p-values then go through Holm's procedure at beta, once per family (guarantee claims,
refutation claims): P(any false pass) <= beta and P(any false fail) <= beta, including the
sequential looks. The reported `ci` brackets q = P(not eps-close): its ends are one-sided
Clopper–Pearson bounds on P(violated) <= q <= P(not certified), each at confidence
1 - beta/(m K) (K looks), so all of them hold together with probability >= 1 - 2 beta.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .._validation import validate_integer, validate_probability
from ..errors import InputError
from ..statistics import (
    GroupSequentialDesign,
    clopper_pearson_lower,
    clopper_pearson_upper,
    equally_spaced_looks,
    group_sequential_design,
    holm,
)

__all__ = [
    "CELL_METHOD",
    "TheoremDesign",
    "CellVerdict",
    "FamilyVerdict",
    "theorem_design",
    "failure_counts",
    "decide_family",
]

CELL_METHOD = (
    "group-sequential exact binomial tests (Clopper-Pearson duality): guarantee on P(not certified), "
    "refutation on P(violated); Holm across cells"
)


@dataclass(frozen=True, eq=False)
class TheoremDesign:
    """The sequential design shared by every cell of a family."""

    delta: float
    confidence: float
    family_size: int
    guarantee: GroupSequentialDesign
    refutation: GroupSequentialDesign

    @property
    def looks(self) -> tuple[int, ...]:
        return self.guarantee.looks

    @property
    def n_max(self) -> int:
        return self.looks[-1]

    @property
    def min_trials_to_pass(self) -> "int | None":
        """The first look at which zero failures establish the guarantee (None: never)."""
        return next((n for j, n in enumerate(self.looks) if self.guarantee.crosses(j, 0)), None)

    def should_stop(self, look: int, k_not_certified: int, k_violated: int) -> bool:
        """Stop a cell at `look` once either boundary is crossed (or at the last look)."""
        return (
            look == len(self.looks) - 1
            or self.guarantee.crosses(look, k_not_certified)
            or self.refutation.crosses(look, k_violated)
        )

    def to_dict(self) -> dict:
        return {
            "delta": self.delta,
            "confidence": self.confidence,
            "family_size": self.family_size,
            "looks": list(self.looks),
            "per_cell_level": self.guarantee.level,
            "guarantee": self.guarantee.to_dict(),
            "refutation": self.refutation.to_dict(),
            "min_trials_to_pass": self.min_trials_to_pass,
        }


def theorem_design(delta: float, confidence: float, n_max: int, looks: int, family_size: int) -> TheoremDesign:
    """Looks equally spaced up to n_max; both tests at level (1 - confidence) / family_size."""
    delta = validate_probability(delta, "delta")
    confidence = validate_probability(confidence, "confidence")
    family_size = validate_integer(family_size, "family size", 1)
    schedule = equally_spaced_looks(n_max, looks)
    level = (1.0 - confidence) / family_size
    return TheoremDesign(
        delta,
        confidence,
        family_size,
        group_sequential_design(schedule, delta, level, "below"),
        group_sequential_design(schedule, delta, level, "above"),
    )


@dataclass(frozen=True)
class CellVerdict:
    """Status of one cell with its counts, interval and the p-values behind the decision."""

    label: str
    status: str
    n: int
    k_violated: int
    k_unknown: int
    ci: tuple[float, float]
    ci_confidence: float
    guarantee_pvalue: float
    refutation_pvalue: float
    guarantee_adjusted: float
    refutation_adjusted: float
    delta: float
    confidence: float
    method: str = CELL_METHOD

    @property
    def k_not_certified(self) -> int:
        return self.k_violated + self.k_unknown

    def statement(self) -> str:
        """One line with the status, n, the counts, the interval and the Holm-adjusted p-values."""
        return (
            f"{self.label}: {self.status} - n={self.n}, not certified {self.k_not_certified} "
            f"(violated {self.k_violated}, unknown {self.k_unknown}); P(not eps-close) in "
            f"[{self.ci[0]:.3g}, {self.ci[1]:.3g}] vs delta={self.delta:g}; Holm-adjusted p: guarantee "
            f"{self.guarantee_adjusted:.3g}, refutation {self.refutation_adjusted:.3g} (level {1 - self.confidence:g})"
        )

    def to_dict(self) -> dict:
        return {
            "label": self.label,
            "status": self.status,
            "n": self.n,
            "k_violated": self.k_violated,
            "k_unknown": self.k_unknown,
            "k_not_certified": self.k_not_certified,
            "ci": list(self.ci),
            "ci_confidence": self.ci_confidence,
            "delta": self.delta,
            "confidence": self.confidence,
            "method": self.method,
            "pvalues": {
                "guarantee": self.guarantee_pvalue,
                "refutation": self.refutation_pvalue,
                "guarantee_holm": self.guarantee_adjusted,
                "refutation_holm": self.refutation_adjusted,
            },
        }


@dataclass(frozen=True)
class FamilyVerdict:
    """All cells' verdicts under one design; `holds` when every cell passed."""

    design: TheoremDesign
    cells: tuple[CellVerdict, ...]

    @property
    def holds(self) -> bool:
        return all(c.status == "pass" for c in self.cells)

    @property
    def refuted(self) -> bool:
        return any(c.status == "fail" for c in self.cells)

    def to_dict(self) -> dict:
        return {
            "holds": self.holds,
            "refuted": self.refuted,
            "design": self.design.to_dict(),
            "method": CELL_METHOD,
            "cells": [c.to_dict() for c in self.cells],
        }


def failure_counts(outcomes: Sequence[str]) -> tuple[int, int]:
    """(not certified, violated) among trial outcomes."""
    return sum(o != "certified" for o in outcomes), sum(o == "violated" for o in outcomes)


def decide_family(design: TheoremDesign, labels: Sequence[str], outcomes: Sequence[Sequence[str]]) -> FamilyVerdict:
    """Verdicts from each cell's outcomes in trial-index order (lengths must end on a look)."""
    if not isinstance(design, TheoremDesign):
        raise InputError(f"decide_family needs a TheoremDesign (see theorem_design), got {type(design).__name__}")
    if len(labels) != len(outcomes) or len(labels) != design.family_size:
        raise InputError(
            f"the design covers {design.family_size} cells; got {len(labels)} labels and {len(outcomes)} sequences"
        )
    guarantee_p, refutation_p, counts = [], [], []
    for label, seq in zip(labels, outcomes):
        if len(seq) not in design.looks:
            raise InputError(f"cell {label}: {len(seq)} outcomes do not end on a look {list(design.looks)}")
        bad = set(seq) - {"certified", "violated", "unknown"}
        if bad:
            raise InputError(f"cell {label}: unknown outcomes {sorted(bad)}")
        not_certified, violated = zip(*(failure_counts(seq[:n]) for n in design.looks if n <= len(seq)))
        guarantee_p.append(design.guarantee.pvalue(not_certified))
        refutation_p.append(design.refutation.pvalue(violated))
        counts.append((len(seq), violated[-1], not_certified[-1] - violated[-1]))
    beta = 1.0 - design.confidence
    g_holm, r_holm = holm(guarantee_p, beta), holm(refutation_p, beta)
    ci_confidence = 1.0 - beta / (design.family_size * len(design.looks))
    cells = []
    for i, (label, (n, k_v, k_u)) in enumerate(zip(labels, counts)):
        status = "fail" if r_holm.rejected[i] else "pass" if g_holm.rejected[i] else "inconclusive"
        ci = (clopper_pearson_lower(k_v, n, ci_confidence), clopper_pearson_upper(k_v + k_u, n, ci_confidence))
        cells.append(
            CellVerdict(
                label,
                status,
                n,
                k_v,
                k_u,
                ci,
                ci_confidence,
                guarantee_p[i],
                refutation_p[i],
                g_holm.adjusted[i],
                r_holm.adjusted[i],
                design.delta,
                design.confidence,
            )
        )
    return FamilyVerdict(design, tuple(cells))
