"""The `mbp-verify` command line: a thin layer over the library.

Each subcommand lives in its own module exposing `register(subparsers)`, which adds a
parser whose `handler(args) -> int` returns the exit code. Exit codes: 0 everything
required passed, 1 a required property failed / guarantee refuted, 2 usage or input error.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys
import traceback
from typing import Sequence

from .. import __version__
from ..errors import InputError
from ._common import EXIT_USAGE

__all__ = ["main", "build_parser"]

EXIT_INTERNAL = 3

# Subcommand modules, in the order `--help` lists them.
COMMAND_MODULES = ("run", "check_pruner", "compare", "theorem", "audit", "bound", "lipschitz")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mbp-verify",
        description="Formal-property verification of magnitude-based pruning (Qian & Klabjan 2021).",
    )
    parser.add_argument("--version", action="version", version=f"mbp-verify {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        if importlib.util.find_spec(f"{__name__}.{name}") is not None:
            importlib.import_module(f"{__name__}.{name}").register(subparsers)
    return parser


def main(argv: "Sequence[str] | None" = None) -> int:
    """Entry point of the console script; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "handler", None) is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        if getattr(args, "seed", 0) < 0:
            raise InputError(f"--seed must be non-negative, got {args.seed}")
        return int(args.handler(args))
    except InputError as exc:
        print(f"mbp-verify {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("mbp-verify: interrupted", file=sys.stderr)
        return 130
    except Exception:  # a bug in mbp-verify itself, not bad input
        traceback.print_exc()
        print("mbp-verify: internal error (the traceback above is a bug; please report it)", file=sys.stderr)
        return EXIT_INTERNAL
