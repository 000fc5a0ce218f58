"""Seeded meta-check of the theorem properties' own false-failure rate (budget.py)."""

from __future__ import annotations

import numpy as np
from scipy import stats

from mbp_verify.seeding import rng_for
from mbp_verify.suite import mbp_property
from mbp_verify.suite.budget import declared_share
from mbp_verify.theorem import theorem_design

from . import test_guarantee as guarantee  # modules: their tests are not re-collected
from . import test_review_reading as review
from .budget import CONTROL_POWER_AT, DELTA, GUARANTEE_POWER_AT, GUARANTEE_WIDTHS, ITEM_LEVEL, LOOKS, TRIALS

INFLATED_LEVEL = 0.02  # large enough for a Monte Carlo check of the exact computation
PATHS = 40_000


def _simulated_crossing(design, p: float, rng: np.random.Generator) -> float:
    """Fraction of simulated Bernoulli(p) paths that cross the design's boundary at some look."""
    events = np.cumsum(rng.random((PATHS, design.looks[-1])) < p, axis=1)
    crossed = np.zeros(PATHS, dtype=bool)
    for look, n in enumerate(design.looks):
        crossed |= np.array([design.crosses(look, int(k)) for k in range(n + 1)])[events[:, n - 1]]
    return float(crossed.mean())


@mbp_property(
    id="theorem.false_failure_budget",
    statement="each theorem property fails a correct engine by bad luck with probability at most the share it "
    "declares: "
    "exact sequential error and power shortfalls summed over its items, checked by seeded simulation",
    source="docs/design.md section 4 (thresholds so that a correct implementation fails with probability <= 1e-4)",
)
def test_false_failure_budget(mbp_root_seed, mbp_evidence):
    design = theorem_design(DELTA, 1.0 - ITEM_LEVEL, TRIALS, LOOKS, 1)
    guarantee_item = design.refutation.error_rate() + (1.0 - design.guarantee.crossing_probability(GUARANTEE_POWER_AT))
    control_item = 1.0 - design.refutation.crossing_probability(CONTROL_POWER_AT)
    widths = max(len(w) for w in GUARANTEE_WIDTHS.values())
    shares = {
        "theorem.guarantee_holds": (widths * guarantee_item, declared_share(guarantee.test_guarantee_holds)),
        "theorem.negative_controls_refuted": (
            len(guarantee.CONTROLS) * control_item,
            declared_share(guarantee.test_negative_control_is_refuted),
        ),
        "theorem.review_reading_error_does_not_vanish": (
            2 * ITEM_LEVEL,  # two-sided bootstrap intervals
            declared_share(review.test_review_reading_error_does_not_vanish),
        ),
    }
    assert max(design.refutation.error_rate(), design.guarantee.error_rate()) <= ITEM_LEVEL
    for property_id, (rate, share) in shares.items():
        assert rate <= share, (
            f"{property_id} may fail a correct engine with probability {rate:.3g} > its share {share:g}"
        )
    # The exact dynamic programme against simulation, at an inflated level where failures are seen.
    inflated = theorem_design(DELTA, 1.0 - INFLATED_LEVEL, TRIALS, LOOKS, 1)
    rng = rng_for(mbp_root_seed, "theorem.false_failure_budget")
    checks = {}
    for name, test in (("refutation", inflated.refutation), ("guarantee", inflated.guarantee)):
        simulated, computed = _simulated_crossing(test, DELTA, rng), test.error_rate()
        tolerance = 5 * np.sqrt(computed * (1 - computed) / PATHS)  # 5 sd: P(false alarm) < 1e-6
        # Negative control: a wrong computation (the last look's fixed-n rate, earlier looks ignored) is flagged.
        last = len(test.looks) - 1
        last_look_only = float(
            sum(
                stats.binom.pmf(k, test.looks[last], DELTA)
                for k in range(test.looks[last] + 1)
                if test.crosses(last, k)
            )
        )
        checks[name] = {"simulated": simulated, "exact": computed, "last_look_only": last_look_only}
        assert abs(simulated - computed) <= tolerance, f"{name}: simulated {simulated} vs exact {computed}"
        assert abs(simulated - last_look_only) > tolerance, f"{name}: the simulation cannot tell a wrong rate"
        assert computed <= INFLATED_LEVEL
    mbp_evidence.update(
        per_guarantee_item=guarantee_item,
        per_control_item=control_item,
        item_level=ITEM_LEVEL,
        computed_vs_declared={k: {"computed": r, "declared": d} for k, (r, d) in shares.items()},
        inflated_level_check=checks,
    )
