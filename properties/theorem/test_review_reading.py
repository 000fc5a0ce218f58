"""The review's reading "alpha specifies gamma_l = D^(-alpha)" (kept fraction) against Theorem 1's count."""

from __future__ import annotations

from mbp_verify.suite import mbp_property
from mbp_verify.theorem import run_sweep, scaling_audit

from .budget import ALPHA, EPS, ITEM_LEVEL, REVIEW_SHARE, item_config

WIDTHS = (16, 32, 64, 128)
TRIALS = 6
N_BOOT = 200_000  # a two-sided interval at 1 - 2 ITEM_LEVEL needs tails of 1e-5: 2 resamples each


@mbp_property(
    id="theorem.review_reading_error_does_not_vanish",
    statement="keeping only D^(-alpha) of each layer gives sup errors that do not fall with width (witnessed slope "
    "above -alpha/2, errors above eps at every width), while Theorem 1's count falls at least like d^(-alpha)",
    source="docs/design.md section 2 (the review swaps kept and pruned); Theorem 1",
    false_failure=REVIEW_SHARE,
)
def test_review_reading_error_does_not_vanish(mbp_root_seed, mbp_evidence):
    fits, worst = {}, {}
    for pruning in ("review", "magnitude"):
        config = item_config(WIDTHS[0], mbp_root_seed, widths=WIDTHS, trials=TRIALS, looks=1, pruning=pruning)
        result = run_sweep(config, workers=0)
        audit = scaling_audit(result, n_boot=N_BOOT, confidence=1.0 - 2 * ITEM_LEVEL).alphas[0]
        fits[pruning] = audit.fits
        worst[pruning] = min(min(o.lower for o in cell.outcomes) for cell in result.cells)
    review_lower, theorem_upper = fits["review"]["review_lower"], fits["magnitude"]["magnitude_upper"]
    mbp_evidence.update(
        review_lower_slope=review_lower.slope,
        review_lower_ci=list(review_lower.ci),
        theorem_upper_slope=theorem_upper.slope,
        theorem_upper_ci=list(theorem_upper.ci),
        review_min_witnessed_error=worst["review"],
        widths=list(WIDTHS),
        trials=TRIALS,
    )
    assert theorem_upper.ci[1] < -ALPHA, f"Theorem 1's count: certified error slope {theorem_upper.ci} not below -alpha"
    assert review_lower.ci[0] > -ALPHA / 2, f"review reading: witnessed error slope {review_lower.ci} falls with width"
    assert worst["review"] > EPS, "review reading: some witnessed error is below eps"
