"""Segments of the coupled (F, f - F) block chain and their certified spectral norms.

Layer l's block maps [h_{l-1}; Delta_{l-1}] to [W_l h; -E_l h + W~_l Delta]; a product of the
blocks of layers i..j (0-based) is [[P, 0], [X, P~]] with P = W_j...W_i, P~ = W~_j...W~_i and
X = P~ - P, computed by X_{i,j} = W~_j X_{i,j-1} - E_j P_{i,j-1} from the sparse E_l (never as
a difference of products). With the difference rows of hidden layer l scaled by beta_l, the
segment that the averaged bound needs is

  first and last layer (i = 0, j = L-1):  X
  from the input (i = 0):                 [P; beta_j X]
  to the output (j = L-1):                [X, P~ / beta_{i-1}]
  inside:                                 [[P, 0], [beta_j X, (beta_j / beta_{i-1}) P~]]

Its norm is certified on the Gram matrix assembled from the blocks (sparse where X = -E_l):
each Gram entry is an inner product over the segment's k stacked rows (or columns) computed
in pieces and scaled by float products of the betas, so |G^ - G| <= gamma_{k+8} |M|^T |M| and
||G^ - G||_2 <= gamma_{k+8} ||M||_F^2, plus size (k+8) eta max(1, scale^2) for products that
underflowed before a block's scale multiplied them. The products' own rounding (`products.Tracked.error`)
is added, weighted by each block's scale. The betas are floats and define the scaling
exactly; the ratios beta_j / beta_{i-1} (and 1 / beta_{i-1}) are rounded, and the chain only
telescopes with the exact ratios, so each such block adds 2 u |scale| ||block||_F.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse

from .parts import PairParts
from .products import Tracked, combine, exact, left_multiply
from .rounding import UNDERFLOW_UNIT, UNIT_ROUNDOFF, add_up, gram_error_up, mul_up, up
from .spectral import certify_gram

__all__ = ["Segment", "ChainProducts", "chain_products", "segment_norm"]

Segment = tuple[int, int]


@dataclass(frozen=True, eq=False)
class ChainProducts:
    """P, X and P~ for every segment (i, j) the chain needs; X_{i,i} = -E_i stays sparse."""

    P: dict[Segment, Tracked]
    X: dict[Segment, Tracked]
    Pt: dict[Segment, Tracked]
    depth: int


def chain_products(parts: PairParts) -> ChainProducts:
    """All segment products (0-based layers)."""
    depth = parts.depth
    P: dict[Segment, Tracked] = {}
    X: dict[Segment, Tracked] = {}
    Pt: dict[Segment, Tracked] = {}
    for i in range(depth):
        P[i, i], X[i, i], Pt[i, i] = exact(parts.full[i]), exact(-parts.errors[i]), exact(parts.pruned[i])
        for j in range(i + 1, depth):
            carried = left_multiply(parts.pruned[j], parts.fro_pruned[j], X[i, j - 1], parts.fro_pruned[j])
            injected = left_multiply(parts.errors[j], parts.fro_error[j], P[i, j - 1], parts.fro_error[j])
            X[i, j] = combine(carried, injected, sign=-1.0)
            if j < depth - 1 or i > 0:
                P[i, j] = left_multiply(parts.full[j], parts.fro_full[j], P[i, j - 1], parts.fro_full[j])
            if i > 0:
                Pt[i, j] = combine(P[i, j], X[i, j])
    return ChainProducts(P, X, Pt, depth)


def _dense(value: "np.ndarray | scipy.sparse.csr_array") -> np.ndarray:
    return np.asarray(value.toarray() if scipy.sparse.issparse(value) else value)


def _ata(a: "np.ndarray | scipy.sparse.csr_array") -> np.ndarray:
    return _dense(a.T @ a)


def _aat(a: "np.ndarray | scipy.sparse.csr_array") -> np.ndarray:
    return _dense(a @ a.T)


def _fro2(blocks: Sequence[tuple[Tracked, float]]) -> float:
    """Upper bound of ||M||_F^2 = sum of scale^2 ||block||_F^2."""
    return add_up(*[mul_up(abs(scale), abs(scale), t.frobenius, t.frobenius) for t, scale in blocks])


def _scale_up(value: float) -> float:
    return up(abs(value) * (1.0 + 2.0 * UNIT_ROUNDOFF))


def segment_norm(
    products: ChainProducts, parts: PairParts, i: int, j: int, beta: Sequence[float], rng: np.random.Generator
) -> tuple[float, "np.ndarray | None"]:
    """Certified norm of the scaled segment (i, j); for i = 0 also its top right singular vector.

    Single-layer blocks take their W^T W / W W^T and E^T E / E E^T from `parts` (shared with the
    layerwise bound).
    """
    P, X, Pt = products.P, products.X, products.Pt

    def ata_p() -> np.ndarray:
        return parts.gram("full", i, "right").copy() if i == j else _ata(P[i, j].value)

    last = products.depth - 1
    x = X[i, j].value
    right = True
    ratio_blocks: list[tuple[Tracked, float]] = []  # scales that are rounded ratios of the betas

    def gram_x(side: str) -> np.ndarray:  # X_{i,i} = -E_i: its Gram is E_i's, shared with the layer norms
        if i == j:
            return parts.gram("error", i, side)
        return _ata(x) if side == "right" else _aat(x)

    if i == 0 and j == last:
        blocks = [(X[i, j], 1.0)]
        right = x.shape[0] >= x.shape[1]
        gram = gram_x("right" if right else "left")
        inner = x.shape[0] if right else x.shape[1]
    elif i == 0:
        b = beta[j]
        blocks = [(P[i, j], 1.0), (X[i, j], b)]
        gram = ata_p()
        gram += (b * b) * gram_x("right")
        inner = P[i, j].shape[0] + x.shape[0]
    elif j == last:
        b = 1.0 / beta[i - 1]
        blocks = [(X[i, j], 1.0), (Pt[i, j], b)]
        ratio_blocks = [(Pt[i, j], b)]
        right = False
        gram = gram_x("left").copy()
        gram += (b * b) * (parts.gram("pruned", i, "left") if i == j else _aat(Pt[i, j].value))
        inner = x.shape[1] + Pt[i, j].shape[1]
    else:
        b, g = beta[j], beta[j] / beta[i - 1]
        blocks = [(P[i, j], 1.0), (X[i, j], b), (Pt[i, j], g)]
        ratio_blocks = [(Pt[i, j], g)]
        cols = P[i, j].shape[1]
        size = cols + Pt[i, j].shape[1]
        gram = np.empty((size, size), order="F")
        gram[:cols, :cols] = ata_p()
        gram[:cols, :cols] += (b * b) * gram_x("right")
        gram[:cols, cols:] = (b * g) * _dense(x.T @ Pt[i, j].value)
        gram[cols:, :cols] = gram[:cols, cols:].T
        gram[cols:, cols:] = (g * g) * (parts.gram("pruned", i, "right") if i == j else _ata(Pt[i, j].value))
        inner = 2 * P[i, j].shape[0]
    if not np.isfinite(gram).all():
        return np.inf, None  # the products overflowed: no finite certificate
    # Rounding (gamma term) plus underflow: each Gram entry loses at most (k + 8) eta to
    # underflowed products before a block's scale^2 (or a product of two scales) multiplies
    # it, i.e. at most size (k + 8) eta max(1, scale^2) in spectral norm.
    largest_scale2 = max([1.0] + [mul_up(_scale_up(scale), _scale_up(scale)) for _, scale in blocks])
    delta = add_up(
        gram_error_up(gram.shape[0], inner + 8, _fro2(blocks)),
        mul_up(float(gram.shape[0]), float(inner + 8), UNDERFLOW_UNIT, largest_scale2),
    )
    upper, _, vector, _ = certify_gram(gram, delta, rng=rng)
    carried = add_up(*[mul_up(_scale_up(scale), tracked.error) for tracked, scale in blocks])
    # The chain telescopes only with the exact ratios beta_j / beta_{i-1}; the float ratio is
    # within u of it, which moves the segment by at most 2 u |scale| ||block||_F.
    ratios = add_up(0.0, *[mul_up(2.0 * UNIT_ROUNDOFF, _scale_up(scale), t.frobenius) for t, scale in ratio_blocks])
    direction = None
    if i == 0:
        if not right:  # top right singular vector of X from its left one
            vector = _dense(x.T @ vector).ravel()
        norm = float(np.linalg.norm(vector))
        direction = vector / norm if norm > 0 else None
    return add_up(upper, carried, ratios), direction
