"""Differential box propagation: an enclosure of f(x) - F(x) over boxes that cancels what F and f share.

Enclosing f and F separately and subtracting leaves the full width of both enclosures, however
close f and F are. Propagating the difference itself (the idea of the differential verifiers
ReluDiff and NeuroDiff) keeps it small: with h and g the states of F and f and Delta = g - h,

  a~ - a  = W~ Delta_{l-1} - E_l h_{l-1}            (E_l = W_l - W~_l, exact: entries of W_l or 0)
  Delta_l = D_l (a~ - a),   D_l = (sigma(a~) - sigma(a)) / (a~ - a)

and D_l of each neuron lies in the range of sigma' over the hull of its intervals in F and in f
(`slope_table`; absolutely continuous sigma). A neuron stable and equal in both networks (ReLU
active or inactive in both) has D = 1 or 0, and Delta passes exactly. Each Delta_l is also
intersected with g_l - h_l from the separate enclosures (both hold), so it is never wider. Every step is the
mid-radius arithmetic of `enclosures`, with every rounding covered; the last layer is linear:
f - F = W~_L Delta_{L-1} - E_L h_{L-1}.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..engine import NetworkPair
from .constants import LayerConstants
from .enclosures import activation_enclosure, affine_enclosure, inflate
from .rounding import UNIT_ROUNDOFF
from .slope_table import slope_table

__all__ = ["difference_enclosure"]


def _sum(first: tuple[np.ndarray, np.ndarray], second: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(m1 + m2) +- (r1 + r2 + rounding of the sum)."""
    mid = first[0] + second[0]
    return mid, inflate(first[1] + second[1] + UNIT_ROUNDOFF * np.abs(mid), 2)


def _ends(mid: np.ndarray, rad: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return np.nextafter(mid - rad, -np.inf), np.nextafter(mid + rad, np.inf)


def _intersect(
    first: tuple[np.ndarray, np.ndarray], second: tuple[np.ndarray, np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """The intersection of two enclosures of the same values, as mid +- rad (rounded outwards)."""
    low_1, high_1 = _ends(*first)
    low_2, high_2 = _ends(*second)
    low, high = np.maximum(low_1, low_2), np.minimum(high_1, high_2)
    mid = 0.5 * (low + high)
    return mid, inflate(np.maximum(high - mid, mid - low), 1)


def difference_enclosure(
    pair: NetworkPair, constants: Sequence[LayerConstants], mid: np.ndarray, rad: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Mid-radius enclosure of f(x) - F(x) over the boxes mid +- rad (rows are boxes)."""
    full, pruned = pair.original, pair.pruned
    h = (mid, rad)  # F's state
    g = (mid, rad)  # f's state
    delta = (np.zeros_like(mid), np.zeros_like(rad))
    for layer in range(full.depth):
        w, wt = full.weights[layer], pruned.weights[layer]
        error = w - wt  # exact: W~ keeps entries of W or zeroes them
        step = _sum(affine_enclosure(wt, *delta), affine_enclosure(-error, *h))
        if layer == full.depth - 1:
            return step
        spec, c = full.activations[layer], constants[layer]
        a = affine_enclosure(w, *h)
        a_tilde = affine_enclosure(wt, *g)
        low_a, high_a = _ends(*a)
        low_t, high_t = _ends(*a_tilde)
        d_low, d_high = slope_table(spec, c).query(np.minimum(low_a, low_t), np.maximum(high_a, high_t))
        d_mid = 0.5 * (d_low + d_high)
        d_rad = inflate(np.maximum(d_high - d_mid, d_mid - d_low), 1)
        step_mid, step_rad = step
        new_mid = d_mid * step_mid
        spread = np.abs(d_mid) * step_rad + d_rad * (np.abs(step_mid) + step_rad) + UNIT_ROUNDOFF * np.abs(new_mid)
        h = activation_enclosure(spec, c, *a)
        g = activation_enclosure(spec, c, *a_tilde)
        delta = _intersect((new_mid, inflate(spread, 5)), _sum(g, (-h[0], h[1])))
    raise AssertionError("unreachable: the last layer returns")
