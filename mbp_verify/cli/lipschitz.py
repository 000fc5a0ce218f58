"""`mbp-verify lipschitz NAME`: derive an activation's tight Lipschitz constant in sympy."""

from __future__ import annotations

import argparse

from ..errors import InputError
from ..symbolic import derive_lipschitz
from ._common import EXIT_FAILED, EXIT_OK, add_common_arguments, write_json_output

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("lipschitz", help="derive the tight Lipschitz constant of an activation",
                                   description="Derive K = sup|sigma'(x)| symbolically; exit 1 if sigma is not Lipschitz.")
    parser.add_argument("name", nargs="?", default=None, help="registered activation (e.g. gelu, leaky_relu, softmax)")
    parser.add_argument("--param", action="append", default=[], metavar="KEY=VALUE", help="activation parameter, e.g. a=0.2")
    parser.add_argument("--expr", default=None, help='a custom activation in x, e.g. "x*tanh(log(1+exp(x)))"')
    add_common_arguments(parser)
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    if args.name is None and args.expr is None:
        raise InputError("give an activation NAME or --expr")
    if args.expr is not None:
        if args.param:
            raise InputError("--param applies to registered activations, not to --expr")
        derivation = derive_lipschitz(args.name or "custom", expr=args.expr)
    else:
        spec = args.name
        if args.param:
            for item in args.param:
                if "=" not in item:
                    raise InputError(f"--param {item!r} must be KEY=VALUE")
            spec = f"{args.name}({', '.join(args.param)})"
        derivation = derive_lipschitz(spec)
    for step in derivation.steps:
        print(step)
    if derivation.is_lipschitz:
        exact = f" = {derivation.exact}" if derivation.exact else ""
        where = "attained" if derivation.attained else "a supremum, not attained"
        print(f"\n{derivation.name}: K = {derivation.lipschitz!r}{exact} ({where}); sigma(0) = {derivation.sigma0_exact}; "
              f"positively homogeneous: {derivation.positively_homogeneous}; monotone: {derivation.monotone}")
    else:
        print(f"\n{derivation.name}: not Lipschitz (sigma' is unbounded)")
    write_json_output(args.json, "lipschitz", derivation.to_dict())
    return EXIT_OK if derivation.is_lipschitz else EXIT_FAILED
