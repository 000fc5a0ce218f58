"""Theorem trials per second per width, and the process pool's speed-up, side by side.

Table 1 (one process): trials per second at each width d for Theorem 1's trial with the
bracket at effort `fast` (MBP only, and MBP plus random pruning on the same network, as the
default `mbp-verify theorem` sweep does) and at effort `default`, with the time ratios.
Table 2: wall time of the same small sweep with 1 and 2 worker processes (spawned, BLAS pinned)
and the speed-up; the numbers of both runs are checked to be identical.

    python benchmarks/bench_theorem.py            # d = 64 ... 1024
    python benchmarks/bench_theorem.py --quick    # d = 64 ... 256
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from mbp_verify.theorem import SweepConfig, TrialSpec, run_sweep, run_trial  # noqa: E402

WIDTHS = (64, 128, 256, 512, 1024)


def trials_per_second(spec: TrialSpec, trials: int) -> float:
    run_trial(spec, 0, 10_000)  # warm-up (imports, caches)
    start = time.perf_counter()
    for index in range(trials):
        run_trial(spec, 0, index)
    return trials / (time.perf_counter() - start)


def per_width_table(widths: tuple[int, ...], alpha: float) -> None:
    print(f"Table 1: trials per second, one process (alpha = {alpha}, depth 3, square ReLU layers)")
    print(f"{'d':>6} {'fast MBP':>10} {'fast MBP+rand':>14} {'default MBP':>12} {'+rand/MBP time':>15} {'default/fast time':>18}")
    for d in widths:
        trials = max(4, int(400 / d))
        base = TrialSpec(width=d, alpha=alpha, eps=1.0)
        fast = trials_per_second(base, trials)
        paired = trials_per_second(base.with_changes(random_trials=20_000), trials)  # every timed index is paired
        thorough = trials_per_second(base.with_changes(effort="default"), trials)
        print(f"{d:>6} {fast:>10.2f} {paired:>14.2f} {thorough:>12.2f} {fast / paired:>15.2f} {fast / thorough:>18.2f}")


def pool_table(widths: tuple[int, ...], trials: int) -> None:
    config = SweepConfig(alphas=(0.2, 0.3), widths=widths, eps=1.0, delta=0.2, trials=trials, looks=1, confidence=0.99)
    print(f"\nTable 2: sweep of {len(widths) * 2} cells x {trials} trials (MBP + random, d = {widths}), "
          "wall time by worker count (includes starting the workers)")
    walls, payloads = {}, {}
    for workers in (1, 2):
        start = time.perf_counter()
        result = run_sweep(config, workers=workers)
        walls[workers] = time.perf_counter() - start
        payloads[workers] = [c.to_dict() for c in result.cells]
    identical = payloads[1] == payloads[2]
    print(f"{'workers':>8} {'wall s':>8} {'speed-up':>9}")
    for workers, wall in walls.items():
        print(f"{workers:>8} {wall:>8.1f} {walls[1] / wall:>9.2f}")
    print(f"identical numbers for 1 and 2 workers: {identical}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="widths up to 256 only")
    parser.add_argument("--alpha", type=float, default=0.2)
    args = parser.parse_args()
    widths = WIDTHS[:3] if args.quick else WIDTHS
    per_width_table(widths, args.alpha)
    pool_table((128, 256) if args.quick else (256, 512), 12)


if __name__ == "__main__":
    main()
