"""Replaying a witness on a conv pair: ||f(x) - F(x)||_2 in float64, with a certified margin.

A lower bound counts only through this replay, and a VIOLATED decision needs the replayed
value to exceed eps by more than `margin >= |value - exact ||f(x) - F(x)|| |`. The margin is a
forward-error analysis of the float64 pass itself (Higham, *Accuracy and Stability of
Numerical Algorithms*, 2002, section 3.5; u = 2^-53, eta = 2^-1074):

- x is the float64 witness itself, so the input is exact. Let h_l be the exact layer
  values along the exact path and h~_l the computed ones, e_l >= ||h~_l - h_l||_2.
- A layer z~ = fl(A h~) (conv: every output entry is one inner product of n = c_in*kh*kw
  products, padding taps included, summed in some order by BLAS; dense: n = d_{l-1}) satisfies
  |z~ - A h~| <= gamma_n |A| |h~| + n eta entrywise, where |A||h~| is the same layer with |K|
  applied to |h~| (the sum of the absolute products as computed, also for aliased circular
  taps). That magnitude is itself computed in float64: exact M <= (M~ + n eta) / (1 - gamma_n).
  So ||z~ - A h~||_2 <= gamma_n (||M~||_2 + sqrt(N) n eta) / (1 - gamma_n) + sqrt(N) n eta
  (N entries), and ||z~ - A h_{l-1}|| <= that + ||A||_2 e_{l-1}, with ||A||_2 the certified
  operator norm of the layer (`conv_ops.certified_layer_norm`, also used by the upper bound).
- Activations: relu and identity are evaluated exactly in float64 and are 1-Lipschitz, so the
  error passes unchanged; any other activation adds K_l (its certified Lipschitz constant) times
  the error plus 16 u (|z| + |sigma(z)| + 1) per entry (libm's few-ulp accuracy and the
  formulas' roundings), the model of `replay`.
- The computed outputs' difference y and ||y||^2 are exact rationals, so
  |value - ||y||| = |value^2 - ||y||^2| / value is bounded exactly; margin = that + e_f + e_F.

This is a worst-case analysis: it is ~gamma_n times the product of the layers' norms and the
input, far larger than the actual rounding error but negligible next to the pruning error
of the networks this module is for (a 4-layer 64-channel net: ~1e-12 relative). A pass that
overflows float64 has no replay (InputError).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from fractions import Fraction

import numpy as np

from ..engine import ConvNetwork
from ..errors import InputError
from .conv_ops import check_conv_pair, inner_length, layer_forward, network_layers
from .replay import Replay
from .rounding import UNDERFLOW_UNIT, UNIT_ROUNDOFF, add_up, float_up, frobenius_up, gamma, mul_up, sqrt_up, up

__all__ = ["replay_conv_error", "forward_with_error"]

_EXACT_ACTIVATIONS = frozenset({"relu", "identity"})
_ACTIVATION_ULPS = 16.0


def _layer_error(weight: np.ndarray, geometry, h: np.ndarray, z: np.ndarray) -> float:
    """An upper bound of ||z - A h||_2 for the computed z = fl(A h) (module docstring)."""
    n = inner_length(weight, geometry)
    magnitude = layer_forward(np.abs(weight), geometry, np.abs(h))
    underflow = mul_up(sqrt_up(float(z.size)), float(n), UNDERFLOW_UNIT)
    true_magnitude = up(add_up(frobenius_up(magnitude), underflow) / (1.0 - gamma(n)))
    return add_up(mul_up(gamma(n), true_magnitude), underflow)


def forward_with_error(
    network: ConvNetwork, x: np.ndarray, lipschitz: Sequence[float], norms: Sequence[float]
) -> tuple[np.ndarray, float]:
    """The float64 output (d_L,) of the network at one input (C, H, W) and a bound of its distance
    to the exact output; `norms` are upper bounds of the layers' ||A_l||_2, `lipschitz` of K_l."""
    h, error = x[None], 0.0
    for layer, (w, geometry, _) in enumerate(network_layers(network)):
        z = layer_forward(w, geometry, h)
        if not np.isfinite(z).all():
            raise InputError("replaying the witness overflowed float64 (weights too large?)")
        error = add_up(mul_up(float(norms[layer]), error), _layer_error(w, geometry, h, z))
        if layer == network.depth - 1:
            return z.ravel(), error
        spec = network.activations[layer]
        h = spec(z)
        if spec.name not in _EXACT_ACTIVATIONS:
            evaluation = frobenius_up(_ACTIVATION_ULPS * UNIT_ROUNDOFF * (np.abs(z) + np.abs(h) + 1.0))
            error = add_up(mul_up(float(lipschitz[layer]), error), evaluation)
    raise AssertionError("unreachable: a network has at least one layer")


def _norm(vector: np.ndarray) -> float:
    """||v||_2 computed on 2^-k v (k the binary exponent of max |v|) and scaled back."""
    largest = float(np.max(np.abs(vector))) if vector.size else 0.0
    if largest == 0.0:
        return 0.0
    exponent = math.frexp(largest)[1]
    scaled = np.ldexp(vector, -exponent)
    return float(np.ldexp(np.sqrt(np.dot(scaled, scaled)), exponent))


def replay_conv_error(
    original: ConvNetwork,
    pruned: ConvNetwork,
    x: np.ndarray,
    lipschitz: Sequence[float],
    norms: "tuple[Sequence[float], Sequence[float]]",
) -> Replay:
    """||f(x) - F(x)|| on fresh float64 passes at x (flattened C*H*W or (C, H, W)) with its margin;
    `norms` = (upper bounds of ||A_l||_2 for F, of ||A~_l||_2 for f), `lipschitz` bounds K_l."""
    check_conv_pair(original, pruned)
    point = np.array(x, dtype=np.float64)
    size = int(np.prod(original.input_shape))
    if point.size != size:
        raise InputError(f"the witness must have {size} entries (C*H*W for {original.input_shape}), got {point.size}")
    if not np.isfinite(point).all():
        raise InputError("the witness contains NaN or infinite entries")
    if len(lipschitz) != original.depth - 1:
        raise InputError(f"need {original.depth - 1} Lipschitz constants, got {len(lipschitz)}")
    if any(len(values) != original.depth for values in norms):
        raise InputError(f"need {original.depth} operator-norm bounds per network")
    image = point.reshape(original.input_shape)
    with np.errstate(over="ignore", invalid="ignore", under="ignore"):
        out_f, err_f = forward_with_error(pruned, image, lipschitz, norms[1])
        out_full, err_full = forward_with_error(original, image, lipschitz, norms[0])
        difference = out_f - out_full
    if not np.isfinite(difference).all():
        raise InputError("replaying the witness overflowed float64 (weights too large?)")
    value = _norm(difference)
    square = sum(((Fraction(a) - Fraction(b)) ** 2 for a, b in zip(out_f.tolist(), out_full.tolist())), Fraction(0))
    distance = (
        float_up(abs(Fraction(value) ** 2 - square) / Fraction(value)) if value > 0 else sqrt_up(float_up(square))
    )
    return Replay(value, add_up(distance, err_f, err_full), frobenius_up(point))
