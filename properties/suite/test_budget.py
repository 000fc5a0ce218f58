"""The whole suite's false-failure budget: the statistical properties' own budgets add up to <= 1e-4.

Every other property is a deterministic check (Hypothesis runs derandomised; soundness checks
fail only on a real counterexample), so a correct engine can fail a run by bad luck only through
the statistical properties of `properties/theorem` and `properties/audit`, each with its budget
computed in its own `budget.py` (and re-checked by `theorem.false_failure_budget`).
"""

from __future__ import annotations

from mbp_verify.suite import mbp_property

from ..audit import budget as audit_budget
from ..theorem import budget as theorem_budget

SUITE_FALSE_FAILURE_RATE = 1e-4


@mbp_property(
    id="suite.false_failure_budget",
    statement=f"the statistical properties' budgets add up to <= {SUITE_FALSE_FAILURE_RATE:g}: a correct engine fails "
              "a run by bad luck with at most that probability",
    source="DESIGN.md section 4 (a correct implementation fails with probability <= 1e-4 per CI run)",
)
def test_suite_budget(mbp_evidence):
    parts = {"theorem": theorem_budget.FALSE_FAILURE_RATE, "audit": audit_budget.FALSE_FAILURE_RATE}
    assert audit_budget.MAX_CHECKS * (1.0 - audit_budget.CHECK_CONFIDENCE) <= audit_budget.FALSE_FAILURE_RATE * (1 + 1e-9)
    mbp_evidence.update(parts=parts, total=sum(parts.values()))
    assert sum(parts.values()) <= SUITE_FALSE_FAILURE_RATE * (1 + 1e-9), parts
