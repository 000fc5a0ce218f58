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

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse

from .parts import PairParts
from .products import Tracked, combine, exact, left_multiply
from .rounding import UNDERFLOW_UNIT, UNIT_ROUNDOFF, add_up, gram_error_up, mul_up, up
from .spectral import certify_gram

__all__ = ["Segment", "SegmentProducts", "StoredLayer", "chain_segments", "segment_norm"]

Segment = tuple[int, int]


@dataclass(frozen=True, eq=False)
class StoredLayer:
    """A stored layer matrix as a `Tracked` one (no rounding): read from `parts` when its value is
    needed, so a segment holds no copy of a layer it does not multiply."""

    parts: PairParts
    kind: str
    layer: int

    @property
    def value(self) -> np.ndarray:
        return self.parts.matrix(self.kind, self.layer)  # type: ignore[return-value]

    @property
    def error(self) -> float:
        return 0.0

    @property
    def frobenius(self) -> float:
        return (self.parts.fro_full if self.kind == "full" else self.parts.fro_pruned)[self.layer]

    @property
    def shape(self) -> tuple[int, int]:
        return self.parts.errors[self.layer].shape  # E_l = W_l - W~_l is stored, with the layer's shape


@dataclass(frozen=True, eq=False)
class SegmentProducts:
    """P = W_j...W_i, X = P~ - P and P~ = W~_j...W~_i of one segment (i, j); P is None where no
    segment needs it (i = 0, j = L-1), P~ is None for i = 0; X_{i,i} = -E_i stays sparse."""

    i: int
    j: int
    P: "Tracked | StoredLayer | None"
    X: Tracked
    Pt: "Tracked | StoredLayer | None"


def chain_segments(parts: PairParts, first: int) -> Iterator[SegmentProducts]:
    """The products of the segments (first, j), j = first..L-1 in turn (0-based layers), each
    computed from the previous one by X_{i,j} = W~_j X_{i,j-1} - E_j P_{i,j-1}: at most two
    segments' products exist at a time, and a segment's are dropped once the caller moves on."""
    depth, i = parts.depth, first
    P: "Tracked | StoredLayer | None" = StoredLayer(parts, "full", i)
    X = exact(-parts.errors[i])
    Pt: "Tracked | StoredLayer | None" = StoredLayer(parts, "pruned", i)
    yield SegmentProducts(i, i, P, X, Pt)
    for j in range(i + 1, depth):
        Pt = None  # not needed for the next segment's products
        carried = left_multiply(parts.pruned[j], parts.fro_pruned[j], X, parts.fro_pruned[j])
        injected = left_multiply(parts.errors[j], parts.fro_error[j], P, parts.fro_error[j])  # type: ignore[arg-type]
        # A new array, not one of the operands overwritten: its memory layout (which the products
        # and Gram matrices computed from it depend on, bit for bit) is numpy's choice for a - b.
        X = combine(carried, injected, sign=-1.0)
        del carried, injected
        P = (
            left_multiply(parts.full[j], parts.fro_full[j], P, parts.fro_full[j])  # type: ignore[arg-type]
            if j < depth - 1 or i > 0
            else None
        )
        Pt = combine(P, X) if i > 0 else None  # type: ignore[arg-type]
        if j == depth - 1:
            P = None  # the segment ending at the output does not use P, and no later one multiplies it
        yield SegmentProducts(i, j, P, X, Pt)


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


def _scaled(matrix: np.ndarray, scale: float) -> np.ndarray:
    """scale * matrix, computed in matrix's own memory (the caller's new array)."""
    matrix *= scale
    return matrix


_BAND = 64  # columns per band when a Gram block is assembled in bands


def _gram_into(block: np.ndarray, a: np.ndarray) -> None:
    """block := A^T A for a dense A, written by the product itself into the (F-ordered) block
    through its transpose: numpy's A^T A is exactly symmetric (one triangle, mirrored), so the
    block holds the same bits as a copy of `_ata(a)`, without that d x d copy."""
    np.matmul(a.T, a, out=block.T)


def _add_error_gram(block: np.ndarray, parts: PairParts, layer: int, side: str, scale: float) -> None:
    """block += scale * (E^T E if side is 'right', else E E^T) for E = E_layer, a band of columns at
    a time: each column of a sparse product is computed on its own (its entries' sums run in the
    same order), so the bands hold the same bits as the whole product, without its dense copy."""
    e = parts.errors[layer]
    left, right = (e.T, e) if side == "right" else (e, e.T)
    for start in range(0, block.shape[1], _BAND):
        stop = min(block.shape[1], start + _BAND)
        block[:, start:stop] += _scaled(_dense(left @ right[:, start:stop]), scale)


def segment_norm(
    segment: SegmentProducts, parts: PairParts, beta: Sequence[float], rng: np.random.Generator
) -> tuple[float, "np.ndarray | None"]:
    """Certified norm of the scaled segment (i, j); for i = 0 also its top right singular vector.

    Every Gram block is computed here into the segment's Gram (a single layer's E_l block in bands),
    and the certificate works in that Gram's own memory: besides it, at most one layer or product
    and a band exist at a time.
    """
    i, j, P, X, Pt = segment.i, segment.j, segment.P, segment.X, segment.Pt
    last = parts.depth - 1
    x = X.value
    right = True
    ratio_blocks: list[tuple[Tracked, float]] = []  # scales that are rounded ratios of the betas

    def add_gram_x(block: np.ndarray, side: str, scale: float) -> None:  # X_{i,i} = -E_i: its Gram is E_i's
        if i == j:
            _add_error_gram(block, parts, i, side, scale)
        else:
            block += _scaled(_ata(x) if side == "right" else _aat(x), scale)

    if i == 0 and j == last:
        blocks = [(X, 1.0)]
        right = x.shape[0] >= x.shape[1]
        gram = parts.gram("error", i, "right" if right else "left") if i == j else (_ata(x) if right else _aat(x))
        inner = x.shape[0] if right else x.shape[1]
    elif i == 0:
        b = beta[j]
        blocks = [(P, 1.0), (X, b)]
        gram = _ata(P.value)  # type: ignore[union-attr]
        add_gram_x(gram, "right", b * b)
        inner = P.shape[0] + x.shape[0]  # type: ignore[union-attr]
    elif j == last:
        b = 1.0 / beta[i - 1]
        blocks = [(X, 1.0), (Pt, b)]
        ratio_blocks = [(Pt, b)]  # type: ignore[list-item]
        right = False
        gram = _scaled(_aat(Pt.value), b * b)  # type: ignore[union-attr]
        add_gram_x(gram, "left", 1.0)  # X's Gram + b^2 P~'s: the same sum in the other order (exact)
        inner = x.shape[1] + Pt.shape[1]  # type: ignore[union-attr]
    else:
        b, g = beta[j], beta[j] / beta[i - 1]
        blocks = [(P, 1.0), (X, b), (Pt, g)]
        ratio_blocks = [(Pt, g)]  # type: ignore[list-item]
        cols = P.shape[1]  # type: ignore[union-attr]
        size = cols + Pt.shape[1]  # type: ignore[union-attr]
        gram = np.empty((size, size), order="F")
        _gram_into(gram[:cols, :cols], P.value)  # type: ignore[union-attr]
        add_gram_x(gram[:cols, :cols], "right", b * b)
        pruned = Pt.value  # type: ignore[union-attr]
        for start in range(0, pruned.shape[1], _BAND):
            stop = min(pruned.shape[1], start + _BAND)
            band = _scaled(_dense(x.T @ pruned[:, start:stop]), b * g)
            gram[:cols, cols + start : cols + stop] = band
            gram[cols + start : cols + stop, :cols] = band.T
        _gram_into(gram[cols:, cols:], pruned)
        gram[cols:, cols:] *= g * g
        del pruned
        inner = 2 * P.shape[0]  # type: ignore[union-attr]
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
    upper, _, vector, _ = certify_gram(gram, delta, rng=rng, overwrite=True)
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
