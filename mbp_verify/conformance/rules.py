"""The rules a pruner declares (DESIGN.md section 3), so the suite can hold it to them.

Real libraries disagree on how a fraction becomes a count, which tied entry goes first,
where NaN ranks, whether re-pruning counts from the total or from what remains, and whether
a layer may be pruned away entirely. A pruner therefore *declares* its rules; the suite
checks the rule-independent invariants and conformance to the declaration.

Declarations come from a `PrunerRules` object, a dict, an `mbp_rules` attribute on the
pruner, or the text form used on the command line: `"tie=any,nan=largest,min_kept=1"`.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields, replace
from fractions import Fraction
from typing import Any, Mapping

from ..engine.counts import ROUNDING_RULES, prune_count_from_pruned_fraction
from ..errors import InputError

__all__ = ["PrunerRules", "RULE_CHOICES", "parse_rules", "coerce_rules", "count_rule_parts", "count_from_fraction"]

_COUNT_RULES = tuple(ROUNDING_RULES) + tuple(f"float:{r}" for r in ROUNDING_RULES)

RULE_CHOICES: dict[str, tuple[str, ...]] = {
    "ranking": ("magnitude", "random"),
    "tie": ("index", "any"),
    "nan": ("raise", "largest", "smallest", "raise_or_largest"),
    "count": _COUNT_RULES,
    "count_base": ("total", "remaining"),
    "scope": ("layer", "global"),
    "collapse": ("allowed", "prevented"),
}

_MEANINGS = {
    "ranking": "magnitude: prunes the smallest |w|; random: a random subset of the same count",
    "tie": "index: among equal |w| the smaller flat C-order index is pruned first; any: any tied entry",
    "nan": "raise: NaN input raises; largest/smallest: NaN ranks above/below every number; "
           "raise_or_largest: either (the spec's two allowed policies)",
    "count": "fraction -> count rounding of the exact decimal (floor, ceil, half_even, half_up, "
             "half_down), or 'float:<rule>' applied to the float product fraction*D",
    "count_base": "re-pruning with a second count: 'remaining' prunes that many more, "
                  "'total' means the second count is the new total",
    "scope": "layer: one array at a time; global: one threshold across a list of arrays",
    "collapse": "global scope: 'allowed' may prune a whole layer; 'prevented' keeps >= 1 entry per layer",
    "min_kept": "the pruner never keeps fewer than this many entries (JaxPruner keeps 1)",
}


@dataclass(frozen=True)
class PrunerRules:
    """A pruner's declared rules; the defaults are the spec's rule-independent minimum."""

    ranking: str = "magnitude"
    tie: str = "any"
    nan: str = "raise_or_largest"
    count: str = "half_even"
    count_base: str = "remaining"
    scope: str = "layer"
    collapse: str = "allowed"
    min_kept: int = 0

    def __post_init__(self) -> None:
        for name, choices in RULE_CHOICES.items():
            value = getattr(self, name)
            if value not in choices:
                raise InputError(f"rule {name}={value!r} is not one of: {', '.join(choices)}")
        if isinstance(self.min_kept, bool) or not isinstance(self.min_kept, int) or self.min_kept < 0:
            raise InputError(f"rule min_kept must be a non-negative integer, got {self.min_kept!r}")

    def expected_pruned(self, n_prune: int, size: int) -> int:
        """How many entries a conforming pruner prunes when asked for `n_prune` of `size`."""
        return max(0, min(n_prune, size - self.min_kept))

    def with_overrides(self, overrides: Mapping[str, Any]) -> "PrunerRules":
        return coerce_rules(overrides, base=self)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_text(self) -> str:
        return ",".join(f"{k}={v}" for k, v in self.to_dict().items())

    @staticmethod
    def meanings() -> dict[str, str]:
        return dict(_MEANINGS)


def count_rule_parts(rule: str) -> tuple[str, str]:
    """('exact' | 'float', rounding) of a declared count rule."""
    if rule.startswith("float:"):
        return "float", rule.split(":", 1)[1]
    return "exact", rule


def parse_rules(text: str, base: "PrunerRules | None" = None) -> PrunerRules:
    """Parse `"tie=any,nan=largest,min_kept=1"` on top of `base` (default rules)."""
    overrides: dict[str, Any] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        if "=" not in part:
            raise InputError(f"rules must be written key=value[,key=value...], got {part!r}")
        key, value = (s.strip() for s in part.split("=", 1))
        overrides[key] = value
    return coerce_rules(overrides, base=base)


def coerce_rules(value: "PrunerRules | Mapping[str, Any] | str | None", base: "PrunerRules | None" = None) -> PrunerRules:
    """Rules from a PrunerRules, a mapping or the text form, on top of `base`."""
    start = base if base is not None else PrunerRules()
    if value is None:
        return start
    if isinstance(value, PrunerRules):
        return value
    if isinstance(value, str):
        return parse_rules(value, start)
    if not isinstance(value, Mapping):
        raise InputError(f"rules must be a PrunerRules, a dict or 'key=value,...' text, got {type(value).__name__}")
    known = {f.name for f in fields(PrunerRules)}
    unknown = sorted(set(value) - known)
    if unknown:
        raise InputError(f"unknown rule(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    clean: dict[str, Any] = {}
    for key, item in value.items():
        if key == "min_kept":
            try:
                clean[key] = int(item)
            except (TypeError, ValueError):
                raise InputError(f"rule min_kept must be an integer, got {item!r}") from None
        else:
            clean[key] = str(item)
    return replace(start, **clean)


def count_from_fraction(rule: str, size: int, fraction: float) -> int:
    """The count a pruner following `rule` prunes for `fraction` of `size` entries.

    `half_even` etc. round the exact decimal (0.7 * 45 = 31.5 -> 32); `float:half_even`
    rounds the float product as Python computes it (0.7 * 45 = 31.499999999999996 -> 31),
    which is what `round(amount * n)` in torch.nn.utils.prune does.
    """
    arithmetic, rounding = count_rule_parts(rule)
    if arithmetic == "exact":
        return prune_count_from_pruned_fraction(size, fraction, rounding)
    value = Fraction(float(fraction) * size)
    if rounding == "floor":
        return math.floor(value)
    if rounding == "ceil":
        return math.ceil(value)
    if rounding == "half_even":
        return round(value)
    if rounding == "half_up":
        return math.floor(value + Fraction(1, 2))
    if rounding == "half_down":
        return math.ceil(value - Fraction(1, 2))
    raise InputError(f"unknown rounding {rounding!r}")
