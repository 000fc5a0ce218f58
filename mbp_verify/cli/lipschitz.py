"""`mbp-verify lipschitz NAME | --expr EXPR`: a proven Lipschitz constant of an activation."""

from __future__ import annotations

import argparse
import math

from ..errors import InputError
from ..reports.atomic import json_ready
from ..symbolic import derive_lipschitz
from ._common import EXIT_FAILED, EXIT_OK, add_common_arguments, write_json_output

__all__ = ["register", "DEFAULT_TIME_LIMIT"]

DEFAULT_TIME_LIMIT = 60.0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "lipschitz",
        help="derive a proven Lipschitz constant of an activation",
        description="Bound K = sup|sigma'(x)| rigorously over all of R (exact where the "
        "bound is proven tight); exit 1 if sigma is not Lipschitz.",
    )
    parser.add_argument("name", nargs="?", default=None, help="registered activation (e.g. gelu, leaky_relu, softmax)")
    parser.add_argument(
        "--param", action="append", default=[], metavar="KEY=VALUE", help="activation parameter, e.g. a=0.2"
    )
    parser.add_argument("--expr", default=None, help='a custom activation in x, e.g. "x*tanh(log(1+exp(x)))"')
    parser.add_argument(
        "--time-limit",
        type=float,
        default=DEFAULT_TIME_LIMIT,
        metavar="SECONDS",
        help=f"wall-clock limit of the derivation (default {DEFAULT_TIME_LIMIT:g} s)",
    )
    add_common_arguments(parser)
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    if not math.isfinite(args.time_limit) or args.time_limit <= 0:
        raise InputError(f"--time-limit must be a finite positive number of seconds, got {args.time_limit!r}")
    if args.name is None and args.expr is None:
        raise InputError("give an activation NAME or --expr")
    if args.name is not None and args.expr is not None:
        raise InputError("give an activation NAME or --expr, not both")
    if args.expr is not None:
        if args.param:
            raise InputError("--param applies to registered activations, not to --expr")
        derivation = derive_lipschitz("custom", expr=args.expr, time_limit=args.time_limit)
    else:
        spec = args.name
        if args.param:
            for item in args.param:
                if "=" not in item:
                    raise InputError(f"--param {item!r} must be KEY=VALUE")
            spec = f"{args.name}({', '.join(args.param)})"
        derivation = derive_lipschitz(spec, time_limit=args.time_limit)
    for step in derivation.steps:
        print(step)
    if derivation.is_lipschitz:
        exact = f" = {derivation.exact}" if derivation.exact else ""
        where = "attained" if derivation.attained else "a supremum, not attained"
        tight = f"{where}" if derivation.kind == "exact" else f"a proven upper bound; gap <= {derivation.gap!r}"
        print(
            f"\n{derivation.name}: K = {derivation.lipschitz!r}{exact} ({derivation.kind}: {tight}); "
            f"slopes in [{derivation.slope_min!r}, {derivation.slope_max!r}]; sigma(0) = {derivation.sigma0_exact}; "
            f"positively homogeneous: {derivation.positively_homogeneous}; monotone: {derivation.monotone}"
        )
    else:
        print(f"\n{derivation.name}: not Lipschitz ({derivation.steps[-1]})")
    write_json_output(args.json, "lipschitz", json_ready(derivation.to_dict()))
    return EXIT_OK if derivation.is_lipschitz else EXIT_FAILED
