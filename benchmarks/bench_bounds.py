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
    python benchmarks/bench_bounds.py --table small [--quick]   # small nets: upper/sup, lower/sup, default vs B&B
    python benchmarks/bench_bounds.py --table deep [--quick]    # 12-layer chain: lower_margin/lower, landed vs now
    python benchmarks/bench_bounds.py --table search [--quick]  # the witness search alone: plain vs raced
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from mbp_verify.bounds import EFFORTS, bracket_sup_error, layer_constants, maximise_error, replay_error  # noqa: E402
from mbp_verify.engine import Network, prune_network, sample_network  # noqa: E402
from mbp_verify.seeding import rng_for  # noqa: E402
from mbp_verify.symbolic import propagation_bound  # noqa: E402

BASELINE_RESTARTS, BASELINE_STEPS = 24, 100


def baseline_upper(pair) -> float:
    """Layerwise propagation bound with dense-SVD norms (2-norm via full SVD)."""
    norm = lambda a: float(np.linalg.norm(a, 2))  # noqa: E731
    K = [c.lipschitz for c in layer_constants(pair.original)]
    return propagation_bound(pair.original.depth).evaluate(
        [norm(w) for w in pair.original.weights],
        [norm(w) for w in pair.pruned.weights],
        [norm(e) for e in pair.error_matrices()],
        K,
    )


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


SMALL_ACTIVATIONS = (
    "relu",
    "leaky_relu",
    "tanh",
    "sigmoid",
    "gelu",
    "gelu_tanh",
    "silu",
    "hardtanh",
    "elu",
    "softplus",
)


def brute_sup(pair, rng: np.random.Generator, points: int) -> float:
    """max ||f - F|| over `points` random points of the sphere and the ball (d0 <= 3), refined by
    gradient ascent from the best 32 (a float estimate of the true sup, for the table only)."""
    d0 = pair.original.widths[0]
    x = rng.standard_normal((points, d0))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    x = np.vstack([x, x * rng.random((points, 1)) ** (1.0 / d0)])
    values = np.linalg.norm(pair.pruned.forward(x) - pair.original.forward(x), axis=1)
    top = x[np.argsort(values)[-32:]]
    refined = maximise_error(pair, top, iterations=200, on_sphere=False)
    return max(float(values.max()), refined.best_value)


def _quantiles(values: list[float]) -> str:
    return f"{np.median(values):>7.3f} {np.quantile(values, 0.9):>7.3f}"


def small_table(args: argparse.Namespace) -> None:
    """Upper / true sup and lower / true sup on small networks: the landed default bracket, local
    slope ranges alone (no boxes), the new default (local slopes and its box budget), and
    branch-and-bound with a target ratio and time limit."""
    count = args.count or (30 if args.quick else 200)
    points = 20_000 if args.quick else 160_000
    for activation in SMALL_ACTIVATIONS:  # one-off costs (derivations, slope tables) outside the timings
        warm = prune_network(sample_network([2, 4, 1], 0, activation=activation), 0.3)
        for slopes in ("global", "local"):
            bracket_sup_error(warm, rng=0, slopes=slopes)
    rows: dict[int, list[tuple[float, ...]]] = {}
    by_activation: dict[str, list[tuple[float, float, float]]] = {}
    seconds = {"landed": 0.0, "local": 0.0, "default": 0.0}
    records: list[tuple[str, tuple[float, ...]]] = []
    for index in range(count):
        rng = rng_for(args.seed, "bench.bounds.small", index)
        depth, d0 = int(rng.integers(2, 6)), int(rng.integers(1, 4))
        depth = args.depth or depth
        widths = [d0] + [int(v) for v in rng.integers(4, 41, size=depth - 1)] + [int(rng.integers(1, 6))]
        activation = SMALL_ACTIVATIONS[index % len(SMALL_ACTIVATIONS)]
        distribution = "uniform" if rng.random() < 0.5 else "gaussian"
        pair = prune_network(
            sample_network(widths, rng, activation=activation, distribution=distribution),
            float(rng.choice([0.2, 0.3, 0.5])),
        )
        seed = rng_for(args.seed, "bench.bounds.small.default", index)
        start = time.process_time()
        landed = bracket_sup_error(pair, rng=seed, slopes="global", branch=False)
        seconds["landed"] += time.process_time() - start
        landed_upper = _landed_upper(landed, pair)
        start = time.process_time()
        local = bracket_sup_error(pair, rng=rng_for(args.seed, "bench.bounds.small.default", index), branch=False)
        seconds["local"] += time.process_time() - start
        start = time.process_time()
        default = bracket_sup_error(pair, rng=rng_for(args.seed, "bench.bounds.small.default", index))
        seconds["default"] += time.process_time() - start
        branched = bracket_sup_error(
            pair,
            rng=rng_for(args.seed, "bench.bounds.small.branch", index),
            target_ratio=args.target_ratio,
            time_limit=args.time_limit,
        )
        truth = max(brute_sup(pair, rng, points), default.lower, branched.lower, landed.lower, local.lower)
        if truth <= 0:
            continue
        entry = (
            landed_upper / truth,
            local.upper / truth,
            default.upper / truth,
            default.lower / truth,
            branched.upper / truth,
            branched.lower / truth,
        )
        rows.setdefault(depth, []).append(entry)
        records.append((activation, entry))
        by_activation.setdefault(activation, []).append((entry[0], entry[1], entry[2], entry[4]))
    print(
        f"small networks ({count}, d0 <= 3, widths 4-40, uniform/Gaussian, {len(SMALL_ACTIVATIONS)} activations); "
        f"true sup ~ max(brute force {2 * points} points + ascent, every lower); branch-and-bound: target ratio "
        f"{args.target_ratio}, time limit {args.time_limit} s; median / 90th percentile"
    )
    names = (
        "landed upper/sup",
        "local slopes upper/sup",
        "default upper/sup",
        "default lower/sup",
        "B&B upper/sup",
        "B&B lower/sup",
    )
    header = f"| depth | n | {' | '.join(names)} |"
    print(header)
    print("|---|---|" + "---|" * len(names))
    everything = [e for entries in rows.values() for e in entries]
    for depth, entries in sorted(rows.items()) + [("all", everything)]:
        cols = list(zip(*entries))
        print(f"| {depth} | {len(entries)} | " + " | ".join(_quantiles(c) for c in cols) + " |")
    lowers = [e[5] for e in everything]
    print(
        f"B&B lower >= 0.99 x sup in {100 * np.mean(np.array(lowers) >= 0.99):.1f}% of {len(lowers)} networks "
        f"(default: {100 * np.mean(np.array([e[3] for e in everything]) >= 0.99):.1f}%)"
    )
    print(
        f"CPU seconds of all brackets: landed {seconds['landed']:.2f}, local slopes {seconds['local']:.2f}, "
        f"new default (with its box budget) {seconds['default']:.2f}"
    )
    print("median upper/sup by activation:")
    print("| activation | landed | local slopes | default | B&B |")
    print("|---|---|---|---|---|")
    for a, vals in by_activation.items():
        print(f"| {a} | " + " | ".join(f"{np.median([v[k] for v in vals]):.3g}" for k in range(4)) + " |")
    if args.plot:
        _plot_small(records, args.plot)


def _landed_upper(bracket, pair) -> float:
    """The landed bracket's upper bound from a bracket with global slope ranges: the landed averaged
    bound was unavailable when some sigma(0) != 0 (its offset terms are new), exact_line is new."""
    bounds = dict(bracket.upper_bounds)
    bounds.pop("exact_line", None)
    if not all(c.zero_at_zero for c in layer_constants(pair.original)):
        bounds.pop("averaged", None)
    return min(bounds.values(), default=float("inf"))


def _plot_small(records: list[tuple[str, tuple[float, ...]]], path: str) -> None:
    """Scatter of upper/sup, landed vs local slope ranges, one point per network (log-log)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(6.4, 5.2))
    for activation in dict.fromkeys(a for a, _ in records):
        points = [e for a, e in records if a == activation]
        axis.scatter([p[0] for p in points], [p[2] for p in points], label=activation, s=22)
    top = max(max(e[0] for _, e in records), 2.0)
    axis.plot([1, top], [1, top], color="grey", linewidth=0.8, label="no change")
    axis.axhline(1.5, color="black", linestyle=":", linewidth=0.8, label="1.5")
    axis.set_xscale("log")
    axis.set_yscale("log")
    axis.set_xlabel("landed upper / sup (global slope ranges)")
    axis.set_ylabel("new default upper / sup")
    axis.set_title("Default-effort upper bound on small networks")
    axis.legend(fontsize=7, ncol=2)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    print(f"wrote {path}")


def _landed_margin(network, lipschitz, x) -> float:
    """The landed replay margin: a norm-product forward-error analysis with Frobenius norms (baseline)."""
    from mbp_verify.bounds.rounding import UNDERFLOW_UNIT, add_up, frobenius_up, gamma, mul_up, sqrt_up, up

    h, error = x[None, :], 0.0
    for layer, w in enumerate(network.weights):
        z = h @ w.T
        n = w.shape[1] + 1
        fro_w = frobenius_up(w)
        underflow = mul_up(sqrt_up(float(w.shape[0])), float(n), UNDERFLOW_UNIT)
        computed = up(add_up(frobenius_up(np.abs(h) @ np.abs(w).T), underflow) / (1.0 - gamma(n)))
        error = add_up(mul_up(fro_w, error), mul_up(gamma(n), add_up(computed, mul_up(2.0, fro_w, error))), underflow)
        if layer < network.depth - 1:
            spec = network.activations[layer]
            h = spec(z)
            if spec.name not in ("relu", "identity"):
                error = add_up(error, frobenius_up(16 * 2.0**-53 * (np.abs(z) + np.abs(h) + 1.0)))
            error = mul_up(lipschitz[layer], error)
    return error


def trained_like_chain(seed: int, activation: str, layers: int = 12, narrow: int = 384, wide: int = 1536) -> "Network":
    """A 384 <-> 1536 chain whose matrices have a decaying singular spectrum s_k ~ k^-0.6 (as trained FFN
    weights do), scaled so that ||W||_F^2 = 2 x (smaller dimension): signals neither vanish nor explode."""
    from mbp_verify.engine import Network

    rng = np.random.default_rng(seed)
    weights = []
    for layer in range(layers):
        rows, cols = (wide, narrow) if layer % 2 == 0 else (narrow, wide)
        k = min(rows, cols)
        u, _ = np.linalg.qr(rng.standard_normal((rows, k)))
        v, _ = np.linalg.qr(rng.standard_normal((cols, k)))
        spectrum = np.arange(1, k + 1) ** -0.6
        spectrum *= np.sqrt(2.0 * k / np.sum(spectrum**2))
        weights.append((u * spectrum) @ v.T)
    return Network(weights, activation)


def deep_chain(args: argparse.Namespace) -> None:
    """The deep chain: lower_margin / lower (landed norm-product margin vs the reference pass) and
    upper / lower with global (landed) and local slope ranges, with the CPU seconds of each bracket."""
    from mbp_verify.bounds import certified_spectral_norm, maximise_error, unit_ball_point

    print("deep chain: 12 layers 384 <-> 1536, spectrum k^-0.6, MBP alpha = 0.2; witness from 8 x 40 ascent steps")
    header = (
        "| activation | lower | landed margin/lower | new margin/lower | (Frobenius only) | "
        "landed upper/lower | local upper/lower | landed s | local s |"
    )
    print(header)
    print("|---|---|---|---|---|---|---|---|---|")
    for activation in ("relu",) if args.quick else ("relu", "gelu", "tanh"):
        pair = prune_network(trained_like_chain(args.seed, activation), 0.2)
        lipschitz = [c.lipschitz for c in layer_constants(pair.original)]
        starts = np.random.default_rng(args.seed).standard_normal((8, pair.original.widths[0]))
        x = unit_ball_point(maximise_error(pair, starts, iterations=40, on_sphere=activation == "relu").best_input)
        norms = tuple([certified_spectral_norm(w).upper for w in net.weights] for net in (pair.original, pair.pruned))
        new = replay_error(pair, x, lipschitz, norms=norms)
        frobenius = replay_error(pair, x, lipschitz)
        landed = _landed_margin(pair.original, lipschitz, x) + _landed_margin(pair.pruned, lipschitz, x)
        cells = []
        for slopes in ("global", "local"):
            start = time.process_time()
            bracket = bracket_sup_error(pair, rng=0, effort="fast", slopes=slopes)
            cells.append((bracket.ratio, time.process_time() - start, bracket.timings))
        print(
            f"| {activation} | {new.value:.3e} | {landed / new.value:.3g} | {new.margin / new.value:.3g} | "
            f"{frobenius.margin / frobenius.value:.3g} | {cells[0][0]:.3g} | {cells[1][0]:.3g} | "
            f"{cells[0][1]:.1f} | {cells[1][1]:.1f} |",
            flush=True,
        )
        print("  local timings (s): " + ", ".join(f"{k} {v:.2f}" for k, v in cells[1][2].items()))


def search_table(args: argparse.Namespace) -> None:
    """The witness search alone, plain (every restart every step, as before racing) vs raced (the
    bracket's: `maximise_error(..., race=True)`), from the same starts on the same scaled pair: CPU
    seconds and the replayed witness, per pair and on average."""
    from mbp_verify.bounds.scaling import pair_scaling, scaled_pair

    plain_budget, raced_budget = (16, 100), (16, EFFORTS["default"].iterations)
    shapes = ((1024, 3),) if args.quick else ((1024, 3), (1024, 5))
    seeds = range(2 if args.quick else 4)
    print(
        f"witness search: plain {plain_budget[0]} x {plain_budget[1]} steps vs raced {raced_budget[0]} x "
        f"{raced_budget[1]} (ceil(L/3) x the restarts, as the bracket); replayed ||f - F|| at the best point"
    )
    print("| width x depth | seed | alpha | plain s | raced s | CPU ratio | raced / plain witness |")
    print("|---|---|---|---|---|---|---|")
    for width, depth in shapes:
        ratios, cpu = [], []
        for seed in seeds:
            for alpha in (0.2, 0.3):
                rng = rng_for(seed, f"bench.bounds.{width}x{depth}.{alpha}")
                pair = prune_network(sample_network([width] * (depth + 1), rng), alpha)
                scaled = scaled_pair(pair, pair_scaling(pair))
                restarts = plain_budget[0] * -(-depth // 3)
                starts = rng_for(seed, "bench.bounds.search.starts").standard_normal((restarts, width))
                lipschitz = [c.lipschitz for c in layer_constants(pair.original)]
                cells = []
                for iterations, race in ((plain_budget[1], False), (raced_budget[1], True)):
                    start = time.process_time()
                    found = maximise_error(scaled, starts, iterations=iterations, on_sphere=True, race=race)
                    seconds = time.process_time() - start
                    x = found.best_input / max(np.linalg.norm(found.best_input), 1.0)
                    cells.append((seconds, replay_error(scaled, x, lipschitz).value))
                ratios.append(cells[1][1] / cells[0][1])
                cpu.append(cells[1][0] / cells[0][0])
                print(
                    f"| {width} x {depth} | {seed} | {alpha} | {cells[0][0]:.2f} | {cells[1][0]:.2f} | "
                    f"{cpu[-1]:.2f} | {ratios[-1]:.4f} |",
                    flush=True,
                )
        print(f"| {width} x {depth} | mean | | | | {np.mean(cpu):.2f} | {np.mean(ratios):.4f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="widths 256 and 1024, depth 3 only")
    parser.add_argument("--effort", choices=tuple(EFFORTS), default="default", help="our effort (default: default)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--table",
        choices=("wide", "small", "deep", "search"),
        default="wide",
        help=(
            "wide: baseline vs ours on wide nets; small: tightness against brute force; deep: the deep chain's "
            "margin; search: the witness search, plain vs raced"
        ),
    )
    parser.add_argument("--target-ratio", type=float, default=1.05, help="small table: branch-and-bound target")
    parser.add_argument(
        "--time-limit", type=float, default=10.0, help="small table: branch-and-bound seconds per network"
    )
    parser.add_argument("--depth", type=int, help="small table: every network of this depth (default: 2-5)")
    parser.add_argument("--count", type=int, help="small table: number of networks (default 30 with --quick, else 200)")
    parser.add_argument("--plot", metavar="PNG", help="small table: also write a scatter plot (matplotlib, Agg)")
    args = parser.parse_args()
    if args.table == "small":
        return small_table(args)
    if args.table == "deep":
        return deep_chain(args)
    if args.table == "search":
        return search_table(args)
    budget = EFFORTS[args.effort]
    widths = (256, 1024) if args.quick else (256, 1024, 2048)
    depths = (3,) if args.quick else (3, 5)
    header = (
        f"{'width':>5} {'L':>2} {'alpha':>5} | {'base s':>7} {'base lower':>10} {'base upper':>10} {'ratio':>6} | "
        f"{'ours s':>7} {'our lower':>10} {'our upper':>10} {'ratio':>6} {'method':>9} | {'cpu x':>8} {'wall x':>8}"
    )
    print(
        f"baseline: SVD norms + layerwise bound + sequential ascent ({BASELINE_RESTARTS} restarts x {BASELINE_STEPS} "
        f"steps); ours: bracket_sup_error(effort={args.effort!r}: {budget.restarts} x {budget.iterations}); CPU seconds"
    )
    print(header)
    print("-" * len(header))
    # One-time costs (the activation's slope tables and constants, imports) are paid outside the timings.
    bracket_sup_error(prune_network(sample_network([8, 8, 8, 8], 0), 0.2), rng=0, effort=args.effort)
    baseline_upper(prune_network(sample_network([8, 8, 8, 8], 0), 0.2))
    for depth in depths:
        for width in widths:
            for alpha in (0.2, 0.3):
                rng = rng_for(args.seed, f"bench.bounds.{width}x{depth}.{alpha}")
                pair = prune_network(sample_network([width] * (depth + 1), rng), alpha)
                start, wall = time.process_time(), time.perf_counter()
                base_upper = baseline_upper(pair)
                base_lower = baseline_lower(
                    pair, BASELINE_RESTARTS, BASELINE_STEPS, rng_for(args.seed, "bench.bounds.starts")
                )
                base_time, base_wall = time.process_time() - start, time.perf_counter() - wall
                start, wall = time.process_time(), time.perf_counter()
                ours = bracket_sup_error(pair, rng=rng_for(args.seed, "bench.bounds.ours"), effort=args.effort)
                our_time, our_wall = time.process_time() - start, time.perf_counter() - wall
                print(
                    f"{width:>5} {depth:>2} {alpha:>5} | {base_time:>7.2f} {base_lower:>10.3e} {base_upper:>10.3e} "
                    f"{base_upper / base_lower:>6.2f} | {our_time:>7.2f} {ours.lower:>10.3e} {ours.upper:>10.3e} "
                    f"{ours.ratio:>6.2f} {ours.upper_method:>9} | "
                    f"{base_time / our_time:>7.1f}x {base_wall / our_wall:>7.1f}x",
                    flush=True,
                )


if __name__ == "__main__":
    main()
