"""Observed rules: probe a pruner on small pinned inputs and report what it really does.

The findings table puts, for each aspect (count rule, tie rule, NaN rule, ...), the
theorem's / reference rule, the pruner's declaration and the behaviour observed by probing,
side by side. Probing never decides pass/fail (the properties do); it tells a user which
rule their library actually follows, e.g. torch's `round(amount * n)` half-to-even of the
float product.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from .checks import keep_mask
from .harness import PrunerUnderTest
from .rules import COUNT_RULES, RULE_CHOICES

__all__ = ["Finding", "Findings", "observe_rules", "COUNT_PROBES"]

# (D, fraction): half-way cases and float artefacts that separate the candidate rules.
COUNT_PROBES = (
    (10, 0.25),
    (10, 0.35),
    (10, 0.15),
    (6, 0.25),
    (45, 0.7),
    (75, 0.14),
    (100, 0.29),
    (10, 0.3),
    (10, 0.21),
    (10, 0.29),
    (3, 0.5),
    (7, 0.5),
    (100, 0.545),
    (1, 0.5),
    (10, 0.95),
    (20, 0.975),
    (10, 0.05),
    (7, 1.0),
    (7, 0.0),
)
_TIED = np.array([1, 1, 1, 1, 2, 3, 4, 5, 6, 7], dtype=np.float32)


@dataclass(frozen=True)
class Finding:
    aspect: str
    theorem: str
    declared: str
    observed: str
    agrees: "bool | None"

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class Findings:
    target: str
    rows: tuple[Finding, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"target": self.target, "rows": [r.to_dict() for r in self.rows]}

    def disagreements(self) -> list[Finding]:
        return [r for r in self.rows if r.agrees is False]

    def to_text(self) -> str:
        head = ("aspect", "theorem / reference rule", "declared", "observed")
        rows = [head] + [
            (r.aspect, r.theorem, r.declared, r.observed + ("  (!)" if r.agrees is False else "")) for r in self.rows
        ]
        widths = [min(limit, max(len(row[i]) for row in rows)) for i, limit in enumerate((30, 32, 44, 200))]
        lines = [f"findings for {self.target} (observed by probing; (!) = differs from the declaration)"]
        for row in rows:
            lines.append("  ".join(_clip(cell, widths[i]).ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
        return "\n".join(lines)

    def to_markdown(self) -> str:
        lines = [
            f"# Findings: {self.target}",
            "",
            "| aspect | theorem / reference rule | declared | observed |",
            "|---|---|---|---|",
        ]
        lines += [
            f"| {r.aspect} | {r.theorem} | {r.declared} | {r.observed}{' **(differs)**' if r.agrees is False else ''} |"
            for r in self.rows
        ]
        return "\n".join(lines) + "\n"


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _try(call: Callable[[], Any]) -> tuple[Any, "str | None"]:
    """(value, None), or (None, why): the pruner raised or crashed, or its answer is not a mask."""
    try:
        return call(), None
    except AssertionError as exc:  # from keep_mask: the pruner's own asserts arrive as CodeUnderTestError
        return None, f"returned no valid answer ({exc})"
    except Exception as exc:  # CodeUnderTestError carries the pruner's own exception text
        return None, str(exc)


def _pruned(call: Callable[[], Any], weights: np.ndarray) -> list[int]:
    """Flat indices pruned by the mask `call()` returns for `weights` (AssertionError if it is not a
    bool or numeric array of the weights' shape: a structured array or None never reaches numpy casts)."""
    return np.flatnonzero(~keep_mask(call(), weights).ravel()).tolist()


def _count_rule(pruner: PrunerUnderTest) -> Finding:
    """The observed fraction -> count rule: rounding, cap and refusals that explain every probe."""
    aspect, theorem = "count rule (fraction -> count)", "floor(D^(1-a)), exact integer"
    declared = pruner.rules.count_rule_text()
    if not pruner.has("prune_fraction"):
        return Finding(aspect, theorem, "absolute counts only", "not probed (no fraction API)", None)
    observed: dict[tuple[int, float], "int | None"] = {}
    errors: dict[tuple[int, float], str] = {}
    for size, fraction in COUNT_PROBES:
        weights = np.arange(1, size + 1, dtype=np.float64)
        pruned, error = _try(lambda: _pruned(lambda: pruner.prune_fraction(weights, fraction), weights))
        observed[(size, fraction)] = None if error is not None else len(pruned)
        if error is not None:
            errors[(size, fraction)] = error
    timed_out = next(
        (key for key, k in observed.items() if k is None and key in errors and "timed out" in errors[key]), None
    )
    if timed_out is not None:  # a slow call is not a refusal
        return Finding(aspect, theorem, declared, f"timed out on {timed_out[1]} of {timed_out[0]}", False)
    malformed = next((key for key, text in errors.items() if text.startswith("returned no valid answer")), None)
    if malformed is not None:  # nor is an answer that is not a mask
        text = f"{errors[malformed][:80]} on {malformed[1]} of {malformed[0]}"
        return Finding(aspect, theorem, declared, text, False)
    refused = tuple(sorted({p for (_, p), k in observed.items() if k is None}))
    counted = {key: k for key, k in observed.items() if k is not None}
    base = replace(pruner.rules, refuse=refused)
    matching = [
        rules
        for rules in (replace(base, count=c, cap=cap) for c in COUNT_RULES for cap in RULE_CHOICES["cap"])
        if all(rules.expected_from_fraction(d, p) == k for (d, p), k in counted.items())
    ]
    examples = ", ".join(
        f"{p} of {d} -> {'refused' if k is None else k}"
        for (d, p), k in observed.items()
        if (d, p) in ((45, 0.7), (10, 0.35), (100, 0.29), (10, 0.95), (7, 1.0))
    )
    if matching:
        chosen = next((r for r in matching if r.count == pruner.rules.count and r.cap == pruner.rules.cap), matching[0])
        text = chosen.count_rule_text() + f" ({examples})"
    else:
        text = "none of the known rules: " + examples
    agrees = (
        any(r.count == pruner.rules.count and r.cap == pruner.rules.cap for r in matching)
        and refused == pruner.rules.refuse
    )
    return Finding(aspect, theorem, declared, text, agrees)


def _tie_rule(pruner: PrunerUnderTest) -> list[Finding]:
    theorem = "reference: lower index first"
    sets = {}
    for n in range(0, 5):
        pruned, error = _try(lambda: _pruned(lambda: pruner.prune(_TIED, n), _TIED))
        if error is not None:
            return [Finding("tie rule", theorem, pruner.rules.tie, f"raised on tied input: {error}", False)]
        sets[n] = pruned
    lower_first = all(sets[n] == list(range(n)) for n in sets)
    tied = np.ones(64, dtype=np.float32)  # torch.topk changes its pick among 64 ties between n=1 and n=2
    grown, error = _try(lambda: [set(_pruned(lambda: pruner.prune(tied, n), tied)) for n in range(9)])
    nested = error is None and all(grown[n] <= grown[n + 1] for n in range(8))
    expected = {n: pruner.rules.expected_pruned(n, _TIED.size) for n in sets}
    keeps_ties = all(len(sets[n]) == (0 if n < 4 else n) for n in sets if expected[n] == n)
    if keeps_ties and len(sets[2]) == 0:
        observed, agrees = (
            "keeps every entry tied at the threshold ([1,1,1,1,2,...] n=2 prunes 0)",
            pruner.rules.tie == "keep_all_at_threshold",
        )
    elif any(len(sets[n]) != expected[n] for n in sets):
        bad = next(n for n in sets if len(sets[n]) != expected[n])
        observed, agrees = f"n={bad} prunes {len(sets[bad])} of [1,1,1,1,2,...] (wrong count on ties)", False
    elif lower_first:
        observed, agrees = "lower flat index first", pruner.rules.tie in ("index", "any")
    else:
        observed, agrees = f"not lower-index-first: [1,1,1,1,2,...] n=2 prunes {sets[2]}", pruner.rules.tie == "any"
    rows = [Finding("tie rule", theorem, pruner.rules.tie, observed, agrees)]
    if error is not None:
        nest_text = f"raises on 64 tied entries ({error[:50]})"
    elif nested:
        nest_text = "nested for 64 tied entries, n = 0..8"
    else:
        first = next(n for n in range(8) if not grown[n] <= grown[n + 1])
        nest_text = (
            f"NOT nested on 64 tied entries: n={first} prunes {sorted(grown[first])}, "
            f"n={first + 1} prunes {sorted(grown[first + 1])}"
        )
    promised = pruner.rules.ties_deterministic
    rows.append(
        Finding(
            "nesting under ties",
            "nested (pruned set grows with n)",
            "nested" if promised else "not promised",
            nest_text,
            nested if promised else None,
        )
    )
    return rows


def _nan_rule(pruner: PrunerUnderTest) -> Finding:
    weights = np.array([1.0, np.nan, 3.0, 2.0], dtype=np.float32)
    pruned_at: dict[int, list[int]] = {}
    for n in range(1, 5):
        pruned, error = _try(lambda: _pruned(lambda: pruner.prune(weights, n), weights))
        if error is not None:
            observed = f"raises ({error[:60]})"
            return Finding(
                "NaN rule",
                "spec: raise or rank largest",
                pruner.rules.nan,
                observed,
                pruner.rules.nan in ("raise", "raise_or_largest"),
            )
        pruned_at[n] = pruned
    if any(len(pruned_at[n]) != n for n in pruned_at):
        bad = next(n for n in pruned_at if len(pruned_at[n]) != n)
        return Finding(
            "NaN rule",
            "spec: raise or rank largest",
            pruner.rules.nan,
            f"wrong count: n={bad} prunes {len(pruned_at[bad])}",
            False,
        )
    if 1 not in pruned_at[3]:
        observed, agrees = "ranks NaN largest", pruner.rules.nan in ("largest", "raise_or_largest")
    elif pruned_at[1] == [1]:
        observed, agrees = "ranks NaN smallest", pruner.rules.nan == "smallest"
    else:
        observed, agrees = f"ranks NaN in the middle (n=1 prunes {pruned_at[1]})", False
    return Finding("NaN rule", "spec: raise or rank largest", pruner.rules.nan, observed, agrees)


def _effective_nonfinite(pruner: PrunerUnderTest) -> "Finding | None":
    if not pruner.has("effective_weights"):
        return None
    weights = np.array([np.nan, np.inf, 1.0, -2.0], dtype=np.float32)
    effective, error = _try(lambda: _effective(lambda: pruner.effective_weights(weights, 4), weights))
    observed = (
        (error[:100] if error.startswith("returned") else f"raises ({error[:50]})")
        if error
        else (
            "pruned NaN/inf left as " + str(np.asarray(effective).tolist()[:2])
            if not np.all(np.asarray(effective) == 0)
            else "exactly 0"
        )
    )
    return Finding(
        "pruned NaN/inf entries",
        "exactly 0 (W~ = M o W)",
        "exactly 0",
        observed,
        None if error else bool(np.all(np.asarray(effective) == 0)),
    )


def _effective(call: Callable[[], Any], weights: np.ndarray) -> np.ndarray:
    """The effective weights `call()` returns, as a numeric array of the weights' shape (else AssertionError)."""
    effective = np.asarray(call())
    numeric = effective.dtype == bool or np.issubdtype(effective.dtype, np.number)
    assert numeric and effective.shape == weights.shape, (
        f"effective weights of dtype {effective.dtype} and shape {effective.shape} for weights of shape {weights.shape}"
    )
    return effective


def _min_kept(pruner: PrunerUnderTest) -> Finding:
    weights = np.array([3.0, -1.0, 2.0], dtype=np.float64)
    pruned, error = _try(lambda: _pruned(lambda: pruner.prune(weights, 3), weights))
    observed = f"raises on n_prune = D ({error[:50]})" if error else f"n_prune = D keeps {3 - len(pruned)}"
    return Finding(
        "minimum kept",
        "0 (n_prune = D prunes all)",
        str(pruner.rules.min_kept),
        observed,
        False if error else 3 - len(pruned) == pruner.rules.min_kept,
    )


def _count_base(pruner: PrunerUnderTest) -> "Finding | None":
    if not pruner.has("reprune"):
        return None
    weights = np.arange(1, 11, dtype=np.float64)
    pruned, error = _try(lambda: _pruned(lambda: pruner.reprune(weights, 2, 3), weights))
    if error:
        return Finding("count base on re-pruning", "-", pruner.rules.count_base, f"raises ({error[:50]})", False)
    got = len(pruned)
    base = {5: "remaining", 3: "total"}.get(got)
    lowered, error = _try(
        lambda: (
            set(_pruned(lambda: pruner.prune(weights, 4), weights)),
            set(_pruned(lambda: pruner.reprune(weights, 4, 1), weights)),
        )
    )
    revives = error is None and bool(lowered[0] - lowered[1])
    if error is not None:
        revival = f"; revival not observed (4 then 1: {error[:50]})"
    elif base == "remaining":
        revival = ""
    else:
        revival = "; revives when lowered (4 then 1)" if revives else "; never revives (4 then 1)"
    declared = pruner.rules.count_base + (
        "" if pruner.rules.count_base == "remaining" else f", revival={pruner.rules.revival}"
    )
    observed = (f"{base} (2 then 3 prunes {got})" if base else f"2 then 3 prunes {got}") + revival
    agrees = base == pruner.rules.count_base and (
        base == "remaining" or (error is None and revives == (pruner.rules.revival == "allowed"))
    )
    return Finding("count base on re-pruning", "-", declared, observed, agrees)


def _layout(pruner: PrunerUnderTest) -> Finding:
    weights = np.arange(12, dtype=np.float64).reshape(3, 4) - 5.5
    view = np.ascontiguousarray(weights.T).T
    direct, error1 = _try(lambda: _pruned(lambda: pruner.prune(weights, 5), weights))
    viewed, error2 = _try(lambda: _pruned(lambda: pruner.prune(view, 5), view))
    if error2 and not error1:
        observed, agrees = f"raises on a transposed view ({error2[:60]})", False
    elif error1:
        observed, agrees = f"raises ({error1[:60]})", False
    else:
        agrees = direct == viewed
        observed = "same mask for a transposed view" if agrees else "another mask for a transposed view"
    return Finding("non-contiguous weights", "layout does not matter", "layout does not matter", observed, agrees)


def observe_rules(pruner: PrunerUnderTest) -> Findings:
    """Probe `pruner` (a PrunerUnderTest) and return the findings table."""
    rows: list[Finding] = [_count_rule(pruner), *_tie_rule(pruner), _nan_rule(pruner), _min_kept(pruner)]
    rows += [row for row in (_count_base(pruner), _effective_nonfinite(pruner)) if row is not None]
    rows.append(_layout(pruner))
    return Findings(pruner.spec, tuple(rows))
