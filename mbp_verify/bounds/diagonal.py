"""The averaged bound with a diagonal per neuron: each neuron's own reachable slope range.

`averaged` writes every hidden layer's diagonal diag(Lambda_l, D_l) as m I + r S with one (m, r)
per layer. With the per-neuron ranges of `reachable.LocalSlopes` it is M_l + R_l S_l with
diagonal M_l = diag(m_i), R_l = diag(r_i) >= 0 and |S_l| <= I, separately for F's state
(Lambda) and the difference (D). Expanding every diagonal as in `averaged`, a cut at layer l
contributes R_l S_l = P_l S_l P_l with P_l = R_l^{1/2} (rounded up, so P_l P_l >= R_l), an uncut
layer its M_l inside the segment product, and

  sup ||f(x) - F(x)|| <= sum over cut sets C of prod over segments ||P_j B_j M_{j-1} ... M_i B_i P_{i-1}||

(P at a segment's end only where a cut is). The blocks B_l of the coupled (F, f - F) chain are
exact: the difference rows are scaled by beta_l = powers of two (the averaged bound's scalings
rounded to powers of two), so every ratio beta_j / beta_{j-1} is exact. The diagonal scalings
and products carry their rounding (`products.Tracked`), and every segment norm is certified
(`spectral.certified_spectral_norm`) on dense segment matrices: meant for small networks
(the bracket uses it up to `MAX_WIDTH` neurons per layer and `MAX_DEPTH` layers).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from .averaged import _cut_sum
from .parts import PairParts
from .products import Tracked, exact, left_multiply
from .reachable import LocalSlopes
from .rounding import UNDERFLOW_UNIT, UNIT_ROUNDOFF, add_up, frobenius_up, mul_up
from .spectral import certified_spectral_norm

__all__ = ["diagonal_bound", "MAX_WIDTH", "MAX_DEPTH"]

MAX_WIDTH, MAX_DEPTH = 256, 6


def _cover(low: np.ndarray, high: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-neuron (m, r) with [m - r, m + r] containing [low, high] (r rounded up)."""
    m = 0.5 * (low + high)
    r = np.maximum(np.nextafter(high - m, np.inf), np.nextafter(m - low, np.inf))
    return m, np.maximum(r, 0.0)


def _scale_rows(factors: np.ndarray, tracked: Tracked) -> Tracked:
    """diag(factors) @ tracked: one rounding per entry, |fl(x) - x| <= u |fl(x)| / (1 - u) + eta / 2."""
    value = factors[:, None] * np.asarray(tracked.value)
    largest = float(np.max(np.abs(factors))) if factors.size else 0.0
    return Tracked(value, add_up(mul_up(largest, tracked.error), _entry_rounding(value)))


def _scale_columns(matrix: np.ndarray, factors: np.ndarray) -> Tracked:
    """matrix @ diag(factors) for an exact matrix: one rounding per entry."""
    value = matrix * factors[None, :]
    return Tracked(value, _entry_rounding(value))


def _entry_rounding(value: np.ndarray) -> float:
    """||fl(X) - X||_2 for one rounding per entry: u ||fl(X)||_F / (1 - u) plus eta per entry."""
    return add_up(
        mul_up(frobenius_up(value), UNIT_ROUNDOFF / (1.0 - UNIT_ROUNDOFF)),
        mul_up(math.sqrt(value.size) + 1.0, UNDERFLOW_UNIT),
    )


def _power_of_two(value: float) -> float:
    return math.ldexp(1.0, round(math.log2(value))) if value > 0 and math.isfinite(value) else 1.0


def _block(parts: PairParts, layer: int, beta: Sequence[float]) -> np.ndarray:
    """Exact dense block of layer `layer` on z = [h; beta Delta] (powers of two only)."""
    depth = parts.depth
    w, e, wt = parts.full[layer], parts.errors[layer].toarray(), parts.pruned[layer]
    if layer == 0:
        return np.vstack([w, -beta[0] * e]) if depth > 1 else -e
    if layer == depth - 1:
        return np.hstack([-e, wt / beta[layer - 1]])
    top = np.hstack([w, np.zeros_like(wt)])
    bottom = np.hstack([-beta[layer] * e, (beta[layer] / beta[layer - 1]) * wt])
    return np.vstack([top, bottom])


def diagonal_bound(parts: PairParts, slopes: LocalSlopes, scalings: Sequence[float], rng: np.random.Generator) -> float:
    """The certified per-neuron averaged bound of sup ||f - F|| over the unit ball for the pair of
    `parts` (the caller multiplies back its power-of-two scaling); `scalings` are beta_l > 0."""
    depth = parts.depth
    beta = [_power_of_two(b) for b in scalings] or [1.0] * (depth - 1)
    mids, roots = [], []
    for layer in range(depth - 1):
        m_state, r_state = _cover(slopes.state_low[layer], slopes.state_high[layer])
        m_diff, r_diff = _cover(slopes.diff_low[layer], slopes.diff_high[layer])
        r = np.concatenate([r_state, r_diff])
        mids.append(np.concatenate([m_state, m_diff]))
        roots.append(np.nextafter(np.sqrt(r), np.inf) * (r > 0))  # sqrt is correctly rounded
    blocks = [_block(parts, layer, beta) for layer in range(depth)]
    block_norms = [frobenius_up(b) for b in blocks]  # ||B||_2 <= ||B||_F: only for rounding terms
    norms: dict[tuple[int, int], float] = {}
    for i in range(depth):
        current = exact(blocks[i]) if i == 0 else _scale_columns(blocks[i], roots[i - 1])
        for j in range(i, depth):
            if j > i:
                current = left_multiply(blocks[j], block_norms[j], _scale_rows(mids[j - 1], current), block_norms[j])
            segment = _scale_rows(roots[j], current) if j < depth - 1 else current
            norms[i, j] = add_up(certified_spectral_norm(np.asarray(segment.value), rng=rng).upper, segment.error)
    return _cut_sum(norms, depth, [1.0] * (depth - 1), [1.0] * (depth - 1))
