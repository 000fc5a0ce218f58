"""The suite's false-failure budget, summed from what each property declares.

A correct implementation must fail a run of the suite by bad luck with probability at most
`FALSE_FAILURE_LIMIT` (1e-4). Deterministic properties cannot fail by luck; every statistical
property declares its share with `mbp_property(false_failure=...)`. The shares are read off
the collected test items (before `-k`/`-m` deselection, so the sum bounds every selection) and
added up here: a new statistical property raises the sum by itself, and the budget property
fails once the sum exceeds the limit. Union bound: P(any property fails) <= sum of shares.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

__all__ = [
    "FALSE_FAILURE_LIMIT",
    "COLLECTED_SHARES",
    "COLLECTED_FILES",
    "BudgetResult",
    "declared_share",
    "collect_shares",
    "record_collection",
    "false_failure_budget",
]

FALSE_FAILURE_LIMIT = 1e-4
# Where the property suite's conftest keeps what it collected, for the budget property to read.
COLLECTED_SHARES = pytest.StashKey[dict]()
COLLECTED_FILES = pytest.StashKey[frozenset]()


def _marker_share(marker: Any) -> "tuple[str, float] | None":
    if marker is None or getattr(marker, "name", None) != "mbp_property":
        return None
    return str(marker.kwargs["id"]), float(marker.kwargs.get("false_failure", 0.0))


def declared_share(test: Callable[..., Any]) -> float:
    """The `false_failure` share declared on a decorated property function (0 when none)."""
    for marker in getattr(test, "pytestmark", []):
        found = _marker_share(marker)
        if found is not None:
            return found[1]
    raise ValueError(f"{getattr(test, '__name__', test)!r} is not decorated with mbp_property")


def collect_shares(items: Iterable[Any]) -> dict[str, float]:
    """One share per property id from pytest items; items of one property must agree."""
    shares: dict[str, float] = {}
    for item in items:
        found = _marker_share(item.get_closest_marker("mbp_property"))
        if found is None:
            continue
        property_id, share = found
        if shares.setdefault(property_id, share) != share:
            raise ValueError(f"property {property_id!r} declares two different false_failure shares")
    return shares


def record_collection(config: pytest.Config, items: Iterable[Any]) -> None:
    """Stash the collected items' shares and files (call before any deselection)."""
    items = list(items)
    config.stash[COLLECTED_SHARES] = collect_shares(items)
    config.stash[COLLECTED_FILES] = frozenset(Path(str(item.path)).resolve() for item in items)


@dataclass(frozen=True)
class BudgetResult:
    """The declared shares of the statistical properties, their sum and the limit it must respect."""

    shares: Mapping[str, float]
    limit: float

    @property
    def total(self) -> float:
        return math.fsum(self.shares.values())

    @property
    def holds(self) -> bool:
        return self.total <= self.limit

    def statistical(self) -> dict[str, float]:
        """The properties with a non-zero share, largest first."""
        return dict(sorted(((k, v) for k, v in self.shares.items() if v > 0), key=lambda kv: (-kv[1], kv[0])))

    def statement(self) -> str:
        relation = "<=" if self.holds else ">"
        return (
            f"false-failure shares of {len(self.statistical())} statistical properties sum to "
            f"{self.total:.4g} {relation} limit {self.limit:g}"
        )

    def to_dict(self) -> dict[str, Any]:
        return {"shares": self.statistical(), "total": self.total, "limit": self.limit, "holds": self.holds}


def false_failure_budget(shares: Mapping[str, float], limit: float = FALSE_FAILURE_LIMIT) -> BudgetResult:
    """Check the union bound: the declared shares add up to at most `limit`."""
    for property_id, share in shares.items():
        if not 0.0 <= share < 1.0:
            raise ValueError(f"property {property_id!r}: false_failure share {share!r} is not in [0, 1)")
    if not 0.0 < limit < 1.0:
        raise ValueError(f"limit must lie in (0, 1), got {limit!r}")
    return BudgetResult(dict(shares), float(limit))
