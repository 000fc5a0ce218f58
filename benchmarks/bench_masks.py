"""Reference magnitude mask vs a full sort vs a bare np.argpartition, side by side.

For D from 1e4 to 1.6e7 (float32 and float64 weights drawn once per size), time the
reference `magnitude_mask` (exact count, deterministic tie rule, validation), a full-sort
implementation (`np.argsort(|w|, kind="stable")`) and a bare `np.argpartition(|w|, n - 1)`
call (selection only: no mask, no tie rule, no validation) on the same array, and print the
ratio reference / argpartition (target <= 1.5) and full sort / argpartition.

    python benchmarks/bench_masks.py            # D = 1e4 ... 1.6e7
    python benchmarks/bench_masks.py --quick    # up to 1e6
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from mbp_verify.engine import magnitude_mask, theorem_prune_count  # noqa: E402

SIZES = (10_000, 100_000, 1_000_000, 4_000_000, 16_000_000)


def full_sort_mask(weights: np.ndarray, n_prune: int) -> np.ndarray:
    keep = np.ones(weights.size, dtype=bool)
    keep[np.argsort(np.abs(weights).ravel(), kind="stable")[:n_prune]] = False
    return keep.reshape(weights.shape)


def bare_argpartition(weights: np.ndarray, n_prune: int) -> np.ndarray:
    return np.argpartition(np.abs(weights).ravel(), n_prune - 1)


def best_of(fn, *args, repeats: int) -> float:
    """Best per-call time over `repeats` batches, each batch long enough (>= 20 ms) to time."""
    start = time.perf_counter()
    fn(*args)
    once = time.perf_counter() - start
    loops = max(1, int(0.02 / max(once, 1e-7)))
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(loops):
            fn(*args)
        best = min(best, (time.perf_counter() - start) / loops)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="sizes up to 1e6 only")
    parser.add_argument("--alpha", type=float, default=0.3, help="prune floor(D^(1-alpha)) entries (default 0.3)")
    parser.add_argument("--fraction", type=float, default=None, help="prune this fraction of D instead")
    args = parser.parse_args()
    sizes = [s for s in SIZES if not args.quick or s <= 1_000_000]
    rng = np.random.default_rng(0)
    header = (
        f"{'D':>10} {'dtype':>7} {'n_prune':>9} {'reference':>11} {'full sort':>11} "
        f"{'argpartition':>13} {'ref/argp':>9} {'sort/argp':>10}"
    )
    print(header)
    print("-" * len(header))
    for size in sizes:
        n = int(size * args.fraction) if args.fraction is not None else theorem_prune_count(size, args.alpha)
        n = max(1, n)
        repeats = 7 if size <= 1_000_000 else 3
        for dtype in (np.float32, np.float64):
            weights = rng.uniform(-1, 1, size).astype(dtype)
            assert np.array_equal(magnitude_mask(weights, n), full_sort_mask(weights, n))  # same answer (no ties)
            t_ref = best_of(magnitude_mask, weights, n, repeats=repeats)
            t_sort = best_of(full_sort_mask, weights, n, repeats=max(1, repeats // 2))
            t_part = best_of(bare_argpartition, weights, n, repeats=repeats)
            print(
                f"{size:>10} {np.dtype(dtype).name:>7} {n:>9} {t_ref * 1e3:>9.3f}ms {t_sort * 1e3:>9.2f}ms "
                f"{t_part * 1e3:>11.3f}ms {t_ref / t_part:>9.2f} {t_sort / t_part:>10.2f}"
            )


if __name__ == "__main__":
    main()
