"""Hypotheses (i) and (ii) of Theorem 1 on an audited chain, and the shared verdict type.

(i) sigma_l is K_l-Lipschitz: decided by the symbolic derivation (`derive_lipschitz`), not by
statistics. (ii) d := min(d_1..d_{L-1}) >= max(d_0, d_L): read off the widths; the verdict names
every hidden layer whose width breaks it. Statuses are `consistent`, `rejected` or
`not_applicable` (e.g. (ii) for a single layer, or for matrices that do not chain).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from ..engine import parse_activation
from ..errors import InputError
from ..symbolic import derive_lipschitz

__all__ = ["Status", "HypothesisVerdict", "parse_activations", "activation_verdicts", "width_verdict"]

Status = Literal["consistent", "rejected", "not_applicable"]


@dataclass(frozen=True)
class HypothesisVerdict:
    """The status of one hypothesis, a one-line reason, and the numbers behind it."""

    hypothesis: str
    status: Status
    detail: str
    evidence: dict[str, Any] = field(default_factory=dict)

    @property
    def rejected(self) -> bool:
        return self.status == "rejected"

    def to_dict(self) -> dict[str, Any]:
        return {"status": self.status, "detail": self.detail, **self.evidence}


def parse_activations(text: "str | Sequence[str]", hidden: int) -> tuple[str, ...]:
    """One activation for every hidden layer ("relu"), or one per hidden layer ("relu,tanh")."""
    if isinstance(text, str):
        items = _split_top_level(text)
    else:
        items = [str(t).strip() for t in text]
    if not items or any(not item for item in items):
        raise InputError(f"--activation must name an activation (e.g. relu, or relu,tanh per layer), got {text!r}")
    for item in items:
        parse_activation(item)
    if len(items) == 1:
        return tuple(items * hidden)
    if len(items) != hidden:
        raise InputError(
            f"{len(items)} activations given for {hidden} hidden layers; give one, or one per hidden layer"
        )
    return tuple(items)


def _split_top_level(text: str) -> list[str]:
    """Split on commas outside parentheses: 'leaky_relu(a=0.2),tanh' -> two items."""
    items, depth, current = [], 0, ""
    for char in text:
        depth += char == "("
        depth -= char == ")"
        if char == "," and depth == 0:
            items.append(current.strip())
            current = ""
        else:
            current += char
    items.append(current.strip())
    return items


def activation_verdicts(activations: Sequence[str], names: Sequence[str]) -> tuple[HypothesisVerdict, ...]:
    """(i) for each layer: sigma_l after W_l (hidden layers), the identity after the last."""
    if len(activations) != len(names) - 1:
        raise InputError(f"{len(names)} layers need {len(names) - 1} hidden activations, got {len(activations)}")
    verdicts = []
    for spec in activations:
        derivation = derive_lipschitz(spec)
        evidence = {
            "activation": derivation.name,
            "lipschitz": derivation.lipschitz,
            "exact": derivation.exact,
            "sigma0": derivation.sigma0,
            "positively_homogeneous": derivation.positively_homogeneous,
        }
        if derivation.is_lipschitz:
            verdicts.append(
                HypothesisVerdict(
                    "i",
                    "consistent",
                    f"{derivation.name} is {derivation.lipschitz:.6g}-Lipschitz (symbolic derivation)",
                    evidence,
                )
            )
        else:
            verdicts.append(
                HypothesisVerdict("i", "rejected", f"{derivation.name} is not Lipschitz (sigma' unbounded)", evidence)
            )
    verdicts.append(
        HypothesisVerdict(
            "i",
            "consistent",
            "last layer is linear (identity, 1-Lipschitz)",
            {"activation": "identity", "lipschitz": 1.0},
        )
    )
    return tuple(verdicts)


def width_verdict(widths: Sequence[int], names: Sequence[str]) -> HypothesisVerdict:
    """(ii) on the chain with widths (d_0, ..., d_L) and layer names (W_1..W_L)."""
    dims = [int(d) for d in widths]
    if len(dims) != len(names) + 1:
        raise InputError(f"{len(names)} layers need {len(names) + 1} widths, got {len(dims)}")
    if len(dims) == 2:
        return HypothesisVerdict("ii", "not_applicable", "a single layer has no hidden width", {"widths": dims})
    hidden = dims[1:-1]
    need = max(dims[0], dims[-1])
    d = min(hidden)
    evidence = {
        "widths": dims,
        "d": d,
        "required": need,
        "breaking_layers": [names[i] for i, width in enumerate(hidden) if width < need],
    }
    if d >= need:
        return HypothesisVerdict("ii", "consistent", f"d = min(d_1..d_L-1) = {d} >= max(d_0, d_L) = {need}", evidence)
    breaking = ", ".join(f"{names[i]} (d_{i + 1} = {w})" for i, w in enumerate(hidden) if w < need)
    return HypothesisVerdict("ii", "rejected", f"d = {d} < max(d_0, d_L) = {need}: broken by {breaking}", evidence)
