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
    audit_weights,
    check_draws,
    default_draws,
    format_text,
    write_audit_folder,
)
from ..bounds import EFFORTS
from ..engine import validate_alpha
from ..errors import InputError
from ._common import (
    EXIT_FAILED,
    EXIT_OK,
    add_common_arguments,
    parse_int_list,
    progress,
    split_list,
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

Exit 0 when the audit ran (rejected hypotheses are findings), 1 when a hypothesis named in
--require is rejected, 2 for unreadable or unknown files, pickles without torch, bad
selections and other input errors."""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "audit",
        help="test Theorem 1's hypotheses on real weight files",
        description=_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "weights", metavar="WEIGHTS", type=Path, help="weight file (.npz, .npy, .safetensors, .pt/.pth/.bin)"
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
    draws = check_draws(None if args.draws is None else validate_integer(args.draws, "--draws", 1), args.level)
    fewest = (
        f" (the fewest that --level {args.level:g} allows)" if args.draws is None and draws > default_draws() else ""
    )
    estimate = check_memory("audit", f"{draws:.3g} Monte Carlo draws per test{fewest}", monte_carlo_bytes(draws, 0))
    alpha = None if args.no_consequences else float(validate_alpha(args.alpha))
    report = audit_weights(
        args.weights,
        layers=args.layers,
        layout=args.layout,
        activation=args.activation,
        alpha=alpha,
        compare=args.compare,
        seed=args.seed,
        level=args.level,
        draws=draws,
        effort=args.effort,
        progress=_after(estimate),
        conv_input=None if args.conv_input is None else _conv_input(args.conv_input),
    )
    failed = [h for h in required if report.rejected(h)]
    payload = {
        **report.to_dict(),
        "required": list(required),
        "required_rejected": failed,
        "exit_code": EXIT_FAILED if failed else EXIT_OK,
    }
    print(format_text(report))
    if not args.no_report:
        folder = write_audit_folder(
            report, lambda path: write_json_output(path, "audit", payload), args.reports_dir, progress
        )
        payload["report_dir"] = str(folder)
        print(f"report: {folder}/report.md (also report.json, figures/)")
    write_json_output(args.json, "audit", payload)
    if failed:
        print(f"required hypotheses rejected: {', '.join(failed)}")
    return EXIT_FAILED if failed else EXIT_OK
