"""Per-layer activation constants for the bounds, from the rigorous derivation, rounded outwards.

The derivation gives proven bounds of K = sup|sigma'| and of [inf sigma', sup sigma'] (rounded
outwards) for the activation with its parameters as written (leaky_relu(a=0.2): slope 1/5);
one more step outwards (`nextafter`) covers the float the network applies (0.2 + 1.1e-17), for
these are the nearest float to the decimal and the bounds' ends are floats on the outer side
of it. |sigma(0)| is enclosed directly for the applied parameters (softplus(beta=2.9191) has
sigma(0) = log 2 / beta 1.5 ulps above the decimal's value rounded to nearest). Every difference
quotient (sigma(a) - sigma(b)) / (a - b) lies in [slope_min, slope_max], and when sigma(0) = 0
so does sigma(z) / z. [value_min, value_max] encloses sigma's range over R (interval enclosures of
each piece over its whole interval, for the applied parameters; +-inf where unbounded): the
enclosures clip to it, so a saturated tanh stays in [-1, 1] however large its input.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..engine import Network
from ..engine.activations import ActivationSpec
from ..errors import InputError
from ..symbolic import derive_lipschitz
from ..symbolic.analysis import split_pieces
from ..symbolic.intervals import (
    Box,
    Undefined,
    Unsupported,
    compile_enclosure,
    float_down,
    float_up,
    interval,
    lower,
    precision,
    upper,
)
from ..symbolic.registry import X, symbolic_activation
from .rounding import up

__all__ = ["LayerConstants", "layer_constants"]


def _down(value: float) -> float:
    return float(np.nextafter(float(value), -math.inf))


@dataclass(frozen=True)
class LayerConstants:
    """Outward-rounded constants of one hidden layer's activation."""

    activation: str
    lipschitz: float  # >= K
    slope_min: float  # <= inf sigma'
    slope_max: float  # >= sup sigma'
    sigma0: float  # >= |sigma(0)|
    homogeneous: bool  # sigma(c x) = c sigma(x) for c > 0
    value_min: float = -math.inf  # <= inf sigma
    value_max: float = math.inf  # >= sup sigma

    @property
    def bounded(self) -> bool:
        """Whether sigma's range is known to be bounded on at least one side."""
        return self.value_min > -math.inf or self.value_max < math.inf

    @property
    def zero_at_zero(self) -> bool:
        return self.sigma0 == 0.0

    @property
    def mid_slope(self) -> float:
        """m ~ (slope_min + slope_max) / 2 as a float (`slope_radius` absorbs its rounding)."""
        return 0.5 * (self.slope_min + self.slope_max)

    @property
    def slope_radius(self) -> float:
        """r >= max(slope_max - m, m - slope_min) for the float m = mid_slope (rounded up), so that
        every slope s in [slope_min, slope_max] is m + r t with |t| <= 1."""
        m = self.mid_slope
        return max(up(self.slope_max - m), up(m - self.slope_min))

    def to_dict(self) -> dict[str, Any]:
        return {
            "activation": self.activation,
            "lipschitz": self.lipschitz,
            "slope_min": self.slope_min,
            "slope_max": self.slope_max,
            "sigma0": self.sigma0,
            "homogeneous": self.homogeneous,
            "value_min": self.value_min,
            "value_max": self.value_max,
        }


def _sigma0_bound(spec: ActivationSpec) -> float:
    """A float >= |sigma(0)| for the parameters the network applies (interval enclosure)."""
    _, expr = symbolic_activation(spec, applied=True)
    with precision():  # abs() of an end at mpmath's default 53 bits would round it to nearest
        value = compile_enclosure(expr.subs(X, 0))(Box(interval(0)))
        return float_up(max(abs(lower(value)), abs(upper(value))))


@functools.cache
def _range_bound(spec: ActivationSpec) -> tuple[float, float]:
    """Floats enclosing sigma's range over R for the applied parameters: the hull of each piece's
    interval enclosure over its whole interval (ends may be infinite), rounded outwards."""
    _, expr = symbolic_activation(spec, applied=True)
    low, high = math.inf, -math.inf
    with precision():
        for piece, where in split_pieces(expr):
            try:
                value = compile_enclosure(piece)(Box(interval(float(where.start), float(where.end))))
            except (Undefined, Unsupported, ZeroDivisionError, ValueError):
                return -math.inf, math.inf
            low, high = min(low, float_down(lower(value))), max(high, float_up(upper(value)))
    return (low, high) if low <= high else (-math.inf, math.inf)


def _constants(spec: ActivationSpec) -> LayerConstants:
    derivation = derive_lipschitz(spec)
    if derivation.lipschitz is None or derivation.slope_min is None or derivation.slope_max is None:
        raise InputError(f"activation {spec} is not Lipschitz: no finite bound of the error exists")
    exact_zero = derivation.sigma0_exact in ("0", "0.0")
    value_min, value_max = _range_bound(spec)
    return LayerConstants(
        activation=str(spec),
        lipschitz=up(derivation.lipschitz),
        slope_min=_down(derivation.slope_min),
        slope_max=up(derivation.slope_max),
        sigma0=0.0 if exact_zero else _sigma0_bound(spec),
        homogeneous=bool(derivation.positively_homogeneous and exact_zero),
        value_min=value_min,
        value_max=value_max,
    )


def layer_constants(network: Network) -> tuple[LayerConstants, ...]:
    """Constants of every hidden layer (the last layer is linear and has none)."""
    if not isinstance(network, Network):
        raise InputError(f"need a Network (e.g. pair.original), got {type(network).__name__}")
    return tuple(_constants(spec) for spec in network.activations)
