"""Replaying a witness: ||f(x) - F(x)||_2 on fresh float64 forward passes, with its rounding margin.

A lower bound counts only through this replay, and a VIOLATED decision needs the replayed
value to exceed eps by more than `margin`, a bound of |computed - exact| built from the
forward error of every layer (Higham 2002, section 3.5):

  fl(W h^) = W h^ + d,   |d| <= gamma_n |W| |h^| + n eta   (n = inner dimension, any summation
                                                          order; eta = 2^-1074 per underflowed product)
  e_l <= K_l (||W_l||_F e_{l-1} + gamma_n || |W_l| |h^_{l-1}| || + sqrt(d_l) n eta) + a_l

where e_l bounds ||h^_l - h_l||, K_l is the derived Lipschitz constant and a_l the activation's
evaluation error. ReLU and identity are exact (a_l = 0); every other activation is assumed to
be evaluated by numpy within 16 u (|z| + |sigma(z)| + 1) per entry (u = 2^-53), which covers
the few-ulp accuracy of libm's exp/tanh/erf and the roundings of the formulas around them.
The norm of the output difference is computed on the difference scaled by a power of two (so
its squares neither underflow nor overflow) and adds (u + gamma_{d_L + 1}) times the value,
plus 2^-1074 for scaling it back into the subnormal range. A forward pass that overflows
float64 has no replay (InputError).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ..engine import Network, PrunedNetwork
from ..engine.activations import ActivationSpec
from ..errors import InputError
from .parts import check_pair
from .rounding import UNDERFLOW_UNIT, UNIT_ROUNDOFF, add_up, frobenius_up, gamma, mul_up, sqrt_up, up

__all__ = ["Replay", "replay_error", "unit_ball_point"]

_EXACT_ACTIVATIONS = frozenset({"relu", "identity"})
_ACTIVATION_ULPS = 16.0


@dataclass(frozen=True)
class Replay:
    """||f(x) - F(x)|| computed in float64, and a bound of its distance to the exact value."""

    value: float
    margin: float
    input_norm_bound: float

    @property
    def certified_lower(self) -> float:
        """A value <= the exact ||f(x) - F(x)|| (value - margin, floored at 0)."""
        return max(0.0, self.value - self.margin)

    def to_dict(self) -> dict[str, float]:
        return {"value": self.value, "margin": self.margin, "input_norm_bound": self.input_norm_bound}


def unit_ball_point(x: np.ndarray) -> np.ndarray:
    """x scaled to norm <= 1 (certified: the rounded-up norm is <= 1); unit direction if possible."""
    point = np.array(x, dtype=np.float64).ravel()
    if not np.isfinite(point).all():
        raise InputError("the witness contains NaN or infinite entries")
    largest = float(np.max(np.abs(point))) if point.size else 0.0
    if largest == 0:
        return point
    point = np.ldexp(point, -math.frexp(largest)[1])  # exact: the norm below cannot overflow
    point = point / frobenius_up(point)
    while frobenius_up(point) > 1.0:
        point = point * (1.0 - 2.0**-40)
    return point


def _activation_error(spec: ActivationSpec, z: np.ndarray, h: np.ndarray) -> float:
    if spec.name in _EXACT_ACTIVATIONS:
        return 0.0
    per_entry = _ACTIVATION_ULPS * UNIT_ROUNDOFF * (np.abs(z) + np.abs(h) + 1.0)
    return frobenius_up(per_entry)


def _forward_error(network: Network, lipschitz: Sequence[float], x: np.ndarray) -> float:
    """A bound of ||computed F(x) - exact F(x)|| for `Network.forward` on one input.

    The intermediate values are recomputed here the way `forward` computes them; any order of
    summation obeys the same bound, and the recomputed h' is within e_{l-1} of the exact h as
    the forward's own h^ is, so || |W| |h^| || <= || |W| |h'| || + 2 ||W||_F e_{l-1}.
    """
    h, error = x[None, :], 0.0
    depth = network.depth
    for layer, w in enumerate(network.weights):
        z = h @ w.T
        magnitude = np.abs(h) @ np.abs(w).T  # computed within gamma_n of itself, plus n eta per entry
        n = w.shape[1] + 1
        fro_w = frobenius_up(w)
        underflow = mul_up(sqrt_up(float(w.shape[0])), float(n), UNDERFLOW_UNIT)
        computed = up(add_up(frobenius_up(magnitude), underflow) / (1.0 - gamma(n)))
        spread = add_up(computed, mul_up(2.0, fro_w, error))
        error = add_up(mul_up(fro_w, error), mul_up(gamma(n), spread), underflow)
        if layer < depth - 1:
            spec = network.activations[layer]
            h = spec(z)
            error = add_up(mul_up(lipschitz[layer], error), _activation_error(spec, z, h))
    return error


def _norm(vector: np.ndarray) -> float:
    """||v||_2 computed on 2^-k v (k the binary exponent of max |v|), scaled back: the squares
    neither underflow nor overflow, and the result equals np.linalg.norm(v) when that is safe."""
    largest = float(np.max(np.abs(vector))) if vector.size else 0.0
    if largest == 0.0 or not math.isfinite(largest):
        return largest
    exponent = math.frexp(largest)[1]
    scaled = np.ldexp(vector, -exponent)
    return float(np.ldexp(np.sqrt(np.dot(scaled, scaled)), exponent))


def replay_error(pair: PrunedNetwork, x: np.ndarray, lipschitz: Sequence[float]) -> Replay:
    """||f(x) - F(x)|| on fresh `forward` passes; `lipschitz` are (upper bounds of) the K_l."""
    pair = check_pair(pair)
    point = np.array(x, dtype=np.float64).ravel()
    d0 = pair.original.widths[0]
    if point.shape != (d0,):
        raise InputError(f"the witness must have shape ({d0},), got {np.shape(x)}")
    if not np.isfinite(point).all():
        raise InputError("the witness contains NaN or infinite entries")
    if len(lipschitz) != pair.original.depth - 1:
        raise InputError(f"need {pair.original.depth - 1} Lipschitz constants, got {len(lipschitz)}")
    with np.errstate(over="ignore", invalid="ignore"):
        difference = pair.pruned.forward(point) - pair.original.forward(point)
        value = _norm(difference)
        if not math.isfinite(value):
            raise InputError("replaying the witness overflowed float64 (weights too large?)")
        err_f = _forward_error(pair.pruned, lipschitz, point)
        err_full = _forward_error(pair.original, lipschitz, point)
    if math.isnan(err_f) or math.isnan(err_full):
        raise InputError("the rounding margin of the replay overflowed float64 (weights too large?)")
    # fl(a - b) adds u |a - b| per entry (exact in the subnormal range); the 2-norm adds
    # gamma_{d_L + 1} of the value, and scaling it back may round by 2^-1075.
    rounding = mul_up(add_up(UNIT_ROUNDOFF, gamma(difference.size + 1)), up(value * (1.0 + 2 * UNIT_ROUNDOFF)), 2.0)
    margin = add_up(err_f, err_full, rounding, UNDERFLOW_UNIT)
    return Replay(value, margin, frobenius_up(point))
