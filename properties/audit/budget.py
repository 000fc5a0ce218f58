"""The statistical budget of the audit properties.

Every statistical check in `properties/audit` is one exact binomial (Clopper–Pearson) decision at
CHECK_CONFIDENCE = 1 - 2e-6. A decision about a null rate (calibration, exactness) is wrong with
probability at most 1 - CHECK_CONFIDENCE; a decision that a negative control or a power target is
flagged is made at rates far from its threshold (the uncorrected rule rejects about a third of
uniform layers against the level 0.05: its shortfall over 200 audits is 4e-8 at a rate of 0.3), and
is budgeted the same amount. Each property declares `share(number of its decisions)` as its
`false_failure`; `suite.false_failure_budget` adds the shares of the whole suite. Trial counts
scale with the Hypothesis profile (`mbp_profile`); the claims they certify are stated per profile
where they differ.
"""

from __future__ import annotations

__all__ = [
    "PER_DECISION",
    "CHECK_CONFIDENCE",
    "share",
    "LEVEL",
    "CALIBRATION_TRIALS",
    "POWER_DRAWS",
    "POWER_FULL_AUDITS",
    "EXACTNESS_TRIALS",
    "CALIBRATION_SHAPES",
]

PER_DECISION = 2e-6
CHECK_CONFIDENCE = 1 - PER_DECISION
LEVEL = 0.05


def share(decisions: int) -> float:
    """The false-failure share of a property making `decisions` binomial decisions (union bound)."""
    return decisions * PER_DECISION


# (iii) on iid uniform layers: at least 200 audits in every profile.
CALIBRATION_TRIALS = {"mbp-quick": 200, "mbp-default": 400, "mbp-thorough": 2000}
CALIBRATION_SHAPES = ((16, 24), (24, 16), (8, 48), (3, 40), (32, 32), (1, 50))
# Gaussian 256 x 256: with no miss, 1310 draws certify power >= 0.99 at confidence 1 - 2e-6 (330 certify >= 0.96).
POWER_DRAWS = {"mbp-quick": 330, "mbp-default": 1310, "mbp-thorough": 3000}
POWER_FULL_AUDITS = {"mbp-quick": 1, "mbp-default": 3, "mbp-thorough": 10}
# Cheap exact nulls (the K interval, Hogg's test).
EXACTNESS_TRIALS = {"mbp-quick": 2000, "mbp-default": 4000, "mbp-thorough": 20000}
