"""Run the pruner properties (`properties/pruner/`) against an external pruner: the work behind
`mbp-verify check-pruner`, with the command line left to parse options and print.

The suite runs in a pytest subprocess (BLAS pinned, xdist workers, derandomised Hypothesis); the
minimal inputs of failures are staged by the plugin and moved into the report folder as
replayable `.npz` files, next to the findings of the rule probe.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ..conformance.harness import PrunerUnderTest
from ..conformance.probe import Findings
from ..reports.atomic import atomic_write_json, atomic_write_text
from ..reports.folders import mark_latest, new_run_folder, staged_run_folder
from .runner import SuiteRun, run_property_suite

__all__ = ["PrunerSuiteRun", "run_pruner_properties", "payload_of"]


@dataclass(frozen=True)
class PrunerSuiteRun:
    """The suite run, its report folder and the saved counterexamples (empty when none failed)."""

    folder: Path
    outcome: SuiteRun
    counterexamples: tuple[Path, ...]

    @property
    def exit_code(self) -> int:
        return self.outcome.exit_code


def run_pruner_properties(
    pruner: PrunerUnderTest,
    findings: Findings,
    *,
    seed: int,
    profile: str,
    workers: int,
    timeout_s: float,
    rules: "str | None" = None,
    global_scope: bool = False,
    baseline: "Path | None" = None,
    select: "str | None" = None,
    reports_dir: "Path | None" = None,
) -> PrunerSuiteRun:
    """Run properties/pruner against `pruner` (identified by its spec) and file the results."""
    folder = new_run_folder("check-pruner", seed, reports_dir)
    staging = folder.parent / f".{folder.name}.counterexamples-{os.getpid()}"
    try:
        with staged_run_folder(folder) as staged:
            extra = _plugin_arguments(pruner.spec, staging, folder, timeout_s, rules, global_scope, baseline, select)
            outcome = run_property_suite(
                ["pruner"],
                report_dir=staged.staging,
                seed=seed,
                profile=profile,
                workers=workers,
                command="check-pruner",
                target=pruner.spec,
                extra_args=extra,
            )
            if outcome.report is None:
                return PrunerSuiteRun(folder, replace(outcome, report_dir=folder), ())
            saved = _move_counterexamples(staging, staged.staging)
            atomic_write_text(staged.staging / "findings.md", findings.to_markdown())
            atomic_write_json(staged.staging / "findings.json", findings.to_dict())
            published = staged.publish()
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    mark_latest(published)
    moved = tuple(published / path.relative_to(staged.staging) for path in saved)
    return PrunerSuiteRun(published, replace(outcome, report_dir=published), moved)


def _plugin_arguments(
    target: str,
    staging: Path,
    folder: Path,
    timeout_s: float,
    rules: "str | None",
    global_scope: bool,
    baseline: "Path | None",
    select: "str | None",
) -> list[str]:
    extra: list[str] = [
        "--mbp-pruner",
        target,
        "--mbp-counterexample-dir",
        str(staging.resolve()),
        "--mbp-counterexample-label",
        str(folder / "counterexamples"),
        "--mbp-timeout",
        str(timeout_s),
    ]
    if rules:
        extra += ["--mbp-rules", rules]
    if global_scope:
        extra.append("--mbp-global")
    if baseline is not None:
        extra += ["--mbp-baseline", str(Path(baseline).resolve())]
    if select:
        extra += ["-k", select]
    return extra


def _move_counterexamples(staging: Path, folder: Path) -> list[Path]:
    files: Sequence[Path] = sorted(staging.glob("*.npz")) if staging.is_dir() else []
    moved = []
    if files:
        target = folder / "counterexamples"
        target.mkdir(parents=True, exist_ok=True)
        for file in files:
            destination = target / file.name
            os.replace(file, destination)
            moved.append(destination)
    shutil.rmtree(staging, ignore_errors=True)
    return moved


def payload_of(run: PrunerSuiteRun) -> dict[str, Any]:
    """The JSON fields check-pruner adds for the suite run."""
    return {
        "report": run.outcome.report,
        "report_dir": str(run.folder),
        "counterexample_files": [str(p) for p in run.counterexamples],
    }
