"""`mbp-verify run`: the whole property suite on the reference engine, in parallel."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from ..errors import InputError
from ..reports.atomic import atomic_write_json
from ..reports.folders import mark_latest, new_run_folder
from ..suite.runner import run_property_suite
from ._common import add_common_arguments, progress
from .summary import format_report_summary

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "run", help="run the whole property suite on the reference engine (the main job)",
        description="Run every formal property on the built-in reference engine, in parallel, "
                    "and write report.json, report.md and junit.xml under reports/.",
    )
    add_common_arguments(parser)
    speed = parser.add_mutually_exclusive_group()
    speed.add_argument("--quick", action="store_true", help="fewer Hypothesis examples (under a minute)")
    speed.add_argument("--thorough", action="store_true", help="many more Hypothesis examples")
    parser.add_argument("--full", action="store_true", help="also run the long statistical sweeps (marker 'slow')")
    parser.add_argument("--workers", type=int, default=None, help="parallel workers (default: number of CPUs)")
    parser.add_argument("--reports-dir", type=Path, default=None, help="root folder for run reports (default reports/)")
    parser.add_argument("-k", dest="select", default=None, help="only properties whose test names match this pytest -k expression")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    workers = args.workers if args.workers is not None else max(1, os.cpu_count() or 1)
    if workers < 1:
        raise InputError(f"--workers must be at least 1, got {workers}")
    if args.seed < 0:
        raise InputError(f"--seed must be non-negative, got {args.seed}")
    profile = "mbp-quick" if args.quick else "mbp-thorough" if args.thorough else "mbp-default"
    folder = new_run_folder("run", args.seed, args.reports_dir)
    progress(f"mbp-verify run: property suite on the reference engine ({workers} workers, profile {profile})")
    extra = ["-k", args.select] if args.select else []
    outcome = run_property_suite(
        ["."], report_dir=folder, seed=args.seed, profile=profile, workers=workers,
        command="run", target="reference engine", include_slow=args.full, extra_args=extra,
    )
    if outcome.report is None:
        progress(f"mbp-verify run: the property suite produced no report (pytest exit code {outcome.pytest_exit_code})")
        return outcome.exit_code
    mark_latest(folder)
    print(format_report_summary(outcome.report, str(folder)))
    if args.json is not None:
        atomic_write_json(args.json, outcome.report)
    return outcome.exit_code
