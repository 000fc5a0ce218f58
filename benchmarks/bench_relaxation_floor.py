"""Where the bracket's gap lies: the certificate, the slope relaxation, or the witness search.

Every upper bound of the bracket (layerwise, averaged, ellipsoid) is a bound for a *relaxed*
chain: the coupled state [h; Delta] of F and f - F with each neuron's slope (h's chord slope,
Delta's difference quotient) free in its sector [slope_min, slope_max], independently of the
input and of the other neurons. So none of them can go below

  floor = max over x in the unit sphere and slopes in the sectors of ||f - F|| of the relaxed chain,

and `sector_floor` finds a value below that maximum by alternating ascent (for fixed slopes the
chain is linear in x: a power-iteration step; for fixed x each slope goes to the end of its
sector that the gradient favours). The table prints, side by side for each network:

  upper        the bracket's upper end (effort `default`, `fast` for the deep chain)
  floor        the relaxation's value found here (no sector certificate can be below it)
  lower        the bracket's lower end, and a long search's (`--long` restarts x 1,000 steps)
  upper/floor  what a better certificate of the same relaxation could still gain, at most
  floor/long   what no sector certificate can gain: the relaxation's own gap, at least

    python benchmarks/bench_relaxation_floor.py           # 1024 x 3 and 1024 x 5, the 12-layer chain
    python benchmarks/bench_relaxation_floor.py --quick   # 1024 x 3 and 1024 x 5 only

`--directions` prints instead the certified ellipsoid bound of each network in three directions
(`ellipsoid_bound`): forward, the transposed chain alone (meet = 0) and met in the middle
(meet = L // 2), for the multiplier configurations named, with CPU seconds; on the wide nets, the
12-layer chain, and (without --quick) smaller deep chains and random deep nets.
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
from bench_bounds import trained_like_chain  # noqa: E402

from mbp_verify.bounds import bracket_sup_error, ellipsoid_bound, layer_constants, maximise_error  # noqa: E402
from mbp_verify.bounds.ellipsoid import global_sectors  # noqa: E402
from mbp_verify.bounds.parts import pair_parts  # noqa: E402
from mbp_verify.engine import NetworkPair, prune_network, sample_network  # noqa: E402
from mbp_verify.seeding import rng_for  # noqa: E402


def sector_floor(pair: NetworkPair, restarts: int, iterations: int, rng: np.random.Generator) -> float:
    """A value of the relaxed chain (every hidden slope free in its sector, sigma(0) = 0): a lower
    estimate of its maximum over the unit sphere, hence of every sector-based upper bound."""
    constants = layer_constants(pair.original)
    if not all(c.zero_at_zero for c in constants):
        raise ValueError("the relaxed chain needs sigma(0) = 0 in every hidden layer")
    full = [np.asarray(w, dtype=np.float64) for w in pair.original.weights]
    pruned = [np.asarray(w, dtype=np.float64) for w in pair.pruned.weights]
    errors = [w - p for w, p in zip(full, pruned)]
    sectors = [(c.slope_min, c.slope_max) for c in constants]
    x = rng.standard_normal((full[0].shape[1], restarts))
    x /= np.linalg.norm(x, axis=0)
    slopes = [(np.full(w.shape[0], 0.5 * (lo + hi))[:, None],) * 2 for w, (lo, hi) in zip(full, sectors)]
    best = 0.0
    for _ in range(iterations):
        h, d = x, np.zeros_like(x)
        cache = []
        for layer, (state_slope, diff_slope) in enumerate(slopes):
            a = full[layer] @ h
            u = pruned[layer] @ d - errors[layer] @ h
            cache.append((a, u, state_slope, diff_slope))
            h, d = state_slope * a, diff_slope * u
        y = pruned[-1] @ d - errors[-1] @ h
        values = np.linalg.norm(y, axis=0)
        best = max(best, float(values.max()))
        g = y / np.where(values > 0, values, 1.0)
        gh, gd = -(errors[-1].T @ g), pruned[-1].T @ g
        for layer in range(len(slopes) - 1, -1, -1):
            a, u, state_slope, diff_slope = cache[layer]
            lo, hi = sectors[layer]
            slopes[layer] = (np.where(a * gh > 0, hi, lo), np.where(u * gd > 0, hi, lo))
            ga, gu = state_slope * gh, diff_slope * gd
            gh = full[layer].T @ ga - errors[layer].T @ gu
            gd = pruned[layer].T @ gu
        x = gh / np.where((size := np.linalg.norm(gh, axis=0)) > 0, size, 1.0)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1024 x 3 and 1024 x 5 only (no deep chain)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--long", type=int, default=128, help="restarts of the long search (1,000 steps each)")
    parser.add_argument("--directions", action="store_true", help="forward / transposed / met-in-the-middle bounds")
    args = parser.parse_args()
    if args.directions:
        directions(args)
        return
    cases = [
        (f"1024x{depth} a={alpha}", lambda d=depth, a=alpha: (_wide(d, a, args.seed), "default"))
        for depth in (3, 5)
        for alpha in (0.2, 0.3)
    ]
    if not args.quick:
        cases.append(("chain 12 a=0.2", lambda: (prune_network(trained_like_chain(args.seed, "relu"), 0.2), "fast")))
    print(
        "| network | upper | floor | lower | long lower | upper/floor | floor/long | upper/lower | "
        "bracket s | floor s | long s |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for name, make in cases:
        pair, effort = make()
        start = time.process_time()
        bracket = bracket_sup_error(pair, rng=rng_for(args.seed, "bench.floor.bracket"), effort=effort)
        bracket_s = time.process_time() - start
        start = time.process_time()
        floor = sector_floor(pair, 16, 100, rng_for(args.seed, "bench.floor.ascent"))
        floor_s = time.process_time() - start
        start = time.process_time()
        starts = rng_for(args.seed, "bench.floor.long").standard_normal((args.long, pair.original.widths[0]))
        long_lower = max(maximise_error(pair, starts, iterations=1000, on_sphere=True).best_value, bracket.lower)
        long_s = time.process_time() - start
        print(
            f"| {name} | {bracket.upper:.4g} | {floor:.4g} | {bracket.lower:.4g} | {long_lower:.4g} | "
            f"{bracket.upper / floor:.3g} | {floor / long_lower:.3g} | {bracket.ratio:.3g} | "
            f"{bracket_s:.1f} | {floor_s:.1f} | {long_s:.1f} |",
            flush=True,
        )


FIRST, DEEP = (1.0, 0.8, 0.5), (1.4, 1.0, 0.8, 0.5)  # the multiplier scales of `ellipsoid`


def directions(args: argparse.Namespace) -> None:
    """The ellipsoid bound forward, on the transposed chain, and met in the middle, side by side."""
    cases = [
        (f"1024x{d} a={a}", lambda d=d, a=a: _wide(d, a, args.seed), [("block", FIRST)])
        for d in (3, 5)
        for a in (0.2, 0.3)
    ]
    chain = lambda seed, layers=12, narrow=384, wide=1536, alpha=0.2: prune_network(  # noqa: E731
        trained_like_chain(seed, "relu", layers=layers, narrow=narrow, wide=wide), alpha
    )
    both = [("block", DEEP), ("rows", DEEP)]
    cases.append(("chain 12 384<->1536", lambda: chain(args.seed), both))
    if not args.quick:
        cases += [
            ("chain 12 96<->384", lambda: chain(args.seed, narrow=96, wide=384), both),
            ("chain 12 96<->384 a=0.3 seed+1", lambda: chain(args.seed + 1, narrow=96, wide=384, alpha=0.3), both),
            ("chain 8 96<->384 seed+2", lambda: chain(args.seed + 2, layers=8, narrow=96, wide=384), both),
            ("random 256x8", lambda: prune_network(sample_network([256] * 9, args.seed + 3), 0.2), [("block", FIRST)]),
            (
                "random 128x12 leaky",
                lambda: prune_network(sample_network([128] * 13, args.seed + 4, activation="leaky_relu(a=0.1)"), 0.3),
                [("block", FIRST)],
            ),
        ]
    print("| network | rule, first scale | forward | transposed / forward | middle / forward | forward s | middle s |")
    print("|---|---|---|---|---|---|---|")
    for name, make, configurations in cases:
        pair = make()
        parts = pair_parts(pair, np.random.default_rng(0))
        constants = layer_constants(pair.original)
        sectors = global_sectors(constants, pair.original.widths)
        for rule, scales in configurations:
            values, seconds = [], []
            for meet in (None, 0, pair.original.depth // 2):
                start = time.process_time()
                values.append(ellipsoid_bound(parts, constants, sectors, rule, scales, meet))
                seconds.append(time.process_time() - start)
            print(
                f"| {name} | {rule}, {scales[0]} | {values[0]:.4g} | {values[1] / values[0]:.3f} | "
                f"{values[2] / values[0]:.3f} | {seconds[0]:.1f} | {seconds[2]:.1f} |",
                flush=True,
            )


def _wide(depth: int, alpha: float, seed: int) -> NetworkPair:
    """The wide grid's network of `bench_bounds.py` (same seeds), ReLU under hypothesis (iii)."""
    rng = rng_for(seed, f"bench.bounds.1024x{depth}.{alpha}")
    return prune_network(sample_network([1024] * (depth + 1), rng), alpha)


if __name__ == "__main__":
    main()
