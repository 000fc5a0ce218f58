"""Conventions shared by every subcommand: common options, JSON output, exit codes."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..reports.atomic import atomic_write_json
from ..seeding import DEFAULT_ROOT_SEED
from .. import __version__

__all__ = [
    "EXIT_OK",
    "EXIT_FAILED",
    "EXIT_USAGE",
    "SCHEMA_VERSION",
    "add_common_arguments",
    "add_suite_arguments",
    "hypothesis_profile",
    "worker_count",
    "write_json_output",
    "parse_int_list",
    "progress",
]

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
SCHEMA_VERSION = 1


def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    """`--json PATH` and `--seed N`, present on every subcommand."""
    parser.add_argument("--json", metavar="PATH", type=Path, default=None,
                        help="also write machine-readable results (versioned schema) to PATH")
    parser.add_argument("--seed", type=int, default=DEFAULT_ROOT_SEED,
                        help=f"root seed for every random draw (default {DEFAULT_ROOT_SEED})")


def add_suite_arguments(parser: argparse.ArgumentParser) -> None:
    """`--quick` / `--thorough` (Hypothesis profile), `--workers`, `--reports-dir` and `-k`: the
    options of every command that runs the property suite."""
    speed = parser.add_mutually_exclusive_group()
    speed.add_argument("--quick", action="store_true", help="fewer Hypothesis examples and trials")
    speed.add_argument("--thorough", action="store_true", help="many more Hypothesis examples")
    parser.add_argument("--workers", type=int, default=None, help="parallel workers (default: number of CPUs)")
    parser.add_argument("--reports-dir", type=Path, default=None, help="root folder for run reports (default reports/)")
    parser.add_argument("-k", dest="select", default=None, help="only properties whose test names match this pytest -k expression")


def hypothesis_profile(args: argparse.Namespace) -> str:
    """The Hypothesis profile chosen by `--quick` / `--thorough`."""
    return "mbp-quick" if args.quick else "mbp-thorough" if args.thorough else "mbp-default"


def worker_count(requested: "int | None", items: "int | None" = None) -> int:
    """`--workers`: the number given (at least 1), or one per CPU; never more than the CPUs this
    process may use nor than `items` (the work there is), with a note on stderr when capped."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    if requested is not None and requested < 1:
        raise InputError(f"--workers must be at least 1, got {requested}")
    workers = requested if requested is not None else cpus
    limit = max(1, min(cpus, items if items is not None else cpus))
    if workers > limit:
        if requested is not None:
            bound = f"{cpus} CPUs" if limit == cpus else f"{items} test items"
            progress(f"note: --workers {requested} capped at {limit} ({bound})")
        workers = limit
    return workers


def write_json_output(path: "Path | None", command: str, payload: dict[str, Any]) -> None:
    """Write `payload` with the schema header `{"schema": "mbp-verify/<command>", ...}`."""
    if path is None:
        return
    document = {"schema": f"mbp-verify/{command}", "schema_version": SCHEMA_VERSION,
                "mbp_verify_version": __version__}
    document.update(payload)
    try:
        atomic_write_json(path, document)
    except OSError as exc:
        raise InputError(f"cannot write JSON output {str(path)!r}: {exc.strerror or exc}") from None


def parse_int_list(text: str, what: str) -> list[int]:
    """Parse '64,128,256' (or '3x1024' style is handled by callers) into positive ints."""
    try:
        values = [int(t) for t in text.replace(" ", "").split(",") if t]
    except ValueError:
        raise InputError(f"{what} must be a comma-separated list of integers, got {text!r}") from None
    if not values or any(v < 1 for v in values):
        raise InputError(f"{what} must list positive integers, got {text!r}")
    return values


def progress(message: str) -> None:
    """One line of progress on stderr (kept off stdout so tables stay clean)."""
    print(message, file=sys.stderr, flush=True)
