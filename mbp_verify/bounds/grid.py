"""Reference values of sup ||f(x) - F(x)|| for checking bounds: dense grids in the plane.

With input dimension 2 a dense grid gives the supremum to high accuracy: on the unit circle
(positively homogeneous activations put the supremum there) or on a polar grid of the disc
(otherwise). Between grid points ||f - F|| moves by at most Lip(f - F) times half the spacing,
so `grid_sup` also returns that discretisation slack given any Lipschitz bound of f - F.
Used by the soundness properties: a sound upper bound is never below `certified_grid_value`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..engine import NetworkPair
from ..errors import InputError
from .constants import layer_constants
from .parts import check_pair
from .replay import replay_error

__all__ = ["GridSup", "disc_grid", "grid_sup", "observed_errors", "certified_grid_value"]


@dataclass(frozen=True, eq=False)
class GridSup:
    """The largest observed ||f(x) - F(x)|| on a grid, where, and the grid's spacing."""

    value: float
    argmax: np.ndarray
    spacing: float

    def slack(self, lipschitz: float) -> float:
        """True sup <= value + slack(L) when f - F is L-Lipschitz on the grid's domain."""
        return lipschitz * self.spacing / 2.0


def disc_grid(angles: int, radii: int = 1) -> tuple[np.ndarray, float]:
    """Points of the unit circle (radii = 1) or a polar grid of the unit disc, and the spacing."""
    if angles < 3 or radii < 1:
        raise InputError(f"need at least 3 angles and 1 radius, got {angles} and {radii}")
    theta = np.linspace(0.0, 2.0 * np.pi, angles, endpoint=False)
    rings = np.linspace(1.0, 0.0, radii, endpoint=False) if radii > 1 else np.array([1.0])
    circles = [r * np.column_stack([np.cos(theta), np.sin(theta)]) for r in rings]
    points = np.concatenate(circles + ([np.zeros((1, 2))] if radii > 1 else []))
    norms = np.linalg.norm(points, axis=1, keepdims=True)
    points = points / np.maximum(norms, 1.0)
    spacing = 2.0 * np.sin(np.pi / angles) + (1.0 / radii if radii > 1 else 0.0)
    return points, float(spacing)


def observed_errors(pair: NetworkPair, points: np.ndarray, batch: int = 4096) -> np.ndarray:
    """||f(x) - F(x)|| for every row x of `points` (float64 forward passes)."""
    pair = check_pair(pair)
    x = np.asarray(points, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] != pair.original.widths[0]:
        raise InputError(f"points must have shape (n, {pair.original.widths[0]}), got {x.shape}")
    out = np.empty(x.shape[0])
    for start in range(0, x.shape[0], batch):
        chunk = x[start : start + batch]
        out[start : start + batch] = np.linalg.norm(pair.pruned.forward(chunk) - pair.original.forward(chunk), axis=1)
    return out


def grid_sup(pair: NetworkPair, angles: int = 20_000, radii: int = 1) -> GridSup:
    """The maximum of ||f - F|| on the circle (radii = 1) or the disc grid; input dimension 2."""
    pair = check_pair(pair)
    if pair.original.widths[0] != 2:
        raise InputError(f"grid_sup needs input dimension 2, got {pair.original.widths[0]}")
    points, spacing = disc_grid(angles, radii)
    values = observed_errors(pair, points)
    best = int(np.argmax(values))
    return GridSup(float(values[best]), points[best].copy(), spacing)


def certified_grid_value(pair: NetworkPair, angles: int = 20_000) -> float:
    """A value <= sup ||f - F|| from the grid: its maximum minus the float64 rounding margin.

    Any claimed upper bound below it is unsound (a proof, not noise). Homogeneous
    activations use the unit circle, others a polar grid of the disc (40 rings).
    """
    pair = check_pair(pair)
    constants = layer_constants(pair.original)
    homogeneous = all(c.homogeneous for c in constants)
    grid = grid_sup(pair, angles=angles, radii=1 if homogeneous else 40)
    return replay_error(pair, grid.argmax, [c.lipschitz for c in constants]).certified_lower
