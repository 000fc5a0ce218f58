"""The symbolic layerwise propagation bound, evaluated with certified norms.

`mbp_verify.symbolic.propagation_bound(L)` is the closed form
  sum_l (prod_{i>l} K_i ||W~_i||) K_l ||E_l|| (prod_{i<l} K_i ||W_i||)   (+ sigma(0) offset terms),
a polynomial with non-negative coefficients, hence monotone in every argument: plugging in
certified upper bounds of the norms and outward-rounded constants gives an upper bound. The
norms are certified on the power-of-two scaled pair (`scaling`): ||W_l|| <= 2^{s_l}
(||V_l|| + residual_l), ||E_l|| <= 2^{s_l} (||E_l^V|| + 2 residual_l), and the polynomial is
evaluated exactly in rational arithmetic, so no product can underflow or overflow; the
caller rounds the exact value upwards once (`rounding.float_up`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import sympy as sp

from ..engine import NetworkPair
from ..symbolic import propagation_bound
from .constants import LayerConstants
from .parts import PairParts
from .rounding import mul_up, sqrt_up
from .scaling import LayerScaling, power_of_two
from .spectral import SpectralBound, certified_norm_from_gram

__all__ = ["LayerNorms", "layer_norms", "layerwise_bound", "offsets"]


@dataclass(frozen=True, eq=False)
class LayerNorms:
    """Certified spectral norms of W_l, W~_l and E_l = W_l - W~_l for every layer."""

    full: tuple[SpectralBound, ...]
    pruned: tuple[SpectralBound, ...]
    error: tuple[SpectralBound, ...]

    def uppers(self) -> tuple[list[float], list[float], list[float]]:
        return [b.upper for b in self.full], [b.upper for b in self.pruned], [b.upper for b in self.error]


def layer_norms(parts: PairParts, rng: np.random.Generator) -> LayerNorms:
    """Certify ||W_l||, ||W~_l|| and ||E_l|| (E_l sparse: it has few non-zeros).

    Each certificate reads one layer and its Gram matrix (W^T W, E^T E, and W~ W~^T, E E^T for the
    last layer) and drops both when done; the estimates behind ||W_l|| and ||E_l|| are recorded
    in `parts`, where the averaged bound's scalings would otherwise estimate them again.
    """
    last = parts.depth - 1

    def certify(kind: str, layer: int) -> SpectralBound:
        right = not (kind != "full" and layer == last)
        gram = parts.gram(kind, layer, "right" if right else "left")
        return certified_norm_from_gram(parts.matrix(kind, layer), gram, right, rng=rng, overwrite=True)

    full = tuple(certify("full", l) for l in range(parts.depth))
    pruned = tuple(certify("pruned", l) for l in range(parts.depth))
    error = tuple(certify("error", l) for l in range(parts.depth))
    for layer in range(parts.depth):
        parts.record_estimate("full", layer, full[layer].estimate)
        parts.record_estimate("error", layer, error[layer].estimate)
    return LayerNorms(full, pruned, error)


def offsets(pair: NetworkPair, constants: Sequence[LayerConstants]) -> list[float]:
    """||sigma_l(0) 1||_2 = |sigma_l(0)| sqrt(d_l) per hidden layer, rounded up."""
    widths = pair.original.widths
    return [mul_up(c.sigma0, sqrt_up(float(widths[l + 1]))) for l, c in enumerate(constants)]


def _rational(value: Fraction) -> sp.Rational:
    return sp.Rational(value.numerator, value.denominator)


def layerwise_bound(
    pair: NetworkPair, norms: LayerNorms, constants: Sequence[LayerConstants], scaling: LayerScaling
) -> Fraction:
    """The propagation bound as an exact rational, given norms certified on the scaled pair."""
    depth = pair.original.depth
    closed = propagation_bound(depth)
    values: dict[sp.Symbol, sp.Rational] = {}
    full_symbols, pruned_symbols, error_symbols, k_symbols, offset_symbols = closed.symbols
    for layer in range(depth):
        factor = power_of_two(scaling.shifts[layer])
        residual = Fraction(scaling.residuals[layer])
        values[full_symbols[layer]] = _rational(factor * (norms.full[layer].exact_upper + residual))
        values[pruned_symbols[layer]] = _rational(factor * (norms.pruned[layer].exact_upper + residual))
        values[error_symbols[layer]] = _rational(factor * (norms.error[layer].exact_upper + 2 * residual))
    for symbol, c in zip(k_symbols, constants):
        values[symbol] = _rational(Fraction(c.lipschitz))
    for symbol, offset in zip(offset_symbols, offsets(pair, constants)):
        values[symbol] = _rational(Fraction(offset))
    exact = closed.expression.xreplace(values)
    return Fraction(int(exact.p), int(exact.q))
