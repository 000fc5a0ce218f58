"""Scaling audit: how the sup error and the failure probability fall with the width d.

For each alpha, both bracket ends of each pruning rule's error are fitted against d (for a CNN
the channel count) on log-log axes (stratified bootstrap intervals): MBP should fall like
d^(-3 alpha) on square layers (the pruned entries are the smallest, ||E|| / ||W|| ~ p^(3/2) with
p = D^(-alpha) = d^(-2 alpha)), random pruning of the same count like d^(-alpha)
(||E|| / ||W|| ~ p^(1/2)), and the review's reading (keep only D^(-alpha)) not at all. These
predictions need every D_l ~ d^2; a CNN with fixed input channels (D_1 = c_0 d kh kw) gets
fits without a prediction. The width condition only promises
error <= C_2 d^(-alpha) and failure probability <= C_3 d^(-alpha); the audit reports the range
of C_2, C_3 consistent with the data and whether the measured rate is at least the theorem's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from .._validation import validate_integer, validate_probability
from ..errors import InputError
from ..seeding import rng_for
from ..statistics import SlopeFit, loglog_slope
from .sweep import CellResult, SweepResult
from .verdict import CellVerdict

__all__ = ["EXPECTED_EXPONENTS", "AlphaAudit", "ScalingAudit", "expected_slope", "scaling_audit"]

# slope of log(error) against log(d), in units of alpha, per pruning rule
EXPECTED_EXPONENTS = {"magnitude": -3.0, "random": -1.0, "review": 0.0}


def expected_slope(pruning: str, alpha: float) -> "float | None":
    """The theoretical log-log slope of the error for a pruning rule (None: no prediction)."""
    factor = EXPECTED_EXPONENTS.get(pruning)
    return None if factor is None else factor * alpha


@dataclass(frozen=True)
class AlphaAudit:
    """Fits and constants for one alpha (fits keyed e.g. 'magnitude_upper', 'random_lower').

    `c2`, `c3` are the first pruning rule's; `constants` holds every rule's when there are several.
    """

    alpha: float
    widths: tuple[int, ...]
    fits: dict[str, SlopeFit] = field(hash=False)
    expected: dict[str, float] = field(hash=False)
    tolerance: float
    c2: tuple[float, float]
    c3: tuple[float, float]
    constants: dict[str, dict[str, tuple[float, float]]] = field(default_factory=dict, hash=False)

    def within_tolerance(self, key: str) -> "bool | None":
        """|fitted slope - expected| <= tolerance (None when there is no fit or no prediction)."""
        if key not in self.fits or key not in self.expected:
            return None
        return self.fits[key].within(self.expected[key], self.tolerance)

    def at_least_theorem_rate(self, key: str) -> "bool | None":
        """Whether the fitted decay is at least d^(-alpha): the interval's upper end <= -alpha."""
        return None if key not in self.fits else self.fits[key].ci[1] <= -self.alpha

    def to_dict(self) -> dict:
        several = {"constants": {r: {k: list(v) for k, v in c.items()} for r, c in self.constants.items()}}
        return {
            "alpha": self.alpha,
            "widths": list(self.widths),
            "tolerance": self.tolerance,
            "slopes": {
                k: {
                    **fit.to_dict(),
                    "expected": self.expected.get(k),
                    "within_tolerance": self.within_tolerance(k),
                    "at_least_theorem_rate": self.at_least_theorem_rate(k),
                }
                for k, fit in self.fits.items()
            },
            "theorem_rate": -self.alpha,
            "C2": {
                "necessary": self.c2[0],
                "sufficient": self.c2[1],
                "meaning": "error <= C2 d^-alpha with probability >= 1 - delta at every width: C2 below "
                "'necessary' contradicts the witnesses, 'sufficient' is backed by the certified upper bounds",
            },
            "C3": {
                "necessary": self.c3[0],
                "sufficient": self.c3[1],
                "meaning": "P(not eps-close) <= C3 d^-alpha at every width: from the Clopper-Pearson ends of each "
                "width's interval (lower end: violated, upper end: not certified)",
            },
            **(several if self.constants else {}),
        }


@dataclass(frozen=True)
class ScalingAudit:
    pruning: str
    alphas: tuple[AlphaAudit, ...]

    def to_dict(self) -> dict:
        return {"pruning": self.pruning, "alphas": [a.to_dict() for a in self.alphas]}


def _quantile_scaled(cells: Sequence[CellResult], values: Sequence[np.ndarray], alpha: float, level: float) -> float:
    return max(float(np.quantile(v, level, method="higher")) * c.spec.width**alpha for c, v in zip(cells, values))


def _constants(
    picked: Sequence[tuple[CellResult, CellVerdict]], alpha: float, level: float
) -> dict[str, tuple[float, float]]:
    """C2 from the witnessed and certified ends' (1 - delta) quantiles, C3 from the verdicts' intervals."""
    cells = [c for c, _ in picked]
    return {
        "C2": (
            _quantile_scaled(cells, [c.ends("lower") for c in cells], alpha, level),
            _quantile_scaled(cells, [c.ends("upper") for c in cells], alpha, level),
        ),
        "C3": (
            max(v.ci[0] * c.spec.width**alpha for c, v in picked),
            max(v.ci[1] * c.spec.width**alpha for c, v in picked),
        ),
    }


def _audit_alpha(result: SweepResult, alpha: float, tolerance: float, n_boot: int, confidence: float) -> AlphaAudit:
    config = result.config
    families = {
        rule: [
            (c, v)
            for c, v in zip(result.cells, result.verdict.cells)
            if c.spec.alpha == alpha and c.spec.pruning == rule
        ]
        for rule in config.rules
    }
    first = families[config.rules[0]]
    cells = [c for c, _ in first]
    widths = [c.spec.width for c in cells]
    ends = {
        f"{rule}_{end}": [c.ends(end) for c, _ in picked]
        for rule, picked in families.items()
        for end in ("lower", "upper")
    }
    if "random" not in config.rules and all(c.ends("random_lower").size for c in cells):
        ends.update({f"random_{end}": [c.ends(f"random_{end}") for c in cells] for end in ("lower", "upper")})
    fits: dict[str, SlopeFit] = {}
    if len(cells) >= 2:
        for key, samples in ends.items():
            if all(np.all(s > 0) for s in samples):
                rng = rng_for(config.seed, f"theorem.scaling/{key}/alpha={alpha!r}")
                fits[key] = loglog_slope(widths, samples, rng=rng, n_boot=n_boot, confidence=confidence)
    expected = {}
    for key in ends if cells[0].spec.square_counts else ():
        slope = expected_slope(key.rsplit("_", 1)[0], alpha)
        if slope is not None:
            expected[key] = slope
    level = 1.0 - config.delta
    constants = {rule: _constants(picked, alpha, level) for rule, picked in families.items()}
    main = constants[config.rules[0]]
    several = constants if len(constants) > 1 else {}
    return AlphaAudit(alpha, tuple(widths), fits, expected, tolerance, main["C2"], main["C3"], several)


def scaling_audit(
    result: SweepResult, *, tolerance: float = 0.05, n_boot: int = 4000, confidence: float = 0.95
) -> ScalingAudit:
    """Fit every bracket end against d for each alpha of the sweep (bootstrap seeded from the sweep)."""
    if not isinstance(result, SweepResult):
        raise InputError(f"scaling_audit needs a SweepResult (see run_sweep), got {type(result).__name__}")
    if isinstance(tolerance, bool) or not isinstance(tolerance, (int, float)) or not 0 <= tolerance < float("inf"):
        raise InputError(f"tolerance must be a non-negative finite number, got {tolerance!r}")
    n_boot = validate_integer(n_boot, "n_boot", 100)
    confidence = validate_probability(confidence, "confidence")
    return ScalingAudit(
        result.config.pruning,
        tuple(_audit_alpha(result, a, tolerance, n_boot, confidence) for a in result.config.alphas),
    )
