"""Per-cell sequential verdicts and Holm across cells, on synthetic outcome sequences."""

import numpy as np
import pytest

from mbp_verify.errors import InputError
from mbp_verify.seeding import rng_for
from mbp_verify.theorem import decide_family, theorem_design


def _design(cells=3, n_max=60, looks=2, delta=0.2, confidence=0.99):
    return theorem_design(delta, confidence, n_max, looks, cells)


def test_all_certified_passes_every_cell_and_states_its_evidence():
    design = _design()
    verdict = decide_family(design, ["a", "b", "c"], [["certified"] * 30] * 3)
    assert verdict.holds and not verdict.refuted
    cell = verdict.cells[0].to_dict()
    assert (cell["status"], cell["n"], cell["k_violated"], cell["k_unknown"]) == ("pass", 30, 0, 0)
    assert cell["ci"][0] == 0.0 and 0 < cell["ci"][1] < 0.2
    assert "n=30" in verdict.cells[0].statement()


def test_violations_refute_and_unknowns_are_inconclusive():
    design = _design()
    seqs = [["certified"] * 30, ["violated"] * 20 + ["certified"] * 10, ["unknown"] * 30 + ["certified"] * 30]
    verdict = decide_family(design, ["ok", "bad", "unsure"], seqs)
    assert [c.status for c in verdict.cells] == ["pass", "fail", "inconclusive"]
    assert verdict.refuted and not verdict.holds
    unsure = verdict.cells[2]
    assert unsure.k_unknown == 30 and unsure.k_violated == 0 and unsure.ci[0] == 0.0


def test_stopping_rule_stops_on_either_boundary_only():
    design = _design(cells=1, n_max=90, looks=3, delta=0.25, confidence=0.999)
    assert design.looks == (30, 60, 90)
    assert design.should_stop(0, 0, 0)  # no failures: the guarantee is established at once
    assert design.should_stop(0, 30, 30)  # all violated: refuted at once
    assert not design.should_stop(0, 8, 0)  # in between: keep going
    assert design.should_stop(2, 8, 0)  # the last look always stops
    assert design.min_trials_to_pass == 30


def test_holm_rescues_a_cell_that_bonferroni_alone_would_leave_inconclusive():
    # Two cells: one overwhelming pass, one borderline whose p-value is between level/2 and level.
    design = _design(cells=2, n_max=40, looks=1, delta=0.2, confidence=0.95)
    seqs = [["certified"] * 40, ["unknown"] * 3 + ["certified"] * 37]
    verdict = decide_family(design, ["strong", "borderline"], seqs)
    borderline = verdict.cells[1]
    assert 0.025 < borderline.guarantee_pvalue <= 0.05
    assert borderline.status == "pass" and borderline.guarantee_adjusted <= 0.05


def test_false_claims_are_controlled_familywise_at_the_worst_case_null():
    # Seeded meta-check: every cell at P(violated) = delta exactly (the hardest correct engine).
    design = _design(cells=4, n_max=60, looks=3, delta=0.2, confidence=0.9)
    rng = rng_for(20210701, "tests.theorem.verdict.familywise")
    false_fail = uncorrected = 0
    for _ in range(1500):
        seqs = [np.where(rng.random(60) < 0.2, "violated", "certified").tolist() for _ in range(4)]
        verdict = decide_family(design, list("abcd"), seqs)
        false_fail += verdict.refuted
        uncorrected += any(c.refutation_pvalue <= 0.1 for c in verdict.cells)
    bound = 0.1 + 4 * np.sqrt(0.1 * 0.9 / 1500)
    assert false_fail / 1500 <= bound
    # Negative control: the same cells without Holm (raw sequential p-values at 0.1) exceed the bound.
    assert uncorrected / 1500 > bound


@pytest.mark.parametrize(
    "labels,seqs",
    [
        (["a"], [["certified"] * 30]),
        (["a", "b", "c"], [["certified"] * 29] * 3),
        (["a", "b", "c"], [["certified"] * 30, ["certified"] * 30, ["maybe"] * 30]),
    ],
)
def test_bad_inputs(labels, seqs):
    with pytest.raises(InputError):
        decide_family(_design(), labels, seqs)


def test_decide_family_needs_a_design():
    with pytest.raises(InputError, match="TheoremDesign"):
        decide_family(None, ["a"], [["certified"] * 30])


def test_bad_design():
    with pytest.raises(InputError):
        theorem_design(0.2, 0.99, 60, 2, 0)
    for bad in (dict(family_size="x"), dict(family_size=1.5), dict(looks="x"), dict(n_max=None)):
        with pytest.raises(InputError):
            theorem_design(**{**dict(delta=0.2, confidence=0.99, n_max=60, looks=2, family_size=1), **bad})
    with pytest.raises(InputError):
        theorem_design(1.2, 0.99, 60, 2, 1)
