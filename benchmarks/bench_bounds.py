"""Certified bracket of sup ||f - F||: a straightforward baseline vs `bracket_sup_error`, side by side.

For 3- and 5-layer ReLU networks of widths 256, 1024, 2048 sampled under hypothesis (iii) and
pruned by Theorem 1's MBP (alpha = 0.2, 0.3), run

  (a) the baseline: dense-SVD spectral norms (`np.linalg.norm(A, 2)`) in the layerwise
      propagation bound, and gradient ascent one restart at a time (matrix-vector products),
      with the same restarts, steps and update rule as ours;
  (b) ours: `bracket_sup_error(pair, effort=...)` (certified norms on Gram matrices, the
      averaged-activation bound, batched ascent, float64 replay);

and print time, lower bound, upper bound and upper / lower for both, and the speed-up. Times
are CPU seconds of this process (`time.process_time`, one BLAS thread), so other load on the
machine does not distort the ratio; wall-clock speed-ups are printed too. The baseline's
search budget is fixed at 24 restarts x 100 steps (our default uses 16 x 100 with momentum).
The baseline's SVD norms are not even certified (they are float estimates).

    python benchmarks/bench_bounds.py                 # the full grid (several minutes)
    python benchmarks/bench_bounds.py --quick         # widths 256 and 1024, depth 3
    python benchmarks/bench_bounds.py --effort fast   # our fast effort against the same baseline budget
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from mbp_verify.bounds import EFFORTS, bracket_sup_error, layer_constants, replay_error  # noqa: E402
from mbp_verify.engine import prune_network, sample_network  # noqa: E402
from mbp_verify.seeding import rng_for  # noqa: E402
from mbp_verify.symbolic import propagation_bound  # noqa: E402


BASELINE_RESTARTS, BASELINE_STEPS = 24, 100


def baseline_upper(pair) -> float:
    """Layerwise propagation bound with dense-SVD norms (2-norm via full SVD)."""
    norm = lambda a: float(np.linalg.norm(a, 2))  # noqa: E731
    K = [c.lipschitz for c in layer_constants(pair.original)]
    return propagation_bound(pair.original.depth).evaluate(
        [norm(w) for w in pair.original.weights], [norm(w) for w in pair.pruned.weights],
        [norm(e) for e in pair.error_matrices()], K)


def _gradient(weights, x):
    """||f - F|| and its gradient for one input, ReLU hidden layers (matrix-vector products)."""
    full, pruned = weights
    def forward(ws):
        pre, h = [], x
        for layer, w in enumerate(ws):
            z = w @ h
            if layer < len(ws) - 1:
                pre.append(z)
                h = np.maximum(z, 0.0)
            else:
                h = z
        return h, pre
    out_f, pre_f = forward(pruned)
    out_full, pre_full = forward(full)
    diff = out_f - out_full
    def backward(ws, pre):
        g = diff
        for layer in range(len(ws) - 1, -1, -1):
            g = ws[layer].T @ g
            if layer > 0:
                g = g * (pre[layer - 1] > 0)
        return g
    return float(np.linalg.norm(diff)), backward(pruned, pre_f) - backward(full, pre_full)


def baseline_lower(pair, restarts: int, iterations: int, rng: np.random.Generator) -> float:
    """The same ascent as ours (sphere, per-restart step halving), one restart at a time."""
    weights = (pair.original.weights, pair.pruned.weights)
    best, best_x = -np.inf, None
    for _ in range(restarts):
        x = rng.standard_normal(pair.original.widths[0])
        x /= np.linalg.norm(x)
        value, grad = _gradient(weights, x)
        step = 0.5
        for _ in range(iterations):
            tangent = grad - (grad @ x) * x
            size = np.linalg.norm(tangent)
            if size == 0:
                break
            trial = x + step * tangent / size
            trial /= np.linalg.norm(trial)
            new_value, new_grad = _gradient(weights, trial)
            if new_value >= value:
                x, value, grad, step = trial, new_value, new_grad, min(step * 1.25, 1.0)
            else:
                step = max(step * 0.5, 1e-4)
        if value > best:
            best, best_x = value, x
    lipschitz = [c.lipschitz for c in layer_constants(pair.original)]
    return replay_error(pair, best_x, lipschitz).value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="widths 256 and 1024, depth 3 only")
    parser.add_argument("--effort", choices=tuple(EFFORTS), default="default", help="our effort (default: default)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    budget = EFFORTS[args.effort]
    widths = (256, 1024) if args.quick else (256, 1024, 2048)
    depths = (3,) if args.quick else (3, 5)
    header = (f"{'width':>5} {'L':>2} {'alpha':>5} | {'base s':>7} {'base lower':>10} {'base upper':>10} {'ratio':>6} | "
              f"{'ours s':>7} {'our lower':>10} {'our upper':>10} {'ratio':>6} {'method':>9} | {'cpu x':>8} {'wall x':>8}")
    print(f"baseline: SVD norms + layerwise bound + sequential ascent ({BASELINE_RESTARTS} restarts x {BASELINE_STEPS} "
          f"steps); ours: bracket_sup_error(effort={args.effort!r}: {budget.restarts} x {budget.iterations}); CPU seconds")
    print(header)
    print("-" * len(header))
    for depth in depths:
        for width in widths:
            for alpha in (0.2, 0.3):
                rng = rng_for(args.seed, f"bench.bounds.{width}x{depth}.{alpha}")
                pair = prune_network(sample_network([width] * (depth + 1), rng), alpha)
                start, wall = time.process_time(), time.perf_counter()
                base_upper = baseline_upper(pair)
                base_lower = baseline_lower(pair, BASELINE_RESTARTS, BASELINE_STEPS, rng_for(args.seed, "bench.bounds.starts"))
                base_time, base_wall = time.process_time() - start, time.perf_counter() - wall
                start, wall = time.process_time(), time.perf_counter()
                ours = bracket_sup_error(pair, rng=rng_for(args.seed, "bench.bounds.ours"), effort=args.effort)
                our_time, our_wall = time.process_time() - start, time.perf_counter() - wall
                print(f"{width:>5} {depth:>2} {alpha:>5} | {base_time:>7.2f} {base_lower:>10.3e} {base_upper:>10.3e} "
                      f"{base_upper / base_lower:>6.2f} | {our_time:>7.2f} {ours.lower:>10.3e} {ours.upper:>10.3e} "
                      f"{ours.ratio:>6.2f} {ours.upper_method:>9} | {base_time / our_time:>7.1f}x {base_wall / our_wall:>7.1f}x",
                      flush=True)


if __name__ == "__main__":
    main()
