"""The symbolic layerwise propagation bound, evaluated with certified norms.

`mbp_verify.symbolic.propagation_bound(L)` is the closed form
  sum_l (prod_{i>l} K_i ||W~_i||) K_l ||E_l|| (prod_{i<l} K_i ||W_i||)   (+ sigma(0) offset terms),
a polynomial with non-negative coefficients, hence monotone in every argument: plugging in
certified upper bounds of the norms and outward-rounded constants gives an upper bound. The
norms are certified on the power-of-two scaled pair (`scaling`): ||W_l|| <= 2^{s_l}
(||V_l|| + residual_l), ||E_l|| <= 2^{s_l} (||E_l^V|| + 2 residual_l), and the polynomial is
evaluated exactly in rational arithmetic, so no product can underflow or overflow; the
caller rounds the exact value upwards once (`rounding.float_up`).

Only this bound needs the ||E_l||: `layer_norms(..., error=False)` certifies W_l and W~_l (the
replay and the reachable slopes need them), `with_error_norms` adds the E_l when the bound is
wanted, and `layerwise_estimate` (the polynomial at power-iteration estimates of the ||E_l||)
lets the bracket skip it where it cannot win.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from ..engine import NetworkPair
from ..symbolic import propagation_bound
from .constants import LayerConstants
from .parts import PairParts
from .rounding import mul_up, sqrt_up
from .scaling import LayerScaling, power_of_two
from .spectral import SpectralBound, certified_norm_from_gram

__all__ = ["LayerNorms", "layer_norms", "with_error_norms", "layerwise_bound", "layerwise_estimate", "offsets"]


@dataclass(frozen=True, eq=False)
class LayerNorms:
    """Certified spectral norms of W_l, W~_l and E_l = W_l - W~_l for every layer (`error` is empty
    until the E_l are certified: only the layerwise bound needs them)."""

    full: tuple[SpectralBound, ...]
    pruned: tuple[SpectralBound, ...]
    error: tuple[SpectralBound, ...] = ()

    def uppers(self) -> tuple[list[float], list[float], list[float]]:
        return [b.upper for b in self.full], [b.upper for b in self.pruned], [b.upper for b in self.error]


def _certify(parts: PairParts, rng: np.random.Generator, kind: str) -> tuple[SpectralBound, ...]:
    """Certify ||A_l|| for every layer of one kind ('full', 'pruned', 'error'), one Gram at a time."""
    last = parts.depth - 1

    def certify(layer: int) -> SpectralBound:
        right = not (kind != "full" and layer == last)
        gram = parts.gram(kind, layer, "right" if right else "left")
        return certified_norm_from_gram(parts.matrix(kind, layer), gram, right, rng=rng, overwrite=True)

    return tuple(certify(layer) for layer in range(parts.depth))


def layer_norms(parts: PairParts, rng: np.random.Generator, *, error: bool = True) -> LayerNorms:
    """Certify ||W_l||, ||W~_l|| and, if `error`, ||E_l|| (E_l sparse: it has few non-zeros).

    Each certificate reads one layer and its Gram matrix (W^T W, E^T E, and W~ W~^T, E E^T for the
    last layer) and drops both when done.
    """
    norms = LayerNorms(_certify(parts, rng, "full"), _certify(parts, rng, "pruned"))
    return with_error_norms(norms, parts, rng) if error else norms


def with_error_norms(norms: LayerNorms, parts: PairParts, rng: np.random.Generator) -> LayerNorms:
    """`norms` with the ||E_l|| certified too (as `layer_norms` would have, drawing from `rng` next)."""
    return norms if norms.error else LayerNorms(norms.full, norms.pruned, _certify(parts, rng, "error"))


def offsets(pair: NetworkPair, constants: Sequence[LayerConstants]) -> list[float]:
    """||sigma_l(0) 1||_2 = |sigma_l(0)| sqrt(d_l) per hidden layer, rounded up."""
    widths = pair.original.widths
    return [mul_up(c.sigma0, sqrt_up(float(widths[l + 1]))) for l, c in enumerate(constants)]


def _evaluate(
    pair: NetworkPair,
    constants: Sequence[LayerConstants],
    full: Sequence[Fraction],
    pruned: Sequence[Fraction],
    error: Sequence[Fraction],
) -> Fraction:
    """The propagation polynomial at the given values of ||W_l||, ||W~_l||, ||E_l||, exactly."""
    depth = pair.original.depth
    lipschitz = [Fraction(c.lipschitz) for c in constants][: depth - 1]
    sigma0 = [Fraction(v) for v in offsets(pair, constants)][: depth - 1]
    return propagation_bound(depth).exact(full, pruned, error, lipschitz, sigma0)


def _widened(bounds: Sequence[SpectralBound], scaling: LayerScaling, residuals: int) -> list[Fraction]:
    """2^{s_l} (certified ||A^V_l|| + residuals x residual_l): bounds of the pair's own norms."""
    return [
        power_of_two(shift) * (bound.exact_upper + residuals * Fraction(residual))
        for bound, shift, residual in zip(bounds, scaling.shifts, scaling.residuals)
    ]


def layerwise_bound(
    pair: NetworkPair, norms: LayerNorms, constants: Sequence[LayerConstants], scaling: LayerScaling
) -> Fraction:
    """The propagation bound as an exact rational, given norms certified on the scaled pair (the
    ||E_l|| included: `with_error_norms`)."""
    if len(norms.error) != pair.original.depth:
        raise ValueError("the layerwise bound needs the certified ||E_l|| (with_error_norms)")
    return _evaluate(
        pair,
        constants,
        _widened(norms.full, scaling, 1),
        _widened(norms.pruned, scaling, 1),
        _widened(norms.error, scaling, 2),
    )


# Power-iteration steps of the estimates of ||W_l|| and ||W~_l|| (dense) when they are not certified:
# a cruder estimate from below only makes the skip rarer.
_ESTIMATE_STEPS = 8
_ERROR_STEPS = 24  # E_l is sparse: its steps are cheap (and the averaged bound's scalings reuse them)


def layerwise_estimate(
    pair: NetworkPair,
    norms: "LayerNorms | None",
    constants: Sequence[LayerConstants],
    scaling: LayerScaling,
    parts: PairParts,
) -> Fraction:
    """The propagation bound with each norm that is not certified (every ||E_l||, and ||W_l||,
    ||W~_l|| when `norms` is None) replaced by 2^{s_l} (e_l - k residual_l)^+, e_l a power-iteration
    estimate on the scaled pair (`PairParts.estimate`, from below but for its rounding): the
    polynomial is monotone, so this is below `layerwise_bound` up to that rounding (relative
    ~1e-12), and costs a few matrix-vector products instead of Gram matrices and their
    certificates (the power iterations draw nothing from the bracket's generator)."""

    def estimated(kind: str, residuals: int) -> list[Fraction]:
        steps = _ESTIMATE_STEPS if kind != "error" else _ERROR_STEPS
        return [
            power_of_two(shift)
            * max(Fraction(parts.estimate(kind, layer, steps)) - residuals * Fraction(residual), Fraction(0))
            for layer, (shift, residual) in enumerate(zip(scaling.shifts, scaling.residuals))
        ]

    if norms is None:
        full, pruned = estimated("full", 1), estimated("pruned", 1)
    else:
        full, pruned = _widened(norms.full, scaling, 1), _widened(norms.pruned, scaling, 1)
    return _evaluate(pair, constants, full, pruned, estimated("error", 2))
