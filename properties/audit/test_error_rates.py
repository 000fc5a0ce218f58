"""The audit's verdict on hypothesis (iii) has the error rates it states: at most the level on iid
uniform layers (any scale, any shape), and power >= 0.99 against iid Gaussian layers of width 256.
Budget and trial counts: `properties/audit/budget.py`."""

from __future__ import annotations

from mbp_verify.audit import FAMILY, audit_layer
from mbp_verify.audit.marginal import uniform_magnitudes_test
from mbp_verify.seeding import rng_for, seed_sequence
from mbp_verify.statistics.binomial import guarantee_test, refutation_test
from mbp_verify.suite import mbp_property

from .budget import (
    CALIBRATION_SHAPES,
    CALIBRATION_TRIALS,
    CHECK_CONFIDENCE,
    LEVEL,
    POWER_DRAWS,
    POWER_FULL_AUDITS,
    share,
)

POWER_TARGET = {"mbp-quick": 0.96, "mbp-default": 0.99, "mbp-thorough": 0.99}
POWER_WIDTH = 256
CONTROL_DRAWS = 60


@mbp_property(
    id="audit.iii_calibrated",
    statement=f"on iid uniform layers of any scale and shape, the audit rejects (iii) at rate <= level {LEVEL} "
    "(Holm over the layer's tests; >= 200 audits, CP lower bound not above the level); the uncorrected "
    "rule 'any raw p <= level' is flagged by the same check",
    source="docs/design.md section 4 (stated error rates, negative controls)",
    false_failure=share(2),
)
def test_iii_is_calibrated(mbp_root_seed, mbp_profile, mbp_evidence):
    trials = CALIBRATION_TRIALS[mbp_profile]
    rejected = uncorrected = 0
    for trial in range(trials):
        rng = rng_for(mbp_root_seed, "audit.iii_calibrated", trial)
        half_width = 10.0 ** rng.uniform(-3.0, 1.0)  # the audit estimates the scale: any scale must do
        weights = rng.uniform(-half_width, half_width, CALIBRATION_SHAPES[trial % len(CALIBRATION_SHAPES)])
        audit = audit_layer(
            weights, name="W", seed=seed_sequence(mbp_root_seed, "audit.iii_calibrated.draws", trial), level=LEVEL
        )
        rejected += audit.status == "rejected"
        uncorrected += min(t.pvalue for t in audit.tests) <= LEVEL
    verdict = refutation_test(rejected, trials, LEVEL, CHECK_CONFIDENCE)
    control = refutation_test(uncorrected, trials, LEVEL, CHECK_CONFIDENCE)
    mbp_evidence.update(
        audits=trials,
        rejected=rejected,
        rate=rejected / trials,
        cp_lower=verdict.bound,
        confidence=CHECK_CONFIDENCE,
        uncorrected_rejected=uncorrected,
        uncorrected_cp_lower=control.bound,
    )
    assert not verdict.rejected, f"(iii) rejects iid uniform layers too often: {verdict.statement()}"
    assert control.rejected, f"negative control not flagged: {control.statement()}"


@mbp_property(
    id="audit.iii_power_gaussian",
    statement=f"iid Gaussian layers of width {POWER_WIDTH} are rejected with power >= 0.99 (>= 0.96 in the quick "
    "profile): the exact uniformity test alone reaches Holm's first threshold level/|family|, certified by a "
    "CP upper bound on the miss rate; full audits agree; iid uniform layers cannot pass the same check",
    source="docs/design.md section 4 (stated error rates: power of the audit)",
    false_failure=share(3),  # the certified power, its control, and the full audits
)
def test_iii_power_against_gaussian(mbp_root_seed, mbp_profile, mbp_evidence):
    draws, target = POWER_DRAWS[mbp_profile], POWER_TARGET[mbp_profile]
    threshold = LEVEL / len(FAMILY)  # Holm rejects the family once one p-value is below this

    def misses(kind: str, count: int) -> int:
        total = 0
        for trial in range(count):
            rng = rng_for(mbp_root_seed, f"audit.iii_power_gaussian.{kind}", trial)
            w = (
                rng.standard_normal((POWER_WIDTH, POWER_WIDTH))
                if kind == "gaussian"
                else rng.uniform(-1.0, 1.0, (POWER_WIDTH, POWER_WIDTH))
            )
            total += uniform_magnitudes_test(w).pvalue > threshold
        return total

    missed = misses("gaussian", draws)
    verdict = guarantee_test(missed, draws, 1.0 - target, CHECK_CONFIDENCE)
    control = guarantee_test(misses("uniform", CONTROL_DRAWS), CONTROL_DRAWS, 1.0 - target, CHECK_CONFIDENCE)
    full = [
        audit_layer(
            rng_for(mbp_root_seed, "audit.iii_power_gaussian.full", trial).standard_normal((POWER_WIDTH,) * 2),
            name="W",
            seed=seed_sequence(mbp_root_seed, "audit.iii_power_gaussian.draws", trial),
            level=LEVEL,
        )
        for trial in range(POWER_FULL_AUDITS[mbp_profile])
    ]
    mbp_evidence.update(
        draws=draws,
        missed=missed,
        power_lower_bound=1.0 - verdict.bound,
        target=target,
        full_audits=len(full),
        full_rejected=sum(a.status == "rejected" for a in full),
        control_missed=control.k,
        control_draws=CONTROL_DRAWS,
    )
    assert verdict.decision == "pass", f"power against Gaussian weights not established: {verdict.statement()}"
    assert all(a.status == "rejected" for a in full), "a full audit did not reject a Gaussian layer"
    assert control.decision != "pass", (
        f"negative control: iid uniform layers passed the power check: {control.statement()}"
    )
