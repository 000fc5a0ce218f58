"""Per-property results aggregated from pytest items, and the run summary."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from .property import STATUSES

__all__ = ["ItemResult", "PropertyResult", "aggregate", "combine_statuses", "run_exit_code"]

# Worst first: one failing item makes the property fail.
_PRECEDENCE = ("fail", "error", "inconclusive", "pass", "skip")


@dataclass(frozen=True)
class ItemResult:
    """One pytest item's outcome for a property (parametrised tests give several)."""

    property_id: str
    statement: str
    source: str
    tier: str
    nodeid: str
    status: str
    message: str = ""
    counterexample: "str | None" = None
    evidence: dict[str, Any] = field(default_factory=dict)
    duration_s: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ItemResult":
        return cls(**data)


@dataclass(frozen=True)
class PropertyResult:
    """A property's combined status over its items, with evidence and counterexample."""

    id: str
    statement: str
    source: str
    tier: str
    status: str
    items: tuple[ItemResult, ...]

    @property
    def counterexample(self) -> "str | None":
        for item in self.items:
            if item.status == self.status and item.counterexample:
                return item.counterexample
        return None

    @property
    def message(self) -> str:
        for item in self.items:
            if item.status == self.status and item.message:
                return item.message
        return ""

    @property
    def evidence(self) -> dict[str, Any]:
        if len(self.items) == 1:
            return dict(self.items[0].evidence)
        return {_case_name(item): item.evidence for item in self.items if item.evidence}

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "statement": self.statement,
            "source": self.source,
            "tier": self.tier,
            "status": self.status,
            "message": self.message,
            "evidence": self.evidence,
            "counterexample": self.counterexample,
            "items": [
                {"nodeid": i.nodeid, "status": i.status, "message": i.message, "duration_s": round(i.duration_s, 4)}
                for i in self.items
            ],
        }


def _case_name(item: ItemResult) -> str:
    return item.nodeid.split("[", 1)[1].rstrip("]") if "[" in item.nodeid else item.nodeid.rsplit("::", 1)[-1]


def combine_statuses(statuses: Iterable[str]) -> str:
    """The worst status by fail > error > inconclusive > pass > skip."""
    present = set(statuses)
    unknown = present - set(STATUSES)
    if unknown:
        raise ValueError(f"unknown statuses {sorted(unknown)}")
    for status in _PRECEDENCE:
        if status in present:
            return status
    return "skip"


def aggregate(items: Iterable[ItemResult]) -> list[PropertyResult]:
    """Group item results by property id (sorted by id, items by nodeid)."""
    groups: dict[str, list[ItemResult]] = {}
    for item in items:
        groups.setdefault(item.property_id, []).append(item)
    results = []
    for pid in sorted(groups):
        members = sorted(groups[pid], key=lambda i: i.nodeid)
        first = members[0]
        results.append(
            PropertyResult(
                pid,
                first.statement,
                first.source,
                first.tier,
                combine_statuses(i.status for i in members),
                tuple(members),
            )
        )
    return results


def run_exit_code(results: Iterable[PropertyResult]) -> int:
    """0 if every required property passed (or was skipped) and at least one property was not
    skipped, else 1: a run in which every property was skipped checked nothing."""
    results = list(results)
    for result in results:
        if result.tier == "required" and result.status in ("fail", "error", "inconclusive"):
            return 1
    return 1 if results and all(r.status == "skip" for r in results) else 0
