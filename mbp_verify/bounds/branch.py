"""Branch-and-bound over the input: near-exact brackets of sup ||f(x) - F(x)|| for small d0.

The cube [-1, 1]^d0 is split into dyadic boxes (centre c, half-width h, both exact binary
numbers); only boxes that meet the domain are kept: the unit sphere for positively
homogeneous activations (||g(tx)|| = t ||g(x)||, so the supremum over the ball is on the
sphere), the ball otherwise. Each box gets a sound upper bound of ||f(x) - F(x)|| over the
whole box, the smaller of

- **interval (mid-radius) propagation** through F and f (`enclosures`), in float64 with every
  rounding covered, coordinate by coordinate the smaller of |f - F| enclosed from the two
  separate enclosures and from the differential propagation of f - F (`differential`);
- **centre plus Lipschitz**: the centre's enclosure (the same propagation with radius 0) plus
  (Lip f + Lip F) h sqrt(d0), with Lip <= prod_l K_l ||W_l||_2 from certified norms.

Boxes with the largest bounds are split first; boxes whose bound is below the certified lower
bound (a replayed witness minus its margin) are dropped, since the supremum cannot lie in them.
Box centres (projected onto the domain) are witnesses, replayed by `replay.replay_error`.
It stops when upper <= target_ratio * lower, at the time limit, or at the cell budget; the
upper bound is the largest bound left, sound whenever it stops.
"""

from __future__ import annotations

import heapq
import itertools
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..engine import Network, NetworkPair
from ..errors import InputError
from .constants import LayerConstants
from .differential import difference_enclosure
from .enclosures import activation_enclosure, affine_enclosure, inflate, meets_domain
from .replay import Replay, replay_error, unit_ball_point
from .rounding import UNDERFLOW_UNIT, UNIT_ROUNDOFF, gamma, up

__all__ = ["BranchResult", "branch_and_bound", "DEFAULT_MAX_DIMENSION"]

DEFAULT_MAX_DIMENSION = 4
_BATCH = 64  # boxes split per step


@dataclass(frozen=True, eq=False)
class BranchResult:
    """A sound upper bound over the domain, the best replayed witness, and the search's size."""

    upper: float
    witness: np.ndarray
    replay: Replay
    boxes: int
    open_boxes: int
    stopped: str  # "target ratio", "time limit", "box budget" or "exhausted"


def _propagate(
    network: Network, constants: Sequence[LayerConstants], mid: np.ndarray, rad: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Mid-radius enclosure of the network's output over the boxes mid +- rad (rows are boxes)."""
    for layer, w in enumerate(network.weights):
        mid, rad = affine_enclosure(w, mid, rad)
        if layer < network.depth - 1:
            mid, rad = activation_enclosure(network.activations[layer], constants[layer], mid, rad)
    return mid, rad


def _box_norms(pair: NetworkPair, constants: Sequence[LayerConstants], mid: np.ndarray, rad: np.ndarray) -> np.ndarray:
    """Upper bounds of max ||f(x) - F(x)|| over each box."""
    f_mid, f_rad = _propagate(pair.pruned, constants, mid, rad)
    full_mid, full_rad = _propagate(pair.original, constants, mid, rad)
    difference = f_mid - full_mid
    reach = inflate(np.abs(difference) * (1.0 + 2 * UNIT_ROUNDOFF) + f_rad + full_rad, 3)
    with np.errstate(all="ignore"):
        d_mid, d_rad = difference_enclosure(pair, constants, mid, rad)
        direct = inflate(np.abs(d_mid) + d_rad, 1)
    reach = np.where(np.isfinite(direct), np.minimum(reach, direct), reach)  # per coordinate: both enclose
    count = reach.shape[1] + 1
    # rows with entries >= 1 are scaled by 2^-e (exact, and + eta covers entries that become subnormal),
    # so the squares of ~1e200 outputs (tanh layers between 1e200 weights) do not overflow
    with np.errstate(all="ignore"):
        top = np.max(reach, axis=1)
        exponent = np.where(np.isfinite(top) & (top >= 1.0), np.frexp(np.where(np.isfinite(top), top, 1.0))[1], 0)
    scaled = np.ldexp(reach, -exponent[:, None]) + np.where(exponent[:, None] > 0, UNDERFLOW_UNIT, 0.0)
    squares = np.sum(scaled * scaled, axis=1)
    bound = np.sqrt(inflate((squares + count * UNDERFLOW_UNIT) / (1.0 - gamma(count)), 3))
    return np.ldexp(inflate(bound, 1), exponent)  # exact, or +inf


def _domain_points(centres: np.ndarray, sphere: bool) -> np.ndarray:
    """Box centres moved into the domain: onto the sphere, or into the ball."""
    norms = np.linalg.norm(centres, axis=1, keepdims=True)
    safe = np.where(norms > 0, norms, 1.0)
    return centres / safe if sphere else centres / np.maximum(safe, 1.0)


def branch_and_bound(
    pair: NetworkPair,
    constants: Sequence[LayerConstants],
    *,
    homogeneous: bool,
    lipschitz_sum: float,
    start: tuple[np.ndarray, Replay],
    target_ratio: float,
    time_limit: float,
    max_boxes: int = 1_000_000,
    norms: "tuple[Sequence[float], Sequence[float]] | None" = None,
) -> BranchResult:
    """Refine boxes of the input until upper <= target_ratio * lower (see the module docstring).

    `lipschitz_sum` bounds Lip(f) + Lip(F) (+inf when unknown); `start` is a replayed witness.
    """
    d0 = pair.original.widths[0]
    if not (isinstance(target_ratio, (int, float)) and target_ratio >= 1.0):
        raise InputError(f"the target ratio must be a number >= 1, got {target_ratio!r}")
    if not (isinstance(time_limit, (int, float)) and time_limit > 0):
        raise InputError(f"the time limit must be a positive number of seconds, got {time_limit!r}")
    deadline = time.monotonic() + time_limit
    lipschitz = [c.lipschitz for c in constants]
    witness, best = start
    sphere = homogeneous
    offsets = np.array(list(itertools.product((-0.5, 0.5), repeat=d0)))
    counter = itertools.count()

    def bound(centres: np.ndarray, half: float) -> np.ndarray:
        boxes = _box_norms(pair, constants, centres, np.full_like(centres, half))
        if math.isfinite(lipschitz_sum):
            centre = _box_norms(pair, constants, centres, np.zeros_like(centres))
            reach = up(lipschitz_sum * up(half * up(math.sqrt(d0))))
            boxes = np.minimum(boxes, inflate(centre + reach, 1))
        return boxes

    heap: list[tuple[float, int, float, np.ndarray]] = []
    centres, half, boxes = np.zeros((1, d0)), 1.0, 1
    stopped = "exhausted"
    while True:
        values = bound(centres, half)
        if not np.isfinite(values).all():
            raise InputError("the branch-and-bound enclosures overflowed float64")
        points = _domain_points(centres, sphere)
        with np.errstate(all="ignore"):
            observed = np.linalg.norm(pair.pruned.forward(points) - pair.original.forward(points), axis=1)
        top = int(np.argmax(observed))
        if observed[top] > best.value:
            candidate = unit_ball_point(points[top])
            try:
                replay = replay_error(pair, candidate, lipschitz, norms=norms)
            except InputError:  # its reference pass overflowed: no witness here, the boxes' bounds stand
                replay = None
            if replay is not None and replay.certified_lower > best.certified_lower:
                witness, best = candidate, replay
        for row, value in zip(centres, values):
            if value >= best.certified_lower:
                heapq.heappush(heap, (-float(value), next(counter), half, row))
        upper = max(-heap[0][0], best.certified_lower) if heap else best.certified_lower
        if upper <= target_ratio * best.value:
            stopped = "target ratio"
            break
        if time.monotonic() > deadline:
            stopped = "time limit"
            break
        if boxes >= max_boxes:
            stopped = "box budget"
            break
        if not heap:
            break
        # split the boxes with the largest bounds (all of one size, so the children share a half-width)
        _, _, half, first = heapq.heappop(heap)
        chosen = [first]
        while heap and len(chosen) < _BATCH and heap[0][2] == half:
            chosen.append(heapq.heappop(heap)[3])
        children = (np.array(chosen)[:, None, :] + offsets[None, :, :] * half).reshape(-1, d0)
        half = half * 0.5
        centres = children[meets_domain(children, half, sphere)]
        boxes += len(centres)
    upper = max(-heap[0][0], best.certified_lower) if heap else best.certified_lower
    return BranchResult(float(upper), witness, best, boxes, len(heap), stopped)
