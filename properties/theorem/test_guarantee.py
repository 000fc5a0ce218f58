"""Theorem 1's probability guarantee as sequential binomial tests, with negative controls that
must fail the same test. Error rates and their budget: `properties/theorem/budget.py`."""

from __future__ import annotations

import pytest

from mbp_verify.suite import Inconclusive, mbp_property

from .budget import (
    ALPHA,
    CONTROL_POWER_AT,
    CONTROL_SHARE,
    DELTA,
    EPS,
    EPS_MARGIN,
    GUARANTEE_POWER_AT,
    GUARANTEE_SHARE,
    GUARANTEE_WIDTHS,
    ITEM_LEVEL,
    run_item,
)

ALL_WIDTHS = sorted({w for widths in GUARANTEE_WIDTHS.values() for w in widths})


def _record(evidence: dict, result) -> None:
    cell = result.verdict.cells[0]
    evidence.update(
        status=cell.status,
        n=cell.n,
        k_violated=cell.k_violated,
        k_unknown=cell.k_unknown,
        ci=[round(v, 6) for v in cell.ci],
        level=ITEM_LEVEL,
        max_upper=max(o.upper for o in result.cells[0].outcomes),
        max_lower=max(o.lower for o in result.cells[0].outcomes),
    )


@mbp_property(
    id="theorem.guarantee_holds",
    statement=f"in the regime (square ReLU nets, depth 3, alpha={ALPHA}, uniform weights) MBP is eps-close with "
    f"probability >= 1 - delta: the CP upper bound on P(not certified) is below delta={DELTA} (eps={EPS})",
    source="Theorem 1; docs/design.md section 4 (guarantee test)",
    false_failure=GUARANTEE_SHARE,
)
@pytest.mark.parametrize("width", ALL_WIDTHS)
def test_guarantee_holds(width, mbp_root_seed, mbp_profile, mbp_evidence):
    if width not in GUARANTEE_WIDTHS[mbp_profile]:
        pytest.skip(f"width {width} runs in larger profiles than {mbp_profile}")
    result = run_item(width, mbp_root_seed)
    _record(mbp_evidence, result)
    cell = result.verdict.cells[0]
    mbp_evidence.update(
        power_at_p=GUARANTEE_POWER_AT, power=result.verdict.design.guarantee.crossing_probability(GUARANTEE_POWER_AT)
    )
    assert cell.status != "fail", f"Theorem 1's guarantee refuted at d={width}: {cell.statement()}"
    assert cell.status == "pass", f"guarantee not established at d={width}: {cell.statement()}"
    assert EPS >= EPS_MARGIN * mbp_evidence["max_upper"], (
        "eps is too close to the certified bounds for the stated power"
    )


CONTROLS = {
    "far_below_regime": dict(width=8, eps=0.01),
    "largest_weights_pruned": dict(width=64, pruning="largest"),
    "heavy_tailed_weights": dict(width=64, weights="cauchy"),
}


@mbp_property(
    id="theorem.negative_controls_refuted",
    statement="the same test refutes the guarantee (CP lower bound on P(violated) above delta) for widths far below "
    "the regime with a tiny eps, a pruner removing the largest weights, and heavy-tailed weights violating (iii)",
    source="docs/design.md section 4 (negative controls must fail); Theorem 1 hypotheses (ii), (iii)",
    false_failure=CONTROL_SHARE,
)
@pytest.mark.parametrize("control", sorted(CONTROLS))
def test_negative_control_is_refuted(control, mbp_root_seed, mbp_evidence):
    settings = dict(CONTROLS[control])
    result = run_item(settings.pop("width"), mbp_root_seed, **settings)
    _record(mbp_evidence, result)
    power = result.verdict.design.refutation.crossing_probability(CONTROL_POWER_AT)
    mbp_evidence.update(power_at_p=CONTROL_POWER_AT, power=power)
    cell = result.verdict.cells[0]
    if cell.status == "inconclusive":
        raise Inconclusive(f"control {control} neither refuted nor established: {cell.statement()}")
    assert cell.status == "fail", f"control {control} was not refuted: {cell.statement()}"
