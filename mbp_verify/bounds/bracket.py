"""Certified bracket of sup_{||x|| <= 1} ||f(x) - F(x)||: a sound upper bound and a replayed witness.

`bracket_sup_error(pair)` computes every available upper bound (all sound in float64; see
`spectral`, `layerwise`, `averaged`, `ellipsoid`; the layerwise and averaged ones only if an
estimate of each from below does not already exceed the ellipsoid one, and the spectral norms
only for what uses them), takes the smallest, searches for a large error with
batched gradient ascent (`ascent`), replays the best input on fresh float64 passes (`replay`)
and returns an `ErrorBracket`. Deciding eps-closeness exactly is coNP-hard; the bracket's
ratio upper / lower says how much is left undecided.

Every layer is first scaled by an exact power of two (`scaling`), the bounds are certified
on the scaled pair and multiplied back exactly, and each is rounded upwards once: so they hold
for any finite weights (subnormal, or products far outside the float64 range). A method that
has no finite sound value is listed in `unavailable` with its reason, never as a number; with
none left, upper = +inf and every eps is `unknown`. With positively homogeneous activations
the search and the replay also run on the scaled pair (f - F = 2^S (f_V - F_V) exactly).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Literal

import numpy as np
import scipy.sparse.linalg

from ..engine import NetworkPair
from ..errors import InputError
from ..seeding import as_generator
from .ascent import maximise_error
from .averaged import averaged_bound, estimate_averaged, unavailable_reason
from .branch import DEFAULT_MAX_DIMENSION, branch_and_bound
from .constants import layer_constants
from .diagonal import MAX_DEPTH, MAX_WIDTH, diagonal_bound
from .ellipsoid import (
    ellipsoid_unavailable_reason,
    global_sectors,
    local_sectors,
    sectors_differ,
    smallest_ellipsoid_bound,
)
from .layerwise import LayerNorms, layer_norms, layerwise_bound, layerwise_estimate, with_error_norms
from .parts import check_pair, pair_parts
from .reachable import LocalSlopes, local_slopes
from .replay import Replay, replay_error, unit_ball_point
from .rounding import add_up, float_up, ldexp_up
from .scaling import LayerScaling, pair_scaling, power_of_two, scaled_pair

__all__ = [
    "Effort",
    "EFFORTS",
    "Decision",
    "ErrorBracket",
    "assemble_bracket",
    "bracket_sup_error",
    "check_search_options",
]

# A certificate that cannot be completed (Cholesky never succeeds, an eigensolver does not
# converge) makes its method unavailable; it never becomes a number.
_CERTIFICATE_FAILURES = (ArithmeticError, np.linalg.LinAlgError, scipy.sparse.linalg.ArpackError)

Effort = Literal["fast", "default", "thorough"]
Decision = Literal["certified", "violated", "unknown"]
Slopes = Literal["local", "global"]


@dataclass(frozen=True)
class _Budget:
    restarts: int  # lower-bound search: rows of the input matrix
    iterations: int  # ascent steps
    factors: tuple[float, ...]  # multipliers of the averaged bound's scaling (each one certified)
    boxes: int = 0  # branch-and-bound boxes when d0 <= SMALL_INPUT and no target ratio is given


# Every effort computes every upper bound that could win: the layerwise bound costs about half the
# averaged one (single-layer Gram matrices only) and is the tighter one on some networks
# (heavy-tailed weights, width-1 layers), so even `fast` never does worse than the propagation
# bound; the ellipsoid bound is the tightest on wide ReLU networks, and the layerwise and averaged
# bounds are not certified when an estimate of either from below already exceeds it.
# The search races its restarts (`ascent`): after 40 steps only the best one goes on, one
# matrix-vector product per layer, so its steps are cheap and the budgets long.
EFFORTS: dict[str, _Budget] = {
    "fast": _Budget(restarts=8, iterations=80, factors=(1.0,)),
    "default": _Budget(restarts=16, iterations=200, factors=(1.0,), boxes=1024),
    "thorough": _Budget(restarts=64, iterations=600, factors=(0.85, 1.0, 1.15), boxes=16384),
}
# Without a target ratio, `default` and `thorough` still refine inputs of dimension <= 3 by a
# branch-and-bound with a box budget (never a clock, so the result is reproducible), capped so
# that boxes x weights stays below _BOX_WORK: a few tenths of a second on small networks.
SMALL_INPUT = 3
_BOX_WORK = 2 * 10**7
_BUDGET_RATIO = 1.01
_SCREEN = 4096  # points screened for the witness search's starts when d0 <= SMALL_INPUT (default, thorough)
# Deeper pairs have more local maxima of ||f - F||: the search runs ceil(L / 3) times the restarts
# (at 256-512 x 5 four times the restarts raise the witness by 3-17 %; a 12-layer chain's doubles).
_LAYERS_PER_RESTART_BATCH = 3
_UNTIMED = 1e9
# A replay with Frobenius norms (norms not certified) whose margin exceeds this fraction of its
# value is redone with certified norms: deep chains (12 layers: 7.7e-11 -> 9.5e-14 of the value).
_TIGHT_MARGIN = 1e-12
# The averaged bound is not certified when an estimate from below of it exceeds the ellipsoid bound
# (it could not be the smallest); this factor covers the estimate's own rounding (about 1e-15).
_ESTIMATE_SLACK = Fraction(1) - Fraction(1, 10**6)


@dataclass(frozen=True, eq=False)
class ErrorBracket:
    """lower <= sup ||f - F|| <= upper, with the witness behind `lower` and every upper bound."""

    lower: float
    upper: float
    witness: np.ndarray
    upper_bounds: dict[str, float]
    upper_method: str
    lower_method: str
    timings: dict[str, float]
    lower_margin: float = 0.0  # |replayed - exact| <= lower_margin
    activations: tuple[str, ...] = field(default=())
    widths: tuple[int, ...] = field(default=())
    counts: tuple[int, ...] = field(default=())
    unavailable: dict[str, str] = field(default_factory=dict)  # method -> why it gave no finite sound value
    layer_shifts: tuple[int, ...] = field(default=())  # the power-of-two scaling: W_l = 2^shift V_l

    @property
    def ratio(self) -> float:
        """upper / lower (inf when lower is 0): the bracket's quality, 1 is exact."""
        return self.upper / self.lower if self.lower > 0 else math.inf

    def decide(self, eps: float) -> Decision:
        """'certified' if upper <= eps, 'violated' if the replayed lower exceeds eps by more than
        its rounding margin, else 'unknown'."""
        if not (isinstance(eps, (int, float)) and math.isfinite(eps) and eps >= 0):
            raise InputError(f"eps must be a finite non-negative number, got {eps!r}")
        if self.upper <= eps:
            return "certified"
        if self.lower - self.lower_margin > eps:
            return "violated"
        return "unknown"

    def to_dict(self) -> dict[str, Any]:
        ratio = self.ratio
        return {
            "lower": self.lower,
            "upper": self.upper,
            "ratio": ratio if math.isfinite(ratio) else None,
            "lower_margin": self.lower_margin,
            "witness": [float(v) for v in self.witness],
            "upper_bounds": dict(self.upper_bounds),
            "upper_method": self.upper_method,
            "lower_method": self.lower_method,
            "timings": dict(self.timings),
            "activations": list(self.activations),
            "widths": list(self.widths),
            "counts": list(self.counts),
            "unavailable": dict(self.unavailable),
            "layer_shifts": list(self.layer_shifts),
        }


@contextmanager
def _timed(timings: dict[str, float], name: str) -> Iterator[None]:
    """Add the wall-clock seconds of the block to timings[name]."""
    start = time.perf_counter()
    yield
    timings[name] = timings.get(name, 0.0) + time.perf_counter() - start


def _starts(directions: list[np.ndarray], count: int, d0: int, rng: np.random.Generator) -> np.ndarray:
    rows = [v for u in directions for v in (u, -u)][:count]
    extra = count - len(rows)
    if extra > 0:
        rows += list(rng.standard_normal((extra, d0)))
    return np.vstack(rows)


def _screened(pair: NetworkPair, starts: np.ndarray, on_sphere: bool) -> np.ndarray:
    """For inputs of dimension <= SMALL_INPUT: the second half of `starts` replaced by the best
    points of a screen of _SCREEN points (sphere or ball, from a fixed seed), evaluated in one batch."""
    d0 = pair.original.widths[0]
    points = np.random.default_rng(d0).standard_normal((_SCREEN, d0))
    points /= np.maximum(np.linalg.norm(points, axis=1, keepdims=True), np.finfo(float).tiny)
    if not on_sphere:
        points *= np.random.default_rng(d0 + 1).random((_SCREEN, 1)) ** (1.0 / d0)
    with np.errstate(all="ignore"):
        values = np.linalg.norm(pair.pruned.forward(points) - pair.original.forward(points), axis=1)
    keep = starts.shape[0] - starts.shape[0] // 2
    best = np.argsort(np.where(np.isfinite(values), -values, np.inf), kind="stable")[: starts.shape[0] - keep]
    return np.vstack([starts[:keep], points[best]])


def _binary_magnitude(value: Fraction) -> int:
    """About log2(value) for value > 0 (for messages)."""
    return value.numerator.bit_length() - value.denominator.bit_length()


def _record(name: str, exact: Fraction, upper_bounds: dict[str, float], unavailable: dict[str, str]) -> None:
    """Round an exact bound upwards into `upper_bounds`, or note that it exceeds float64."""
    value = float_up(exact)
    if math.isfinite(value):
        upper_bounds[name] = value
    else:
        unavailable[name] = (
            f"the bound (about 2^{_binary_magnitude(exact)}) exceeds the float64 range; "
            "no finite sound float64 value exists"
        )


def _scaled_replay(replay: Replay, total: int) -> Replay:
    """A replay of the scaled pair as one of the pair: value 2^S v rounded to nearest, margin
    2^S m plus that rounding (f - F = 2^S (f_V - F_V) exactly for homogeneous activations)."""
    factor = power_of_two(total)
    exact_value = Fraction(replay.value) * factor
    try:
        value = float(exact_value)
    except OverflowError:
        value = float(np.finfo(np.float64).max)
    value = min(value, float(np.finfo(np.float64).max))
    margin = float_up(Fraction(replay.margin) * factor + abs(Fraction(value) - exact_value))
    return Replay(value, margin, replay.input_norm_bound)


def _replay_norms(
    norms: "LayerNorms | None", scaling: LayerScaling, on_scaled: bool
) -> "tuple[list[float], list[float]] | None":
    """The certified ||W_l||_2, ||W~_l||_2 for the replay's reference pass: as certified on the scaled
    pair, or 2^{s_l} (||V_l|| + residual_l) for the pair itself; None without certified norms."""
    if norms is None:
        return None
    full, pruned, _ = norms.uppers()
    if on_scaled:
        return full, pruned
    widen = lambda values: [ldexp_up(add_up(v, r), s) for v, r, s in zip(values, scaling.residuals, scaling.shifts)]
    return widen(full), widen(pruned)


def _lower(
    pair: NetworkPair,
    scaled: NetworkPair,
    scaling: LayerScaling,
    homogeneous: bool,
    starts: np.ndarray,
    budget: _Budget,
    lipschitz: list[float],
    norms: "LayerNorms | None",
    timings: dict[str, float],
    certify: "Callable[[], LayerNorms | None] | None" = None,
) -> tuple[np.ndarray, Replay, str]:
    """The witness, its replay (for the pair) and how it was found. The search and replay run on
    the scaled pair when that is exact; if either overflows float64, the witness falls back to 0
    (margin +inf if even that overflows). A replay without certified norms whose margin exceeds
    _TIGHT_MARGIN of its value is redone with the norms `certify` gives."""
    use_scaled = homogeneous and scaling.exact
    target = scaled if use_scaled else pair
    reason = None
    with _timed(timings, "lower_search"):
        try:
            search = maximise_error(target, starts, iterations=budget.iterations, on_sphere=homogeneous, race=True)
        except InputError as exc:  # float64 overflow in the search
            reason = str(exc)
    with _timed(timings, "replay"):
        if reason is None:
            witness = unit_ball_point(search.best_input)
            try:
                replay = replay_error(target, witness, lipschitz, norms=_replay_norms(norms, scaling, use_scaled))
                if norms is None and certify is not None and replay.margin > _TIGHT_MARGIN * replay.value:
                    if (norms := certify()) is not None:
                        replay = replay_error(
                            target, witness, lipschitz, norms=_replay_norms(norms, scaling, use_scaled)
                        )
            except InputError as exc:  # float64 overflow in the replay
                reason = str(exc)
            else:
                method = (
                    f"gradient ascent ({search.restarts} restarts x {search.iterations} steps, raced, "
                    f"{'sphere' if homogeneous else 'ball'}), replayed"
                    + (" on the pair scaled by 2^-S (exact: positively homogeneous activations)" if use_scaled else "")
                )
                return witness, (_scaled_replay(replay, scaling.total) if use_scaled else replay), method
        witness = np.zeros(pair.original.widths[0])
        try:
            return (
                witness,
                replay_error(pair, witness, lipschitz, norms=_replay_norms(norms, scaling, False)),
                f"none: {reason}; replayed at x = 0 instead",
            )
        except InputError:
            return witness, Replay(0.0, math.inf, 0.0), f"none: {reason}; lower = 0 with an unbounded margin"


def _exact_line(
    pair: NetworkPair, scaled: NetworkPair, lipschitz: list[float], norms: "LayerNorms | None", scaling: LayerScaling
) -> "tuple[Fraction, np.ndarray, Replay] | str":
    """d0 = 1 with positively homogeneous activations: f(tx) - F(tx) = t (f(x) - F(x)) for t >= 0, so
    the supremum over [-1, 1] is the larger of ||f(+-1) - F(+-1)||; each replay plus its margin
    bounds it exactly (the upper bound, its witness and replay), or why not. The replays run on the
    scaled pair when its scaling is exact (as the search's), and are multiplied back exactly."""
    best = None
    upper = Fraction(0)
    target = scaled if scaling.exact else pair
    for end in (1.0, -1.0):
        x = np.array([end])
        try:
            replay = replay_error(target, x, lipschitz, norms=_replay_norms(norms, scaling, scaling.exact))
            replay = _scaled_replay(replay, scaling.total) if scaling.exact else replay
        except InputError as exc:
            return f"the replay at x = {end:+g} failed: {exc}"
        if not math.isfinite(replay.margin):
            return f"the replay at x = {end:+g} has no finite margin"
        upper = max(upper, Fraction(replay.value) + Fraction(replay.margin))
        if best is None or replay.value > best[1].value:
            best = (x, replay)
    return upper, best[0], best[1]


def _diagonal_applies(pair: NetworkPair, constants, local: LocalSlopes) -> bool:
    """Whether the per-neuron averaged bound applies (sigma(0) = 0) and is worth its dense products:
    a small network whose neurons' slope ranges differ within some layer (else it equals the per-layer bound)."""
    if not all(c.zero_at_zero for c in constants):
        return False
    if pair.original.depth > MAX_DEPTH or max(pair.original.widths[1:-1], default=0) > MAX_WIDTH:
        return False
    lows = [*local.state_low, *local.diff_low]
    highs = [*local.state_high, *local.diff_high]
    return any(np.ptp(low) > 0 or np.ptp(high) > 0 for low, high in zip(lows, highs))


def _inexact_scaling(scaling: LayerScaling) -> "str | None":
    """Why the averaged and ellipsoid bounds, which need f - F of the scaled pair to be exactly
    2^-S (f - F), do not apply (None when the scaling is exact)."""
    if scaling.exact:
        return None
    return f"scaling layers {scaling.inexact_layers()} by a power of two rounded entries below 2^-1074"


def _ellipsoid(
    pair: NetworkPair,
    parts,
    constants,
    local: "LocalSlopes | None",
    scaling: LayerScaling,
    upper_bounds: dict[str, float],
    unavailable: dict[str, str],
    timings: dict[str, float],
) -> None:
    """Record the ellipsoid bound (`ellipsoid`) with the per-neuron sectors when known, or why it is
    unavailable (the seconds of its meet-in-the-middle runs go to timings["ellipsoid_meet"])."""
    reason = ellipsoid_unavailable_reason(constants, parts) or _inexact_scaling(scaling)
    if reason is not None:
        unavailable["ellipsoid"] = reason
        return
    candidates = [global_sectors(constants, pair.original.widths)]
    if local is not None and sectors_differ(candidates[0], narrower := local_sectors(local, constants)):
        candidates.append(narrower)  # the multipliers are a heuristic: narrower sectors need not win
    try:
        value = smallest_ellipsoid_bound(parts, constants, candidates, timings)
    except _CERTIFICATE_FAILURES as exc:
        unavailable["ellipsoid"] = f"the ellipsoid certificate failed: {exc}"
        return
    if math.isfinite(value):
        _record("ellipsoid", Fraction(value) * power_of_two(scaling.total), upper_bounds, unavailable)
    else:
        unavailable["ellipsoid"] = "the ellipsoid's bound overflowed float64"


def _layerwise_skip(
    pair: NetworkPair,
    parts,
    norms: "LayerNorms | None",
    constants,
    scaling: LayerScaling,
    certify_all: bool,
    upper_bounds: dict[str, float],
) -> "str | None":
    """Why the layerwise bound is not certified: its estimate from below (the norms not certified
    by power iteration, `layerwise_estimate`) already exceeds the ellipsoid bound, as for the
    averaged bound; None when it is to be certified."""
    if certify_all or "ellipsoid" not in upper_bounds:
        return None
    return _cannot_win(layerwise_estimate(pair, norms, constants, scaling, parts), upper_bounds)


def _cannot_win(estimate: float, upper_bounds: dict[str, float], scale: Fraction = Fraction(1)) -> "str | None":
    """Why a bound whose estimate from below is `estimate` x `scale` is not certified (that, less its
    rounding slack, exceeds the certified ellipsoid bound; +inf always does), or None."""
    if math.isnan(estimate):
        return None
    exceeds = Fraction(estimate) * scale * _ESTIMATE_SLACK if math.isfinite(estimate) else math.inf
    if exceeds > Fraction(upper_bounds["ellipsoid"]):
        return (
            f"not certified: an estimate from below of it ({float(exceeds):.4g}) already exceeds "
            f"the ellipsoid bound ({upper_bounds['ellipsoid']:.4g})"
        )
    return None


def _certified_norms(
    parts, generator: np.random.Generator, norms: "LayerNorms | None", error: bool, unavailable: dict[str, str]
) -> "LayerNorms | None":
    """`norms` with ||W_l||, ||W~_l|| certified (if not yet) and, if `error`, the ||E_l||; when a
    certificate fails, the layerwise bound is unavailable and what was certified is kept."""
    try:
        norms = norms if norms is not None else layer_norms(parts, generator, error=False)
        return with_error_norms(norms, parts, generator) if error else norms
    except _CERTIFICATE_FAILURES as exc:
        unavailable["layerwise"] = f"a spectral-norm certificate failed: {exc}"
        return norms


def _lipschitz_sum(norms: "tuple[list[float], list[float]] | None", constants) -> float:
    """Lip(f) + Lip(F) <= prod K_l ||W~_l|| + prod K_l ||W_l|| (rounded up; +inf without certified norms)."""
    if norms is None:
        return math.inf
    total = Fraction(0)
    for values in norms:
        product = Fraction(1)
        for layer, value in enumerate(values):
            product *= Fraction(value) * (Fraction(constants[layer].lipschitz) if layer < len(constants) else 1)
        total += product
    return float_up(total)


def _branch(
    pair: NetworkPair,
    scaled: NetworkPair,
    scaling: LayerScaling,
    constants,
    homogeneous: bool,
    norms: "LayerNorms | None",
    witness: np.ndarray,
    replay: Replay,
    target_ratio: float,
    time_limit: float,
    max_boxes: int = 1_000_000,
) -> "tuple[float | Fraction, np.ndarray, Replay, str] | str":
    """Branch-and-bound on the (scaled, when exact) pair: (exact upper, witness, replay, how) or why not."""
    use_scaled = homogeneous and scaling.exact
    target = scaled if use_scaled else pair
    factor = power_of_two(scaling.total) if use_scaled else Fraction(1)
    replay_norms = _replay_norms(norms, scaling, use_scaled)
    lipschitz = [c.lipschitz for c in constants]
    try:
        start = replay_error(target, witness, lipschitz, norms=replay_norms) if use_scaled else replay
        result = branch_and_bound(
            target,
            constants,
            homogeneous=homogeneous,
            lipschitz_sum=_lipschitz_sum(replay_norms, constants),
            start=(witness, start),
            target_ratio=target_ratio,
            time_limit=time_limit,
            max_boxes=max_boxes,
            norms=replay_norms,
        )
    except InputError as exc:
        return f"branch-and-bound failed: {exc}"
    best = _scaled_replay(result.replay, scaling.total) if use_scaled else result.replay
    how = (
        f"branch-and-bound over the {'sphere' if homogeneous else 'ball'}: {result.boxes} boxes, "
        f"{result.open_boxes} open, stopped at the {result.stopped}"
    )
    return Fraction(result.upper) * factor, result.witness, best, how


def assemble_bracket(
    upper_bounds: dict[str, float],
    unavailable: dict[str, str],
    replay: Replay,
    witness: np.ndarray,
    lower_method: str,
    timings: dict[str, float],
    *,
    activations: tuple[str, ...],
    widths: tuple[int, ...],
    counts: tuple[int, ...],
    layer_shifts: tuple[int, ...],
) -> ErrorBracket:
    """The bracket from every method's upper bound (the smallest wins; +inf when none gave one) and
    the replayed witness; a replayed lower end above the upper end is a bug, never a result."""
    if upper_bounds:
        method = min(upper_bounds, key=upper_bounds.__getitem__)
        upper = upper_bounds[method]
    else:
        method, upper = "none", math.inf
    if replay.certified_lower > upper:
        raise ArithmeticError(
            f"unsound bracket: replayed lower {replay.value!r} exceeds upper bound {upper!r} ({method})"
        )
    return ErrorBracket(
        lower=replay.value,
        upper=upper,
        witness=witness,
        upper_bounds=upper_bounds,
        upper_method=method,
        lower_method=lower_method,
        timings=timings,
        lower_margin=replay.margin,
        activations=activations,
        widths=widths,
        counts=counts,
        unavailable=unavailable,
        layer_shifts=layer_shifts,
    )


def check_search_options(target_ratio: "float | None", time_limit: float) -> None:
    """InputError unless the target ratio (None or a finite number >= 1) and the time limit (finite,
    positive) are usable; the CLI calls it before it reads the network."""
    if target_ratio is not None and not (
        isinstance(target_ratio, (int, float)) and math.isfinite(target_ratio) and target_ratio >= 1.0
    ):
        raise InputError(f"the target ratio must be a finite number >= 1, got {target_ratio!r}")
    if not (isinstance(time_limit, (int, float)) and math.isfinite(time_limit) and time_limit > 0):
        raise InputError(f"the time limit must be a positive number of seconds, got {time_limit!r}")


def bracket_sup_error(
    pair: NetworkPair,
    *,
    rng: "np.random.Generator | np.random.SeedSequence | int | None" = None,
    effort: Effort = "default",
    target_ratio: "float | None" = None,
    time_limit: float = 10.0,
    branch: "bool | None" = None,
    slopes: Slopes = "local",
    certify_all: bool = False,
) -> ErrorBracket:
    """Bracket sup_{||x||<=1} ||f(x) - F(x)||_2 for the pair (F, f).

    With `target_ratio`, a branch-and-bound over the input (`branch`) refines the bracket until
    upper <= target_ratio * lower or `time_limit` seconds; it runs when the input dimension is
    at most 4 (`branch=True` forces it, `branch=False` turns it off). Without one, efforts
    `default` and `thorough` run it with a box budget (no clock) when the input dimension is at
    most 3 (`branch=False` turns that off too). With `slopes="local"`
    the upper bounds use the slope ranges reachable over the unit ball (`reachable`), with
    "global" the activations' slope ranges over the whole real line. The layerwise and
    averaged bounds are not certified when an estimate of either from below already exceeds the
    ellipsoid bound (it could not be the smallest); `certify_all=True` certifies them all the same
    (to compare the methods).
    """
    pair = check_pair(pair)
    check_search_options(target_ratio, time_limit)
    if not isinstance(certify_all, bool):
        raise InputError(f"certify_all must be True or False, got {certify_all!r}")
    if slopes not in ("local", "global"):
        raise InputError(f"slopes must be 'local' or 'global', got {slopes!r}")
    if effort not in EFFORTS:
        raise InputError(f"effort must be one of {', '.join(EFFORTS)}, got {effort!r}")
    generator = as_generator(rng)
    budget = EFFORTS[effort]
    timings: dict[str, float] = {}
    with _timed(timings, "prepare"):
        constants = layer_constants(pair.original)
        scaling = pair_scaling(pair)
        scaled = scaled_pair(pair, scaling)  # its layers are computed when read, never stored
        parts = pair_parts(scaled, generator)

    upper_bounds: dict[str, float] = {}
    unavailable: dict[str, str] = {}
    directions: list[np.ndarray] = []
    homogeneous = all(c.homogeneous for c in constants)
    d0 = pair.original.widths[0]
    # ||W_l||, ||W~_l|| tighten the reachable slope ranges through the norm chain, except for positively
    # homogeneous activations (sigma(0) = 0, so every reachable interval contains 0 and the slope
    # ranges are the same for any chain): there, without branch-and-bound or the exact line (which use
    # them), they are certified only when the layerwise bound is, and the replay does with Frobenius norms.
    defer = homogeneous and d0 > SMALL_INPUT and target_ratio is None and branch is not True
    norms: "LayerNorms | None" = None
    if not defer:
        with _timed(timings, "norms"):
            norms = _certified_norms(parts, generator, None, False, unavailable)
    ranges = None
    local = None
    bound_constants = constants
    if slopes == "local" and constants:
        with _timed(timings, "slopes"):
            local = local_slopes(pair, constants, scaling, _replay_norms(norms, scaling, False))
            bound_constants = local.layer_constants(constants)
            ranges = [(c.slope_min, c.slope_max) for c in bound_constants]
    reason = unavailable_reason(constants, parts) or _inexact_scaling(scaling)
    # The ellipsoid bound first (it draws nothing from `generator`), so that a layerwise or averaged
    # bound that cannot beat it is not certified; where the per-neuron bound applies, that needs the averaged one.
    with _timed(timings, "ellipsoid"):
        _ellipsoid(pair, parts, constants, local, scaling, upper_bounds, unavailable, timings)
    if "layerwise" not in unavailable:
        with _timed(timings, "layerwise"):
            skip = _layerwise_skip(pair, parts, norms, bound_constants, scaling, certify_all, upper_bounds)
        if skip is not None:
            unavailable["layerwise"] = skip
        else:
            with _timed(timings, "norms"):
                norms = _certified_norms(parts, generator, norms, True, unavailable)
            if "layerwise" not in unavailable:
                with _timed(timings, "layerwise"):
                    _record(
                        "layerwise", layerwise_bound(pair, norms, bound_constants, scaling), upper_bounds, unavailable
                    )
                directions.append(norms.error[0].right_vector)
    diagonal = local is not None and reason is None and _diagonal_applies(pair, constants, local)
    if reason is None and not diagonal and not certify_all and "ellipsoid" in upper_bounds:
        with _timed(timings, "averaged_estimate"):
            # Its own generator: the estimate decides a skip only, and leaves the bracket's stream as it was.
            estimate = estimate_averaged(parts, constants, np.random.default_rng(0), budget.factors, ranges)
        finite = math.isfinite(estimate.value)
        skip = _cannot_win(estimate.value, upper_bounds, power_of_two(scaling.total)) if finite else None
        if skip is not None:
            reason = skip
            directions.extend(estimate.input_directions)
    if reason is None:
        scalings = None
        with _timed(timings, "averaged"):
            try:
                averaged = averaged_bound(parts, constants, generator, budget.factors, ranges)
            except _CERTIFICATE_FAILURES as exc:
                unavailable["averaged"] = f"a segment-norm certificate failed: {exc}"
            else:
                if math.isfinite(averaged.value) and all(map(math.isfinite, averaged.tails)):
                    sigma0 = [c.sigma0 for c in constants]
                    _record("averaged", averaged.total(sigma0, scaling.shifts), upper_bounds, unavailable)
                else:
                    unavailable["averaged"] = "a segment's Gram matrix overflowed float64"
                directions.extend(averaged.input_directions)
                scalings = averaged.scalings
        if diagonal and scalings is not None:
            with _timed(timings, "averaged_local"):
                try:
                    value = diagonal_bound(parts, local, scalings, generator)
                except _CERTIFICATE_FAILURES as exc:
                    unavailable["averaged_local"] = f"a segment-norm certificate failed: {exc}"
                else:
                    if math.isfinite(value):
                        exact = Fraction(value) * power_of_two(scaling.total)
                        _record("averaged_local", exact, upper_bounds, unavailable)
                    else:
                        unavailable["averaged_local"] = "a segment's Gram matrix overflowed float64"
    else:
        unavailable["averaged"] = reason

    lipschitz = [c.lipschitz for c in constants]
    restarts = budget.restarts * math.ceil(pair.original.depth / _LAYERS_PER_RESTART_BATCH)
    starts = _starts(directions, restarts, pair.original.widths[0], generator)
    if budget.boxes > 0 and pair.original.widths[0] <= SMALL_INPUT:
        starts = _screened(pair, starts, homogeneous)

    def certify_late() -> "LayerNorms | None":
        """The norms for a replay whose Frobenius margin is not tight, timed as `norms`, not `replay`."""
        start = time.perf_counter()
        with _timed(timings, "norms"):
            late = _certified_norms(parts, generator, None, False, {})
        timings["replay"] = timings.get("replay", 0.0) - (time.perf_counter() - start)  # the replay block adds it back
        return late

    witness, replay, lower_method = _lower(
        pair,
        scaled,
        scaling,
        homogeneous,
        starts,
        budget,
        lipschitz,
        norms,
        timings,
        certify_late if defer and norms is None else None,
    )

    if homogeneous and d0 == 1:
        with _timed(timings, "exact_line"):
            line = _exact_line(pair, scaled, lipschitz, norms, scaling)
        if isinstance(line, str):
            unavailable["exact_line"] = line
        else:
            _record("exact_line", line[0], upper_bounds, unavailable)
            if line[2].certified_lower > replay.certified_lower:
                witness, replay, lower_method = line[1], line[2], "the end of the input segment, replayed"
    weights = sum(a * b for a, b in zip(pair.original.widths, pair.original.widths[1:]))
    budgeted = target_ratio is None and branch is not False and budget.boxes > 0 and d0 <= SMALL_INPUT
    if budgeted or (target_ratio is not None and branch is not False and (branch or d0 <= DEFAULT_MAX_DIMENSION)):
        ratio, limit, boxes = (
            (_BUDGET_RATIO, _UNTIMED, max(64, min(budget.boxes, _BOX_WORK // max(weights, 1))))
            if budgeted
            else (target_ratio, time_limit, 1_000_000)
        )
        with _timed(timings, "branch_and_bound"):
            outcome = _branch(
                pair, scaled, scaling, constants, homogeneous, norms, witness, replay, ratio, limit, boxes
            )
        if isinstance(outcome, str):
            unavailable["branch_and_bound"] = outcome
        else:
            exact_upper, found, found_replay, how = outcome
            _record("branch_and_bound", exact_upper, upper_bounds, unavailable)
            if found_replay.certified_lower > replay.certified_lower:
                witness, replay, lower_method = found, found_replay, how + "; witness replayed"
    elif target_ratio is not None:
        unavailable["branch_and_bound"] = (
            f"input dimension {d0} > {DEFAULT_MAX_DIMENSION} (force it with branch=True)"
            if branch is None
            else "turned off"
        )

    return assemble_bracket(
        upper_bounds,
        unavailable,
        replay,
        witness,
        lower_method,
        timings,
        activations=tuple(c.activation for c in constants),
        widths=pair.original.widths,
        counts=pair.counts,
        layer_shifts=scaling.shifts,
    )
