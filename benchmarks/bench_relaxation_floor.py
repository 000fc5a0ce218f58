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
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
from bench_bounds import trained_like_chain  # noqa: E402

from mbp_verify.bounds import bracket_sup_error, layer_constants, maximise_error  # noqa: E402
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
    args = parser.parse_args()
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


def _wide(depth: int, alpha: float, seed: int) -> NetworkPair:
    """The wide grid's network of `bench_bounds.py` (same seeds), ReLU under hypothesis (iii)."""
    rng = rng_for(seed, f"bench.bounds.1024x{depth}.{alpha}")
    return prune_network(sample_network([1024] * (depth + 1), rng), alpha)


if __name__ == "__main__":
    main()
