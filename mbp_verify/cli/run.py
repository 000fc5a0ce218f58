"""`mbp-verify run`: the whole property suite on the reference engine, in parallel."""

from __future__ import annotations

import argparse

from ..reports.atomic import atomic_write_json
from ..reports.folders import mark_latest, new_run_folder, staged_run_folder
from ..suite.runner import count_tests, run_property_suite, validate_selection
from ._common import add_common_arguments, add_suite_arguments, hypothesis_profile, progress, worker_count
from .summary import format_report_summary

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "run",
        help="run the whole property suite on the reference engine (the main job)",
        description="Run every formal property on the built-in reference engine, in parallel, "
        "and write report.json, report.md and junit.xml under reports/.",
    )
    add_common_arguments(parser)
    add_suite_arguments(parser)
    parser.add_argument("--full", action="store_true", help="also run the long statistical sweeps (marker 'slow')")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    validate_selection(args.select, ["."])
    workers = worker_count(args.workers, count_tests(["."]))
    profile = hypothesis_profile(args)
    progress(f"mbp-verify run: property suite on the reference engine ({workers} workers, profile {profile})")
    extra = ["-k", args.select] if args.select else []
    with staged_run_folder(new_run_folder("run", args.seed, args.reports_dir)) as staged:
        outcome = run_property_suite(
            ["."],
            report_dir=staged.staging,
            seed=args.seed,
            profile=profile,
            workers=workers,
            command="run",
            target="reference engine",
            include_slow=args.full,
            extra_args=extra,
        )
        if outcome.problem is not None:
            progress(f"mbp-verify run: {outcome.problem}")
        if outcome.report is None:
            return outcome.exit_code
        folder = staged.publish()
    mark_latest(folder)
    print(format_report_summary(outcome.report, str(folder)))
    if args.json is not None:
        atomic_write_json(args.json, outcome.report)
    return outcome.exit_code
