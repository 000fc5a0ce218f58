"""The whole suite's false-failure budget, summed from the shares the properties declare.

Every deterministic property fails only on a real counterexample (Hypothesis runs derandomised;
soundness checks are exact), so a correct engine can fail a run by bad luck only through the
statistical properties, each of which declares its share on `mbp_property(false_failure=...)`
(computed in `properties/theorem/budget.py` and `properties/audit/budget.py`, and re-checked
against exact computations by `theorem.false_failure_budget`). The sum is taken over every
collected item, so adding a statistical property raises it without anyone updating a list.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from mbp_verify.suite import mbp_property
from mbp_verify.suite.budget import COLLECTED_FILES, COLLECTED_SHARES, FALSE_FAILURE_LIMIT, false_failure_budget

PROPERTIES = Path(__file__).resolve().parent.parent


@mbp_property(
    id="suite.false_failure_budget",
    statement=f"the false-failure shares declared by the statistical properties add up to <= {FALSE_FAILURE_LIMIT:g}: "
    "a correct engine fails a run by bad luck with at most that probability; one more share is flagged",
    source="docs/design.md section 4 (a correct implementation fails with probability <= 1e-4 per CI run)",
)
def test_suite_budget(request, mbp_evidence):
    collected = request.config.stash.get(COLLECTED_FILES, frozenset())
    missing = sorted(
        str(p.relative_to(PROPERTIES)) for p in PROPERTIES.rglob("test_*.py") if p.resolve() not in collected
    )
    if missing:
        pytest.skip(
            f"the budget needs the whole suite collected; not collected: {', '.join(missing[:3])}"
            f"{' ...' if len(missing) > 3 else ''}"
        )
    budget = false_failure_budget(request.config.stash[COLLECTED_SHARES])
    mbp_evidence.update(budget.to_dict())
    assert budget.statistical(), "no statistical property declares a share: the declarations were not collected"
    assert budget.holds, budget.statement()
    # Negative control: a further property whose share fills the remaining room and a little more is flagged.
    room = FALSE_FAILURE_LIMIT - budget.total
    assert not false_failure_budget({**budget.shares, "control.one_more": room * 1.01 + 1e-12}).holds
