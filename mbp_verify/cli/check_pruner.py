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
from pathlib import Path
from typing import Any

from ..conformance.baseline import compare_baseline, corpus_problems, load_baseline, problems_text, record_baseline
from ..conformance.harness import DEFAULT_TIMEOUT_S, PrunerUnderTest
from ..conformance.loader import load_pruner
from ..conformance.probe import Findings, observe_rules
from ..conformance.protocol import OPTIONAL_HOOKS
from ..conformance.replay_check import check_replay
from ..errors import InputError
from ..suite.pruner_check import payload_of, run_pruner_properties
from ..suite.runner import count_tests, validate_selection
from ._common import (
    EXIT_FAILED,
    EXIT_OK,
    add_common_arguments,
    add_suite_arguments,
    check_timeout,
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
        "--baseline-only",
        action="store_true",
        help="with --baseline / --record-baseline: skip the property suite (exit 1 if the pruner gave no valid "
        "mask on some corpus case, or if --baseline changed)",
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
    check_timeout(args.timeout)
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
        problems = corpus_problems(pruner.spec, document["cases"], pruner.rules, args.seed)
        print(f"baseline recorded: {len(document['cases'])} corpus cases -> {args.record_baseline}")
        if problems:  # a recording of crashes is no pass: comparing with it later would pass while it crashes
            print(problems_text(problems, len(document["cases"])))
        payload["baseline_recorded"] = str(args.record_baseline)
        payload["baseline_recording"] = {
            "cases": len(document["cases"]),
            "problems": [p.to_dict() for p in problems],
            "passed": not problems,
        }
        exit_code = EXIT_FAILED if problems else exit_code
    if args.baseline is not None:
        diff = compare_baseline(pruner, load_baseline(args.baseline))
        print(diff.to_text())
        payload["baseline"] = diff.to_dict()
        exit_code = EXIT_OK if diff.passed and exit_code == EXIT_OK else EXIT_FAILED
    if args.baseline_only:
        write_json_output(args.json, "check-pruner", payload)
        return exit_code
    findings = observe_rules(pruner)
    payload["findings"] = findings.to_dict()
    suite_code = _run_suite(args, pruner, workers, findings, payload)
    write_json_output(args.json, "check-pruner", payload)
    return max(exit_code, suite_code)


def _run_suite(
    args: argparse.Namespace, pruner: PrunerUnderTest, workers: int, findings: Findings, payload: dict[str, Any]
) -> int:
    profile = hypothesis_profile(args)
    hooks = sorted(h for h in OPTIONAL_HOOKS if pruner.has(h))
    progress(
        f"mbp-verify check-pruner: {pruner.name} (effective rules: {pruner.rules.to_text()}; "
        f"hooks: {', '.join(hooks) or 'none'})"
    )
    progress(f"mbp-verify check-pruner: properties/pruner with {workers} workers, profile {profile}")
    run = run_pruner_properties(
        pruner,
        findings,
        seed=args.seed,
        profile=profile,
        workers=workers,
        timeout_s=args.timeout,
        rules=args.rules,
        global_scope=args.global_scope,
        baseline=args.baseline,
        select=args.select,
        reports_dir=args.reports_dir,
    )
    if run.outcome.problem is not None:
        progress(f"mbp-verify check-pruner: {run.outcome.problem}")
    if run.outcome.report is None:
        return run.exit_code
    print(format_report_summary(run.outcome.report, str(run.folder)))
    print()
    print(findings.to_text())
    if run.counterexamples:
        print()
        print("replayable counterexamples (minimal inputs of the failures):")
        for path in run.counterexamples:
            print(f"  {path}")
        print(f"replay one with: mbp-verify check-pruner {args.target} --replay {run.counterexamples[0]}")
    payload.update(payload_of(run))
    return run.exit_code


def _replay(pruner: PrunerUnderTest, path: Path) -> int:
    """Exit 1 if the recorded failure reproduces or cannot be ruled out; 0 only if it does not."""
    verdict = check_replay(pruner, path)
    print(verdict.to_text())
    return EXIT_OK if verdict.ruled_out else EXIT_FAILED
