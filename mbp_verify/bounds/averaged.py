"""Difference-aware upper bound: the coupled (F, f - F) chain with averaged activations.

With sigma(0) = 0, F's hidden state h_l and the difference Delta_l = g_l - h_l (g: f's state)
obey one linear recursion whose diagonals are activation difference quotients:

  h_l     = Lambda_l W_l h_{l-1},                       Lambda_l = sigma(a) / a
  Delta_l = D_l (W~_l Delta_{l-1} - E_l h_{l-1}),       D_l = (sigma(a~) - sigma(a)) / (a~ - a)
  f(x) - F(x) = [-E_L, W~_L] [h_{L-1}; Delta_{L-1}],   [h_1; Delta_1] = diag(Lambda_1, D_1) [W_1; -E_1] x

Every diagonal entry lies in [s_min, s_max] (the symbolic slope range), so f - F is a chain
of block matrices separated by diagonals diag(Lambda_l, D_l) = m I + r S with |S| <= I.
Expanding every diagonal (Combettes & Pesquet, "Lipschitz certificates for layered network
structures driven by averaged activation operators", SIAM J. Math. Data Sci. 2020) gives

  sup ||f(x) - F(x)|| <= sum over cut sets C of prod_{l in C} r_l prod_{l not in C} |m_l| prod_segments ||segment||,

where a segment is the product of consecutive blocks between cuts. A segment from layer i to
j is [[P, 0], [X, P~]] with P = W_j...W_i, P~ = W~_j...W~_i and X = P~ - P (computed from the
sparse E_l, never by cancellation). The last layer enters exactly (no diagonal after it),
and the uncut chain is the linear difference W~_L...W~_1 - W_L...W_1 weighted by prod m_l.
Scaling the difference rows of layer l by beta_l > 0 commutes with the diagonals and leaves
the bound valid; beta_l = c ||W_l|| / ||E_l|| with c picked from a small grid on estimated
norms, then every segment norm is certified (`spectral`) and widened by its rounding error
(`products`).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import scipy.sparse

from .constants import LayerConstants
from .parts import PairParts
from .products import Tracked, combine, exact, left_multiply
from .rounding import UNIT_ROUNDOFF, add_up, frobenius_up, gamma, mul_up
from .spectral import certified_spectral_norm, certify_gram

__all__ = ["AveragedBound", "averaged_bound", "applicable"]

Segment = tuple[int, int]


@dataclass(frozen=True, eq=False)
class AveragedBound:
    """The bound, the scalings used, certified segment norms and input-side directions."""

    value: float
    scalings: tuple[float, ...]
    segment_norms: dict[Segment, float]
    input_directions: tuple[np.ndarray, ...]  # top right singular vectors of segments starting at layer 1


def applicable(constants: Sequence[LayerConstants]) -> bool:
    """Needs at least one hidden layer and sigma(0) = 0 everywhere (h_l = Lambda_l W_l h_{l-1})."""
    return len(constants) >= 1 and all(c.zero_at_zero for c in constants)


def _products(parts: PairParts) -> dict[str, dict[Segment, Tracked]]:
    """P, X and P~ for every segment (i, j) that the chain needs (0-based layers)."""
    depth = parts.depth
    P: dict[Segment, Tracked] = {}
    X: dict[Segment, Tracked] = {}
    Pt: dict[Segment, Tracked] = {}
    for i in range(depth):
        P[i, i], X[i, i], Pt[i, i] = exact(parts.full[i]), exact(-parts.errors[i].toarray()), exact(parts.pruned[i])
        for j in range(i + 1, depth):
            carried = left_multiply(parts.pruned[j], parts.fro_pruned[j], X[i, j - 1], parts.fro_pruned[j])
            injected = left_multiply(parts.errors[j], parts.fro_error[j], P[i, j - 1], parts.fro_error[j])
            X[i, j] = combine(carried, injected, sign=-1.0)
            if j < depth - 1 or i > 0:
                P[i, j] = left_multiply(parts.full[j], parts.fro_full[j], P[i, j - 1], parts.fro_full[j])
            if i > 0:
                Pt[i, j] = combine(P[i, j], X[i, j])
    return {"P": P, "X": X, "Pt": Pt}


def _block_gram(P: np.ndarray, X: "np.ndarray | scipy.sparse.csr_array", Pt: np.ndarray, b: float,
                g: float) -> tuple[np.ndarray, float]:
    """Gram M^T M of M = [[P, 0], [b X, g Pt]] from its blocks, and a bound of its rounding.

    Each entry is an inner product over M's 2n rows computed in pieces and scaled by the
    floats b^2, b g, g^2, so |G^ - M^T M| <= gamma_{2n+8} |M|^T |M| and the spectral error is
    at most gamma_{2n+8} ||M||_F^2.
    """
    n = P.shape[0]
    cols, extra = P.shape[1], Pt.shape[1]
    gram = np.empty((cols + extra, cols + extra), order="F")
    if scipy.sparse.issparse(X):
        xx = np.asarray((X.T @ X).toarray())
        xp = np.asarray(X.T @ Pt)
        fro_x = frobenius_up(X.data)
    else:
        xx, xp, fro_x = X.T @ X, X.T @ Pt, frobenius_up(X)
    np.multiply(xx, b * b, out=gram[:cols, :cols])
    gram[:cols, :cols] += P.T @ P
    np.multiply(xp, b * g, out=gram[:cols, cols:])
    gram[cols:, :cols] = gram[:cols, cols:].T
    np.multiply(Pt.T @ Pt, g * g, out=gram[cols:, cols:])
    fro2 = add_up(mul_up(frobenius_up(P), frobenius_up(P)), mul_up(b, b, fro_x, fro_x),
                  mul_up(g, g, frobenius_up(Pt), frobenius_up(Pt)))
    return gram, mul_up(gamma(2 * n + 8), fro2)


def _segment_norm(parts: dict[str, dict[Segment, Tracked]], sparse_errors: Sequence[scipy.sparse.csr_array],
                  i: int, j: int, depth: int, beta: Sequence[float],
                  rng: np.random.Generator) -> tuple[float, "np.ndarray | None"]:
    """Certified norm of the scaled segment (i, j) and, for i = 0, its top right singular vector."""
    P, X, Pt = parts["P"], parts["X"], parts["Pt"]
    last = depth - 1
    if i == 0 and j == last:
        blocks, matrix = [(X[i, j], 1.0)], X[i, j].value
    elif i == 0:
        blocks = [(P[i, j], 1.0), (X[i, j], beta[j])]
        matrix = np.vstack([P[i, j].value, beta[j] * X[i, j].value])
    elif j == last:
        blocks = [(X[i, j], 1.0), (Pt[i, j], 1.0 / beta[i - 1])]
        matrix = np.hstack([X[i, j].value, Pt[i, j].value / beta[i - 1]])
    else:
        ratio = beta[j] / beta[i - 1]
        blocks = [(P[i, j], 1.0), (X[i, j], beta[j]), (Pt[i, j], ratio)]
        lower_left = sparse_errors[i] * -1.0 if i == j else X[i, j].value
        gram, delta = _block_gram(P[i, j].value, lower_left, Pt[i, j].value, beta[j], ratio)
        upper, _, _, _ = certify_gram(gram, delta, rng=rng)
        return add_up(upper, _carried(blocks)), None
    bound = certified_spectral_norm(matrix, rng=rng)
    scaling = mul_up(frobenius_up(matrix), 2.0 * UNIT_ROUNDOFF / (1.0 - UNIT_ROUNDOFF))
    return add_up(bound.upper, _carried(blocks), scaling), bound.right_vector if i == 0 else None


def _carried(blocks: Sequence[tuple[Tracked, float]]) -> float:
    """Rounding carried in from the products: sum of scale * error over the blocks."""
    return add_up(*[mul_up(up_scale(scale), tracked.error) for tracked, scale in blocks])


def up_scale(value: float) -> float:
    return float(np.nextafter(value * (1.0 + 2.0 * UNIT_ROUNDOFF), np.inf))


def _cut_sum(norm: "dict[Segment, float]", depth: int, mids: Sequence[float], radii: Sequence[float],
             rounding: bool) -> float:
    """Sum over cut sets of prod r (cut) prod |m| (uncut) prod segment norms."""
    terms = []
    for cuts in itertools.product((False, True), repeat=depth - 1):
        factors, start = [], 0
        for position, cut in enumerate(cuts):
            factors.append(radii[position] if cut else abs(mids[position]))
            if cut:
                factors.append(norm[start, position])
                start = position + 1
        factors.append(norm[start, depth - 1])
        terms.append(mul_up(*factors) if rounding else float(np.prod(factors)))
    return add_up(*terms) if rounding else float(sum(terms))


def averaged_bound(parts: PairParts, constants: Sequence[LayerConstants], rng: np.random.Generator,
                   factors: Sequence[float] = (0.9,)) -> AveragedBound:
    """The certified averaged-activation bound of sup ||f(x) - F(x)|| over the unit ball.

    Each factor c in `factors` sets beta_l = c ||W_l|| / ||E_l|| (estimated norms) and gives a
    sound bound; the smallest is returned.
    """
    depth = parts.depth
    if all(e.nnz == 0 for e in parts.errors):
        return AveragedBound(0.0, (), {}, ())  # f = F exactly
    mids = [c.mid_slope for c in constants]
    radii = [c.slope_radius for c in constants]
    products = _products(parts)
    segments = [(i, j) for i in range(depth) for j in range(i, depth)]
    ratios = [parts.est_full[l] / parts.est_error[l] for l in range(depth - 1) if parts.est_error[l] > 0]
    fallback = float(np.exp(np.mean(np.log(ratios)))) if ratios else 1.0
    base = [parts.est_full[l] / parts.est_error[l] if parts.est_error[l] > 0 else fallback for l in range(depth - 1)]
    best: "AveragedBound | None" = None
    for factor in factors:
        beta = [factor * b for b in base]
        certified: dict[Segment, float] = {}
        directions = []
        for i, j in segments:
            certified[i, j], direction = _segment_norm(products, parts.errors, i, j, depth, beta, rng)
            if direction is not None:
                directions.append(direction)
        value = _cut_sum(certified, depth, mids, radii, rounding=True)
        if best is None or value < best.value:
            best = AveragedBound(value, tuple(beta), certified, tuple(directions))
    assert best is not None
    return best
