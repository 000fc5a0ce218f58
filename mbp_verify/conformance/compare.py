"""Several pruners side by side: the same seeded corpus, their findings, where their masks differ.

`compare_pruners` probes each pruner's observed rules (the findings table), runs every one on
the baseline corpus (`baseline.run_corpus`: ties, +-0, NaN/inf, float16 extremes, square and
conv shapes), lists the cases whose masks differ between two pruners, and for each such
difference shrinks the input (dropping entries of the flattened array while the two masks
still differ) to a minimal one. `Comparison` renders as JSON, Markdown and a PNG matrix
(pruner x aspect, coloured by agreement with the pruner's own declaration).

Differences between masks are findings; a case on which a pruner gave no mask to compare is
not. Such a case is a `Problem` of that pruner: `error` when the pruner did not return (crash,
exit, BaseException, time limit) or raised where its declared rules allow no raise (only NaN
input under nan=raise or raise_or_largest), `fail` when it returned something that is not a
0/1 mask of the weights' shape. Each pruner's status is `pass` (every case compared), else the
worst of its problems; `Comparison.exit_code` is 1 unless every pruner passed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import CodeUnderTestError
from .baseline import Problem, baseline_corpus, corpus_problems, library_versions, run_corpus
from .checks import keep_mask
from .harness import PrunerUnderTest
from .probe import Findings, observe_rules

__all__ = ["Difference", "Problem", "Comparison", "compare_pruners", "minimal_difference"]


@dataclass(frozen=True)
class Difference:
    """Two pruners disagree on one corpus case; `minimal` is a smallest input found that still differs."""

    case: str
    first: str
    second: str
    weights: np.ndarray
    n_prune: int
    first_mask: "np.ndarray | str"
    second_mask: "np.ndarray | str"

    def to_dict(self) -> dict[str, Any]:
        def mask(m: "np.ndarray | str") -> Any:
            return m if isinstance(m, str) else np.asarray(m).astype(int).tolist()

        return {
            "case": self.case,
            "first": self.first,
            "second": self.second,
            "dtype": str(self.weights.dtype),
            "shape": list(self.weights.shape),
            "weights": self.weights.astype(np.float64).tolist(),
            "n_prune": self.n_prune,
            "first_mask": mask(self.first_mask),
            "second_mask": mask(self.second_mask),
        }

    def to_text(self) -> str:
        def mask(m: "np.ndarray | str") -> str:
            return m if isinstance(m, str) else str(np.asarray(m).astype(int).ravel().tolist())

        values = np.array2string(self.weights.ravel(), threshold=40, separator=", ")
        return (
            f"{self.case}: {self.first} vs {self.second} on {self.weights.dtype}{list(self.weights.shape)} "
            f"{values}, n_prune={self.n_prune}: kept {mask(self.first_mask)} vs {mask(self.second_mask)}"
        )


def _mask_or_error(pruner: PrunerUnderTest, weights: np.ndarray, n: int) -> "np.ndarray | str":
    """The pruner's mask on a private copy (a pruner that modifies its input must not change what
    the other pruner, the shrinking or the report sees), or what it raised."""
    try:
        answer = pruner.prune(weights.copy(order="K"), n)
    except CodeUnderTestError as exc:
        return f"raises {type(exc.__cause__).__name__ if exc.__cause__ else 'error'}"
    try:
        return keep_mask(answer, weights)
    except AssertionError as exc:
        return f"returns no valid mask ({exc})"


def _differ(a: "np.ndarray | str", b: "np.ndarray | str") -> bool:
    if isinstance(a, str) or isinstance(b, str):
        return a != b if isinstance(a, str) and isinstance(b, str) else True
    return a.shape != b.shape or not np.array_equal(a, b)


def minimal_difference(
    first: PrunerUnderTest, second: PrunerUnderTest, weights: np.ndarray, n_prune: int
) -> tuple[np.ndarray, int]:
    """A smaller (weights, n) on which the two pruners still differ: entries of the flattened
    array are dropped one at a time (n lowered when needed) while the masks differ; if the
    flat array no longer shows the difference (a shape-dependent bug), the shape is kept."""
    still: Callable[[np.ndarray, int], bool] = lambda w, n: _differ(
        _mask_or_error(first, w, n), _mask_or_error(second, w, n)
    )  # noqa: E731
    flat = np.ascontiguousarray(weights).ravel()
    if not still(flat, n_prune):
        return np.ascontiguousarray(weights), n_prune
    n = n_prune
    interior = n_prune < flat.size  # keep n < D so that the shrunk case keeps its cause (not a min_kept edge)
    shrunk = True
    while shrunk and flat.size > 1:
        shrunk = False
        for i in range(flat.size):
            smaller = np.delete(flat, i)
            for m in dict.fromkeys((min(n, smaller.size), max(0, min(n, smaller.size) - 1))):
                if (not interior or m < smaller.size) and still(smaller, m):
                    flat, n, shrunk = smaller, m, True
                    break
            if shrunk:
                break
    for m in range(0, n):  # the smallest count that still differs
        if still(flat, m):
            return flat, m
    return flat, n


@dataclass(frozen=True)
class Comparison:
    """Findings of every pruner, the corpus cases where their masks differ, minimal inputs, and
    the cases a pruner gave nothing comparable on (`problems`)."""

    targets: tuple[str, ...]
    findings: tuple[Findings, ...]
    versions: dict[str, dict[str, str]]
    cases: int
    differing_cases: dict[str, list[str]]
    differences: tuple[Difference, ...]
    problems: tuple[Problem, ...] = ()

    def status(self, target: str) -> str:
        """`pass` when every corpus case of `target` was compared, else `error` (or `fail` when none is an error)."""
        found = {p.status for p in self.problems if p.target == target}
        return "error" if "error" in found else "fail" if found else "pass"

    @property
    def exit_code(self) -> int:
        """0 when every pruner gave a comparable answer on every case, else 1 (never a green run
        for a pruner that could not be compared)."""
        return 0 if all(self.status(t) == "pass" for t in self.targets) else 1

    def _status_line(self, target: str) -> str:
        problems = [p for p in self.problems if p.target == target]
        if not problems:
            return f"{target}: pass (all {self.cases} cases compared)"
        first = problems[0]
        return (
            f"{target}: {self.status(target)} (no comparable mask on {len(problems)} of {self.cases} cases; "
            f"first: {first.case}: {first.message})"
        )

    def aspects(self) -> list[str]:
        return list(dict.fromkeys(row.aspect for f in self.findings for row in f.rows))

    def cell(self, target: str, aspect: str) -> tuple[str, "bool | None"]:
        findings = self.findings[self.targets.index(target)]
        row = next((r for r in findings.rows if r.aspect == aspect), None)
        return ("-", None) if row is None else (row.observed, row.agrees)

    def to_dict(self) -> dict[str, Any]:
        return {
            "targets": list(self.targets),
            "versions": self.versions,
            "cases": self.cases,
            "findings": [f.to_dict() for f in self.findings],
            "differing_cases": self.differing_cases,
            "differences": [d.to_dict() for d in self.differences],
            "status": {t: self.status(t) for t in self.targets},
            "problems": [p.to_dict() for p in self.problems],
            "exit_code": self.exit_code,
        }

    def to_markdown(self) -> str:
        aspects = self.aspects()
        lines = [
            "# Pruners compared",
            "",
            "| aspect | " + " | ".join(self.targets) + " |",
            "|---|" + "---|" * len(self.targets),
        ]
        lines.append(
            "| versions | "
            + " | ".join(", ".join(f"{k} {v}" for k, v in self.versions[t].items()) for t in self.targets)
            + " |"
        )
        for aspect in aspects:
            cells = []
            for target in self.targets:
                text, agrees = self.cell(target, aspect)
                cells.append(text.replace("|", "/") + (" **(!)**" if agrees is False else ""))
            lines.append(f"| {aspect} | " + " | ".join(cells) + " |")
        lines += [
            "",
            f"(!) = differs from that pruner's own declaration. Corpus: {self.cases} seeded cases.",
            "",
            "## Status",
            "",
        ]
        lines += [f"- {self._status_line(t)}" for t in self.targets]
        lines += [f"  - {p.case} ({p.status}): {p.message}" for p in self.problems]
        lines += [
            "",
            "## Corpus cases where masks differ",
            "",
        ]
        for pair, names in self.differing_cases.items():
            lines.append(f"- {pair}: {', '.join(names) if names else 'none'}")
        lines += ["", "## Minimal inputs of the differences", ""]
        lines += [f"- {d.to_text()}" for d in self.differences] or ["- none"]
        return "\n".join(lines) + "\n"

    def to_text(self) -> str:
        lines = [f"compared {len(self.targets)} pruners on {self.cases} corpus cases"]
        lines += [f"  {self._status_line(t)}" for t in self.targets]
        for pair, names in self.differing_cases.items():
            lines.append(
                f"  {pair}: masks differ on {len(names)} case(s){': ' + ', '.join(names[:6]) if names else ''}"
            )
        lines += [f"  minimal: {d.to_text()}" for d in self.differences]
        return "\n".join(lines)

    def write_png(self, path: "str | Path") -> Path:
        """The pruner x aspect matrix: green agrees with the declaration, red differs, grey not probed."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        aspects = self.aspects()
        codes = np.array([[{True: 2, False: 0, None: 1}[self.cell(t, a)[1]] for a in aspects] for t in self.targets])
        fig, ax = plt.subplots(figsize=(1.4 * len(aspects) + 3, 0.7 * len(self.targets) + 2.2))
        colours = matplotlib.colors.ListedColormap(["#d9534f", "#cccccc", "#5cb85c"])
        ax.imshow(codes, cmap=colours, vmin=0, vmax=2, aspect="auto")
        ax.set_xticks(
            range(len(aspects)), labels=[a.split(" (")[0] for a in aspects], rotation=35, ha="right", fontsize=8
        )
        ax.set_yticks(range(len(self.targets)), labels=[t.split(":")[-1] for t in self.targets], fontsize=8)
        for i in range(len(self.targets)):
            for j in range(len(aspects)):
                ax.text(j, i, {2: "ok", 1: "-", 0: "(!)"}[codes[i, j]], ha="center", va="center", fontsize=8)
        ax.set_title("observed rule vs the pruner's declaration (red = differs)", fontsize=9)
        fig.tight_layout()
        fig.savefig(path, dpi=120)
        plt.close(fig)
        return Path(path)


def compare_pruners(pruners: Sequence[PrunerUnderTest], *, seed: int) -> Comparison:
    """Probe and run every pruner on the same seeded corpus and collect their differences."""
    findings = tuple(observe_rules(p) for p in pruners)
    runs = [{e["name"]: e for e in run_corpus(p, seed, include_global=False)} for p in pruners]
    corpus = {name: (layers, n) for name, layers, n in baseline_corpus(seed)}
    problems = [
        problem
        for pruner, run in zip(pruners, runs)
        for problem in corpus_problems(pruner.spec, list(run.values()), pruner.rules, seed)
    ]
    incomparable = {(p.target, p.case) for p in problems}
    differing: dict[str, list[str]] = {}
    differences: list[Difference] = []
    for (i, a), (j, b) in combinations(enumerate(pruners), 2):
        names = [
            name
            for name in corpus
            if (a.spec, name) not in incomparable
            and (b.spec, name) not in incomparable
            and _outcome_key(runs[i][name]) != _outcome_key(runs[j][name])
        ]
        differing[f"{a.spec} vs {b.spec}"] = names
        for name in names[:3]:
            weights, n = minimal_difference(a, b, corpus[name][0][0], corpus[name][1])
            differences.append(
                Difference(
                    name, a.spec, b.spec, weights, n, _mask_or_error(a, weights, n), _mask_or_error(b, weights, n)
                )
            )
    return Comparison(
        tuple(p.spec for p in pruners),
        findings,
        {p.spec: library_versions(p) for p in pruners},
        len(corpus),
        differing,
        tuple(differences),
        tuple(problems),
    )


def _outcome_key(entry: dict[str, Any]) -> tuple[Any, ...]:
    return (entry["outcome"], entry.get("bits"), entry.get("error"))
