"""The matrices every bound needs, prepared once per pair: W_l, W~_l, sparse E_l, their norms.

E_l = W_l - W~_l has only the pruned entries (floor(D_l^(1-alpha)) of D_l), so it is kept as a
CSR matrix and multiplied sparsely. Frobenius norms (rounded up) are cheap certified bounds of
spectral norms, good enough for rounding margins; power-iteration estimates of the spectral
norms (lower estimates, never used as bounds) set the scalings of the averaged bound.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.sparse

from ..engine import NetworkPair
from ..errors import InputError
from .rounding import frobenius_up

__all__ = ["PairParts", "pair_parts", "estimate_norm", "check_pair"]

_POWER_STEPS = 24


@dataclass(frozen=True, eq=False)
class PairParts:
    """Per-layer matrices, Frobenius upper bounds, shared Gram matrices and norm estimates."""

    full: tuple[np.ndarray, ...]
    pruned: tuple[np.ndarray, ...]
    errors: tuple[scipy.sparse.csr_array, ...]
    fro_full: tuple[float, ...]
    fro_pruned: tuple[float, ...]
    fro_error: tuple[float, ...]
    rng: np.random.Generator = field(repr=False)
    _grams: dict = field(default_factory=dict, repr=False)
    _estimates: dict = field(default_factory=dict, repr=False)

    @property
    def depth(self) -> int:
        return len(self.full)

    def estimate(self, kind: str, layer: int) -> float:
        """||W_l|| ('full') or ||E_l|| ('error'): a recorded value or a power-iteration estimate."""
        key = (kind, layer)
        if key not in self._estimates:
            matrix = self.full[layer] if kind == "full" else self.errors[layer]
            self._estimates[key] = estimate_norm(matrix, self.rng)
        return self._estimates[key]

    def record_estimate(self, kind: str, layer: int, value: float) -> None:
        """Use an already computed norm (e.g. a certified one) instead of estimating it again."""
        self._estimates[(kind, layer)] = float(value)

    def gram(self, kind: str, layer: int, side: str) -> np.ndarray:
        """A^T A (side 'right') or A A^T ('left') of layer `layer`'s 'full' or 'pruned' weights or
        its 'error' E_l (a sparse product, as dense), computed once and shared by the layerwise
        and the averaged bound (read-only)."""
        key = (kind, layer, side)
        if key not in self._grams:
            a = {"full": self.full, "pruned": self.pruned, "error": self.errors}[kind][layer]
            product = a.T @ a if side == "right" else a @ a.T
            gram = np.asarray(product.toarray() if scipy.sparse.issparse(product) else product, dtype=np.float64)
            gram.setflags(write=False)
            self._grams[key] = gram
        return self._grams[key]


def estimate_norm(
    matrix: "np.ndarray | scipy.sparse.csr_array", rng: np.random.Generator, steps: int = _POWER_STEPS
) -> float:
    """Power-iteration estimate of ||A||_2 (a lower estimate: for scalings and starts only)."""
    v = rng.standard_normal(matrix.shape[1])
    value = 0.0
    for _ in range(steps):
        w = matrix.T @ (matrix @ v)
        size = float(np.linalg.norm(w))
        if size == 0.0:
            return 0.0
        value, v = size, w / size
    return float(np.sqrt(value))


def check_pair(pair: object) -> NetworkPair:
    """`pair` itself if it is an (F, f) pair (NetworkPair checks its own architecture), else an InputError."""
    if not isinstance(pair, NetworkPair):
        raise InputError(f"need a NetworkPair (from prune_network or apply_masks), got {type(pair).__name__}")
    return pair


def pair_parts(pair: NetworkPair, rng: np.random.Generator) -> PairParts:
    """Prepare the matrices of (F, f) for the bounds."""
    check_pair(pair)
    full = tuple(pair.original.weights)
    pruned = tuple(pair.pruned.weights)
    errors = tuple(scipy.sparse.csr_array(w - p) for w, p in zip(full, pruned))
    for e in errors:
        e.eliminate_zeros()
    return PairParts(
        full=full,
        pruned=pruned,
        errors=errors,
        fro_full=tuple(frobenius_up(w) for w in full),
        fro_pruned=tuple(frobenius_up(w) for w in pruned),
        fro_error=tuple(frobenius_up(e.data) for e in errors),
        rng=rng,
    )
