"""`mbp-verify audit WEIGHTS`: which of Theorem 1's hypotheses a weight file satisfies, and what it costs."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

from .._validation import validate_integer, validate_probability
from ..audit import (
    DEFAULT_LEVEL,
    HYPOTHESES,
    LAYOUTS,
    AuditSettings,
    audit_files,
    check_draws,
    default_draws,
    expand_weight_paths,
    format_text,
    write_audit_folder,
)
from ..audit.batch import FileAudit, file_document, format_summary, summary_document, write_batch_folder
from ..bounds import EFFORTS
from ..engine import validate_alpha
from ..errors import InputError
from ..theorem.executors import EXECUTORS, SCHEDULER_VARIABLE, DaskPool, make_executor
from ._common import (
    add_common_arguments,
    parse_int_list,
    progress,
    split_list,
    worker_count,
    write_json_output,
)
from ._memory import check_memory, monte_carlo_bytes

__all__ = ["register", "handle"]

_DESCRIPTION = """\
Audit the weight matrices of WEIGHTS (.npz, .npy, .safetensors, or a PyTorch state dict read with
torch.load(weights_only=True)) against Theorem 1's hypotheses: (i) the activation is Lipschitz
(symbolic), (ii) min hidden width >= max(input, output) width, (iii) entries iid uniform on a
symmetric interval (per layer: uniformity with the scale estimated, symmetry, kurtosis, row and
column heterogeneity, top singular value and bulk spectrum against the iid prediction; Holm
across each layer's tests), plus one K for all layers. Then brackets the pruned error at
Theorem 1's count for the real weights, an iid-uniform surrogate and a shuffled copy.

Bias vectors are skipped. Matrices are W_l (d_l, d_l-1) = PyTorch's (out, in); scikit-learn's
coefs_ are (in, out) and are transposed automatically when only that orientation chains
(or say --layout in-out). Conv kernels are reshaped to (out, in*kh*kw).

Several files (or a quoted glob, 'weights/*.safetensors') are audited as tasks on the local
process pool or a Dask cluster (--executor, --scheduler, --workers), each with the same seed as
alone: one report folder per file and a summary (table, summary.json, summary.md) in
reports/audits-<time>-seed<S>/.

Exit 0 when the audit ran (rejected hypotheses are findings), 1 when a hypothesis named in
--require is rejected, 2 for unreadable or unknown files, pickles without torch, bad
selections and other input errors. With several files: the worst file's code, and 3 for a
file whose audit could not complete (its worker died on every attempt)."""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "audit",
        help="test Theorem 1's hypotheses on real weight files",
        description=_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "weights",
        metavar="WEIGHTS",
        nargs="+",
        help="weight files (.npz, .npy, .safetensors, .pt/.pth/.bin), or quoted globs such as 'weights/*.safetensors'",
    )
    parser.add_argument(
        "--layers",
        metavar="REGEX",
        default=None,
        help="audit the tensors whose names match REGEX (re.search), in natural order (default: every matrix)",
    )
    parser.add_argument(
        "--layout",
        choices=LAYOUTS,
        default="auto",
        help="orientation of 2-D tensors: out-in (PyTorch), in-out (scikit-learn coefs_), auto (default)",
    )
    parser.add_argument(
        "--activation", default="relu", help="hidden activation, or one per hidden layer comma-separated (default relu)"
    )
    parser.add_argument(
        "--alpha", default="0.3", help="pruning alpha for the consequences: floor(D_l^(1-alpha)) pruned (default 0.3)"
    )
    parser.add_argument("--no-consequences", action="store_true", help="skip bracketing the pruned error")
    parser.add_argument(
        "--conv-input",
        default=None,
        metavar="H,W",
        help="image size assumed for conv kernels audited as operators when the file does not store it "
        "(default 32,32; stride 1, zero padding)",
    )
    parser.add_argument(
        "--effort", choices=tuple(EFFORTS), default="default", help="bracket search effort (default default)"
    )
    parser.add_argument(
        "--compare",
        metavar="INIT",
        type=Path,
        default=None,
        help="initial weights of the same network: how far each layer moved, and (iii) at init",
    )
    parser.add_argument(
        "--level",
        type=float,
        default=DEFAULT_LEVEL,
        help=f"level of each layer's (iii) family, Holm-corrected (default {DEFAULT_LEVEL:g})",
    )
    parser.add_argument(
        "--draws",
        type=int,
        default=None,
        help="Monte Carlo draws per Monte Carlo test (default 199, more when --level is small)",
    )
    parser.add_argument(
        "--require",
        default=None,
        metavar="HYP[,HYP]",
        help=f"exit 1 when one of these is rejected: {', '.join(HYPOTHESES)} or all",
    )
    parser.add_argument("--reports-dir", type=Path, default=None, help="root folder for reports (default reports/)")
    parser.add_argument("--no-report", action="store_true", help="do not write a report folder")
    parser.add_argument(
        "--executor",
        default="local",
        choices=EXECUTORS,
        help="with several files: local = a process pool on this machine (default); dask = a Dask cluster",
    )
    parser.add_argument(
        "--scheduler",
        default=None,
        metavar="tcp://HOST:PORT",
        help=f"with several files: an existing Dask scheduler (default ${SCHEDULER_VARIABLE}, else a LocalCluster)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        help="with several files: worker processes (default: CPUs, at most one per file)",
    )
    add_common_arguments(parser)
    parser.set_defaults(handler=handle)


def _required(text: "str | None") -> tuple[str, ...]:
    if text is None:
        return ()
    items = split_list(text, "--require")
    if items == ["all"]:
        return HYPOTHESES
    unknown = [t for t in items if t not in HYPOTHESES]
    if unknown:
        raise InputError(f"--require takes {', '.join(HYPOTHESES)} or all (comma-separated), got {text!r}")
    return tuple(items)


def _conv_input(text: str) -> tuple[int, int]:
    values = parse_int_list(text, "--conv-input")
    if len(values) != 2:
        raise InputError(f"--conv-input {text!r}: give H,W (two positive integers)")
    return values[0], values[1]


def _after(first: str) -> Callable[[str], None]:
    """`progress`, printing `first` before the first message (once the weights are read and checked)."""
    pending = [first]

    def say(message: str) -> None:
        while pending:
            progress(pending.pop())
        progress(message)

    return say


def handle(args: argparse.Namespace) -> int:
    required = _required(args.require)
    validate_probability(args.level, "--level")
    alpha = float(validate_alpha(args.alpha))  # also with --no-consequences: a bad value is a usage error
    draws = check_draws(None if args.draws is None else validate_integer(args.draws, "--draws", 1), args.level)
    fewest = (
        f" (the fewest that --level {args.level:g} allows)" if args.draws is None and draws > default_draws() else ""
    )
    settings = AuditSettings(
        layers=args.layers,
        layout=args.layout,
        activation=args.activation,
        alpha=None if args.no_consequences else alpha,
        compare=None if args.compare is None else str(args.compare),
        seed=args.seed,
        level=args.level,
        draws=draws,
        effort=args.effort,
        required=required,
        report=not args.no_report,
        conv_input=None if args.conv_input is None else _conv_input(args.conv_input),
    )
    paths = expand_weight_paths(args.weights)
    workers = min(worker_count(args.workers), len(paths))
    executor = make_executor(args.executor, workers, args.scheduler)  # checks the options in either case
    estimate = check_memory(
        "audit",
        f"{draws:.3g} Monte Carlo draws per test{fewest}" + (f", {workers} workers" if len(paths) > 1 else ""),
        monte_carlo_bytes(draws, 0) * (workers if len(paths) > 1 else 1),
    )
    if len(paths) == 1:
        if args.executor != "local" or args.workers is not None:
            progress("audit: one file: audited in this process (--executor and --workers apply to several files)")
        return _one_file(args, paths[0], settings, estimate)
    progress(estimate)
    with executor as pool:
        if isinstance(pool, DaskPool):
            progress(f"audit: Dask dashboard {pool.dashboard_link}")
        progress(f"audit: {len(paths)} files on {pool.slots} workers ({args.executor})")
        outcomes = audit_files(paths, settings, pool, _FileProgress(len(paths)))
    summary = summary_document(outcomes, settings)
    print(format_summary(summary))
    if settings.report:
        folder = write_batch_folder(outcomes, summary, write_json_output, args.reports_dir)
        print(f"report: {folder}/summary.md (also summary.json, one folder per audited file)")
    write_json_output(args.json, "audit-summary", summary)
    return int(summary["exit_code"])


class _FileProgress:
    """One line on stderr per finished file."""

    def __init__(self, total: int) -> None:
        self.total, self.done = total, 0

    def __call__(self, position: int, outcome: FileAudit) -> None:
        self.done += 1
        detail = f": {outcome.message}" if outcome.message else ""
        progress(f"audit: [{self.done}/{self.total}] {outcome.path}: {outcome.status.replace('_', ' ')}{detail}")


def _one_file(args: argparse.Namespace, path: str, settings: AuditSettings, estimate: str) -> int:
    """The audit of a single file, in this process, with its own table and report folder."""
    report = settings.audit(path, progress=_after(estimate))
    payload = file_document(report, settings.required)
    print(format_text(report))
    if settings.report:
        folder = write_audit_folder(
            report, lambda target: write_json_output(target, "audit", payload), args.reports_dir, progress
        )
        payload["report_dir"] = str(folder)
        print(f"report: {folder}/report.md (also report.json, figures/)")
    write_json_output(args.json, "audit", payload)
    if payload["required_rejected"]:
        print(f"required hypotheses rejected: {', '.join(payload['required_rejected'])}")
    return int(payload["exit_code"])
