"""The exact null distributions the audit relies on, and the iid predictions it compares with.

- the confidence interval for the uniform's half-width a (hence for the implied K) is exact:
  M / a ~ Beta(n, 1) gives coverage exactly 1 - level;
- Hogg's likelihood-ratio statistic for one K across layers is exactly chi-square(2(k - 1));
- iid uniform layers have sigma_1 ~ (K / sqrt 3)(1 + sqrt(d_min / d_max)) and a Marchenko–Pastur
  bulk (docs/design.md section 2), and so do Gaussian ones of the same variance (universality: the
  spectral tests do not see the marginal).
Budget: `properties/audit/budget.py`.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from mbp_verify.audit import common_scale_test, estimate_scale, spectrum_summary
from mbp_verify.seeding import rng_for
from mbp_verify.statistics.binomial import guarantee_test, refutation_test
from mbp_verify.suite import mbp_property

from .budget import CHECK_CONFIDENCE, EXACTNESS_TRIALS, LEVEL, share


@mbp_property(
    id="audit.implied_k_interval_exact",
    statement=f"the {1 - LEVEL:g} interval for the half-width a of U[-a, a] (so for K = a sqrt(max(d_l, d_l-1))) "
    f"misses "
    "at rate exactly the level: neither significantly above nor below; the point range [M, M(n+1)/n] is flagged",
    source="Theorem 1 hypothesis (iii); max|w| / a ~ Beta(n, 1)",
    false_failure=share(3),
)
def test_implied_K_interval_is_exact(mbp_root_seed, mbp_profile, mbp_evidence):
    trials = EXACTNESS_TRIALS[mbp_profile]
    missed = point_missed = 0
    for trial in range(trials):
        rng = rng_for(mbp_root_seed, "audit.implied_k_interval_exact", trial)
        rows, cols = (int(v) for v in rng.integers(1, 7, size=2))
        a = 10.0 ** rng.uniform(-2.0, 2.0)
        scale = estimate_scale(rng.uniform(-a, a, (rows, max(cols, 2))), 1.0 - LEVEL)
        low, high = scale.half_width_ci
        missed += not low <= a <= high
        point_missed += not scale.max_abs <= a <= scale.half_width
    above = refutation_test(missed, trials, LEVEL, CHECK_CONFIDENCE)
    below = guarantee_test(missed, trials, LEVEL, CHECK_CONFIDENCE)
    control = refutation_test(point_missed, trials, LEVEL, CHECK_CONFIDENCE)
    mbp_evidence.update(trials=trials, missed=missed, rate=missed / trials, point_range_missed=point_missed)
    assert not above.rejected, f"the interval misses too often: {above.statement()}"
    assert below.decision != "pass", f"the interval is conservative, not exact: {below.statement()}"
    assert control.rejected, f"negative control not flagged: {control.statement()}"


@mbp_property(
    id="audit.common_k_exact",
    statement=f"Hogg's test of one K across layers rejects iid uniform layers with a common K at rate <= {LEVEL} "
    "and flags layers whose K differ by 10%",
    source="Theorem 1 hypothesis (iii) (one K for all layers); Hogg (1956), exact chi-square(2(k-1))",
    false_failure=share(2),
)
def test_common_K_is_exact(mbp_root_seed, mbp_profile, mbp_evidence):
    trials = EXACTNESS_TRIALS[mbp_profile] // 4
    rejected = control_rejected = 0
    for trial in range(trials):
        rng = rng_for(mbp_root_seed, "audit.common_k_exact", trial)
        K = 10.0 ** rng.uniform(-1.0, 1.0)
        shapes = [tuple(int(v) for v in rng.integers(2, 20, size=2)) for _ in range(3)]
        layers = [rng.uniform(-1.0, 1.0, s) * K / math.sqrt(max(s)) for s in shapes]
        rejected += common_scale_test(layers).pvalue <= LEVEL
        skewed = [rng.uniform(-1.0, 1.0, (30, 30)) * K * f / math.sqrt(30) for f in (1.0, 1.1)]
        control_rejected += common_scale_test(skewed).pvalue <= LEVEL
    verdict = refutation_test(rejected, trials, LEVEL, CHECK_CONFIDENCE)
    control = refutation_test(control_rejected, trials, LEVEL, CHECK_CONFIDENCE)
    mbp_evidence.update(
        trials=trials, rejected=rejected, rate=rejected / trials, control_rate=control_rejected / trials
    )
    assert not verdict.rejected, f"the common-K test rejects a common K too often: {verdict.statement()}"
    assert control.rejected, f"negative control (K differing by 10%) not flagged: {control.statement()}"


@mbp_property(
    id="audit.iid_spectrum_predictions",
    statement="iid uniform and same-variance Gaussian layers have sigma_1 within 5% of (K/sqrt 3)(1 + "
    "sqrt(d_min/d_max)) "
    "and a bulk within KS distance 0.03 of Marchenko-Pastur; a rank-one spike of twice the edge is flagged",
    source="docs/design.md section 2 (facts measured by Monte Carlo); the audit's spectral predictions",
)
@pytest.mark.parametrize("shape", [(512, 512), (256, 1024), (1024, 256)])
def test_iid_spectrum_predictions(shape, mbp_root_seed, mbp_evidence):
    rng = rng_for(mbp_root_seed, "audit.iid_spectrum_predictions", shape[0] * 10_000 + shape[1])
    K = 1.7
    half = K / math.sqrt(max(shape))
    for name, w in (
        ("uniform", rng.uniform(-half, half, shape)),
        ("gaussian", rng.normal(0.0, half / math.sqrt(3), shape)),
    ):
        summary = spectrum_summary(w)
        ratio = summary.top / summary.predicted_top(K)
        mbp_evidence[name] = {"sigma_1_over_prediction": ratio, "mp_ks_distance": summary.mp_ks_distance}
        assert 0.95 <= ratio <= 1.02 and summary.mp_ks_distance < 0.03, (name, ratio, summary.mp_ks_distance)
    u, v = rng.standard_normal(shape[0]), rng.standard_normal(shape[1])
    spiked = spectrum_summary(w + 2.0 * summary.top * np.outer(u / np.linalg.norm(u), v / np.linalg.norm(v)))
    assert spiked.top / spiked.predicted_top(K) > 1.5 and spiked.fraction_above_edge > 0
