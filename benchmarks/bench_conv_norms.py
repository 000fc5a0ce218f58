"""Certified conv operator norm vs dense SVD of the unfolded operator vs ARPACK (svds), side by side.

For 3x3 kernels with zero padding ('same', stride 1), iid uniform at the theorem's scale, run

  (a) ours: `certified_conv_norm` (direct DFT of the kernel on the enlarged grid, one certified
      spectral norm per conjugate pair of frequencies), a float64-sound upper bound;
  (b) dense: unfold the layer into its (c*n*n) x (c*n*n) matrix and take numpy's SVD (values
      only); feasible up to 16 channels on 16x16 images (a 4096 x 4096 matrix) here;
  (c) svds: `scipy.sparse.linalg.svds(k=1)` on a LinearOperator built from the engine's conv
      forward and adjoint: the realistic uncertified baseline at 64 channels on 32x32 images,
      where the dense operator is 65536 x 65536 (34 GB, infeasible to decompose here).

Times are CPU seconds of this process (`time.process_time`, one BLAS thread), so other load on
the machine does not distort the ratios. At 64x32x32 the dense column is an O(N^3)
extrapolation from the largest measured size and is marked as such; ratios are what we report.

    python benchmarks/bench_conv_norms.py            # all rows (a few minutes)
    python benchmarks/bench_conv_norms.py --quick    # the small rows only
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import scipy.sparse.linalg  # noqa: E402

from mbp_verify.bounds.conv_norms import certified_conv_norm  # noqa: E402
from mbp_verify.engine import conv2d, conv2d_adjoint, conv_geometry, conv_half_width, unfold_conv  # noqa: E402
from mbp_verify.seeding import rng_for  # noqa: E402

DENSE_ROWS = [(8, 8), (8, 16), (16, 16)]  # (channels, image side) where the dense SVD is measured
LARGE_ROWS = [(64, 32)]


def _timed(function):
    start = time.process_time()
    value = function()
    return value, time.process_time() - start


def _svds_norm(kernel: np.ndarray, shape: tuple[int, int, int]) -> float:
    g = conv_geometry(kernel.shape, shape, 1, "zeros")
    operator = scipy.sparse.linalg.LinearOperator(
        (g.out_size, g.in_size),
        dtype=np.float64,
        matvec=lambda v: conv2d(v.reshape(shape), kernel, 1, "zeros").ravel(),
        rmatvec=lambda v: conv2d_adjoint(v.reshape(g.output_shape), kernel, shape, 1, "zeros").ravel(),
    )
    return float(
        scipy.sparse.linalg.svds(operator, k=1, return_singular_vectors=False, random_state=np.random.default_rng(0))[0]
    )


def run_row(channels: int, side: int, dense: bool, seed: int) -> dict:
    shape = (channels, side, side)
    kernel_shape = (channels, channels, 3, 3)
    half = conv_half_width(kernel_shape)
    kernel = rng_for(seed, "bench.conv_norms", channels * 1000 + side).uniform(-half, half, kernel_shape)
    bound, ours = _timed(lambda: certified_conv_norm(kernel, shape, 1, "zeros", lower_iterations=0))
    row = {"channels": channels, "side": side, "N": channels * side * side, "upper": bound.upper, "ours": ours}
    row["svds"], row["svds_time"] = _timed(lambda: _svds_norm(kernel, shape))
    if dense:
        matrix, row["unfold_time"] = _timed(lambda: unfold_conv(kernel, shape, 1, "zeros"))
        values, row["dense_time"] = _timed(lambda: np.linalg.svd(matrix, compute_uv=False))
        row["dense"] = float(values[0])
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="only the rows with a measured dense SVD")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rows = [run_row(c, n, True, args.seed) for c, n in DENSE_ROWS]
    if not args.quick:
        largest = rows[-1]
        for c, n in LARGE_ROWS:
            row = run_row(c, n, False, args.seed)
            row["dense_time"] = largest["dense_time"] * (row["N"] / largest["N"]) ** 3
            row["extrapolated"] = True
            rows.append(row)
    header = (
        f"{'ch':>3} {'img':>5} {'N':>6} | {'certified s':>11} {'dense SVD s':>13} {'svds s':>8} | "
        f"{'dense/cert':>10} {'svds/cert':>9} | {'certified upper':>16} {'dense norm':>16} {'svds norm':>16}"
    )
    print(header)
    print("-" * len(header))
    for r in rows:
        dense_time = f"{r['dense_time']:.2f}" + ("*" if r.get("extrapolated") else "")
        dense_norm = f"{r['dense']:.12f}" if "dense" in r else "-"
        print(
            f"{r['channels']:>3} {r['side']:>2}x{r['side']:<2} {r['N']:>6} | {r['ours']:>11.3f} {dense_time:>13} "
            f"{r['svds_time']:>8.2f} | {r['dense_time'] / r['ours']:>10.1f} {r['svds_time'] / r['ours']:>9.2f} | "
            f"{r['upper']:>16.12f} {dense_norm:>16} {r['svds']:>16.12f}"
        )
        if "dense" in r and not r["upper"] >= r["dense"]:
            raise SystemExit(f"certified upper below the dense norm at {r['channels']}ch {r['side']}x{r['side']}")
    print(
        "dense SVD time excludes unfolding the operator; * = O(N^3) extrapolation from the largest measured row "
        "(the 65536 x 65536 dense operator does not fit in memory here). Times: CPU seconds, one BLAS thread."
    )


if __name__ == "__main__":
    main()
