"""`mbp-verify bound`: certified bracket of sup ||f(x) - F(x)|| for a given or sampled network.

    mbp-verify bound NET.npz --alpha 0.3 [--activation relu] [--effort fast|default|thorough]
    mbp-verify bound NET.npz --mask-file MASKS.npz
    mbp-verify bound --sample 3x1024 --alpha 0.2 --seed 7      (or --sample 64,256,256,10)
    mbp-verify bound CNN.npz --alpha 0.3 [--input-shape 3,32,32]   (a conv network file)
    mbp-verify bound --sample 2x16 --input-shape 3,8,8 --alpha 0.3  (conv layers of 16 channels)

A conv network file (`engine.convfile`: arrays plus `__mbp_meta__`) carries its input shape;
`--input-shape`, if given, must agree with it. A dense file has no input shape: `--input-shape`
with a dense file is an input error (a dense network's input is the flat vector already). With
`--sample`, `--input-shape` samples a conv network instead (3x3 kernels, zero padding, stride 1:
'LxC' is L conv layers of C channels, 'c1,c2,...' their channel counts). Conv pairs are bracketed
by `bounds.conv_bracket` (no branch-and-bound: `--target-ratio` is refused).

Exit 0 on success; with `--eps E`: 0 if the upper bound certifies sup <= E, 1 if a replayed
witness violates it or the bracket straddles E; 2 on bad input.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import numpy as np

from ..bounds import EFFORTS, ErrorBracket, bracket_conv_sup_error, bracket_sup_error
from ..bounds.bracket import check_search_options
from ..engine import (
    ConvNetwork,
    Network,
    NetworkPair,
    apply_masks,
    load_any_network,
    load_layer_arrays,
    prune_network,
    sample_conv_network,
    sample_network,
)
from ..errors import InputError
from ..reports.atomic import json_ready
from ..seeding import seed_sequence
from ._common import EXIT_FAILED, EXIT_OK, add_common_arguments, parse_int_list, progress, write_json_output
from ._memory import bracket_bytes, check_memory, dense_bracket_bytes, weight_count

__all__ = ["register", "handle", "parse_sample_widths", "parse_input_shape"]

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
        "--activation",
        default=None,
        help="hidden activation, e.g. relu, tanh, 'leaky_relu(a=0.2)' (default: relu, or a conv file's stored ones)",
    )
    parser.add_argument(
        "--input-shape",
        default=None,
        metavar="C,H,W",
        help="image shape of a conv network (optional for conv files, which store it and must agree); "
        "with --sample: sample conv layers",
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
    parser.add_argument(
        "--certify-all",
        action="store_true",
        help="certify the averaged and layerwise bounds also where an estimate of either exceeds the ellipsoid bound",
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
        check_memory(
            "bound", f"--sample {text}", dense_bracket_bytes(depth * width * width, depth, width)
        )  # before the list
        return [width] * (depth + 1)
    widths = parse_int_list(text, "--sample")
    if len(widths) < 2:
        raise InputError(f"--sample {text!r}: give depth x width (3x1024) or at least two widths")
    return widths


def parse_input_shape(text: str) -> tuple[int, int, int]:
    """'3,32,32' -> (3, 32, 32)."""
    values = parse_int_list(text, "--input-shape")
    if len(values) != 3:
        raise InputError(f"--input-shape {text!r}: give C,H,W (three positive integers)")
    return values[0], values[1], values[2]


def _sample_conv(args: argparse.Namespace, shape: tuple[int, int, int], activation: str) -> ConvNetwork:
    """--sample with --input-shape: 'LxC' or 'c1,c2,...' conv layers (3x3, zero padding, stride 1)."""
    match = _DEPTH_BY_WIDTH.match(args.sample)
    channels = [int(match.group(2))] * int(match.group(1)) if match else parse_int_list(args.sample, "--sample")
    if not channels or min(channels) < 1:
        raise InputError(f"--sample {args.sample!r}: give LxC or a list of positive channel counts")
    features = sum(c * shape[1] * shape[2] for c in channels)
    weights = sum(a * b * 9 for a, b in zip([shape[0], *channels], channels))
    check_memory(
        "bound",
        f"--sample {args.sample} --input-shape {args.input_shape}",
        _conv_bytes(weights, features, len(channels), "thorough"),
    )
    return sample_conv_network(shape, channels, seed_sequence(args.seed, "cli.bound.sample"), activation=activation)


def _network(args: argparse.Namespace) -> "Network | ConvNetwork":
    """The network F from the file or from --sample, with --input-shape checked against it."""
    shape = None if args.input_shape is None else parse_input_shape(args.input_shape)
    if args.sample is not None:
        if shape is not None:
            return _sample_conv(args, shape, args.activation or "relu")
        widths = parse_sample_widths(args.sample)
        check_memory(
            "bound", f"--sample {args.sample}", dense_bracket_bytes(weight_count(widths), len(widths) - 1, max(widths))
        )
        return sample_network(
            widths, seed_sequence(args.seed, "cli.bound.sample"), activation=args.activation or "relu"
        )
    network = load_any_network(args.network, activation=args.activation)
    if isinstance(network, ConvNetwork):
        if shape is not None and shape != network.input_shape:
            raise InputError(
                f"--input-shape {','.join(map(str, shape))} does not match the input shape "
                f"{','.join(map(str, network.input_shape))} stored in {str(args.network)!r}"
            )
    elif shape is not None:
        raise InputError(
            f"--input-shape is for conv networks; {str(args.network)!r} has no layer metadata (a dense network "
            f"with input dimension {network.widths[0]}: write conv files with save_conv_network)"
        )
    return network


def _pair(args: argparse.Namespace) -> NetworkPair:
    if (args.network is None) == (args.sample is None):
        raise InputError("give a NETWORK.npz or --sample (not both)")
    if args.alpha is None and args.mask_file is None:
        raise InputError("give --alpha A or --mask-file M")
    network = _network(args)
    if isinstance(network, ConvNetwork) and args.target_ratio is not None:
        raise InputError("--target-ratio (branch-and-bound) is not available for conv networks")
    if args.mask_file is not None:
        return apply_masks(network, load_layer_arrays(args.mask_file, "mask"))
    return prune_network(network, args.alpha)


def _conv_bytes(weights: int, features: int, layers: int, effort: str) -> int:
    """Peak estimate of a conv bracket: the weights' copies, and the search's batches (restarts x
    features, a few arrays per layer of both networks)."""
    return bracket_bytes(weights + EFFORTS[effort].restarts * features, layers)


def _bracket(pair: NetworkPair, args: argparse.Namespace) -> ErrorBracket:
    """The dense or the conv bracket of the pair, after the memory check."""
    weights = sum(int(w.size) for w in pair.original.weights)
    what = (
        f"widths {list(pair.original.widths)} ({weights} weights), pruned counts {list(pair.counts)}, "
        f"effort {args.effort}"
    )
    rng = seed_sequence(args.seed, "cli.bound.search")
    if isinstance(pair.original, ConvNetwork):
        shape = ",".join(map(str, pair.original.input_shape))
        needed = _conv_bytes(weights, sum(pair.original.widths), pair.original.depth, args.effort)
        progress(check_memory("bound", f"conv network, input {shape}, {what}", needed))
        return bracket_conv_sup_error(pair.original, pair.pruned, effort=args.effort, rng=rng)
    widths = pair.original.widths
    progress(check_memory("bound", what, dense_bracket_bytes(weight_count(widths), pair.original.depth, max(widths))))
    return bracket_sup_error(
        pair,
        rng=rng,
        effort=args.effort,
        target_ratio=args.target_ratio,
        time_limit=args.time_limit,
        branch=args.branch or None,
        certify_all=args.certify_all,
    )


def handle(args: argparse.Namespace) -> int:
    if args.eps is not None and not (np.isfinite(args.eps) and args.eps >= 0):
        raise InputError(f"--eps must be a finite non-negative number, got {args.eps}")
    check_search_options(args.target_ratio, args.time_limit)  # before any work: one line, nothing read
    pair = _pair(args)
    with np.errstate(all="ignore"):  # overflow at extreme weight scales is handled (+inf bounds), not warned about
        result = _bracket(pair, args)
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
        input_shape=list(pair.original.input_shape) if isinstance(pair.original, ConvNetwork) else None,
        layers=[spec.to_dict() for spec in pair.original.layers]
        if isinstance(pair.original, ConvNetwork)
        else [{"kind": "dense"}] * pair.original.depth,
    )
    status = EXIT_OK
    if args.eps is not None:
        decision = result.decide(args.eps)
        payload.update(eps=args.eps, decision=decision)
        print(f"eps = {args.eps:g}: {decision}")
        status = EXIT_OK if decision == "certified" else EXIT_FAILED
    write_json_output(args.json, "bound", json_ready(payload))  # +inf upper: the project's non-finite convention
    return status
