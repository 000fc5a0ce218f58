"""Cost of running the pruner under test in its own process, side by side with in-process calls.

Per call: the same correct pruner called (a) in this process (`load_in_process`) and (b) through
its worker (`load_pruner`, what check-pruner and the property suite use), on arrays of 48,
4 096 and 65 536 float32 entries; plus the time to start a worker and to restart one after
a crash. Times are wall-clock medians of repeated calls (the worker is another process, so
CPU time of this one would hide its cost); the ratio (b)/(a) is what to read.

    python benchmarks/bench_isolation.py
    python benchmarks/bench_isolation.py --pruner mbp_verify.adapters.torch_prune:L1Unstructured
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from mbp_verify.conformance import PrunerUnderTest, load_pruner  # noqa: E402
from mbp_verify.conformance.loader import load_in_process  # noqa: E402

SIZES = ((6, 8), (64, 64), (256, 256))


def _median_call(pruner: PrunerUnderTest, weights: np.ndarray, repeats: int) -> float:
    n = weights.size // 3
    pruner.prune(weights, n)  # warm up (imports, caches)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        pruner.prune(weights, n)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pruner", default="tests.conformance.correct_pruners:full_sort")
    parser.add_argument("--repeats", type=int, default=200)
    args = parser.parse_args()
    start = time.perf_counter()
    isolated = PrunerUnderTest(load_pruner(args.pruner), spec=args.pruner)
    started = time.perf_counter() - start
    local = PrunerUnderTest(load_in_process(args.pruner), spec=args.pruner)
    rng = np.random.default_rng(0)
    print(f"pruner: {args.pruner}")
    print(f"{'weights':>12}  {'in-process':>12}  {'isolated':>12}  {'overhead':>10}  {'ratio':>6}")
    for shape in SIZES:
        weights = rng.standard_normal(shape).astype(np.float32)
        a = _median_call(local, weights, args.repeats)
        b = _median_call(isolated, weights, args.repeats)
        print(
            f"{'x'.join(map(str, shape)):>12}  {a * 1e6:>10.0f}us  {b * 1e6:>10.0f}us  "
            f"{(b - a) * 1e6:>8.0f}us  {b / a:>6.2f}"
        )
    worker = isolated.adapter._worker
    restarts = []
    for _ in range(10):
        worker.close()
        begin = time.perf_counter()
        isolated.prune(np.ones(4, dtype=np.float32), 1)
        restarts.append(time.perf_counter() - begin)
    print(
        f"first worker start (fork server included): {started:.2f} s; "
        f"restart after a crash: {statistics.median(restarts) * 1e3:.0f} ms (median of 10)"
    )


if __name__ == "__main__":
    main()
