"""Certified bracket of sup_{||x|| <= 1} ||f(x) - F(x)|| for a conv network F and its pruned copy f.

`bracket_conv_sup_error(original, pruned)` returns the dense code's `ErrorBracket` (same fields,
same `decide(eps)`), for inputs x the flattened C*H*W image with ||x||_2 <= 1:

- **upper** (`layerwise`): the symbolic propagation bound (`symbolic.propagation_bound`)
  sum_l (prod_{i>l} K_i ||A~_i||) K_l ||E_l|| (prod_{i<l} K_i ||A_i||) (+ sigma(0) offsets),
  with every layer an operator between flattened feature spaces: ||A_l||, ||A~_l|| and the error
  operator's ||E_l|| (kernel W_l - W~_l) are certified conv operator norms (`conv_norms`) for
  conv layers and certified spectral norms for dense layers, the activation constants come
  from `constants` (sympy derivation, rounded outwards), and the polynomial is evaluated
  exactly in rational arithmetic, then rounded upwards once. The error kernel is computed in
  float64 with TwoSum, so a rounding of W_l - W~_l (when f is not a masked copy of F) adds the
  certified norm of the exact remainder.
- **upper** (`coupled`, `conv_coupled`): F's state and the difference through one chain of
  block conv layers (needs sigma(0) = 0 and a hidden layer); `upper` is the smaller of the two.
- **lower**: projected gradient ascent with conv forward and adjoint passes (`conv_ascent`),
  started from the top right singular direction of E_1 and the best of many random points, and a float64
  replay of the best input with a certified forward-error margin (`conv_replay`), on the
  exactly rescaled pair for positively homogeneous activations (`conv_witness`).

The dense operator is never built. Unlike the dense `bracket_sup_error`, there are no multi-layer segments (averaged
bound) and no branch-and-bound; at extreme weight scales the upper bounds stay sound but may be
+inf (listed in `unavailable`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from ..engine import ConvNetwork, Network
from ..errors import InputError
from ..seeding import as_generator
from ..symbolic import propagation_bound
from .bracket import EFFORTS, Effort, ErrorBracket, assemble_bracket
from .constants import LayerConstants, layer_constants
from .conv_coupled import coupled_bound, coupled_exponents, coupled_unavailable_reason
from .conv_ops import certified_layer_norm, check_conv_pair, network_layers
from .conv_witness import find_conv_witness
from .rounding import float_up, mul_up, sqrt_up

__all__ = [
    "ConvLayerNorms",
    "conv_layer_constants",
    "conv_layer_norms",
    "conv_layerwise_bound",
    "bracket_conv_sup_error",
]

# A certificate that cannot be completed makes the bound unavailable; it never becomes a number.
_CERTIFICATE_FAILURES = (ArithmeticError, np.linalg.LinAlgError)


@dataclass(frozen=True)
class ConvLayerNorms:
    """Certified ||A_l||_2, ||A~_l||_2 and ||E_l||_2 of every layer's operator, as exact rationals."""

    full: tuple[Fraction, ...]
    pruned: tuple[Fraction, ...]
    error: tuple[Fraction, ...]

    def uppers(self) -> tuple[list[float], list[float], list[float]]:
        """The same bounds as floats rounded upwards."""
        return tuple([float_up(v) for v in values] for values in (self.full, self.pruned, self.error))  # type: ignore[return-value]


def conv_layer_constants(network: ConvNetwork) -> tuple[LayerConstants, ...]:
    """`constants.layer_constants` of the hidden activations (they depend on the activations only,
    so they are derived for a 1-wide dense network with the same activations)."""
    proxy = Network([np.ones((1, 1))] * network.depth, network.activations)
    return layer_constants(proxy)


def _error_kernel(full: np.ndarray, pruned: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(e, r) with W - W~ = e + r exactly (TwoSum; r = 0 when f masks F); OverflowError on overflow."""
    with np.errstate(over="ignore", invalid="ignore"):
        e = full - pruned
        virtual = e - full
        r = (full - (e - virtual)) + (-pruned - virtual)
    if not (np.isfinite(e).all() and np.isfinite(r).all()):
        raise OverflowError("W_l - W~_l overflows float64")
    return e, r


def conv_layer_norms(original: ConvNetwork, pruned: ConvNetwork) -> ConvLayerNorms:
    """Certify the operator norms of W_l, W~_l and E_l = W_l - W~_l for every layer (conv or dense)."""
    check_conv_pair(original, pruned)
    full, kept, error = [], [], []
    for (w, geometry, _), p in zip(network_layers(original), pruned.weights):
        full.append(certified_layer_norm(w, geometry))
        kept.append(certified_layer_norm(p, geometry))
        e, r = _error_kernel(w, p)
        bound = certified_layer_norm(e, geometry)
        if np.any(r):
            bound += certified_layer_norm(r, geometry)
        error.append(bound)
    return ConvLayerNorms(tuple(full), tuple(kept), tuple(error))


def conv_layerwise_bound(network: ConvNetwork, norms: ConvLayerNorms, constants: Sequence[LayerConstants]) -> Fraction:
    """The propagation bound as an exact rational; the sigma(0) offsets are ||sigma_l(0) 1||_2 =
    |sigma_l(0)| sqrt(d_l) with d_l the flattened width of layer l."""
    if len(constants) != network.depth - 1 or len(norms.full) != network.depth:
        raise InputError(
            f"{network.depth} layers need {network.depth - 1} activation constants and {network.depth} norms"
        )
    widths = network.widths
    sigma0 = [Fraction(mul_up(c.sigma0, sqrt_up(float(widths[layer + 1])))) for layer, c in enumerate(constants)]
    lipschitz = [Fraction(c.lipschitz) for c in constants]
    return propagation_bound(network.depth).exact(norms.full, norms.pruned, norms.error, lipschitz, sigma0)


def _record(name: str, exact: Fraction, upper_bounds: dict[str, float], unavailable: dict[str, str]) -> None:
    """Round an exact bound upwards into `upper_bounds`, or note that it exceeds float64."""
    value = float_up(exact)
    if math.isfinite(value):
        upper_bounds[name] = value
    else:
        unavailable[name] = "the bound exceeds the float64 range; no finite sound float64 value exists"


def bracket_conv_sup_error(
    original: ConvNetwork,
    pruned: ConvNetwork,
    *,
    effort: Effort = "default",
    rng: "np.random.Generator | np.random.SeedSequence | int | None" = None,
) -> ErrorBracket:
    """Bracket sup_{||x||_2 <= 1} ||f(x) - F(x)||_2 over flattened C*H*W inputs (module docstring).

    `effort` sets the search budget as for dense pairs (`bracket.EFFORTS`: restarts x steps);
    `rng` seeds the random starts (default: seed 0, reproducible).
    """
    check_conv_pair(original, pruned)
    if effort not in EFFORTS:
        raise InputError(f"effort must be one of {', '.join(EFFORTS)}, got {effort!r}")
    generator = as_generator(rng)
    timings: dict[str, float] = {}
    start = time.perf_counter()
    constants = conv_layer_constants(original)
    timings["prepare"] = time.perf_counter() - start

    upper_bounds: dict[str, float] = {}
    unavailable: dict[str, str] = {}
    depth = original.depth
    replay_norms: tuple[list[float], list[float]] = ([math.inf] * depth, [math.inf] * depth)
    start = time.perf_counter()
    try:
        norms = conv_layer_norms(original, pruned)
    except _CERTIFICATE_FAILURES as exc:
        unavailable["layerwise"] = f"an operator-norm certificate failed: {exc}"
    else:
        full, kept, _ = norms.uppers()
        replay_norms = (full, kept)
        _record("layerwise", conv_layerwise_bound(original, norms, constants), upper_bounds, unavailable)
    timings["layerwise"] = time.perf_counter() - start
    reason = unavailable.get("layerwise") or coupled_unavailable_reason(original, pruned, constants)
    if reason is None:
        start = time.perf_counter()
        try:
            exponents = coupled_exponents(*norms.uppers())
            _record("coupled", coupled_bound(original, pruned, constants, exponents), upper_bounds, unavailable)
        except _CERTIFICATE_FAILURES as exc:
            unavailable["coupled"] = f"a block-norm certificate failed: {exc}"
        timings["coupled"] = time.perf_counter() - start
    else:
        unavailable["coupled"] = reason

    counts = tuple(int(np.count_nonzero(w != p)) for w, p in zip(original.weights, pruned.weights))
    found = find_conv_witness(original, pruned, constants, replay_norms, effort=effort, rng=generator, timings=timings)
    replay = found.replay

    return assemble_bracket(
        upper_bounds,
        unavailable,
        replay,
        found.witness,
        found.method,
        timings,
        activations=tuple(c.activation for c in constants),
        widths=original.widths,
        counts=counts,
        layer_shifts=found.shifts,
    )
