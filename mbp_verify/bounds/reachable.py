"""Reachable pre-activation intervals over the unit ball, and the local slope ranges they give.

For F and for f separately, every pre-activation a = (W_l h_{l-1})_i over ||x|| <= 1 is enclosed
in an interval:

- the ball is covered by boxes (a dyadic grid of the cube when d0 <= 3, the cube otherwise),
  each propagated by the sound mid-radius arithmetic of `enclosures` (every rounding covered);
  a neuron's interval is the hull over the boxes;
- every box's interval is intersected with |w_i . h| <= ||w_i||_2 H_{l-1} (row norms certified on
  the power-of-two scaled weights and scaled back upwards), where H_0 = 1 and H_{l-1} >=
  ||h_{l-1}||_2 is the smaller of the norm of the boxes' hull and the chain
  K_l ||W_l||_2 H_{l-1} + |sigma(0)| sqrt(d_l) (certified spectral norms; K_l the local Lipschitz
  constant found for that layer).

From them, per hidden layer and neuron (the diagonals of the averaged bound's recursion):

- F's state: sigma(a) = sigma(0) + Lambda a with Lambda = (sigma(a) - sigma(0)) / a in the chord
  slope's range over I_F (`SlopeTable.chord_query`);
- the difference: D = (sigma(a~) - sigma(a)) / (a~ - a) in the range of sigma' over hull(I_F, I_f);

(mean-value arguments: sigma is absolutely continuous, see `slope_table`). The local Lipschitz
constant of the layer is the largest |slope| over both. Non-finite intervals (float64 overflow
at extreme scales) give the activation's global range for that layer and every later one.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from ..engine import Network, NetworkPair
from .constants import LayerConstants
from .enclosures import activation_enclosure, affine_enclosure, inflate, meets_domain
from .rounding import UNDERFLOW_UNIT, gamma, up
from .scaling import LayerScaling
from .slope_table import slope_table

__all__ = ["LocalSlopes", "local_slopes", "reachable_intervals", "input_boxes"]

_GRID = {1: 64, 2: 16, 3: 8}  # cells per axis of the input grid (d0 <= 3)


@dataclass(frozen=True, eq=False)
class LocalSlopes:
    """Per hidden layer: ranges of Lambda (F's state) and D (difference) for every neuron."""

    state_low: tuple[np.ndarray, ...]
    state_high: tuple[np.ndarray, ...]
    diff_low: tuple[np.ndarray, ...]
    diff_high: tuple[np.ndarray, ...]

    def layer_constants(self, constants: Sequence[LayerConstants]) -> tuple[LayerConstants, ...]:
        """The constants with each layer's slope range replaced by the hull of its neurons' ranges
        (both kinds) and K by the largest |slope| there; never wider than the global ones."""
        result = []
        for layer, c in enumerate(constants):
            low = min(float(self.state_low[layer].min()), float(self.diff_low[layer].min()))
            high = max(float(self.state_high[layer].max()), float(self.diff_high[layer].max()))
            low, high = max(low, c.slope_min), min(high, c.slope_max)
            lipschitz = min(c.lipschitz, max(abs(low), abs(high)))
            result.append(replace(c, slope_min=low, slope_max=high, lipschitz=lipschitz))
        return tuple(result)


def _row_norms_up(w: np.ndarray, shift: int) -> np.ndarray:
    """Upper bounds of ||w_i||_2 for the rows of W = 2^shift V (V = w scaled, max |V| < 1)."""
    v = np.ldexp(w, -shift)
    n = w.shape[1] + 1
    squares = np.einsum("ij,ij->i", v, v)
    total = inflate((squares + n * UNDERFLOW_UNIT) / (1.0 - gamma(n)), 2)
    with np.errstate(over="ignore"):
        return np.nextafter(np.ldexp(np.nextafter(np.sqrt(total), np.inf), shift), np.inf)


def _norm_up(values: np.ndarray) -> float:
    """An upper bound of ||values||_2 (+inf when not finite)."""
    if not np.isfinite(values).all():
        return math.inf
    largest = float(np.max(np.abs(values))) if values.size else 0.0
    if largest == 0.0:
        return 0.0
    exponent = math.frexp(largest)[1]
    scaled = np.ldexp(np.abs(values), -exponent)
    n = values.size + 1
    total = float(inflate(np.array((float(scaled @ scaled) + n * UNDERFLOW_UNIT) / (1.0 - gamma(n))), 2))
    try:
        return up(math.ldexp(up(math.sqrt(total)), exponent))
    except OverflowError:
        return math.inf


def input_boxes(d0: int) -> tuple[np.ndarray, np.ndarray]:
    """Boxes (mid, rad; rows) covering the unit ball of R^d0: a dyadic grid of the cube for
    d0 <= 3 (only boxes that may meet the ball), the cube itself otherwise. Exact binary numbers."""
    cells = _GRID.get(d0, 1)
    if cells == 1:
        return np.zeros((1, d0)), np.ones((1, d0))
    axis = (2.0 * np.arange(cells) + 1.0) / cells - 1.0
    centres = np.stack(np.meshgrid(*[axis] * d0, indexing="ij"), axis=-1).reshape(-1, d0)
    half = 1.0 / cells
    centres = centres[meets_domain(centres, half, sphere=False)]
    return centres, np.full_like(centres, half)


def reachable_intervals(
    network: Network,
    constants: Sequence[LayerConstants],
    scaling: LayerScaling,
    spectral: "Sequence[float] | None" = None,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """(low, high) of every hidden layer's pre-activations over the unit ball (+-inf where nothing
    finite is known). `spectral` are certified ||W_l||_2 of this network (they tighten the norm chain)."""
    result: list[tuple[np.ndarray, np.ndarray]] = []
    mid, rad = input_boxes(network.widths[0])
    norm_bound = 1.0  # ||h_0|| = ||x|| <= 1
    for layer in range(network.depth - 1):
        w = network.weights[layer]
        with np.errstate(all="ignore"):
            rows = np.nextafter(_row_norms_up(w, scaling.shifts[layer]) * norm_bound, np.inf)
            mid_a, rad_a = affine_enclosure(w, mid, rad)
            low_b = np.maximum(np.nextafter(mid_a - rad_a, -np.inf), -rows)  # per box
            high_b = np.minimum(np.nextafter(mid_a + rad_a, np.inf), rows)
            low, high = low_b.min(axis=0), high_b.max(axis=0)
        if not (np.isfinite(low).all() and np.isfinite(high).all() and (low_b <= high_b).all()):
            for hidden in range(layer, network.depth - 1):
                width = network.widths[hidden + 1]
                result.append((np.full(width, -np.inf), np.full(width, np.inf)))
            return result
        result.append((low, high))
        with np.errstate(all="ignore"):
            mid = 0.5 * (low_b + high_b)
            rad = inflate(np.maximum(high_b - mid, mid - low_b), 1)
            mid, rad = activation_enclosure(network.activations[layer], constants[layer], mid, rad)
            box = _norm_up(np.max(np.abs(mid) + rad, axis=0))
        chain = math.inf
        if spectral is not None and math.isfinite(norm_bound):
            table = slope_table(network.activations[layer], constants[layer])
            s_low, s_high = table.chord_query(low, high)
            lipschitz = min(constants[layer].lipschitz, float(max(np.max(np.abs(s_low)), np.max(np.abs(s_high)))))
            offset = up(constants[layer].sigma0 * up(math.sqrt(w.shape[0])))
            chain = up(up(up(lipschitz * spectral[layer]) * norm_bound) + offset)
        norm_bound = min(box, chain)
    return result


def local_slopes(
    pair: NetworkPair,
    constants: Sequence[LayerConstants],
    scaling: LayerScaling,
    spectral: "tuple[Sequence[float], Sequence[float]] | None" = None,
) -> LocalSlopes:
    """Per-neuron slope ranges of F's state and of the difference over the unit ball."""
    full = reachable_intervals(pair.original, constants, scaling, None if spectral is None else spectral[0])
    pruned = reachable_intervals(pair.pruned, constants, scaling, None if spectral is None else spectral[1])
    state_low, state_high, diff_low, diff_high = [], [], [], []
    for layer, ((lo, hi), (lo_t, hi_t)) in enumerate(zip(full, pruned)):
        table = slope_table(pair.original.activations[layer], constants[layer])
        s = table.chord_query(lo, hi)
        d = table.query(np.minimum(lo, lo_t), np.maximum(hi, hi_t))
        state_low.append(s[0])
        state_high.append(s[1])
        diff_low.append(d[0])
        diff_high.append(d[1])
    return LocalSlopes(tuple(state_low), tuple(state_high), tuple(diff_low), tuple(diff_high))
