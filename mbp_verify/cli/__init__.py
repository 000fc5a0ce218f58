"""The `mbp-verify` command line: a thin layer over the library.

Each subcommand lives in its own module exposing `register(subparsers)`, which adds a
parser whose `handler(args) -> int` returns the exit code. Exit codes: 0 everything
required passed, 1 a required property failed / guarantee refuted, 2 usage or input error,
3 internal error, 130 interrupted (Ctrl-C), 141 the reader of standard output went away (a closed
pipe, as in `| head`: 128 + SIGPIPE, as shell tools report it), 143 terminated (SIGTERM, unwound
like Ctrl-C).
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import signal
import sys
import threading
import traceback
from collections.abc import Sequence
from typing import Any, NoReturn

from .. import __version__
from ..errors import InputError
from ._common import EXIT_USAGE, check_output_paths

__all__ = ["main", "build_parser"]

EXIT_INTERNAL = 3
EXIT_INTERRUPTED = 130  # 128 + SIGINT
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE
EXIT_TERMINATED = 143  # 128 + SIGTERM

# Subcommand modules, in the order `--help` lists them.
COMMAND_MODULES = ("run", "check_pruner", "compare", "theorem", "audit", "bound", "lipschitz")


class _Parser(argparse.ArgumentParser):
    """argparse with a one-line usage error: `mbp-verify CMD: error: ... (see mbp-verify CMD --help)`."""

    def error(self, message: str) -> "NoReturn":
        flat = " ".join(message.split())
        self.exit(EXIT_USAGE, f"{self.prog}: error: {flat} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
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
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a usage error already printed on one line
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    if getattr(args, "handler", None) is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    previous = _handle_sigterm()
    try:
        if getattr(args, "seed", 0) < 0:
            raise InputError(f"--seed must be non-negative, got {args.seed}")
        check_output_paths(args)
        code = int(args.handler(args))
        sys.stdout.flush()  # a closed pipe shows here, inside the handling below, not at interpreter exit
        return code
    except BrokenPipeError:
        _discard_stdout()
        return EXIT_BROKEN_PIPE
    except InputError as exc:
        print(f"mbp-verify {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except Terminated:
        print("mbp-verify: terminated", file=sys.stderr)
        return EXIT_TERMINATED
    except KeyboardInterrupt:
        print("mbp-verify: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception:  # a bug in mbp-verify itself, not bad input
        traceback.print_exc()
        print("mbp-verify: internal error (the traceback above is a bug; please report it)", file=sys.stderr)
        return EXIT_INTERNAL
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _discard_stdout() -> None:
    """Point standard output at /dev/null, so that the interpreter's final flush of text still
    buffered for the closed pipe does not raise again (and print a traceback) at exit."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the command is, so that it unwinds as on Ctrl-C: workers are stopped and
    staging folders removed (the default action would end the process at once and leave them)."""


def _raise_terminated(signum: int, frame: object) -> None:
    raise Terminated()


def _handle_sigterm() -> "signal.Handlers | Any":
    """Install the SIGTERM handler (main thread only); returns the previous handler, or None."""
    if threading.current_thread() is not threading.main_thread():
        return None
    return signal.signal(signal.SIGTERM, _raise_terminated)
