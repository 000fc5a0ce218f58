"""The statistical budget of the audit properties: a correct audit fails a CI run by bad luck with
probability at most FALSE_FAILURE_RATE = 2e-5 (the theorem properties have 8e-5: 1e-4 in all).

Each of the MAX_CHECKS = 5 statistical checks in `properties/audit` is one exact binomial
(Clopper–Pearson) decision at CHECK_CONFIDENCE = 1 - 4e-6; the union bound gives 2e-5. Negative
controls are deterministic functions of their seeds and must be flagged by the same check.
Trial counts scale with the Hypothesis profile (`mbp_profile`); the claims they certify are
stated per profile where they differ.
"""

from __future__ import annotations

__all__ = ["FALSE_FAILURE_RATE", "CHECK_CONFIDENCE", "MAX_CHECKS", "LEVEL", "CALIBRATION_TRIALS", "POWER_DRAWS",
           "POWER_FULL_AUDITS", "EXACTNESS_TRIALS", "CALIBRATION_SHAPES"]

FALSE_FAILURE_RATE = 2e-5
CHECK_CONFIDENCE = 1 - 4e-6
MAX_CHECKS = 5
LEVEL = 0.05

# (iii) on iid uniform layers: at least 200 audits in every profile.
CALIBRATION_TRIALS = {"mbp-quick": 200, "mbp-default": 400, "mbp-thorough": 2000}
CALIBRATION_SHAPES = ((16, 24), (24, 16), (8, 48), (3, 40), (32, 32), (1, 50))
# Gaussian 256 x 256: with no miss, 1240 draws certify power >= 0.99 at confidence 1 - 4e-6 (320 certify >= 0.962).
POWER_DRAWS = {"mbp-quick": 320, "mbp-default": 1240, "mbp-thorough": 3000}
POWER_FULL_AUDITS = {"mbp-quick": 1, "mbp-default": 3, "mbp-thorough": 10}
# Cheap exact nulls (the K interval, Hogg's test).
EXACTNESS_TRIALS = {"mbp-quick": 2000, "mbp-default": 4000, "mbp-thorough": 20000}
