"""Declaring formal properties and their outcomes.

A property is a pytest test decorated with `mbp_property(id=..., statement=..., source=...,
tier=...)`. Its status is one of `pass`, `fail`, `inconclusive`, `error`, `skip` (never
merged): an assertion failure is `fail`, `Inconclusive` is `inconclusive`, a crash of the
code under test (`CodeUnderTestError`, or any other exception) is `error`, `pytest.skip` is
`skip` with its reason.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Literal, TypeVar

import pytest

from ..errors import CodeUnderTestError, Inconclusive

__all__ = [
    "Status",
    "STATUSES",
    "Tier",
    "mbp_property",
    "Inconclusive",
    "CodeUnderTestError",
    "PROPERTY_ID_RE",
]

Status = Literal["pass", "fail", "inconclusive", "error", "skip"]
STATUSES: tuple[str, ...] = ("pass", "fail", "inconclusive", "error", "skip")
Tier = Literal["required", "advisory"]
PROPERTY_ID_RE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$")

F = TypeVar("F", bound=Callable[..., object])


def mbp_property(
    *, id: str, statement: str, source: str, tier: Tier = "required", false_failure: float = 0.0
) -> Callable[[F], F]:
    """Attach the property's stable id, one-line statement, source and tier to a test.

    `false_failure` is the property's share of the suite's false-failure budget: an upper bound on
    the probability, over the root seed, that it fails a correct implementation in one run (all
    its parametrised items together). Deterministic properties keep 0; every statistical one
    declares its share, and `suite.false_failure_budget` sums the shares of the collected suite.
    """
    if not PROPERTY_ID_RE.match(id):
        raise ValueError(f"property id {id!r} must be dotted lowercase, e.g. 'mask.exact_count'")
    if tier not in ("required", "advisory"):
        raise ValueError(f"tier must be 'required' or 'advisory', got {tier!r}")
    if isinstance(false_failure, bool) or not isinstance(false_failure, (int, float)) or not 0.0 <= false_failure < 1.0:
        raise ValueError(f"false_failure must be a probability in [0, 1), got {false_failure!r}")
    marker = pytest.mark.mbp_property(
        id=id, statement=statement, source=source, tier=tier, false_failure=float(false_failure)
    )

    def decorate(test: F) -> F:
        return marker(test)

    return decorate
