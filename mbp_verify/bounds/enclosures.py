"""Sound mid-radius interval arithmetic in float64: affine layers and activations over boxes.

A box is mid +- rad (numpy arrays, rows are boxes). Every step covers its own rounding, so the
exact image of every point of the input box lies in the output box:

- an affine layer W: |fl(W m) - W m| <= gamma_n |W||m| + n eta, radii |W| r rounded upwards;
- ReLU: neurons with m + r < 0 are exactly 0, active ones keep their interval, the others get
  [0, m + r];
- other activations: sigma(m) +- (k r + 16 u (|m| + |sigma(m)| + 1)) (numpy's evaluation error,
  as in `replay`) with k the largest |sigma'| on the box (`slope_table`), or, where sigma' keeps
  one sign on the box, [sigma(m - r), sigma(m + r)] (or reversed) widened by the evaluation
  errors, whichever is narrower; either intersected with sigma's range (`LayerConstants.value_min`,
  `value_max`: [-1, 1] for tanh) where that is narrower.

Used by the branch-and-bound (boxes of the input) and by `reachable` (the pre-activation
intervals of every neuron over the unit ball).
"""

from __future__ import annotations

import numpy as np

from .constants import LayerConstants
from .rounding import UNDERFLOW_UNIT, UNIT_ROUNDOFF, gamma
from .slope_table import slope_table

__all__ = [
    "inflate",
    "evaluation_error",
    "affine_enclosure",
    "relu_enclosure",
    "activation_enclosure",
    "meets_domain",
]

_ULPS = 16.0  # activation evaluation error, as in `replay`
_SLACK = 1e-12  # domain tests keep every box that might meet the domain


def inflate(values: np.ndarray, operations: int) -> np.ndarray:
    """An upper bound of the exact result of `operations` float operations on non-negative values
    (relative error u per operation, plus eta per operation for the subnormal range)."""
    return values * (1.0 + 2.0 * (operations + 1) * UNIT_ROUNDOFF) + (operations + 1) * UNDERFLOW_UNIT


def evaluation_error(values: np.ndarray, images: np.ndarray) -> np.ndarray:
    """Bound of |numpy's sigma(z) - sigma(z)| per entry (as in `replay`)."""
    return _ULPS * UNIT_ROUNDOFF * (np.abs(values) + np.abs(images) + 1.0)


def affine_enclosure(w: np.ndarray, mid: np.ndarray, rad: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """W (mid +- rad) for the boxes in the rows of mid, rad: the computed centre and a radius
    covering the centre's rounding and the spread."""
    n = w.shape[1]
    a = np.abs(w).T
    g = gamma(n + 1)
    spread = rad @ a  # >= (1 - g) |W| r - n eta exactly
    size = np.abs(mid) @ a
    new_mid = mid @ w.T
    new_rad = inflate((spread + g * size) / (1.0 - g) + 2 * n * UNDERFLOW_UNIT, 5)
    return new_mid, new_rad


def relu_enclosure(mid: np.ndarray, rad: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """relu over mid +- rad: exact 0 on inactive boxes, the same interval on active ones, and
    [0, top] (top >= mid + rad) where the sign may change."""
    off = mid < -rad
    on = mid > rad
    top = inflate(np.maximum(mid + rad, 0.0), 1)
    half = 0.5 * top
    cover = np.maximum(half, top - half)  # half +- cover contains [0, top] whatever the rounding of top / 2
    new_mid = np.where(on, mid, np.where(off, 0.0, half))
    new_rad = np.where(on, rad, np.where(off, 0.0, cover))
    return new_mid, new_rad


def activation_enclosure(
    spec, constants: LayerConstants, mid: np.ndarray, rad: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """sigma over mid +- rad, per entry the narrower of two enclosures: sigma(mid) +- (k rad +
    evaluation error) with k the largest |sigma'| on the box (`slope_table`), and, where sigma'
    keeps one sign on the box (sigma monotone there), [sigma(low), sigma(high)] (or reversed)
    widened by the evaluation errors."""
    if spec.name == "relu":
        return relu_enclosure(mid, rad)
    if spec.name == "identity":
        return mid, rad
    value = spec(mid)
    low = np.nextafter(mid - rad, -np.inf)  # <= the exact mid - rad
    high = np.nextafter(mid + rad, np.inf)
    s_low, s_high = slope_table(spec, constants).query(low, high)
    local = np.minimum(np.maximum(np.abs(s_low), np.abs(s_high)), constants.lipschitz)
    lip_rad = inflate(local * rad + evaluation_error(mid, value), 4)
    increasing, decreasing = s_low >= 0, s_high <= 0
    if not (increasing.any() or decreasing.any()):
        return _clipped(constants, value, lip_rad)
    s_at_low, s_at_high = spec(low), spec(high)
    first = np.where(increasing, s_at_low, s_at_high)  # the smaller end where sigma is monotone
    second = np.where(increasing, s_at_high, s_at_low)
    first_at, second_at = np.where(increasing, low, high), np.where(increasing, high, low)
    a = first - inflate(evaluation_error(first_at, first), 3)
    b = second + inflate(evaluation_error(second_at, second), 3)
    a = a - inflate(2 * UNIT_ROUNDOFF * np.abs(a), 1)  # the subtraction's own rounding
    b = b + inflate(2 * UNIT_ROUNDOFF * np.abs(b), 1)
    centre, spread = _interval(a, b)
    tighter = (increasing | decreasing) & (spread < lip_rad)
    return _clipped(constants, np.where(tighter, centre, value), np.where(tighter, spread, lip_rad))


def _interval(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """centre +- radius covering [a, b] whatever the rounding of the centre."""
    centre = 0.5 * (a + b)
    return centre, inflate(np.maximum(b - centre, centre - a), 2)


def _clipped(constants: LayerConstants, mid: np.ndarray, rad: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """mid +- rad intersected with sigma's range [value_min, value_max], where that is narrower. The
    exact image lies in both, so the intersection is sound; where mid +- rad overflowed (inf or NaN)
    the range alone is. Without it a saturated tanh at 1e84 kept the evaluation error 16 u |z| ~ 1e69."""
    if not constants.bounded:
        return mid, rad
    with np.errstate(invalid="ignore", over="ignore"):
        a = np.fmax(np.nextafter(mid - rad, -np.inf), constants.value_min)  # fmax: NaN ends give the range
        b = np.fmin(np.nextafter(mid + rad, np.inf), constants.value_max)
        centre, spread = _interval(a, b)
        narrower = np.isfinite(spread) & ~(spread >= rad)  # also where rad is NaN
    return np.where(narrower, centre, mid), np.where(narrower, spread, rad)


def meets_domain(centres: np.ndarray, half: float, sphere: bool) -> np.ndarray:
    """Whether each box (centre +- half) may meet the unit ball (or sphere); never a false 'no'."""
    nearest = np.sum(np.maximum(np.abs(centres) - half, 0.0) ** 2, axis=1)
    keep = nearest <= 1.0 + _SLACK
    if sphere:
        farthest = np.sum((np.abs(centres) + half) ** 2, axis=1)
        keep &= farthest >= 1.0 - _SLACK
    return keep
