"""Reachable pre-activation intervals over the unit ball, and the local slope ranges they give.

For F and for f separately, every pre-activation a = (W_l h_{l-1})_i over ||x|| <= 1 is enclosed
in an interval:

- layer 1: |w_i . x| <= ||w_i||_2 (row norms certified on the power-of-two scaled weights and
  scaled back with upward rounding);
- later layers: the sound mid-radius propagation of `enclosures` (every rounding covered),
  intersected with |w_i . h| <= ||w_i||_2 H_{l-1}, where H_{l-1} >= ||h_{l-1}||_2 is the smaller
  of the norm of the enclosing box and the chain K_l ||W_l||_2 H_{l-1} + |sigma(0)| sqrt(d_l)
  (certified spectral norms; K_l the local Lipschitz constant found for that layer).

From them, per hidden layer and neuron (the diagonals of the averaged bound's recursion):

- F's state: sigma(a) = sigma(0) + Lambda a with Lambda = (sigma(a) - sigma(0)) / a in the range
  of sigma' over hull(I_F, 0);
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
from .enclosures import activation_enclosure, affine_enclosure, inflate
from .rounding import UNDERFLOW_UNIT, gamma, up
from .scaling import LayerScaling
from .slope_table import slope_table

__all__ = ["LocalSlopes", "local_slopes", "reachable_intervals"]


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


def reachable_intervals(
    network: Network,
    constants: Sequence[LayerConstants],
    scaling: LayerScaling,
    spectral: "Sequence[float] | None" = None,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """(low, high) of every hidden layer's pre-activations over the unit ball (None-free; +-inf
    where nothing finite is known). `spectral` are certified ||W_l||_2 of this network."""
    result: list[tuple[np.ndarray, np.ndarray]] = []
    mid = rad = None
    norm_bound = 1.0  # ||h_0|| = ||x|| <= 1
    for layer in range(network.depth - 1):
        w = network.weights[layer]
        rows = _row_norms_up(w, scaling.shifts[layer]) * norm_bound if math.isfinite(norm_bound) else None
        with np.errstate(all="ignore"):
            if mid is None:
                low, high = -rows, rows
            else:
                mid_a, rad_a = affine_enclosure(w, mid[None, :], rad[None, :])
                mid_a, rad_a = mid_a[0], rad_a[0]
                low = np.nextafter(mid_a - rad_a, -np.inf)
                high = np.nextafter(mid_a + rad_a, np.inf)
                if rows is not None:
                    rows = np.nextafter(rows, np.inf)  # the product with norm_bound rounded
                    low, high = np.maximum(low, -rows), np.minimum(high, rows)
        if not (np.isfinite(low).all() and np.isfinite(high).all() and (low <= high).all()):
            for _ in range(layer, network.depth - 1):
                width = network.widths[len(result) + 1]
                result.append((np.full(width, -np.inf), np.full(width, np.inf)))
            return result
        result.append((low, high))
        with np.errstate(all="ignore"):
            mid = 0.5 * (low + high)
            rad = inflate(np.maximum(high - mid, mid - low), 1)
            mid, rad = activation_enclosure(network.activations[layer], constants[layer], mid[None, :], rad[None, :])
            mid, rad = mid[0], rad[0]
            box = _norm_up(np.abs(mid) + rad)
        chain = math.inf
        if spectral is not None and math.isfinite(norm_bound):
            table = slope_table(network.activations[layer], constants[layer])
            s_low, s_high = table.query(np.minimum(low, 0.0), np.maximum(high, 0.0))
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
        s = table.query(np.minimum(lo, 0.0), np.maximum(hi, 0.0))
        d = table.query(np.minimum(lo, lo_t), np.maximum(hi, hi_t))
        state_low.append(s[0])
        state_high.append(s[1])
        diff_low.append(d[0])
        diff_high.append(d[1])
    return LocalSlopes(tuple(state_low), tuple(state_high), tuple(diff_low), tuple(diff_high))
