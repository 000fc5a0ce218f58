"""Extreme-scale networks and an exact rational reference for the bracket's soundness properties.

Networks have rational activations (relu, leaky_relu with a binary slope, identity, hardtanh,
relu6, hardsigmoid, softsign), so ||f(x) - F(x)||^2 is computed exactly
with `fractions.Fraction` from the stored float64 weights: no rounding, no underflow, no overflow.
Layers are scaled by 2^k with k in [-1000, 1000], may hold subnormal entries, exact magnitude
ties or both extremes at once, and are pruned by every kind of mask. A violation is exact
arithmetic's verdict, never noise.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from fractions import Fraction

import numpy as np

from mbp_verify.bounds import ErrorBracket
from mbp_verify.engine import Network, NetworkPair, apply_masks, prune_network

__all__ = [
    "ACTIVATIONS",
    "HOMOGENEOUS",
    "extreme_pair",
    "exact_norm",
    "exact_square_error",
    "reference_points",
    "violations",
]

_HALF, _QUARTER, _SIX = Fraction(1, 2), Fraction(1, 4), Fraction(6)
EXACT: dict[str, Callable[[Fraction], Fraction]] = {
    "relu": lambda z: max(z, Fraction(0)),
    "leaky_relu(a=0.25)": lambda z: z if z > 0 else z * _QUARTER,
    "identity": lambda z: z,
    "hardtanh": lambda z: min(max(z, Fraction(-1)), Fraction(1)),
    "relu6": lambda z: min(max(z, Fraction(0)), _SIX),
    "hardsigmoid": lambda z: min(max(z + 3, Fraction(0)), _SIX) / _SIX,
    "softsign": lambda z: z / (1 + abs(z)),
}
ACTIVATIONS = tuple(EXACT)
HOMOGENEOUS = frozenset({"relu", "leaky_relu(a=0.25)", "identity"})
MASKS = ("magnitude", "random", "largest", "bernoulli", "none", "all", "one")
ENTRIES = ("gaussian", "subnormal", "ties", "mixed")


def _layer(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    kind = ENTRIES[int(rng.integers(len(ENTRIES)))]
    exponent = int(rng.integers(-1000, 1001))
    if kind == "subnormal":
        return np.ldexp(rng.integers(-(2**20), 2**20, size=shape).astype(np.float64), -1074)
    if kind == "ties":
        return np.ldexp(rng.choice([-1.0, 1.0], size=shape) * rng.choice([1.0, 1.5, 3.0]), exponent)
    weights = np.ldexp(rng.standard_normal(shape), exponent)
    if kind == "mixed":  # a span of up to 2^2000 inside one layer
        tiny = rng.random(shape) < 0.5
        weights[tiny] = np.ldexp(rng.integers(1, 2**20, size=int(tiny.sum())).astype(np.float64), -1074)
    return weights


def _masks(rng: np.random.Generator, network: Network, kind: str) -> NetworkPair:
    if kind in ("magnitude", "random", "largest"):
        return prune_network(network, float(rng.choice([0.1, 0.3, 0.5, 0.8])), method=kind, rng=rng)  # type: ignore[arg-type]
    masks = []
    for w in network.weights:
        if kind == "bernoulli":
            mask = rng.random(w.shape) < 0.6
        elif kind == "none":
            mask = np.ones(w.shape, dtype=bool)
        elif kind == "all":
            mask = np.zeros(w.shape, dtype=bool)
        else:
            mask = np.ones(w.shape, dtype=bool)
            mask.flat[int(rng.integers(w.size))] = False
        masks.append(mask)
    return apply_masks(network, masks)


def extreme_pair(rng: np.random.Generator) -> tuple[NetworkPair, str]:
    """A random extreme-scale pair (input dimension 1 or 2, depth 1-4, widths 1-4) and its description."""
    depth = int(rng.integers(1, 5))
    widths = (
        [int(rng.integers(1, 3))] + [int(v) for v in rng.integers(1, 5, size=depth - 1)] + [int(rng.integers(1, 4))]
    )
    activation = ACTIVATIONS[int(rng.integers(len(ACTIVATIONS)))]
    weights = [_layer(rng, (widths[l + 1], widths[l])) for l in range(depth)]
    mask = MASKS[int(rng.integers(len(MASKS)))]
    pair = _masks(rng, Network(weights, activation), mask)
    return (
        pair,
        f"widths {widths}, {activation}, masks {mask}, "
        f"shifts {[math.frexp(float(np.max(np.abs(w))))[1] for w in weights]}",
    )


def _exact_output(network: Network, activation: Callable[[Fraction], Fraction], x: list[Fraction]) -> list[Fraction]:
    h = x
    for layer, w in enumerate(network.weights):
        rows = [[Fraction(float(v)) for v in row] for row in w]
        h = [sum((a * b for a, b in zip(row, h)), Fraction(0)) for row in rows]
        if layer < network.depth - 1:
            h = [activation(z) for z in h]
    return h


def exact_square_error(pair: NetworkPair, x: np.ndarray) -> Fraction:
    """||f(x) - F(x)||^2 in exact rational arithmetic, x taken as its float64 values."""
    activation = EXACT[str(pair.original.activations[0])] if pair.original.activations else EXACT["identity"]
    point = [Fraction(float(v)) for v in np.ravel(x)]
    f = _exact_output(pair.pruned, activation, point)
    F = _exact_output(pair.original, activation, point)
    return sum(((a - b) ** 2 for a, b in zip(f, F)), Fraction(0))


def reference_points(d0: int, homogeneous: bool, angles: int = 24) -> list[np.ndarray]:
    """Points of the unit ball (float64 values with exact norm <= 1): +-1 for d0 = 1 (the sup
    itself when homogeneous), a circle grid for d0 = 2, and inner points otherwise."""
    if d0 == 1:
        outer = [np.array([1.0]), np.array([-1.0])]
    else:
        theta = np.linspace(0.0, 2.0 * np.pi, angles, endpoint=False)
        outer = [np.array([math.cos(t), math.sin(t)]) * (1.0 - 2.0**-40) for t in theta]
    if homogeneous:
        return outer
    return outer + [p * r for p in outer for r in (0.5, 0.25, 2.0**-20)] + [np.zeros(d0)]


def exact_norm(square: Fraction) -> float:
    """sqrt(square) as a float64 (within a few ulps; 0 or inf outside the float64 range), for evidence."""
    if square <= 0:
        return 0.0
    shift = (square.numerator.bit_length() - square.denominator.bit_length()) // 2 - 60
    root = math.isqrt(square.numerator * 4 ** max(-shift, 0) // (square.denominator * 4 ** max(shift, 0)))
    try:
        return math.ldexp(float(root), shift)
    except OverflowError:
        return math.inf


def _magnitude(square: Fraction) -> str:
    """About sqrt(square) as a power of two (readable outside the float64 range)."""
    if square == 0:
        return "0"
    return f"2^{(square.numerator.bit_length() - square.denominator.bit_length()) / 2:g}"


def _at_most(value: float, square: Fraction) -> bool:
    """value >= sqrt(square), exactly (value may be +inf)."""
    return value == math.inf or (value >= 0 and Fraction(value) ** 2 >= square)


def violations(pair: NetworkPair, result: ErrorBracket) -> list[str]:
    """Every way the bracket contradicts exact arithmetic (empty when it is sound)."""
    found = []
    numbers = {
        "upper": result.upper,
        "lower": result.lower,
        "lower_margin": result.lower_margin,
        **{f"upper_bounds[{k}]": v for k, v in result.upper_bounds.items()},
    }
    for name, value in numbers.items():
        if not isinstance(value, float) or math.isnan(value):
            found.append(f"{name} is {value!r}")
    for name, value in result.upper_bounds.items():
        if not math.isfinite(value):
            found.append(f"upper_bounds[{name}] = {value!r} is not finite (it should be unavailable)")
    if found:
        return found
    if result.upper_bounds:
        if result.upper != min(result.upper_bounds.values()):
            found.append("upper is not the smallest available bound")
    elif result.upper != math.inf or result.decide(1e308) == "certified":
        found.append("no bound is available, yet upper is finite or certifies")
    homogeneous = all(str(a) in HOMOGENEOUS for a in pair.original.activations)
    for x in reference_points(pair.original.widths[0], homogeneous):
        square = exact_square_error(pair, x)
        for name, value in {"upper": result.upper, **result.upper_bounds}.items():
            if not _at_most(value, square):
                found.append(
                    f"{name} {value!r} < exact ||f - F|| (about {_magnitude(square)}) at {[float(v) for v in x]}"
                )
    square = exact_square_error(pair, result.witness)
    if math.isfinite(result.lower_margin):  # an infinite margin promises nothing
        low = Fraction(result.lower) - Fraction(result.lower_margin)
        high = Fraction(result.lower) + Fraction(result.lower_margin)
        if (low > 0 and low**2 > square) or high**2 < square:
            found.append(
                f"|lower - exact| > lower_margin at the witness: lower {result.lower!r}, margin "
                f"{result.lower_margin!r}, exact about {_magnitude(square)}"
            )
    if not _at_most(result.upper, square):
        found.append("the witness's exact error exceeds upper")
    return found
