"""The matrices every bound needs, prepared once per pair: W_l, W~_l, sparse E_l, their norms.

E_l = W_l - W~_l has only the pruned entries (floor(D_l^(1-alpha)) of D_l), so it is kept as a
CSR matrix and multiplied sparsely. W_l and W~_l are the pair's own layers (for the bracket's
scaled pair, computed when read: `scaling.ScaledLayers`), and no d x d product is kept: a Gram
matrix is computed by each reader and dropped when it is done (recomputing one costs a few
percent of a bracket; keeping them cost 9 d^2 float64 at depth 3). Frobenius norms (rounded
up) are cheap certified bounds of spectral norms, good enough for rounding margins;
power-iteration estimates of the spectral norms (lower estimates, never used as bounds) set the
scalings of the averaged bound and decide whether the layerwise bound is worth certifying.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse

from ..engine import NetworkPair
from ..errors import InputError
from .rounding import frobenius_up

__all__ = ["PairParts", "pair_parts", "estimate_norm", "check_pair"]

_POWER_STEPS = 24
_ESTIMATES_KEY = 0x6E6F726D  # appended to the caller's spawn key for the estimates' seeds


@dataclass(frozen=True, eq=False)
class PairParts:
    """Per-layer matrices, Frobenius upper bounds and norm estimates."""

    full: Sequence[np.ndarray]
    pruned: Sequence[np.ndarray]
    errors: tuple[scipy.sparse.csr_array, ...]
    fro_full: tuple[float, ...]
    fro_pruned: tuple[float, ...]
    fro_error: tuple[float, ...]
    seeds: np.random.SeedSequence = field(repr=False)  # the estimates' starts (from the caller's generator's seed)
    _estimates: dict = field(default_factory=dict, repr=False)

    @property
    def depth(self) -> int:
        return len(self.full)

    def estimate(self, kind: str, layer: int, steps: int = _POWER_STEPS) -> float:
        """||A_l|| of `matrix(kind, layer)` estimated by `steps` power-iteration steps from a start of
        its own (`seeds` extended by kind, layer and steps), computed once: the same value on every
        path of the bracket, whichever reader asks first (the averaged bound's scalings must not
        depend on which certificates were computed before them)."""
        key = (kind, layer, steps)
        if key not in self._estimates:
            own = np.random.SeedSequence(
                self.seeds.entropy,
                spawn_key=(*self.seeds.spawn_key, ("full", "pruned", "error").index(kind), layer, steps),
            )
            self._estimates[key] = estimate_norm(self.matrix(kind, layer), np.random.default_rng(own), steps)
        return self._estimates[key]

    def matrix(self, kind: str, layer: int) -> "np.ndarray | scipy.sparse.csr_array":
        """Layer `layer`'s 'full' or 'pruned' weights or its 'error' E_l."""
        return {"full": self.full, "pruned": self.pruned, "error": self.errors}[kind][layer]

    def gram(self, kind: str, layer: int, side: str) -> np.ndarray:
        """A^T A (side 'right') or A A^T ('left') of `matrix(kind, layer)` (a sparse product, as
        dense): a new array on every call, the same bits every time, the caller's to overwrite."""
        a = self.matrix(kind, layer)
        product = a.T @ a if side == "right" else a @ a.T
        return np.asarray(product.toarray() if scipy.sparse.issparse(product) else product, dtype=np.float64)


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


def _estimate_seeds(rng: np.random.Generator) -> np.random.SeedSequence:
    """The estimates' seeds: `rng`'s SeedSequence extended by a key of their own (neither a draw nor a
    spawn, which would change the caller's generator or SeedSequence), entropy 0 when it has none."""
    sequence = getattr(rng.bit_generator, "seed_seq", None)
    if isinstance(sequence, np.random.SeedSequence):
        return np.random.SeedSequence(sequence.entropy, spawn_key=(*sequence.spawn_key, _ESTIMATES_KEY))
    return np.random.SeedSequence(0)


def pair_parts(pair: NetworkPair, rng: np.random.Generator) -> PairParts:
    """Prepare the matrices of (F, f) for the bounds (each layer of W and W~ is read once here);
    the norm estimates are seeded from `rng`'s seed, whose stream is left as it was."""
    check_pair(pair)
    full, pruned = pair.original.weights, pair.pruned.weights
    errors, fro_full, fro_pruned = [], [], []
    for layer in range(len(full)):
        w, p = full[layer], pruned[layer]
        error = scipy.sparse.csr_array(w - p)
        error.eliminate_zeros()
        errors.append(error)
        fro_full.append(frobenius_up(w))
        fro_pruned.append(frobenius_up(p))
        del w, p
    return PairParts(
        full=full,
        pruned=pruned,
        errors=tuple(errors),
        fro_full=tuple(fro_full),
        fro_pruned=tuple(fro_pruned),
        fro_error=tuple(frobenius_up(e.data) for e in errors),
        seeds=_estimate_seeds(rng),
    )
