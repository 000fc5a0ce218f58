"""`mbp-verify check-pruner MODULE:ATTR`: conformance of an external pruner.

Loads the pruner in its own worker process first (an unloadable target exits 2 with one
line; the pruner never runs inside this process), probes its observed rules (findings),
then runs properties/pruner against it in a pytest subprocess
(BLAS pinned, xdist workers, derandomised Hypothesis), prints the table and each failure's
shrunk counterexample, saves the minimal inputs as replayable `.npz` files in the report
folder, and exits 0 (every required property passed), 1 (one failed) or 2 (usage).
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from ..conformance.baseline import compare_baseline, load_baseline, record_baseline
from ..conformance.counterexamples import load_counterexample, replay
from ..conformance.harness import DEFAULT_TIMEOUT_S, PrunerUnderTest
from ..conformance.loader import load_pruner
from ..conformance.probe import observe_rules
from ..conformance.protocol import OPTIONAL_HOOKS
from ..errors import InputError
from ..reports.atomic import atomic_write_json, atomic_write_text
from ..reports.folders import mark_latest, new_run_folder
from ..suite.property import CodeUnderTestError
from ..suite.runner import count_tests, run_property_suite, validate_selection
from ._common import (
    EXIT_FAILED,
    EXIT_OK,
    add_common_arguments,
    add_suite_arguments,
    hypothesis_profile,
    progress,
    worker_count,
    write_json_output,
)
from .summary import format_report_summary

__all__ = ["register", "handle"]


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "check-pruner",
        help="run the formal property suite against your pruner (MODULE:ATTR)",
        description="Check a magnitude pruner against the formal spec: property by property, with shrunk "
        "counterexamples saved as replayable files. MODULE:ATTR is a callable "
        "fn(weights, n_prune) -> mask (truthy = kept), a global fn(layers, total) -> masks "
        "with --global, or an adapter object with prune() and rules.",
    )
    parser.add_argument(
        "target", metavar="MODULE:ATTR", help="the pruner, importable from the current directory or PYTHONPATH"
    )
    add_common_arguments(parser)
    parser.add_argument(
        "--global",
        dest="global_scope",
        action="store_true",
        help="the pruner is global: fn(list_of_arrays, total) -> list_of_masks",
    )
    parser.add_argument(
        "--rules",
        default=None,
        metavar="KEY=VALUE,...",
        help="declare/override rules, e.g. 'tie=index,nan=raise,min_kept=1' "
        "(keys: ranking tie nan count count_base scope collapse min_kept)",
    )
    add_suite_arguments(parser)
    parser.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT_S,
        metavar="SECONDS",
        help=f"time limit for each call of the pruner and for importing its module "
        f"(default {DEFAULT_TIMEOUT_S:g}); exceeding it is an error",
    )
    parser.add_argument(
        "--record-baseline",
        type=Path,
        default=None,
        metavar="FILE",
        help="record the pruner's masks on the seeded corpus into FILE (JSON)",
    )
    parser.add_argument(
        "--baseline",
        type=Path,
        default=None,
        metavar="FILE",
        help="compare with a recorded baseline; a change is a failure (exit 1) with a readable diff",
    )
    parser.add_argument(
        "--baseline-only", action="store_true", help="with --baseline / --record-baseline: skip the property suite"
    )
    parser.add_argument(
        "--replay",
        type=Path,
        default=None,
        metavar="FILE",
        help="run the pruner on a saved counterexample (.npz): exit 1 if the recorded failure "
        "reproduces (or cannot be ruled out from one input), 0 if it does not",
    )
    parser.set_defaults(handler=handle)


def _validate(args: argparse.Namespace) -> int:
    if not (math.isfinite(args.timeout) and args.timeout > 0):
        raise InputError(f"--timeout must be a finite number of seconds > 0, got {args.timeout}")
    validate_selection(args.select, ["pruner"])
    workers = worker_count(args.workers, count_tests(["pruner"]))
    if args.baseline_only and not (args.baseline or args.record_baseline):
        raise InputError("--baseline-only needs --baseline FILE or --record-baseline FILE")
    return workers


def handle(args: argparse.Namespace) -> int:
    workers = _validate(args)
    adapter = load_pruner(args.target, rules=args.rules, global_scope=args.global_scope, timeout_s=args.timeout)
    pruner = PrunerUnderTest(adapter, spec=args.target, timeout_s=args.timeout)
    if args.replay is not None:
        return _replay(pruner, args.replay)
    payload: dict[str, Any] = {"target": args.target, "rules": pruner.rules.to_dict()}
    exit_code = EXIT_OK
    if args.record_baseline is not None:
        document = record_baseline(pruner, args.record_baseline, seed=args.seed)
        print(f"baseline recorded: {len(document['cases'])} corpus cases -> {args.record_baseline}")
        payload["baseline_recorded"] = str(args.record_baseline)
    if args.baseline is not None:
        diff = compare_baseline(pruner, load_baseline(args.baseline))
        print(diff.to_text())
        payload["baseline"] = diff.to_dict()
        exit_code = EXIT_FAILED if diff.changed else exit_code
    if args.baseline_only:
        write_json_output(args.json, "check-pruner", payload)
        return exit_code
    findings = observe_rules(pruner)
    payload["findings"] = findings.to_dict()
    suite_code = _run_suite(args, pruner, workers, findings, payload)
    write_json_output(args.json, "check-pruner", payload)
    return max(exit_code, suite_code)


def _run_suite(
    args: argparse.Namespace, pruner: PrunerUnderTest, workers: int, findings, payload: dict[str, Any]
) -> int:
    profile = hypothesis_profile(args)
    folder = new_run_folder("check-pruner", args.seed, args.reports_dir)
    staging = folder.parent / f".{folder.name}.counterexamples-{os.getpid()}"
    extra = [
        "--mbp-pruner",
        args.target,
        "--mbp-counterexample-dir",
        str(staging.resolve()),
        "--mbp-counterexample-label",
        str(folder / "counterexamples"),
        "--mbp-timeout",
        str(args.timeout),
    ]
    if args.rules:
        extra += ["--mbp-rules", args.rules]
    if args.global_scope:
        extra.append("--mbp-global")
    if args.baseline is not None:
        extra += ["--mbp-baseline", str(args.baseline.resolve())]
    if args.select:
        extra += ["-k", args.select]
    hooks = sorted(h for h in OPTIONAL_HOOKS if pruner.has(h))
    progress(
        f"mbp-verify check-pruner: {pruner.name} (effective rules: {pruner.rules.to_text()}; "
        f"hooks: {', '.join(hooks) or 'none'})"
    )
    progress(f"mbp-verify check-pruner: properties/pruner with {workers} workers, profile {profile}")
    outcome = run_property_suite(
        ["pruner"],
        report_dir=folder,
        seed=args.seed,
        profile=profile,
        workers=workers,
        command="check-pruner",
        target=args.target,
        extra_args=extra,
    )
    if outcome.problem is not None:
        progress(f"mbp-verify check-pruner: {outcome.problem}")
    if outcome.report is None:
        shutil.rmtree(staging, ignore_errors=True)
        return outcome.exit_code
    saved = _move_counterexamples(staging, folder)
    atomic_write_text(folder / "findings.md", findings.to_markdown())
    atomic_write_json(folder / "findings.json", findings.to_dict())
    mark_latest(folder)
    print(format_report_summary(outcome.report, str(folder)))
    print()
    print(findings.to_text())
    if saved:
        print()
        print("replayable counterexamples (minimal inputs of the failures):")
        for path in saved:
            print(f"  {path}")
        print(f"replay one with: mbp-verify check-pruner {args.target} --replay {saved[0]}")
    payload["report"] = outcome.report
    payload["report_dir"] = str(folder)
    payload["counterexample_files"] = [str(p) for p in saved]
    return outcome.exit_code


def _move_counterexamples(staging: Path, folder: Path) -> list[Path]:
    if not staging.is_dir():
        return []
    files = sorted(staging.glob("*.npz"))
    if not files:
        shutil.rmtree(staging, ignore_errors=True)
        return []
    target = folder / "counterexamples"
    target.mkdir(parents=True, exist_ok=True)
    moved = []
    for file in files:
        destination = target / file.name
        os.replace(file, destination)
        moved.append(destination)
    shutil.rmtree(staging, ignore_errors=True)
    return moved


# Properties whose failure one saved input decides: the generic mask checks of `replay`, plus
# the repeated calls below. Others compare transformed inputs the file does not hold.
_DECIDED_BY_REPLAY = frozenset(
    {
        "pruner.shape",
        "pruner.binary",
        "pruner.exact_count",
        "pruner.magnitude_order",
        "pruner.global_count",
        "pruner.no_mutation",
        "pruner.determinism",
    }
)


def _replay(pruner: PrunerUnderTest, path: Path) -> int:
    """Exit 1 if the recorded failure reproduces or cannot be ruled out; 0 only if it does not."""
    example = load_counterexample(path)
    pristine = None if example.weights is None else np.array(example.weights, copy=True)
    result = replay(example, pruner)
    print(result.to_text())
    repeated = [] if result.reproduced else _repeated_call_problems(pruner, example, pristine)
    for problem in repeated:
        print(f"problem: {problem}")
    if example.message:
        print(f"recorded failure: {example.message.splitlines()[0]}")
    if result.reproduced or repeated:
        print(f"verdict: the recorded failure of {example.property_id} reproduces")
        return EXIT_FAILED
    if example.property_id not in _DECIDED_BY_REPLAY:
        print(
            f"verdict: not ruled out: {example.property_id} compares several calls on transformed inputs, which "
            f"this file does not hold; rerun check-pruner with -k on that property to confirm a fix"
        )
        return EXIT_FAILED
    print(f"verdict: the recorded failure of {example.property_id} does not reproduce")
    return EXIT_OK


def _repeated_call_problems(pruner: PrunerUnderTest, example: Any, pristine: "np.ndarray | None") -> list[str]:
    """No mutation (in the replay just done) and determinism (two more calls) on the saved input."""
    if example.kind != "layer" or pristine is None or "n_prune" not in example.values:
        return []
    problems = [] if example.weights.tobytes() == pristine.tobytes() else ["the pruner modified its input"]
    n = example.values["n_prune"]
    try:
        first = np.asarray(pruner.prune(np.array(pristine, copy=True), n))
        again = np.asarray(pruner.prune(np.array(pristine, copy=True), n))
    except CodeUnderTestError as exc:
        return [*problems, str(exc)]
    if first.shape != again.shape or not np.array_equal(first.astype(bool), again.astype(bool)):
        problems.append("two calls on the same input return different masks")
    return problems
