"""Theorem trials per second per width, and the process pool's speed-up, side by side.

Table 1 (one process): trials per second at each width d for Theorem 1's trial with the
bracket at effort `fast` (MBP only, and MBP plus random pruning on the same network, as the
default `mbp-verify theorem` sweep does) and at effort `default`, with the time ratios.
Table 2: wall time of the same small sweep with 1 and 2 worker processes (spawned, BLAS pinned)
and the speed-up; the numbers of both runs are checked to be identical.
Table 3 (`--executors`, needs the dask extra): trials per second at d = 256 and 1024 on the
local pool and on a Dask LocalCluster, 1 and 2 workers each (started and warmed up before the
clock starts), and Dask's overhead per trial against the local pool of the same size. The two
run the same trials in paired rounds (which goes first alternates), and the table reports the
median over rounds of the per-round time ratio dask/local with its range and interquartile
range: pairing cancels the slow drift of a shared machine's load, and the spread says whether
the difference is resolved.

    python benchmarks/bench_theorem.py            # d = 64 ... 1024
    python benchmarks/bench_theorem.py --quick    # d = 64 ... 256
    python benchmarks/bench_theorem.py --executors-only [--quick]   # table 3 only (d = 256 with --quick)
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

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
    print(
        f"{'d':>6} {'fast MBP':>10} {'fast MBP+rand':>14} {'default MBP':>12} "
        f"{'+rand/MBP time':>15} {'default/fast time':>18}"
    )
    for d in widths:
        trials = max(4, int(400 / d))
        base = TrialSpec(width=d, alpha=alpha, eps=1.0)
        fast = trials_per_second(base, trials)
        paired = trials_per_second(base.with_changes(random_trials=20_000), trials)  # every timed index is paired
        thorough = trials_per_second(base.with_changes(effort="default"), trials)
        print(f"{d:>6} {fast:>10.2f} {paired:>14.2f} {thorough:>12.2f} {fast / paired:>15.2f} {fast / thorough:>18.2f}")


def pool_table(widths: tuple[int, ...], trials: int) -> None:
    config = SweepConfig(alphas=(0.2, 0.3), widths=widths, eps=1.0, delta=0.2, trials=trials, looks=1, confidence=0.99)
    print(
        f"\nTable 2: sweep of {len(widths) * 2} cells x {trials} trials (MBP + random, d = {widths}), "
        "wall time by worker count (includes starting the workers)"
    )
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


def executor_seconds(pool, spec: TrialSpec, trials: int) -> float:
    """Wall seconds of `pool.map` over `trials` trials of `spec`."""
    start = time.perf_counter()
    done = pool.map(run_trial, [(spec, 0, i) for i in range(trials)])
    wall = time.perf_counter() - start
    assert [o.index for o, _ in done] == list(range(trials))
    return wall


def executor_table(widths: tuple[int, ...], rounds: int) -> None:
    """Both executors started once per worker count and warmed up; then `rounds` paired rounds
    (the same trials on each, the order alternating), summarised by the median time ratio."""
    from mbp_verify.theorem.executors import DaskPool
    from mbp_verify.theorem.parallel import TrialPool

    print(
        f"\nTable 3: local pool against a Dask LocalCluster, {rounds} paired rounds "
        "(alpha = 0.2, depth 3, MBP only, effort fast); ratio = dask time / local time per round"
    )
    print(
        f"{'d':>6} {'workers':>8} {'trials':>7} {'local /s':>9} {'dask /s':>9} {'median ratio':>13} "
        f"{'IQR':>15} {'range':>15} {'overhead/trial':>15}"
    )
    for d in widths:
        spec = TrialSpec(width=d, alpha=0.2, eps=1.0)
        trials = 24 if d <= 256 else 8
        for workers in (1, 2):
            local, dask = [], []
            with TrialPool(workers) as local_pool, DaskPool(workers=workers) as dask_pool:
                for pool in (local_pool, dask_pool):
                    pool.map(run_trial, [(spec, 0, 10_000 + i) for i in range(2 * workers)])  # warm-up
                for round_ in range(rounds):
                    order = ((local_pool, local), (dask_pool, dask))
                    for pool, times in order if round_ % 2 == 0 else order[::-1]:
                        times.append(executor_seconds(pool, spec, trials))
            ratios = np.array(dask) / np.array(local)
            low, median, high = np.percentile(ratios, [25, 50, 75])
            local_median, dask_median = float(np.median(local)), float(np.median(dask))
            overhead = (dask_median - local_median) * workers / trials  # worker-seconds per trial
            print(
                f"{d:>6} {workers:>8} {trials:>7} {trials / local_median:>9.2f} {trials / dask_median:>9.2f} "
                f"{median:>13.3f} {f'[{low:.3f}, {high:.3f}]':>15} "
                f"{f'[{ratios.min():.3f}, {ratios.max():.3f}]':>15} {overhead * 1000:>12.1f} ms"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="widths up to 256 only")
    parser.add_argument("--alpha", type=float, default=0.2)
    parser.add_argument("--executors", action="store_true", help="also table 3: local pool against Dask")
    parser.add_argument("--executors-only", action="store_true", help="table 3 only")
    parser.add_argument("--rounds", type=int, default=7, help="paired rounds per row of table 3 (default 7)")
    args = parser.parse_args()
    widths = WIDTHS[:3] if args.quick else WIDTHS
    if not args.executors_only:
        per_width_table(widths, args.alpha)
        pool_table((128, 256) if args.quick else (256, 512), 12)
    if args.executors or args.executors_only:
        executor_table((256,) if args.quick else (256, 1024), args.rounds)


if __name__ == "__main__":
    main()
