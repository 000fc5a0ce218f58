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
which lets the witness search and replay run at magnitude ~1.

The scaled matrices are not kept: `ScaledLayers` produces V_l = 2^{-s_l} W_l each time a bound
reads it (one d_l x d_{l-1} array for as long as the reader holds it, bit for bit the array a
stored copy would hold), so a bracket keeps W_l and W~_l only; `scaled_pair` is the pair seen
that way, `scale_pair` the stored copy (for callers that read the layers many times)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from ..engine import Network, NetworkPair
from .rounding import UNDERFLOW_UNIT, mul_up, sqrt_up

__all__ = [
    "LayerScaling",
    "ScaledLayers",
    "ScaledNetwork",
    "pair_scaling",
    "scaled_pair",
    "scale_pair",
    "power_of_two",
]


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


def _changed(w: np.ndarray, shift: int) -> int:
    """How many entries of w scaling by 2^-shift rounds (none when shift <= 0: scaling up by a
    power of two is exact, and max |2^-shift w| < 1 cannot overflow)."""
    return 0 if shift <= 0 else int(np.count_nonzero(np.ldexp(np.ldexp(w, -shift), shift) != w))


def _largest(w: np.ndarray) -> float:
    """max |w_ij| (without an |w| copy)."""
    return max(float(np.max(w)), -float(np.min(w)))


def pair_scaling(pair: NetworkPair) -> LayerScaling:
    """The shifts s_l (from the larger of W_l and W~_l) and the residuals of scaling the pair by 2^{-s_l}."""
    shifts, residuals = [], []
    for w, p in zip(pair.original.weights, pair.pruned.weights):
        largest = max(_largest(w), _largest(p))
        shift = math.frexp(largest)[1] if largest > 0 else 0
        changed = max(_changed(w, shift), _changed(p, shift))
        # Each rounded entry moved by at most half the smallest subnormal; 2^-1074 is used (2^-1075 is not a float).
        residuals.append(mul_up(sqrt_up(float(changed)), UNDERFLOW_UNIT) if changed else 0.0)
        shifts.append(shift)
    return LayerScaling(tuple(shifts), tuple(residuals))


class ScaledLayers(Sequence):
    """The layers 2^{-shifts[l]} weights[l], each computed when read (a new array per read)."""

    def __init__(self, weights: Sequence[np.ndarray], shifts: Sequence[int]):
        self._weights = tuple(weights)
        self._shifts = tuple(shifts)

    def __len__(self) -> int:
        return len(self._weights)

    def __getitem__(self, layer):  # type: ignore[override]
        if isinstance(layer, slice):
            return [self[i] for i in range(*layer.indices(len(self)))]
        return np.ldexp(self._weights[layer], -self._shifts[layer])

    def shape(self, layer: int) -> tuple[int, ...]:
        """The shape of layer `layer` (without computing it)."""
        return self._weights[layer].shape


class ScaledNetwork(Network):
    """The network 2^{-s_l} W_l layer by layer, its layers computed when read (`ScaledLayers`)."""

    def __init__(self, network: Network, shifts: Sequence[int]):  # no Network.__init__: it would copy the layers
        object.__setattr__(self, "weights", ScaledLayers(network.weights, shifts))
        object.__setattr__(self, "activations", network.activations)

    @property
    def widths(self) -> tuple[int, ...]:
        shapes = [self.weights.shape(layer) for layer in range(len(self.weights))]
        return (shapes[0][1],) + tuple(shape[0] for shape in shapes)


def scaled_pair(pair: NetworkPair, scaling: LayerScaling) -> NetworkPair:
    """The pair with layer l of F and f scaled by 2^{-s_l}, each layer computed when read."""
    return NetworkPair(
        ScaledNetwork(pair.original, scaling.shifts),  # type: ignore[arg-type]
        ScaledNetwork(pair.pruned, scaling.shifts),  # type: ignore[arg-type]
        pair.masks,
        pair.counts,
    )


def scale_pair(pair: NetworkPair) -> tuple[NetworkPair, LayerScaling]:
    """The pair with layer l of F and f scaled by 2^{-s_l} (s_l from the larger of the two), stored, and the scaling."""
    scaling = pair_scaling(pair)
    stored = NetworkPair(
        pair.original.with_weights(list(ScaledLayers(pair.original.weights, scaling.shifts))),
        pair.pruned.with_weights(list(ScaledLayers(pair.pruned.weights, scaling.shifts))),
        pair.masks,
        pair.counts,
    )
    return stored, scaling
