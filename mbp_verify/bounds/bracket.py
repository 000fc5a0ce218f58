"""Certified bracket of sup_{||x|| <= 1} ||f(x) - F(x)||: a sound upper bound and a replayed witness.

`bracket_sup_error(pair)` computes every available upper bound (all sound in float64; see
`spectral`, `layerwise`, `averaged`), takes the smallest, searches for a large error with
batched gradient ascent (`ascent`), replays the best input on fresh float64 passes (`replay`)
and returns an `ErrorBracket`. Deciding eps-closeness exactly is coNP-hard; the bracket's
ratio upper / lower says how much is left undecided.
"""

from __future__ import annotations

import math
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Iterator, Literal

import numpy as np

from ..engine import PrunedNetwork
from ..errors import InputError
from .ascent import maximise_error
from .constants import layer_constants
from .averaged import applicable as averaged_applicable
from .averaged import averaged_bound
from .layerwise import layer_norms, layerwise_bound
from .parts import check_pair, pair_parts
from .replay import replay_error, unit_ball_point

__all__ = ["Effort", "EFFORTS", "Decision", "ErrorBracket", "bracket_sup_error"]

Effort = Literal["fast", "default", "thorough"]
Decision = Literal["certified", "violated", "unknown"]


@dataclass(frozen=True)
class _Budget:
    restarts: int  # lower-bound search: rows of the input matrix
    iterations: int  # ascent steps
    factors: tuple[float, ...]  # multipliers of the averaged bound's scaling (each one certified)


# Every effort computes both upper bounds: the layerwise bound costs about half the averaged
# one (its Gram matrices are shared) and is the tighter one on some networks (heavy-tailed
# weights, width-1 layers), so even `fast` never does worse than the propagation bound.
EFFORTS: dict[str, _Budget] = {
    "fast": _Budget(restarts=8, iterations=40, factors=(1.0,)),
    "default": _Budget(restarts=16, iterations=100, factors=(1.0,)),
    "thorough": _Budget(restarts=64, iterations=300, factors=(0.85, 1.0, 1.15)),
}


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
            "lower": self.lower, "upper": self.upper, "ratio": ratio if math.isfinite(ratio) else None,
            "lower_margin": self.lower_margin, "witness": [float(v) for v in self.witness],
            "upper_bounds": dict(self.upper_bounds), "upper_method": self.upper_method,
            "lower_method": self.lower_method, "timings": dict(self.timings),
            "activations": list(self.activations), "widths": list(self.widths), "counts": list(self.counts),
        }


def _generator(rng: "np.random.Generator | np.random.SeedSequence | int | None") -> np.random.Generator:
    if rng is None:
        return np.random.default_rng(0)  # reproducible by default
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, (np.random.SeedSequence, int, np.integer)) and not isinstance(rng, bool):
        if isinstance(rng, (int, np.integer)) and rng < 0:
            raise InputError(f"a seed must be a non-negative integer, got {rng}")
        return np.random.default_rng(rng)
    raise InputError(f"rng must be a numpy Generator, SeedSequence, int or None, got {type(rng).__name__}")


@contextmanager
def _timed(timings: dict[str, float], name: str) -> Iterator[None]:
    """Record the wall-clock seconds of the block as timings[name]."""
    start = time.perf_counter()
    yield
    timings[name] = time.perf_counter() - start


def _starts(directions: list[np.ndarray], count: int, d0: int, rng: np.random.Generator) -> np.ndarray:
    rows = [v for u in directions for v in (u, -u)][:count]
    extra = count - len(rows)
    if extra > 0:
        rows += list(rng.standard_normal((extra, d0)))
    return np.vstack(rows)


def bracket_sup_error(pair: PrunedNetwork, *, rng: "np.random.Generator | np.random.SeedSequence | int | None" = None,
                      effort: Effort = "default") -> ErrorBracket:
    """Bracket sup_{||x||<=1} ||f(x) - F(x)||_2 for the pair (F, f)."""
    pair = check_pair(pair)
    if effort not in EFFORTS:
        raise InputError(f"effort must be one of {', '.join(EFFORTS)}, got {effort!r}")
    generator = _generator(rng)
    budget = EFFORTS[effort]
    timings: dict[str, float] = {}
    with _timed(timings, "prepare"):
        constants = layer_constants(pair.original)
        parts = pair_parts(pair, generator)

    upper_bounds: dict[str, float] = {}
    with _timed(timings, "layerwise"):
        norms = layer_norms(parts, generator)
        upper_bounds["layerwise"] = layerwise_bound(pair, norms, constants)
    directions = [norms.error[0].right_vector]
    if averaged_applicable(constants, parts):
        with _timed(timings, "averaged"):
            averaged = averaged_bound(parts, constants, generator, budget.factors)
        upper_bounds["averaged"] = averaged.value
        directions.extend(averaged.input_directions)

    on_sphere = all(c.homogeneous for c in constants)
    with _timed(timings, "lower_search"):
        starts = _starts(directions, budget.restarts, pair.original.widths[0], generator)
        search = maximise_error(pair, starts, iterations=budget.iterations, on_sphere=on_sphere)

    with _timed(timings, "replay"):
        witness = unit_ball_point(search.best_input)
        replay = replay_error(pair, witness, [c.lipschitz for c in constants])

    method = min(upper_bounds, key=upper_bounds.__getitem__)
    upper = upper_bounds[method]
    if replay.certified_lower > upper:
        raise ArithmeticError(f"unsound bracket: replayed lower {replay.value!r} exceeds upper bound {upper!r} ({method})")
    return ErrorBracket(
        lower=replay.value, upper=upper, witness=witness, upper_bounds=upper_bounds, upper_method=method,
        lower_method=f"gradient ascent ({search.restarts} restarts x {search.iterations} steps, "
                     f"{'sphere' if on_sphere else 'ball'}), replayed",
        timings=timings, lower_margin=replay.margin,
        activations=tuple(c.activation for c in constants), widths=pair.original.widths, counts=pair.counts,
    )
