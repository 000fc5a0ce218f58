"""The lower end of a conv bracket: search for a large ||f(x) - F(x)||, then replay it certified.

`find_conv_witness` runs the conv search (`conv_ascent`: screened starts, projected gradient
ascent) and replays the best input (`conv_replay`). With positively homogeneous activations
(relu, leaky_relu, identity) both run on the pair scaled layer by layer by exact powers of two
(`scaling.scale_pair`: f - F = 2^S (f_V - F_V)), and the replayed value is scaled back exactly:
rounded to nearest, that rounding added to the margin (as the dense bracket does). If the
search or the replay overflows float64 the witness falls back to x = 0 (and to lower = 0 with an
unbounded margin if even that overflows).
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from ..engine import ConvNetwork, NetworkPair
from ..errors import InputError
from .bracket import EFFORTS, Effort
from .constants import LayerConstants
from .conv_ascent import maximise_conv_error, search_starts
from .conv_replay import replay_conv_error
from .replay import Replay, unit_ball_point
from .rounding import float_up, ldexp_up
from .scaling import scale_pair

__all__ = ["ConvWitness", "find_conv_witness"]


@dataclass(frozen=True, eq=False)
class ConvWitness:
    """The witness (flattened, ||x|| <= 1), its replay for the pair, how it was found, and the
    power-of-two layer shifts the search ran at (zeros when unscaled)."""

    witness: np.ndarray
    replay: Replay
    method: str
    shifts: tuple[int, ...]


def _scaled_back(replay: Replay, total: int) -> Replay:
    """The replay of the scaled pair as one of the pair: value 2^S v rounded to nearest, margin
    2^S m plus that rounding, rounded up (an unbounded margin stays unbounded)."""
    factor = Fraction(2) ** total
    exact = Fraction(replay.value) * factor
    largest = float(np.finfo(np.float64).max)
    value = largest if exact > Fraction(largest) else float(exact)
    if not math.isfinite(replay.margin):
        return Replay(value, math.inf, replay.input_norm_bound)
    return Replay(
        value, float_up(Fraction(replay.margin) * factor + abs(Fraction(value) - exact)), replay.input_norm_bound
    )


def _search_and_replay(
    original: ConvNetwork,
    pruned: ConvNetwork,
    starts: np.ndarray,
    effort: Effort,
    homogeneous: bool,
    lipschitz: list[float],
    replay_norms: tuple[list[float], list[float]],
    timings: dict[str, float],
) -> tuple[np.ndarray, Replay, str]:
    """The witness (flattened), its replay and how it was found; x = 0 if the search or the
    replay overflows float64 (and lower = 0 with an unbounded margin if even that does)."""
    budget = EFFORTS[effort]
    reason = None
    start = time.perf_counter()
    try:
        search = maximise_conv_error(original, pruned, starts, iterations=budget.iterations, on_sphere=homogeneous)
    except InputError as exc:
        reason = str(exc)
    timings["lower_search"] = time.perf_counter() - start
    start = time.perf_counter()
    try:
        if reason is None:
            witness = unit_ball_point(search.best_input)
            try:
                replay = replay_conv_error(original, pruned, witness, lipschitz, replay_norms)
            except InputError as exc:
                reason = str(exc)
            else:
                how = (
                    f"gradient ascent through conv layers ({search.restarts} restarts x {search.iterations} steps, "
                    f"{'sphere' if homogeneous else 'ball'}), replayed with a forward-error margin"
                )
                return witness, replay, how
        witness = np.zeros(int(np.prod(original.input_shape)))
        try:
            replay = replay_conv_error(original, pruned, witness, lipschitz, replay_norms)
            return witness, replay, f"none: {reason}; replayed at x = 0 instead"
        except InputError:
            return witness, Replay(0.0, math.inf, 0.0), f"none: {reason}; lower = 0 with an unbounded margin"
    finally:
        timings["replay"] = time.perf_counter() - start


def find_conv_witness(
    original: ConvNetwork,
    pruned: ConvNetwork,
    constants: Sequence[LayerConstants],
    norms: "tuple[Sequence[float], Sequence[float]]",
    *,
    effort: Effort,
    rng: np.random.Generator,
    timings: dict[str, float],
) -> ConvWitness:
    """Search and replay (module docstring); `norms` bound ||A_l||_2 of F and f (inf: unknown),
    `timings` receives 'lower_search' and 'replay'."""
    homogeneous = all(c.homogeneous for c in constants)
    target, target_norms, total, shifts = (original, pruned), norms, None, (0,) * original.depth
    if homogeneous:
        masks = tuple(w == p for w, p in zip(original.weights, pruned.weights))
        counts = tuple(int(np.count_nonzero(~m)) for m in masks)
        scaled, scaling = scale_pair(NetworkPair(original, pruned, masks, counts))
        if scaling.exact:
            target, total, shifts = (scaled.original, scaled.pruned), scaling.total, scaling.shifts
            target_norms = tuple(
                [ldexp_up(v, -s) if math.isfinite(v) else v for v, s in zip(values, scaling.shifts)] for values in norms
            )
    starts = search_starts(*target, EFFORTS[effort].restarts, rng)
    lipschitz = [c.lipschitz for c in constants]
    witness, replay, method = _search_and_replay(*target, starts, effort, homogeneous, lipschitz, target_norms, timings)
    if total is not None:
        replay = _scaled_back(replay, total)
        method += " on the pair scaled by 2^-S (exact: positively homogeneous activations)"
    return ConvWitness(witness, replay, method, tuple(shifts))
