"""Conventions shared by every subcommand: common options, JSON output, exit codes."""

from __future__ import annotations

import argparse
import math
import os
import sys
from pathlib import Path
from typing import Any

from .. import __version__
from ..errors import InputError
from ..reports.atomic import atomic_write_json
from ..reports.folders import reports_root
from ..seeding import DEFAULT_ROOT_SEED

__all__ = [
    "EXIT_OK",
    "EXIT_FAILED",
    "EXIT_USAGE",
    "SCHEMA_VERSION",
    "add_common_arguments",
    "add_suite_arguments",
    "check_output_file",
    "check_output_paths",
    "check_reports_root",
    "check_timeout",
    "MAX_TIMEOUT_S",
    "hypothesis_profile",
    "worker_count",
    "write_json_output",
    "schema_document",
    "parse_int_list",
    "split_list",
    "progress",
]

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
SCHEMA_VERSION = 1


def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    """`--json PATH` and `--seed N`, present on every subcommand."""
    parser.add_argument(
        "--json",
        metavar="PATH",
        type=Path,
        default=None,
        help="also write machine-readable results (versioned schema) to PATH",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=DEFAULT_ROOT_SEED,
        help=f"root seed for every random draw (default {DEFAULT_ROOT_SEED})",
    )


def add_suite_arguments(parser: argparse.ArgumentParser) -> None:
    """`--quick` / `--thorough` (Hypothesis profile), `--workers`, `--reports-dir` and `-k`: the
    options of every command that runs the property suite."""
    speed = parser.add_mutually_exclusive_group()
    speed.add_argument("--quick", action="store_true", help="fewer Hypothesis examples and trials")
    speed.add_argument("--thorough", action="store_true", help="many more Hypothesis examples")
    parser.add_argument("--workers", type=int, default=None, help="parallel workers (default: number of CPUs)")
    parser.add_argument("--reports-dir", type=Path, default=None, help="root folder for run reports (default reports/)")
    parser.add_argument(
        "-k", dest="select", default=None, help="only properties whose test names match this pytest -k expression"
    )


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


MAX_TIMEOUT_S = 1_000_000.0  # 11.6 days; the OS waits take at most about 24.8 days (2**31 - 1 ms)


def check_timeout(seconds: float) -> None:
    """`--timeout`: a finite number of seconds in (0, MAX_TIMEOUT_S]; a larger one overflowed the
    waits on the pruner's process (exit 3)."""
    if not (math.isfinite(seconds) and 0 < seconds <= MAX_TIMEOUT_S):
        raise InputError(f"--timeout must be a finite number of seconds > 0 and <= {MAX_TIMEOUT_S:g}, got {seconds:g}")


def schema_document(command: str, payload: dict[str, Any]) -> dict[str, Any]:
    """`payload` under the schema header `{"schema": "mbp-verify/<command>", "schema_version": 1, ...}`."""
    document = {"schema": f"mbp-verify/{command}", "schema_version": SCHEMA_VERSION, "mbp_verify_version": __version__}
    document.update(payload)
    return document


def write_json_output(path: "Path | None", command: str, payload: dict[str, Any]) -> None:
    """Write `payload` with the schema header `{"schema": "mbp-verify/<command>", ...}` (non-finite
    floats as "inf", "-inf", "nan"); the folder must exist (it is never created for a user's path)."""
    if path is None:
        return
    document = schema_document(command, payload)
    check_output_file(path, "--json")
    try:
        atomic_write_json(path, document)
    except OSError as exc:
        raise InputError(f"cannot write JSON output {str(path)!r}: {exc.strerror or exc}") from None


def check_output_file(path: "str | Path", option: str) -> None:
    """A file the command will write: its folder exists and is writable, and the path is not a
    folder or a special file (an atomic rename would replace a device node)."""
    target = Path(path)
    where = f"{option} {str(path)!r}"
    if str(path) == "" or target.name in ("", ".", ".."):
        raise InputError(f"{where}: give a file name")
    if target.is_dir():
        raise InputError(f"{where} is a directory; give a file name")
    if target.exists() and not target.is_file():
        raise InputError(f"{where} is not a regular file")
    parent = target.parent
    if not parent.is_dir():
        raise InputError(
            f"{where}: folder {str(parent)!r} does not exist"
            if not parent.exists()
            else f"{where}: {str(parent)!r} is not a folder"
        )
    if not os.access(parent, os.W_OK | os.X_OK):
        raise InputError(f"{where}: folder {str(parent)!r} is not writable")


def check_reports_root(path: "str | Path", option: str = "--reports-dir") -> None:
    """A root for report folders: an existing writable folder, or creatable (its nearest existing
    ancestor is a writable folder) -- never an existing file."""
    target = Path(path)
    where = f"{option} {str(path)!r}"
    if target.exists() and not target.is_dir():
        raise InputError(f"{where} exists and is not a folder")
    ancestor = target
    while not ancestor.exists():
        if ancestor.parent == ancestor:
            break
        ancestor = ancestor.parent
    if ancestor.exists() and not ancestor.is_dir():
        raise InputError(f"{where} cannot be created: {str(ancestor)!r} is a file")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise InputError(f"{where}: {str(ancestor)!r} is not writable")


# Options naming a file a command writes, on whichever subcommand has them.
_OUTPUT_FILES = (("json", "--json"), ("record_baseline", "--record-baseline"))


# Options naming a file a command reads (audit's WEIGHTS files are added by command name:
# theorem's --weights is a distribution, not a file).
_INPUT_FILES = (
    ("baseline", "--baseline"),
    ("replay", "--replay"),
    ("network", "NETWORK"),
    ("mask_file", "--mask-file"),
    ("compare", "--compare"),
)


def check_output_paths(args: argparse.Namespace) -> None:
    """Every output path of a parsed command line, checked before any work starts."""
    for attribute, option in _OUTPUT_FILES:
        if getattr(args, attribute, None) is not None:
            check_output_file(getattr(args, attribute), option)
    _check_distinct_files(args)
    if not hasattr(args, "reports_dir"):
        return
    if args.reports_dir is not None:
        check_reports_root(args.reports_dir)
    elif _writes_report(args):
        check_reports_root(reports_root(), "the reports folder")
    else:
        return
    root = os.path.realpath(reports_root(args.reports_dir))
    for attribute, option in _OUTPUT_FILES:  # a file named like the reports folder the run creates
        path = getattr(args, attribute, None)
        if path is not None and os.path.realpath(path) == root:
            raise InputError(f"{option} {str(path)!r} is also the reports folder: give the file another name")


def _check_distinct_files(args: argparse.Namespace) -> None:
    """No output file is another output or an input of the same command line: `--baseline b.json
    --record-baseline b.json` recorded first and then compared the pruner with itself (exit 0 for
    any change), and `--json` over the baseline or a weights file replaced it."""
    outputs = [(option, Path(getattr(args, a))) for a, option in _OUTPUT_FILES if getattr(args, a, None) is not None]
    inputs = [(option, Path(getattr(args, a))) for a, option in _INPUT_FILES if _is_path(getattr(args, a, None))]
    if getattr(args, "command", None) == "audit":
        inputs += [("a WEIGHTS file", Path(w)) for w in getattr(args, "weights", None) or () if _is_path(w)]
    for i, (option, path) in enumerate(outputs):
        for other, other_path in outputs[:i] + inputs:
            if os.path.realpath(path) == os.path.realpath(other_path):
                raise InputError(f"{option} {str(path)!r} is also {other}: give each file its own name")


def _is_path(value: Any) -> bool:
    return isinstance(value, (str, Path)) and bool(str(value))


def _writes_report(args: argparse.Namespace) -> bool:
    """False for the modes that write no report folder (audit --no-report, check-pruner --replay / --baseline-only)."""
    return not (
        getattr(args, "no_report", False)
        or getattr(args, "replay", None) is not None
        or getattr(args, "baseline_only", False)
    )


def split_list(text: str, what: str) -> list[str]:
    """'a, b,c' -> ['a', 'b', 'c']; an empty list or an empty entry ('0.2,,0.3', '64,') is an InputError."""
    items = [t.strip() for t in text.split(",")]
    if not any(items):
        raise InputError(f"{what} needs at least one value, got {text!r}")
    if not all(items):
        raise InputError(f"{what} has an empty entry in {text!r}")
    return items


def parse_int_list(text: str, what: str) -> list[int]:
    """Parse '64,128,256' (or '3x1024' style is handled by callers) into positive ints."""
    items = split_list(text, what)
    if not all(t.isascii() and t.isdigit() for t in items):
        raise InputError(f"{what} must be a comma-separated list of positive integers, got {text!r}")
    values = [int(t) for t in items]
    if any(v < 1 for v in values):
        raise InputError(f"{what} must list positive integers, got {text!r}")
    return values


def progress(message: str) -> None:
    """One line of progress on stderr (kept off stdout so tables stay clean)."""
    print(message, file=sys.stderr, flush=True)
