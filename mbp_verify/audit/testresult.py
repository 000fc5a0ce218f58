"""One statistical test of the audit: statistic, p-value, method and effect sizes.

Every test of hypothesis (iii) returns an `AuditTestResult`; a layer's family of them is corrected by
Holm (`mbp_verify.statistics.multiple.holm`) before any verdict. `component` groups the tests
into what (iii) asserts: `uniform` (the marginal is uniform on a symmetric interval), `symmetric`
(signs are fair coins independent of magnitudes) and `iid` (entries independent and identically
distributed: rows, columns, spectrum).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from ..reports.atomic import json_ready
from ..statistics.montecarlo import MonteCarloResult

__all__ = ["Component", "COMPONENTS", "AuditTestResult"]

Component = Literal["uniform", "symmetric", "iid"]
COMPONENTS: tuple[str, ...] = ("uniform", "symmetric", "iid")


@dataclass(frozen=True)
class AuditTestResult:
    """A test's outcome before multiplicity correction (Holm is applied per layer)."""

    name: str
    component: Component
    statistic: float
    pvalue: float
    method: str
    effect: dict[str, Any] = field(default_factory=dict)
    null: "MonteCarloResult | None" = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "component": self.component,
            "statistic": self.statistic,
            "pvalue": self.pvalue,
            "method": self.method,
            "effect": dict(self.effect),
        }
        if self.null is not None:
            out["monte_carlo"] = {
                "draws": self.null.draws,
                "exceedances": self.null.exceedances,
                "null_mean": self.null.null_mean,
                "null_sd": self.null.null_sd,
                "standardized": self.null.standardized,
            }
        return json_ready(out)
