"""`mbp-verify compare TARGET...`: several pruners side by side on the same seeded corpus.

Loads every target (MODULE:ATTR, as for check-pruner), probes each one's observed rules,
runs all of them on the baseline corpus, and writes `compare.json`, `compare.md` and
`matrix.png` (pruner x aspect) into a report folder. Exit 0 when every pruner gave a mask
to compare on every corpus case (differences between masks are findings, not failures), 1 when
a pruner crashed, timed out, raised where its rules allow no raise or returned no valid mask
on some case (that case was not compared; status `error` or `fail`), 2 on bad input.
"""

from __future__ import annotations

import argparse

from ..conformance.compare import compare_pruners
from ..conformance.harness import DEFAULT_TIMEOUT_S, PrunerUnderTest
from ..conformance.loader import load_pruner, split_spec
from ..errors import InputError
from ..reports.atomic import atomic_write_json, atomic_write_text
from ..reports.folders import mark_latest, new_run_folder, staged_run_folder
from ._common import add_common_arguments, check_timeout, progress, schema_document, write_json_output

__all__ = ["register", "handle"]


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "compare",
        help="run several pruners (MODULE:ATTR ...) on the same seeded corpus, side by side",
        description="Probe each pruner's observed rules, run all of them on the seeded baseline corpus, list the "
        "cases where their masks differ with a minimal input for each, and write JSON, Markdown and "
        "a PNG matrix into a report folder.",
    )
    parser.add_argument("targets", nargs="+", metavar="MODULE:ATTR", help="two or more pruners")
    add_common_arguments(parser)
    parser.add_argument("--reports-dir", default=None, help="root folder for the report (default reports/)")
    parser.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT_S,
        metavar="SECONDS",
        help=f"per-call time limit for each pruner (default {DEFAULT_TIMEOUT_S:g})",
    )
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    if len(args.targets) < 2:
        raise InputError("compare needs at least two pruners (MODULE:ATTR MODULE:ATTR ...)")
    if len({split_spec(t) for t in args.targets}) != len(args.targets):  # 'm:f' and 'm:f ' are one pruner
        raise InputError("compare got the same pruner twice")
    check_timeout(args.timeout)
    pruners = [
        PrunerUnderTest(load_pruner(t, timeout_s=args.timeout), spec=t, timeout_s=args.timeout) for t in args.targets
    ]
    progress(f"mbp-verify compare: {len(pruners)} pruners on the seeded corpus (seed {args.seed})")
    comparison = compare_pruners(pruners, seed=args.seed)
    folder = new_run_folder("compare", args.seed, args.reports_dir)
    try:
        with staged_run_folder(folder) as staged:
            staged.staging.mkdir(parents=True)
            atomic_write_json(staged.staging / "compare.json", schema_document("compare", comparison.to_dict()))
            atomic_write_text(staged.staging / "compare.md", comparison.to_markdown())
            comparison.write_png(staged.staging / "matrix.png")
            folder = staged.publish()
    except OSError as exc:  # a disk that filled up, a folder that cannot hold files (/proc)
        raise InputError(f"cannot write the report folder {str(folder)!r}: {exc.strerror or exc}") from None
    mark_latest(folder)
    print(comparison.to_text())
    print(f"report: {folder / 'compare.md'} (also compare.json, matrix.png)")
    write_json_output(args.json, "compare", {"report_dir": str(folder), **comparison.to_dict()})
    return comparison.exit_code
