"""Per-layer power-of-two scaling: the bounds' arithmetic runs on weights of magnitude ~1.

Every layer is written W_l = 2^{s_l} V_l with s_l the binary exponent of max |W_l| (so max |V_l|
lies in [1/2, 1)), and the pruned weights and errors with the same s_l (masking commutes with
scaling; s_l is taken from the larger of W_l and W~_l). Multiplying by a power of two is exact
unless a result underflows: V_l is exact whenever no entry of W_l has bits below 2^{s_l - 1074}, and
otherwise each lost entry moves by at most 2^-1075 (round to nearest), so ||2^{-s_l} W_l - V_l||_2
<= sqrt(changed) 2^-1075 =: residual_l. The exponents are Python integers, so products of the per-
layer factors never overflow or underflow; they are combined exactly (`fractions`).

With positively homogeneous activations (sigma(c z) = c sigma(z), c > 0, sigma(0) = 0) the scaled
pair is the same function up to the exact factor 2^{sum s_l}: f(x) - F(x) = 2^S (f_V(x) - F_V(x)),
which lets the witness search and replay run at magnitude ~1."""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from ..engine import NetworkPair
from .rounding import UNDERFLOW_UNIT, mul_up, sqrt_up

__all__ = ["LayerScaling", "scale_pair", "power_of_two"]


def power_of_two(exponent: int) -> Fraction:
    """2^exponent exactly."""
    return Fraction(2) ** exponent


@dataclass(frozen=True)
class LayerScaling:
    """W_l = 2^{shifts[l]} (V_l + R_l) with ||R_l||_2 <= residuals[l] (0 when the scaling was exact)."""

    shifts: tuple[int, ...]
    residuals: tuple[float, ...]

    @property
    def total(self) -> int:
        """S = sum of the shifts: the exact factor 2^S between the pair and its scaled copy."""
        return sum(self.shifts)

    @property
    def exact(self) -> bool:
        """Whether every layer was scaled without rounding."""
        return not any(self.residuals)

    def inexact_layers(self) -> list[int]:
        """1-based indices of the layers whose scaling rounded some entry."""
        return [layer + 1 for layer, r in enumerate(self.residuals) if r > 0]

    def to_dict(self) -> dict:
        return {"shifts": list(self.shifts), "residuals": list(self.residuals)}


def _scaled(w: np.ndarray, shift: int) -> tuple[np.ndarray, int]:
    """2^-shift w, and how many entries that rounded (none when shift <= 0: scaling up by a power
    of two is exact, and max |2^-shift w| < 1 cannot overflow)."""
    v = np.ldexp(w, -shift)
    return v, 0 if shift <= 0 else int(np.count_nonzero(np.ldexp(v, shift) != w))


def scale_pair(pair: NetworkPair) -> tuple[NetworkPair, LayerScaling]:
    """The pair with layer l of F and f scaled by 2^{-s_l} (s_l from the larger of the two), and the scaling."""
    scaled_full, scaled_pruned, shifts, residuals = [], [], [], []
    for w, p in zip(pair.original.weights, pair.pruned.weights):
        largest = max(float(np.max(np.abs(w))), float(np.max(np.abs(p))))
        shift = math.frexp(largest)[1] if largest > 0 else 0
        v, changed = _scaled(w, shift)
        v_pruned, changed_pruned = _scaled(p, shift)
        changed = max(changed, changed_pruned)
        # Each rounded entry moved by at most half the smallest subnormal; 2^-1074 is used (2^-1075 is not a float).
        residuals.append(mul_up(sqrt_up(float(changed)), UNDERFLOW_UNIT) if changed else 0.0)
        shifts.append(shift)
        scaled_full.append(v)
        scaled_pruned.append(v_pruned)
    scaled = NetworkPair(
        pair.original.with_weights(scaled_full), pair.pruned.with_weights(scaled_pruned), pair.masks, pair.counts
    )
    return scaled, LayerScaling(tuple(shifts), tuple(residuals))
