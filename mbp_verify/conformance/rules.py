"""The rules a pruner declares (docs/design.md section 3), so the suite can hold it to them.

Real libraries disagree on how a fraction becomes a count, which tied entry goes first,
where NaN ranks, whether re-pruning counts from the total or from what remains, and whether
a layer may be pruned away entirely. A pruner therefore *declares* its rules; the suite
checks the rule-independent invariants and conformance to the declaration.

Declarations come from a `PrunerRules` object, a dict, an `mbp_rules` attribute on the
pruner, or the text form used on the command line: `"tie=any,nan=largest,min_kept=1"`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace
from fractions import Fraction
from typing import Any

import numpy as np

from ..engine.counts import ROUNDING_RULES, prune_count_from_pruned_fraction
from ..errors import InputError

__all__ = [
    "PrunerRules",
    "RULE_CHOICES",
    "COUNT_RULES",
    "parse_rules",
    "coerce_rules",
    "count_rule_parts",
    "count_from_fraction",
    "fraction_for_count",
]

_COUNT_RULES = tuple(
    f"{target}{arith}{r}" for target in ("", "kept:") for arith in ("", "float:", "float32:") for r in ROUNDING_RULES
)

RULE_CHOICES: dict[str, tuple[str, ...]] = {
    "ranking": ("magnitude", "random"),
    "tie": ("index", "any", "keep_all_at_threshold"),
    "nan": ("raise", "largest", "smallest", "raise_or_largest"),
    "count": _COUNT_RULES,
    "cap": ("none", "d_minus_1_below_1"),
    "count_base": ("total", "remaining"),
    "revival": ("never", "allowed"),
    "scope": ("layer", "global"),
    "collapse": ("allowed", "prevented"),
}

_MEANINGS = {
    "ranking": "magnitude: prunes the smallest |w|; random: a random subset of the same count",
    "tie": "index: among equal |w| the smaller flat C-order index is pruned first; any: any tied entry; "
    "keep_all_at_threshold: every entry tied with the smallest kept |w| is kept, so the count falls "
    "short by exactly the tied entries (TF-MOT)",
    "nan": "raise: NaN input raises; largest/smallest: NaN ranks above/below every number; "
    "raise_or_largest: either (the spec's two allowed policies)",
    "count": "fraction -> count: '[kept:][float:|float32:]<rounding>'; rounding is floor, ceil, half_even, "
    "half_up or half_down; 'kept:' rounds the KEPT count D*(1-p) (TF-MOT), else the pruned count "
    "p*D; no prefix rounds the exact decimal, 'float:' the float64 product (torch: round(p*D)), "
    "'float32:' the float32 product (TF-MOT)",
    "cap": "d_minus_1_below_1: a fraction below 1 prunes at most D-1 entries (torch.ao); none: no cap",
    "count_base": "re-pruning with a second count: 'remaining' prunes that many more, "
    "'total' means the second count is the new total",
    "revival": "re-pruning with a smaller total: 'never' keeps earlier pruned entries pruned, "
    "'allowed' may revive them (torch.ao recomputes the mask)",
    "scope": "layer: one array at a time; global: one threshold across a list of arrays",
    "collapse": "global scope: 'allowed' may prune a whole layer; 'prevented' keeps >= 1 entry per layer",
    "min_kept": "the pruner never keeps fewer than this many entries (TF-MOT and JaxPruner keep 1)",
    "refuse": "fractions the fraction API refuses (raises on), '|'-separated, e.g. 'refuse=1.0' (TF-MOT); "
    "'none' for no refusal",
}


@dataclass(frozen=True)
class PrunerRules:
    """A pruner's declared rules; the defaults are the spec's rule-independent minimum."""

    ranking: str = "magnitude"
    tie: str = "any"
    nan: str = "raise_or_largest"
    count: str = "half_even"
    cap: str = "none"
    count_base: str = "remaining"
    revival: str = "never"
    scope: str = "layer"
    collapse: str = "allowed"
    min_kept: int = 0
    refuse: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        for name, choices in RULE_CHOICES.items():
            value = getattr(self, name)
            if value not in choices:
                raise InputError(f"rule {name}={value!r} is not one of: {', '.join(choices)}")
        if isinstance(self.min_kept, bool) or not isinstance(self.min_kept, int) or self.min_kept < 0:
            raise InputError(f"rule min_kept must be a non-negative integer, got {self.min_kept!r}")
        object.__setattr__(self, "refuse", _fractions(self.refuse))

    def expected_pruned(self, n_prune: int, size: int) -> int:
        """How many entries a conforming pruner prunes when asked for `n_prune` of `size`
        (before ties: under tie=keep_all_at_threshold see `checks.expected_count`)."""
        return max(0, min(n_prune, size - self.min_kept))

    @property
    def ties_deterministic(self) -> bool:
        """Whether the mask is a function of the magnitudes even with ties (tie=index or keep_all)."""
        return self.tie in ("index", "keep_all_at_threshold")

    def refuses(self, fraction: float) -> bool:
        """Whether the declared fraction API refuses `fraction`."""
        return float(fraction) in self.refuse

    def expected_from_fraction(self, size: int, fraction: float) -> int:
        """Entries pruned for `fraction` of `size` under the declared count rule, cap and min_kept."""
        count = count_from_fraction(self.count, size, fraction)
        if self.cap == "d_minus_1_below_1" and fraction < 1:
            count = min(count, size - 1)
        return self.expected_pruned(count, size)

    def count_rule_text(self) -> str:
        """The whole fraction -> count rule in one phrase (count, cap, min_kept, refusals)."""
        parts = [self.count]
        if self.cap != "none":
            parts.append("cap D-1 below 1")
        if self.min_kept:
            parts.append(f"min_kept {self.min_kept}")
        if self.refuse:
            parts.append("refuses " + "|".join(f"{f:g}" for f in self.refuse))
        return ", ".join(parts)

    def with_overrides(self, overrides: Mapping[str, Any]) -> "PrunerRules":
        return coerce_rules(overrides, base=self)

    def to_dict(self) -> dict[str, Any]:
        values = asdict(self)
        values["refuse"] = list(self.refuse)
        return values

    def to_text(self) -> str:
        values = self.to_dict()
        values["refuse"] = "|".join(f"{f:g}" for f in self.refuse) or "none"
        return ",".join(f"{k}={v}" for k, v in values.items())

    @staticmethod
    def meanings() -> dict[str, str]:
        return dict(_MEANINGS)


def count_rule_parts(rule: str) -> tuple[str, str, str]:
    """('pruned' | 'kept', 'exact' | 'float' | 'float32', rounding) of a count rule."""
    if rule not in _COUNT_RULES:
        raise InputError(f"unknown count rule {rule!r}; known: {', '.join(_COUNT_RULES)}")
    target = "kept" if rule.startswith("kept:") else "pruned"
    rest = rule.removeprefix("kept:")
    arithmetic, _, rounding = rest.rpartition(":")
    return target, arithmetic or "exact", rounding


def _fractions(value: Any) -> tuple[float, ...]:
    """Refused fractions from 'none', '1.0|0.0', a number or a sequence of numbers."""
    if isinstance(value, str):
        items: list[Any] = [] if value.strip().lower() in ("", "none") else value.split("|")
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        items = [value]
    else:
        items = list(value)
    try:
        found = tuple(sorted({float(v) for v in items}))
    except (TypeError, ValueError):
        raise InputError(f"rule refuse must list fractions like '1.0' or '0.0|1.0', got {value!r}") from None
    if any(not 0 <= f <= 1 for f in found):
        raise InputError(f"rule refuse lists fractions outside [0, 1]: {value!r}")
    return found


def parse_rules(text: str, base: "PrunerRules | None" = None) -> PrunerRules:
    """Parse `"tie=any,nan=largest,min_kept=1"` on top of `base` (default rules)."""
    overrides: dict[str, Any] = {}
    for part in (p.strip() for p in text.split(",")):
        if "=" not in part:  # an empty entry ('tie=index,,') included: never silently dropped
            raise InputError(f"rules must be written key=value[,key=value...], got {part!r} in {text!r}")
        key, value = (s.strip() for s in part.split("=", 1))
        if key in overrides:
            raise InputError(f"rule {key} is given twice in {text!r}")
        overrides[key] = value
    return coerce_rules(overrides, base=base)


def coerce_rules(
    value: "PrunerRules | Mapping[str, Any] | str | None", base: "PrunerRules | None" = None
) -> PrunerRules:
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
        if key == "refuse":
            clean[key] = _fractions(item)
        elif key == "min_kept":
            text = item.strip() if isinstance(item, str) else None
            if isinstance(item, bool) or not (
                isinstance(item, int)
                or (text is not None and text.removeprefix("-").isascii() and text.removeprefix("-").isdigit())
            ):  # 1.5 was read as 1, True as 1, '٣' as 3
                raise InputError(f"rule min_kept must be an integer, got {item!r}")
            clean[key] = int(item)
        else:
            clean[key] = str(item)
    return replace(start, **clean)


def count_from_fraction(rule: str, size: int, fraction: float) -> int:
    """The count a pruner following `rule` prunes for `fraction` of `size` entries.

    `half_even` etc. round the exact decimal (0.7 * 45 = 31.5 -> 32); `float:half_even`
    rounds the float product as Python computes it (0.7 * 45 = 31.499999999999996 -> 31),
    which is what `round(amount * n)` in torch.nn.utils.prune does; `kept:float32:half_even`
    rounds the kept count float32(D) * (1 - float32(p)) in float32, as TF-MOT does
    (0.35 of 10 keeps 6, prunes 4).
    """
    target, arithmetic, rounding = count_rule_parts(rule)
    if not 0 <= float(fraction) <= 1:
        raise InputError(f"fraction must lie in [0, 1], got {fraction!r}")
    if arithmetic == "exact":
        exact = Fraction(repr(float(fraction))) if isinstance(fraction, float) else Fraction(fraction)
        value = exact * size if target == "pruned" else (1 - exact) * size
    elif arithmetic == "float":
        value = Fraction(float(fraction) * size if target == "pruned" else size * (1 - float(fraction)))
    else:
        p = np.float32(fraction)
        value = Fraction(float(np.float32(size) * p if target == "pruned" else np.float32(size) * (np.float32(1) - p)))
    count = _round(value, rounding)
    return count if target == "pruned" else size - count


def _round(value: Fraction, rounding: str) -> int:
    """`value` >= 0 rounded by the engine's exact rule (value / m as a fraction of m entries)."""
    entries = max(1, math.ceil(value))
    return prune_count_from_pruned_fraction(entries, value / entries, rounding)


def fraction_for_count(rules: PrunerRules, size: int, n_prune: int) -> float:
    """A fraction that the declared rules turn into exactly `rules.expected_pruned(n_prune, size)`.

    For libraries that take only a fraction: a naive n / D can land just below n (NNI floors
    0.29 * 100 = 28.999999999999996 to 28). Candidates are n / D, its float neighbours and
    (n +- 1/2) / D; each is checked with the rules' own count function. Raises InputError
    naming why when no fraction works (e.g. a refused fraction 1.0 and no cap to reach D).
    """
    target = rules.expected_pruned(n_prune, size)
    exact = target / size
    candidates = [exact, (target + 0.5) / size, (target - 0.5) / size, (target + 0.25) / size, (target - 0.25) / size]
    for base in list(candidates[:1]):
        candidates += [float(np.nextafter(base, 2.0)), float(np.nextafter(base, -1.0))]
    candidates += [
        float(np.nextafter(np.float32(exact), np.float32(2))),
        float(np.nextafter(np.float32(exact), np.float32(-1))),
    ]
    if target == size - rules.min_kept and target < size:
        candidates += [1.0, float(np.nextafter(1.0, 0.0)), float(np.nextafter(np.float32(1), np.float32(0)))]
    for fraction in candidates:
        if (
            0 <= fraction <= 1
            and not rules.refuses(fraction)
            and rules.expected_from_fraction(size, fraction) == target
        ):
            return float(fraction)
    raise InputError(f"no fraction makes the rule {rules.count_rule_text()} prune exactly {target} of {size} entries")


COUNT_RULES = _COUNT_RULES
