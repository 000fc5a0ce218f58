"""Long sweeps (marker `slow`): error rates against width, and the guarantee beyond the theorem."""

from __future__ import annotations

import pytest

from mbp_verify.suite import mbp_property
from mbp_verify.theorem import run_sweep, scaling_audit

from .budget import DELTA, EPS, item_config

SCALING_WIDTHS = (64, 128, 256, 512, 1024)
SCALING_TRIALS = 10
TOLERANCE = 0.05


@pytest.mark.slow
@mbp_property(
    id="theorem.error_scaling_rates",
    statement="on square ReLU layers the certified sup error of MBP falls like d^(-3 alpha) and that of random "
    "pruning of the same count like d^(-alpha) (both bracket ends), fitted slopes within 0.05; "
    "both ends of MBP's bracket fall at least as fast as the theorem's d^(-alpha)",
    source="docs/design.md section 2 (measured facts: MBP ||E||/||W|| ~ p^(3/2), random ~ p^(1/2)); Theorem 1 (C_2 "
    "d^-alpha)",
)
@pytest.mark.parametrize("alpha", [0.2, 0.3])
def test_error_scaling_rates(alpha, mbp_root_seed, mbp_evidence):
    config = item_config(
        SCALING_WIDTHS[0],
        mbp_root_seed,
        alphas=(alpha,),
        widths=SCALING_WIDTHS,
        trials=SCALING_TRIALS,
        looks=1,
        random_trials=SCALING_TRIALS,
    )
    audit = scaling_audit(run_sweep(config, workers=0), tolerance=TOLERANCE).alphas[0]
    mbp_evidence.update(
        {
            key: {"slope": round(fit.slope, 4), "ci": [round(v, 4) for v in fit.ci], "expected": audit.expected[key]}
            for key, fit in audit.fits.items()
        }
    )
    mbp_evidence.update(C2=list(audit.c2), C3=list(audit.c3))
    for key in ("magnitude_upper", "random_lower", "random_upper"):
        assert audit.within_tolerance(key), (
            f"{key}: slope {audit.fits[key].slope:.3f}, expected {audit.expected[key]:.2f}"
        )
    for key in ("magnitude_lower", "magnitude_upper"):
        assert audit.at_least_theorem_rate(key), f"{key}: slower than the theorem's d^-{alpha}"
    # Negative control: random pruning's slope is not within tolerance of MBP's d^(-3 alpha).
    assert not audit.fits["random_upper"].within(audit.expected["magnitude_upper"], TOLERANCE)


BEYOND = {
    "gaussian_weights": dict(weights="gaussian"),
    "rectangular_layers": dict(shape="rectangular"),
    "tanh": dict(activation="tanh"),
    "sigmoid_sigma0_nonzero": dict(activation="sigmoid"),
    "softplus_sigma0_nonzero": dict(activation="softplus"),
    "depth_2": dict(depth=2),
    "depth_4": dict(depth=4),
    "depth_6": dict(depth=6),
}


@pytest.mark.slow
@mbp_property(
    id="theorem.guarantee_beyond_hypotheses",
    statement=f"outside the theorem's hypotheses (Gaussian weights, rectangular layers, smooth activations also with "
    f"sigma(0) != 0, depth 2-6) MBP's guarantee (eps={EPS}, delta={DELTA}) is not refuted at d = 64 and 128; "
    "the evidence records where it is established",
    source="Theorem 1 hypotheses (i)-(iii), probed beyond their letter",
    tier="advisory",
)
@pytest.mark.parametrize("variant", sorted(BEYOND))
def test_guarantee_beyond_hypotheses(variant, mbp_root_seed, mbp_evidence):
    result = run_sweep(item_config(64, mbp_root_seed, widths=(64, 128), **BEYOND[variant]), workers=0)
    cells = result.verdict.cells
    mbp_evidence.update(
        {
            c.label: {
                "status": c.status,
                "n": c.n,
                "k_violated": c.k_violated,
                "k_unknown": c.k_unknown,
                "max_lower": max(o.lower for o in r.outcomes),
                "max_upper": max(o.upper for o in r.outcomes),
            }
            for c, r in zip(cells, result.cells)
        }
    )
    refuted = [c.statement() for c in cells if c.status == "fail"]
    assert not refuted, "; ".join(refuted)
