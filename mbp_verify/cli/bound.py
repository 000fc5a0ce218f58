"""`mbp-verify bound`: certified bracket of sup ||f(x) - F(x)|| for a given or sampled network.

    mbp-verify bound NET.npz --alpha 0.3 [--activation relu] [--effort fast|default|thorough]
    mbp-verify bound NET.npz --mask-file MASKS.npz
    mbp-verify bound --sample 3x1024 --alpha 0.2 --seed 7      (or --sample 64,256,256,10)

Exit 0 on success; with `--eps E`: 0 if the upper bound certifies sup <= E, 1 if a replayed
witness violates it or the bracket straddles E; 2 on bad input.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import numpy as np

from ..bounds import EFFORTS, bracket_sup_error
from ..engine import NetworkPair, apply_masks, load_layer_arrays, load_network, prune_network, sample_network
from ..errors import InputError
from ..reports.atomic import json_ready
from ..seeding import seed_sequence
from ._common import EXIT_FAILED, EXIT_OK, add_common_arguments, parse_int_list, progress, write_json_output
from ._memory import bracket_bytes, check_memory, weight_count

__all__ = ["register", "handle", "parse_sample_widths"]

_DEPTH_BY_WIDTH = re.compile(r"^\s*(\d+)\s*x\s*(\d+)\s*$")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "bound",
        help="certified bracket [lower, upper] of sup ||f(x) - F(x)|| over the unit ball",
        description="Bracket sup_{||x||<=1} ||f(x) - F(x)||_2 between a float64-sound upper bound and a "
        "lower bound from a replayed witness x. Exit 0 on success (with --eps: 0 certified, "
        "1 violated or unknown), 2 on bad input.",
    )
    parser.add_argument(
        "network", nargs="?", type=Path, default=None, help=".npz network (arrays W1, W2, ... in natural key order)"
    )
    parser.add_argument(
        "--sample",
        default=None,
        metavar="LxW|d0,d1,...",
        help="sample F under hypothesis (iii) instead: depth x width (3x1024) or a width list (64,256,256,10)",
    )
    prune = parser.add_mutually_exclusive_group()
    prune.add_argument("--alpha", default=None, help="prune floor(D_l^(1-alpha)) smallest-magnitude weights per layer")
    prune.add_argument(
        "--mask-file", type=Path, default=None, help=".npz of 0/1 masks (1 = kept), one per layer in natural key order"
    )
    parser.add_argument(
        "--activation", default="relu", help="hidden activation, e.g. relu, tanh, 'leaky_relu(a=0.2)' (default relu)"
    )
    parser.add_argument("--effort", choices=tuple(EFFORTS), default="default", help="search budget (default: default)")
    parser.add_argument(
        "--eps", type=float, default=None, help="decide eps-closeness: exit 0 if certified, 1 if violated or unknown"
    )
    parser.add_argument(
        "--target-ratio",
        type=float,
        default=None,
        metavar="R",
        help="branch-and-bound over the input until upper <= R * lower (input dimension <= 4; see --branch)",
    )
    parser.add_argument(
        "--time-limit", type=float, default=10.0, metavar="S", help="seconds for --target-ratio (default 10)"
    )
    parser.add_argument(
        "--branch", action="store_true", help="with --target-ratio: branch also when the input dimension exceeds 4"
    )
    add_common_arguments(parser)
    parser.set_defaults(handler=handle)


def parse_sample_widths(text: str) -> list[int]:
    """'3x1024' -> [1024] * 4 (depth 3), '64,256,10' -> [64, 256, 10]."""
    match = _DEPTH_BY_WIDTH.match(text)
    if match:
        depth, width = int(match.group(1)), int(match.group(2))
        if depth < 1 or width < 1:
            raise InputError(f"--sample {text!r}: depth and width must be positive")
        check_memory("bound", f"--sample {text}", bracket_bytes(depth * width * width, depth))  # before the list
        return [width] * (depth + 1)
    widths = parse_int_list(text, "--sample")
    if len(widths) < 2:
        raise InputError(f"--sample {text!r}: give depth x width (3x1024) or at least two widths")
    return widths


def _pair(args: argparse.Namespace) -> NetworkPair:
    if (args.network is None) == (args.sample is None):
        raise InputError("give a NETWORK.npz or --sample (not both)")
    if args.alpha is None and args.mask_file is None:
        raise InputError("give --alpha A or --mask-file M")
    if args.sample is not None:
        widths = parse_sample_widths(args.sample)
        check_memory("bound", f"--sample {args.sample}", bracket_bytes(weight_count(widths), len(widths) - 1))
        network = sample_network(widths, seed_sequence(args.seed, "cli.bound.sample"), activation=args.activation)
    else:
        network = load_network(args.network, activation=args.activation)
    if args.mask_file is not None:
        return apply_masks(network, load_layer_arrays(args.mask_file, "mask"))
    return prune_network(network, args.alpha)


def handle(args: argparse.Namespace) -> int:
    if args.eps is not None and not (np.isfinite(args.eps) and args.eps >= 0):
        raise InputError(f"--eps must be a finite non-negative number, got {args.eps}")
    pair = _pair(args)
    weights = weight_count(pair.original.widths)
    progress(
        check_memory(
            "bound",
            f"widths {list(pair.original.widths)} ({weights} weights), pruned counts "
            f"{list(pair.counts)}, effort {args.effort}",
            bracket_bytes(weights, len(pair.original.widths) - 1),
        )
    )
    result = bracket_sup_error(
        pair,
        rng=seed_sequence(args.seed, "cli.bound.search"),
        effort=args.effort,
        target_ratio=args.target_ratio,
        time_limit=args.time_limit,
        branch=args.branch or None,
    )
    print(f"{'upper bound method':<24} {'value':>14}")
    for name, value in sorted(result.upper_bounds.items(), key=lambda item: item[1]):
        mark = "  <- tightest" if name == result.upper_method else ""
        print(f"{name:<24} {value:>14.6e}{mark}")
    for name, reason in sorted(result.unavailable.items()):
        print(f"{name:<24} {'unavailable':>14}  ({reason})")
    if not result.upper_bounds:
        print(f"{'upper':<24} {'+inf':>14}  (no method gave a finite sound bound)")
    print(f"{'lower (replayed witness)':<24} {result.lower:>14.6e}  +- {result.lower_margin:.1e} rounding")
    print(f"{'ratio upper/lower':<24} {result.ratio:>14.3f}")
    print("timings: " + ", ".join(f"{k} {v:.3f}s" for k, v in result.timings.items()))
    payload = result.to_dict()
    payload.update(
        activation=str(pair.original.activations[0]) if pair.original.activations else None,
        alpha=args.alpha,
        mask_file=str(args.mask_file) if args.mask_file else None,
        network=str(args.network) if args.network else None,
        sample=args.sample,
        seed=args.seed,
        effort=args.effort,
    )
    status = EXIT_OK
    if args.eps is not None:
        decision = result.decide(args.eps)
        payload.update(eps=args.eps, decision=decision)
        print(f"eps = {args.eps:g}: {decision}")
        status = EXIT_OK if decision == "certified" else EXIT_FAILED
    write_json_output(args.json, "bound", json_ready(payload))  # +inf upper: the project's non-finite convention
    return status
