"""Conv brackets (`bracket_conv_sup_error`) vs the dense bracket of the unfolded pair, side by side.

Networks: `sample_conv_network((C, 8, 8), [C, C], dense=[10])` (two 3x3 conv layers with C
channels, zero padding, stride 1, a dense layer of 10 outputs, ReLU), pruned by Theorem 1's MBP
count at alpha = 0.3, for C = 8 ... 64 (the sizes a `theorem --arch cnn` sweep uses). For each:
CPU seconds of the conv bracket at `fast` and `default` effort, its ratio upper / lower, and at
the sizes where it is feasible (C <= 16: the unfolded layers are up to 1024 x 1024) the dense
bracket of `to_dense()` at `fast` effort: its time, upper and lower beside the conv ones.

Times are CPU seconds of this process (`time.process_time`, one BLAS thread), so other load on
the machine does not distort the ratios.

    python benchmarks/bench_conv_bracket.py            # C = 8, 16, 32, 64
    python benchmarks/bench_conv_bracket.py --quick    # C = 8, 16
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from mbp_verify.bounds import bracket_conv_sup_error, bracket_sup_error  # noqa: E402
from mbp_verify.engine import NetworkPair, prune_network, sample_conv_network  # noqa: E402
from mbp_verify.seeding import rng_for  # noqa: E402

DENSE_LIMIT = 16  # channels up to which the dense bracket of the unfolded pair is measured


def _timed(function):
    start = time.process_time()
    value = function()
    return value, time.process_time() - start


def _dense_pair(pair: NetworkPair) -> NetworkPair:
    full, pruned = pair.original.to_dense(), pair.pruned.to_dense()
    masks = tuple(w == p for w, p in zip(full.weights, pruned.weights))
    return NetworkPair(full, pruned, masks, pair.counts)


def run(channels: list[int], seed: int) -> None:
    header = (
        f"{'C':>3} {'features':>8} {'conv fast s':>11} {'conv default s':>14} {'conv ratio':>10} "
        f"{'conv upper':>11} {'conv lower':>11} {'dense fast s':>12} {'dense/conv time':>15} "
        f"{'dense upper':>11} {'dense lower':>11}"
    )
    print(header)
    print("-" * len(header))
    for c in channels:
        net = sample_conv_network((c, 8, 8), [c, c], rng_for(seed, "bench.conv_bracket", c), dense=[10])
        pair = prune_network(net, 0.3)
        fast, fast_time = _timed(lambda: bracket_conv_sup_error(pair.original, pair.pruned, effort="fast", rng=seed))
        default, default_time = _timed(lambda: bracket_conv_sup_error(pair.original, pair.pruned, rng=seed))
        row = (
            f"{c:>3} {net.widths[0]:>8} {fast_time:>11.2f} {default_time:>14.2f} {default.ratio:>10.2f} "
            f"{default.upper:>11.4g} {default.lower:>11.4g}"
        )
        if c <= DENSE_LIMIT:
            dense, dense_time = _timed(lambda: bracket_sup_error(_dense_pair(pair), effort="fast", rng=seed))
            row += f" {dense_time:>12.2f} {dense_time / fast_time:>15.1f} {dense.upper:>11.4g} {dense.lower:>11.4g}"
        else:
            row += f" {'-':>12} {'-':>15} {'-':>11} {'-':>11}"
        print(row, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="C = 8, 16 only")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    np.seterr(all="ignore")
    run([8, 16] if args.quick else [8, 16, 32, 64], args.seed)


if __name__ == "__main__":
    main()
