"""Ellipsoid bound: sup ||f(x) - F(x)|| through ellipsoids propagated along the coupled chain.

The coupled chain of `averaged`: the state s_l = [h_l; Delta_l] (F's hidden state and the
difference of f's from it) obeys s_l = S_l B_l s_{l-1} with B_1 = [W_1; -E_1],
B_l = [[W_l, 0], [-E_l, W~_l]], f - F = C s_{L-1}, C = [-E_L, W~_L], and S_l diagonal with
each slope in a sector [a_j, b_j] (chord slopes (sigma(z) - sigma(0)) / z for h, difference
quotients for Delta; the symbolic slope range or the range reachable over the unit ball).
This needs sigma(0) = 0 in every hidden layer.

If s_{l-1} = K_{l-1} w with ||w|| <= 1, then u = G w with G = B_l K_{l-1}, and every v = S u
satisfies v_j (m_j u_j - v_j) >= a_j b_j u_j^2 ... precisely (v_j - a_j u_j)(b_j u_j - v_j) >= 0.
For multipliers lambda_j >= 0 (the S-procedure; LipSDP-Neuron, Fazlyab et al. 2019, solved layer
by layer as in ECLipsE-Fast, Xu & Sivaranjani 2024), a matrix X with

  [[I + G^T diag(lambda a b) G, -G^T diag(lambda m) / 2], [-diag(lambda m) G / 2, diag(lambda) - X]] >= 0,

m = a + b, gives v^T X v <= ||w||^2. With tau <= lambda_min(I + G^T diag(lambda a b) G) (1 when
every a_j b_j >= 0; else 1 - ||diag(lambda |ab|^-)^(1/2) G||^2, certified) the Schur complement shows
that X = Q := diag(lambda) - diag(mu) G G^T diag(mu), mu = lambda m / (2 sqrt(tau)), works, and so
does X = (K K^T)^(-1) for any K with K^T Q K >= I: then v = K w' with ||w'|| <= ||w||. Finally
||f(x) - F(x)|| <= ||C K_{L-1}|| prod_l zeta_l.

Floating point. G is a float product (its error bounded by gamma ||B||_F ||K||_F); Q^ is
computed from it, and ||Q - Q^||_2 <= delta_Q. The float Cholesky Q^ = R^T R - dC has
||dC||_2 <= gamma_{n+1} ||R||_F^2 (Higham 2002, Thm 10.3), K^ = fl(R^-1) has a residual
||R K^ - I||_2 <= xi computed with its own rounding bound, hence
K^T Q K^ >= ((1 - xi)^2 - (||dC|| + delta_Q) ||K^||_F^2) I =: (1 - theta) I, and K = zeta K^ with
zeta = (1 - theta)^(-1/2) (rounded up) is certified. Only K^ is carried on; the zetas multiply
the bound. The difference rows are rescaled by powers of two (exact) so both blocks of the
state have comparable magnitude, which keeps the Frobenius-norm rounding bounds small.

Triangular factors. K^ is upper triangular, so B K^ = [[W K11, W K12], [-E K11, W~ K22 - E K12]] and
C K^ = [-E K11, W~ K22 - E K12] take two triangular multiplies and one dense product per block row
(every entry is still one inner product of length <= n, so the same gamma bound holds).

Transposed chain, meeting in the middle. sup ||M(S) x|| = sup ||M(S)^T y|| for the chain M(S) =
C S_{L-1} B_{L-1} ... S_1 B_1, and M(S)^T in the coordinates [Delta; -h] is the coupled chain of the
pair with layers W~_l^T, W_l^T, -E_l^T in reverse order (`_transposed_parts`), so the same
propagation bounds it. `meet` = k propagates forward to hidden layer k (ellipsoid K_k, scale z),
backward from the output to hidden layer k+1 (ellipsoid K', scale z'), and bounds the chain by
z z' ||G^T P^T K'|| with G = B_{k+1} K_k (`_junction`). Two half-chains of ellipsoids lose less than
one long one on deep chains with decaying spectra (12-layer 384 <-> 1536 chain: 0.72x with rule
"rows"); on random wide nets of depth 3-5 the transposed chain is within 1.3 % of the forward one.

The multipliers are a heuristic (a sound certificate for any choice): lambda_j =
2 c tau / (m_j m_max a_j) with a_j either the block's estimated ||G_block||^2 (rule "block": the
closed-form choice of ECLipsE-Fast applied to the two blocks separately) or kappa r_j^2 (rule
"rows": r_j the row norms of G, kappa the block's lambda_max after normalising the rows).
`smallest_ellipsoid_bound` tries both on states of up to 512 coordinates and keeps the smaller,
and on chains of at least 6 layers also the chain met in the middle.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.linalg.blas
import scipy.linalg.lapack
import scipy.sparse

from .constants import LayerConstants
from .parts import PairParts, estimate_norm
from .reachable import LocalSlopes
from .rounding import (
    UNDERFLOW_UNIT,
    UNIT_ROUNDOFF,
    add_up,
    cholesky_error_up,
    frobenius_up,
    gram_error_up,
    matmul_error_up,
    mul_up,
    sqrt_up,
    up,
)
from .spectral import certified_spectral_norm, in_safe_range

__all__ = [
    "RULES",
    "Sectors",
    "global_sectors",
    "local_sectors",
    "sectors_differ",
    "ellipsoid_bound",
    "smallest_ellipsoid_bound",
    "ellipsoid_unavailable_reason",
    "MAX_STATE",
]

# The state has 2 d_l coordinates; above this many the n x n factorisations are skipped (memory
# ~ 4 n^2 float64 and time ~ 25 n^3 / 8 flops per layer).
MAX_STATE = 4096
_MULTIPLIER_TRIALS = (1.0, 0.8, 0.5)  # c in lambda_j: the first one whose Cholesky succeeds is kept
# Chains of at least _DEEP layers also try c = 1.4 first (a second certificate, the smaller kept):
# it gives up a little in each layer's top direction for the others, which pays over many layers
# with decaying spectra (12-layer 96 <-> 384 chain: 0.19x) but not on random wide nets (up to 12x worse).
_DEEP = 6
_DEEP_TRIALS = (1.4, 1.0, 0.8, 0.5)
_SMALLEST_SLOPE_SUM = 1e-3  # m_j below this fraction of the block's largest is treated as this
_LEAF = 256  # triangular blocks up to this size are inverted by LAPACK (and their residual computed)
# Up to this many state coordinates both multiplier rules are tried (cheap there; on wide random
# networks they agree within 3 %, on small structured ones either can win by orders of magnitude).
_BOTH_RULES = 512
RULES = ("block", "rows")


@dataclass(frozen=True)
class Sectors:
    """Per hidden layer, the slope sector [low_j, high_j] of each state coordinate (h then Delta)."""

    low: tuple[np.ndarray, ...]
    high: tuple[np.ndarray, ...]


def global_sectors(constants: Sequence[LayerConstants], widths: Sequence[int]) -> Sectors:
    """Every coordinate of hidden layer l in the layer's slope range [slope_min, slope_max]."""
    low = tuple(np.full(2 * widths[l + 1], c.slope_min) for l, c in enumerate(constants))
    high = tuple(np.full(2 * widths[l + 1], c.slope_max) for l, c in enumerate(constants))
    return Sectors(low, high)


def local_sectors(local: LocalSlopes, constants: Sequence[LayerConstants]) -> Sectors:
    """Per-neuron sectors reachable over the unit ball (`reachable`), within the global ones."""
    low = tuple(
        np.maximum(np.concatenate([state, diff]), c.slope_min)
        for state, diff, c in zip(local.state_low, local.diff_low, constants)
    )
    high = tuple(
        np.minimum(np.concatenate([state, diff]), c.slope_max)
        for state, diff, c in zip(local.state_high, local.diff_high, constants)
    )
    return Sectors(low, high)


def ellipsoid_unavailable_reason(constants: Sequence[LayerConstants], parts: PairParts) -> "str | None":
    """Why the bound does not apply to the (scaled) pair, or None."""
    if not constants:
        return "needs a hidden layer"
    if not all(c.zero_at_zero for c in constants):
        return "needs sigma(0) = 0 in every hidden layer"
    widest = max(2 * e.shape[0] for e in parts.errors[:-1])  # E_l has W_l's shape (and is stored)
    if widest > MAX_STATE:
        return f"the coupled state has {widest} coordinates, more than {MAX_STATE}"
    if not all(map(in_safe_range, itertools.chain(parts.full, parts.pruned, parts.errors))):  # a layer at a time
        return "a weight matrix of the scaled pair has its largest entry outside [2^-300, 2^300]"
    return None


def _underflow_up(entries: int) -> float:
    """A bound of the 2-norm change when each of `entries` entries is scaled by a power of two
    (exact unless the result is subnormal, then off by at most half the smallest subnormal)."""
    return mul_up(sqrt_up(float(entries)), UNDERFLOW_UNIT)


def _down(value: float) -> float:
    return float(np.nextafter(value, -math.inf))


def _times_upper(matrix: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """matrix @ upper for an upper-triangular square `upper` (its other triangle is not read), by
    one triangular multiply: half the multiply-adds of a dense product, and every entry is still an
    inner product of length <= upper's size (the skipped terms are exact zeros)."""
    return scipy.linalg.blas.dtrmm(1.0, upper.T, matrix.T, side=0, lower=1).T  # (U^T M^T)^T, C order


def _input_map(
    parts: PairParts, layer: int, factor: "np.ndarray | None", factor_error: float
) -> tuple[np.ndarray, float]:
    """G^ = B_layer K^ for K^ = factor (upper triangular; None: the identity on the input) and a bound
    of ||G^ - B K||_2 for the exact K within `factor_error` of K^."""
    e = parts.errors[layer]
    if factor is None:
        return np.vstack([parts.full[layer], -e.toarray()]), 0.0
    out_rows, rows = e.shape
    # K^ = [[K11, K12], [0, K22]] with K11, K22 upper triangular, so
    # G^ = [[W K11, W K12], [-E K11, W~ K22 - E K12]]: two triangular and one dense product instead of
    # two dense ones of twice the size, plus the sparse E [K11, K12]. Each is written into its block of
    # the C-ordered result, one stored layer read at a time.
    mapped = np.empty((2 * out_rows, factor.shape[1]))
    top, bottom = mapped[:out_rows], mapped[out_rows:]
    full = parts.full[layer]
    np.matmul(full, factor[:rows, rows:], out=top[:, rows:])
    top[:, :rows] = _times_upper(full, factor[:rows, :rows])
    del full
    bottom[:, :rows] = 0.0
    bottom[:, rows:] = _times_upper(parts.pruned[layer], factor[rows:, rows:])
    bottom -= e @ factor[:rows]
    fro_b = sqrt_up(
        add_up(
            mul_up(parts.fro_full[layer], parts.fro_full[layer]),
            mul_up(parts.fro_error[layer], parts.fro_error[layer]),
            mul_up(parts.fro_pruned[layer], parts.fro_pruned[layer]),
        )
    )
    error = add_up(
        matmul_error_up(factor.shape[0] + 1, 2 * out_rows * factor.shape[1], fro_b, frobenius_up(factor)),
        mul_up(fro_b, factor_error),
    )
    return mapped, error


def _output_map(parts: PairParts, factor: np.ndarray) -> np.ndarray:
    """C K^ = [-E K11, W~ K22 - E K12] for the last hidden layer's upper-triangular K^ (as `_input_map`)."""
    e = parts.errors[-1]
    rows = e.shape[1]
    out = np.empty((e.shape[0], factor.shape[1]))
    out[:, :rows] = 0.0
    out[:, rows:] = _times_upper(parts.pruned[-1], factor[rows:, rows:])
    out -= e @ factor[:rows]
    return out


def _widened(low: np.ndarray, high: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The sectors with 0 added: [a, b] -> [min(a, 0), max(b, 0)]. The certificate drops the
    term G^T diag(lambda a b) G when a b > 0 (sound, as it is >= 0), and then a sector with a, b
    of one sign only enlarges (a + b)^2 over max(|a|, |b|)^2, so the widened sector is tighter."""
    return np.minimum(low, 0.0), np.maximum(high, 0.0)


def sectors_differ(first: Sectors, second: Sectors) -> bool:
    """Whether the two sets of sectors give different certificates (after `_widened`)."""
    for a_low, a_high, b_low, b_high in zip(first.low, first.high, second.low, second.high):
        (a_low, a_high), (b_low, b_high) = _widened(a_low, a_high), _widened(b_low, b_high)
        if not (np.array_equal(a_low, b_low) and np.array_equal(a_high, b_high)):
            return True
    return False


def _block_shift(mapped: np.ndarray, width: int, rng: np.random.Generator) -> int:
    """A power of two for the difference rows that brings their norm near the state rows'."""
    top = estimate_norm(mapped[:width], rng, steps=12)
    bottom = estimate_norm(mapped[width:], rng, steps=12)
    if top == 0.0 or bottom == 0.0:
        return 0
    return int(np.clip(round(math.log2(top / bottom)), -200, 200))


def _multipliers(
    mapped: np.ndarray,
    width: int,
    low: np.ndarray,
    high: np.ndarray,
    c: float,
    tau: float,
    rng: np.random.Generator,
    rule: str = "block",
) -> np.ndarray:
    """lambda_j = 2 c tau / (m_j m_max a_j) per block (see the module docstring); any positive
    choice is sound. `rule` "block": a_j = the block's estimated ||G_block||^2 (ECLipsE-Fast per
    block); "rows": a_j = kappa r_j^2 with r_j the row norm of G and kappa the block's estimated
    lambda_max of the row-normalised Gram (a Jacobi scaling: better when rows differ a lot)."""
    slope_sum = np.abs(low + high)
    rows = np.sqrt(np.einsum("ij,ij->i", mapped, mapped)) if rule == "rows" else None
    lam = np.empty(mapped.shape[0])
    for block in (slice(0, width), slice(width, mapped.shape[0])):
        m_max = float(slope_sum[block].max())
        if rule == "rows":
            norms = rows[block]
            largest = float(norms.max()) if norms.size else 0.0
            norms = np.maximum(norms, _SMALLEST_SLOPE_SUM * largest)
            a = (estimate_norm(mapped[block] / norms[:, None], rng, steps=16) ** 2) * norms**2 if largest else 0.0
        else:
            a = estimate_norm(mapped[block], rng, steps=16) ** 2
        if np.all(a == 0.0) or m_max == 0.0:
            lam[block] = 1.0
            continue
        m = np.maximum(slope_sum[block], _SMALLEST_SLOPE_SUM * m_max)
        lam[block] = 2.0 * c * tau / (m * m_max * a)
    return lam


def _certified_tau(mapped: np.ndarray, error: float, lam: np.ndarray, low: np.ndarray, high: np.ndarray) -> float:
    """tau <= lambda_min(I + G^T diag(lambda a b) G): 1 when every a_j b_j >= 0, else
    1 - ||diag(lambda |ab|^-)^(1/2) G||^2 with the norm certified (G's error and the roundings added)."""
    negative = -np.minimum(low * high, 0.0)
    if not negative.any():
        return 1.0
    weights = np.sqrt(lam * negative) * (1.0 + 8 * UNIT_ROUNDOFF)  # >= sqrt(lambda |a b|) entrywise
    # Outward-rounded ranges such as [-5e-324, 1] make tau 1 - O(1e-300): the Frobenius norm settles it.
    cheap = add_up(mul_up(float(weights.max()), frobenius_up(mapped)), mul_up(float(weights.max()), error))
    if cheap <= 1e-8:
        return _down(1.0 - mul_up(cheap, cheap))
    scaled = mapped * weights[:, None]
    if not np.isfinite(scaled).all():
        return 0.0  # no certificate: the caller tries the next multiplier scale
    # ||D (G^ + dG)|| <= ||fl(D G^)|| + u ||fl(D G^)||_F / (1 - u) + max D ||dG||
    norm = add_up(
        certified_spectral_norm(scaled).upper,
        mul_up(1.01 * UNIT_ROUNDOFF, frobenius_up(scaled)),
        mul_up(float(weights.max()), error),
    )
    return _down(1.0 - mul_up(norm, norm))


def _residual_up(lower: np.ndarray, inverse: np.ndarray, fro_inverse: float) -> float:
    """A bound of ||L^-1 L - I||_2 for the float inverse of a lower-triangular L (with ||L^-1||_F <=
    `fro_inverse`): the computed product's Frobenius norm plus its rounding (inner products of length <= n)."""
    n = lower.shape[0]
    product = scipy.linalg.blas.dtrmm(1.0, inverse, lower, side=0, lower=1)
    product[np.diag_indices(n)] -= 1.0  # exact (Sterbenz) near 1; else covered below
    computed = mul_up(frobenius_up(product), 1.0 + 4 * UNIT_ROUNDOFF)
    del product
    rounding = matmul_error_up(n + 1, n * n, frobenius_up(lower), fro_inverse)
    return add_up(computed, rounding)


def _lower_inverse(lower: np.ndarray) -> "tuple[np.ndarray, float, float] | None":
    """(X, xi, f): X ~ L^-1 for a lower-triangular L (zeros above the diagonal) with ||X L - I||_2 <= xi
    and ||X||_F <= f, or None if a diagonal block is singular.

    By halves, L = [[A, 0], [B, C]]: X11 ~ A^-1 and X22 ~ C^-1 (recursively, each with its bound e1,
    e2), T = fl(X22 B) = X22 B + D1 and X21 = -fl(T X11) = -(T X11 + D2) (triangular multiplies, so
    |D1| <= gamma |X22| |B| and |D2| <= gamma |T| |X11|). Then X L - I = [[E1, 0], [R, E2]] with
    R = X21 A + X22 B = -D1 - T E1 - D2 A, so ||X L - I||_2 <= sqrt(e1^2 + e2^2 + r^2) for
    r = gamma ||X22||_F ||B||_F + ||T||_F e1 + gamma ||T||_F ||X11||_F ||A||_F. This costs the n^3 / 6
    multiply-adds of the inverse only, where computing the residual would cost as much again;
    blocks of up to _LEAF rows are inverted by LAPACK and their residual computed."""
    n = lower.shape[0]
    if n <= _LEAF:
        inverse, info = scipy.linalg.lapack.dtrtri(lower, lower=1, unitdiag=0, overwrite_c=0)
        if info != 0:
            return None
        fro_inverse = frobenius_up(inverse)
        return inverse, _residual_up(lower, inverse, fro_inverse), fro_inverse
    h = n // 2
    first, second = _lower_inverse(lower[:h, :h]), _lower_inverse(lower[h:, h:])
    if first is None or second is None:
        return None
    (x11, e1, f11), (x22, e2, f22) = first, second
    below = lower[h:, :h]
    t = scipy.linalg.blas.dtrmm(1.0, x22, below, side=0, lower=1)  # X22 B
    fro_t = frobenius_up(t)
    inverse = np.zeros((n, n), order="F")
    inverse[h:, :h] = scipy.linalg.blas.dtrmm(-1.0, x11, t, side=1, lower=1)  # -(T X11): the sign is exact
    del t
    r = add_up(
        matmul_error_up(n - h, h * (n - h), f22, frobenius_up(below)),
        mul_up(fro_t, e1),
        mul_up(matmul_error_up(h, h * (n - h), fro_t, f11), frobenius_up(lower[:h, :h])),
    )
    inverse[:h, :h], inverse[h:, h:] = x11, x22
    f21 = frobenius_up(inverse[h:, :h])
    fro_inverse = sqrt_up(add_up(mul_up(f11, f11), mul_up(f22, f22), mul_up(f21, f21)))
    return inverse, sqrt_up(add_up(mul_up(e1, e1), mul_up(e2, e2), mul_up(r, r))), fro_inverse


def _layer_factor(
    mapped: np.ndarray, error: float, lam: np.ndarray, mu: np.ndarray
) -> "tuple[np.ndarray, float] | None":
    """(K^, zeta) with zeta K^ certified (K^T Q K >= I) for Q = diag(lam) - diag(mu) G G^T diag(mu)
    and the exact G within `error` of `mapped`; None if the float Cholesky of Q^ fails."""
    n, inner = mapped.shape
    scaled = mapped * mu[:, None]  # H: within 8.1 u (mu's own error and this rounding) of the exact rows
    if not np.isfinite(scaled).all():
        return None
    fro_scaled = frobenius_up(scaled)  # summed in the C order (the bits depend on it)
    scaled = np.asfortranarray(scaled)  # the copy dsyrk would make, made here so the C one goes now
    fro_mapped = frobenius_up(mapped)
    mu_max = float(np.abs(mu).max()) * (1.0 + 8 * UNIT_ROUNDOFF)
    q = scipy.linalg.blas.dsyrk(-1.0, scaled, lower=1)  # -H H^T, lower triangle
    del scaled
    q[np.diag_indices(n)] += lam
    diagonal = np.diag(q).copy()  # Q^'s diagonal, before dpotrf overwrites it
    diagonal_max = float(np.max(np.abs(diagonal)))
    # ||Q - Q^||: G's error, H's entries (relative error <= 8.1 u: 2 (8.1 u) + (8.1 u)^2 <= 17 u
    # relative to ||H||_F^2), the Gram product, the diagonal sums.
    delta_q = add_up(
        mul_up(mu_max, mu_max, add_up(mul_up(2.0, fro_mapped), error), error),
        mul_up(20.0 * UNIT_ROUNDOFF, fro_scaled, fro_scaled),
        gram_error_up(n, inner + 1, fro_scaled, fro_scaled),
        mul_up(UNIT_ROUNDOFF, diagonal_max),
    )
    lower, info = scipy.linalg.lapack.dpotrf(q, lower=1, clean=1, overwrite_a=1)
    if info != 0:
        if info < 0:
            raise ArithmeticError(f"LAPACK dpotrf rejected argument {-info}")
        return None
    cholesky_error = cholesky_error_up(n, diagonal)
    inverted = _lower_inverse(lower)
    del lower
    if inverted is None:
        return None
    inverse, xi, fro_factor = inverted
    # K^ = R^-1 = (L^-1)^T, upper triangular with exact zeros below the diagonal (dtrtri keeps the zeros
    # that dpotrf's `clean` wrote above L's diagonal, and the blocks are assembled into zeros), which
    # the next layer's maps use; no copy, as the inverse is in Fortran order.
    factor = np.ascontiguousarray(inverse.T)
    del inverse
    if not (math.isfinite(xi) and xi < 1.0 and math.isfinite(fro_factor)):
        return None
    loss = mul_up(add_up(cholesky_error, delta_q), fro_factor, fro_factor)
    kept = _down(_down((1.0 - xi) * (1.0 - xi)) - loss)  # <= lambda_min(K^T Q K^)
    if not kept > 0.0:
        return None
    return factor, sqrt_up(up(1.0 / kept))


def _propagate(
    parts: PairParts, sectors: Sectors, rule: str, scales: Sequence[float], hidden: int, rng: np.random.Generator
) -> tuple[np.ndarray, float, float]:
    """Ellipsoids through the first `hidden` hidden layers of the chain of `parts`: (K^, e, z) such that
    every state s_hidden the sectors allow is z K w for some ||w|| <= ||x||, with ||K - K^||_2 <= e
    (K^ upper triangular, in the unscaled coordinates). ArithmeticError when no certificate completes."""
    factor: "np.ndarray | None" = None
    factor_error = 0.0  # ||K^ - K||_2: entries that underflowed when the difference rows were scaled back
    total = 1.0
    for layer in range(hidden):
        width = parts.errors[layer].shape[0]
        mapped, error = _input_map(parts, layer, factor, factor_error)
        factor = None  # used up: the next one is computed from `mapped`
        shift = _block_shift(mapped, width, rng)
        mapped[width:] = np.ldexp(mapped[width:], shift)  # exact unless an entry becomes subnormal
        error = add_up(mul_up(error, 2.0 ** max(shift, 0)), _underflow_up(mapped.size))
        if not np.isfinite(mapped).all():
            raise ArithmeticError("the coupled chain's products overflowed float64")
        low, high = _widened(sectors.low[layer], sectors.high[layer])
        result = None
        for c in scales:
            tau = 1.0
            lam = _multipliers(mapped, width, low, high, c, tau, rng, rule)
            if not (np.isfinite(lam).all() and (lam > 0).all()):
                continue  # the multipliers left the float64 range (a block's norm near underflow)
            if np.any(low * high < 0):
                negative = -np.minimum(low * high, 0.0)
                # e ~ ||diag(lambda |ab|^-)^(1/2) G||^2 (a lower estimate, hence the 1.5): lambda / (1 + 1.5 e)
                # keeps tau above about 1 / (1 + e), and Q then shrinks by about that factor only.
                estimate = estimate_norm(mapped * np.sqrt(lam * negative)[:, None], rng, steps=16) ** 2
                lam = lam / (1.0 + 1.5 * estimate)
                tau = _certified_tau(mapped, error, lam, low, high)
                if not tau > 0.0:
                    continue
            mu = lam * (low + high) * (0.5 / math.sqrt(tau))  # within 7 u of lambda m / (2 sqrt(tau))
            result = _layer_factor(mapped, error, lam, mu)
            if result is not None:
                break
        if result is None:
            raise ArithmeticError(f"no ellipsoid certificate at hidden layer {layer + 1}")
        factor, zeta = result
        mapped = result = None  # only the factor goes on to the next layer
        factor[width:] = np.ldexp(factor[width:], -shift)  # back to the unscaled difference coordinates
        factor_error = _underflow_up(factor.size)
        if not (np.isfinite(factor).all() and in_safe_range(factor)):
            raise ArithmeticError("the ellipsoid's factor left the safe float64 range")
        total = mul_up(total, zeta)
    return factor, factor_error, total


class _Reversed(Sequence):
    """Layers first..L-1 of a layer sequence, last first and transposed (each read when asked for,
    so the bracket's lazily scaled layers stay lazy)."""

    def __init__(self, layers: Sequence[np.ndarray], first: int) -> None:
        self._layers, self._first, self._last = layers, first, len(layers) - 1

    def __len__(self) -> int:
        return self._last + 1 - self._first

    def __getitem__(self, index: int) -> np.ndarray:  # type: ignore[override]
        position = index + len(self) if index < 0 else index
        if not 0 <= position < len(self):
            raise IndexError(index)
        return self._layers[self._last - position].T


def _transposed_parts(parts: PairParts, first: int) -> PairParts:
    """The transposed chain of layers first..L-1 (1-based first+1..L) as the chain of another pair.

    M(S)^T = B_1^T S_1 ... S_{L-1} C^T, written in the coordinates s' = [Delta; -h] of each state, is the
    coupled chain with W' = W~^T, W~' = W^T and E' = -E^T, layers in reverse order: its first map is
    [W~_L^T; E_L^T] (C^T so reordered), its hidden maps [[W~^T, 0], [E^T, W^T]] (B^T so reordered),
    and the slopes act on s' as on s. So every bound of that chain's states holds for the transposed
    chain's (a signed permutation, exact)."""
    layers = range(parts.depth - 1, first - 1, -1)
    return PairParts(
        full=_Reversed(parts.pruned, first),
        pruned=_Reversed(parts.full, first),
        errors=tuple(scipy.sparse.csr_array(-parts.errors[layer].T) for layer in layers),
        fro_full=tuple(parts.fro_pruned[layer] for layer in layers),
        fro_pruned=tuple(parts.fro_full[layer] for layer in layers),
        fro_error=tuple(parts.fro_error[layer] for layer in layers),
        seeds=parts.seeds,
    )


def _transposed_sectors(sectors: Sectors, first: int) -> Sectors:
    """The sectors of hidden layers L-1 down to first+1 (1-based) in the coordinates [Delta; -h]."""

    def swapped(values: np.ndarray) -> np.ndarray:
        width = values.size // 2
        return np.concatenate([values[width:], values[:width]])

    layers = range(len(sectors.low) - 1, first - 1, -1)
    return Sectors(
        tuple(swapped(sectors.low[layer]) for layer in layers), tuple(swapped(sectors.high[layer]) for layer in layers)
    )


def _junction(mapped: np.ndarray, error: float, back: np.ndarray, back_error: float) -> tuple[np.ndarray, float]:
    """G^T P^T K'^ and a bound of its distance to the exact G^T P^T K', where G^ (within `error` of G)
    maps the forward ellipsoid's ball to hidden layer k+1's pre-activations, K'^ (within
    `back_error`) is the backward ellipsoid's factor there in the coordinates s' = P s = [Delta; -h],
    and P^T [a; b] = [-b; a]. With K'^ = [[K11, K12], [0, K22]]:
    G^T P^T K'^ = G_b^T [K11, K12] - G_t^T [0, K22] (G_t, G_b: G^'s h and Delta rows)."""
    width = back.shape[0] // 2
    top, bottom = mapped[:width].T, mapped[width:].T
    out = np.empty((mapped.shape[1], back.shape[1]))
    out[:, :width] = _times_upper(bottom, back[:width, :width])
    np.matmul(bottom, back[:width, width:], out=out[:, width:])
    out[:, width:] -= _times_upper(top, back[width:, width:])
    fro_mapped, fro_back = frobenius_up(mapped), frobenius_up(back)
    # every entry: two inner products of length <= width and one subtraction; then G's and K's errors
    rounding = add_up(
        matmul_error_up(back.shape[0] + 1, out.size, fro_mapped, fro_back),
        mul_up(error, fro_back),
        mul_up(add_up(fro_mapped, error), back_error),
    )
    return out, rounding


def ellipsoid_bound(
    parts: PairParts,
    constants: Sequence[LayerConstants],
    sectors: "Sectors | None" = None,
    rule: str = "block",
    scales: Sequence[float] = _MULTIPLIER_TRIALS,
    meet: "int | None" = None,
) -> float:
    """The certified ellipsoid bound of sup ||f(x) - F(x)|| for the (scaled) pair of `parts`.

    `meet` = k (0 <= k < L - 1) propagates forward through hidden layers 1..k only, and the
    transposed chain from the output back through hidden layers L-1..k+1, and bounds the norm of the
    map between the two ellipsoids (k = 0: the transposed chain alone).
    Raises ArithmeticError when no certificate completes (every multiplier scale failed)."""
    depth = parts.depth
    if all(e.nnz == 0 for e in parts.errors):
        return 0.0
    widths = [parts.errors[0].shape[1], *(e.shape[0] for e in parts.errors)]
    sectors = sectors if sectors is not None else global_sectors(constants, widths)
    if meet is not None and not 0 <= meet < depth - 1:
        raise ValueError(f"meet must lie in [0, {depth - 2}], got {meet}")
    rng = np.random.default_rng(0)  # the multipliers' estimates only: the bound is sound for any
    if meet is None:
        factor, factor_error, total = _propagate(parts, sectors, rule, scales, depth - 1, rng)
        out = _output_map(parts, factor)
        fro_c = sqrt_up(
            add_up(mul_up(parts.fro_error[-1], parts.fro_error[-1]), mul_up(parts.fro_pruned[-1], parts.fro_pruned[-1]))
        )
        rounding = add_up(
            matmul_error_up(factor.shape[0] + 1, out.size, fro_c, frobenius_up(factor)), mul_up(fro_c, factor_error)
        )
        del factor  # the output's norm below needs its own Gram matrix
    else:
        factor, factor_error, total = _propagate(parts, sectors, rule, scales, meet, rng) if meet else (None, 0.0, 1.0)
        # The backward pass draws its estimates as a forward pass would (meet = 0 is then the forward
        # bound of the transposed chain, up to the roundings of the last product).
        back, back_error, back_total = _propagate(
            _transposed_parts(parts, meet + 1),
            _transposed_sectors(sectors, meet),
            rule,
            scales,
            depth - 1 - meet,
            np.random.default_rng(0),
        )
        # G after the backward pass: meanwhile K_k (2 d_k square) is kept, not G (2 d_{k+1} x 2 d_k)
        mapped, error = _input_map(parts, meet, factor, factor_error)
        del factor
        out, rounding = _junction(mapped, error, back, back_error)
        del mapped, back
        total = mul_up(total, back_total)
    if not np.isfinite(out).all():
        raise ArithmeticError("the output map overflowed float64")
    norm = add_up(certified_spectral_norm(out).upper, rounding)
    return mul_up(total, norm)


def smallest_ellipsoid_bound(
    parts: PairParts,
    constants: Sequence[LayerConstants],
    candidates: Sequence[Sectors],
    timings: "dict[str, float] | None" = None,
) -> float:
    """The smallest certified ellipsoid bound over the candidate sectors, for states of at most 512
    coordinates both multiplier rules, and for chains of at least 6 layers two multiplier scales and
    the chain met in the middle (rule "rows", the second scale); ArithmeticError when none completes.
    The seconds spent meeting in the middle go to timings["ellipsoid_meet"]."""
    widest = max(2 * e.shape[0] for e in parts.errors[:-1])  # E_l has W_l's shape (and is stored)
    rules = RULES if widest <= _BOTH_RULES else RULES[:1]
    deep = parts.depth >= _DEEP
    scales = [_MULTIPLIER_TRIALS, _DEEP_TRIALS] if deep else [_MULTIPLIER_TRIALS]
    runs: list[tuple[str, Sequence[float], "int | None"]] = [
        (rule, trials, None) for rule in rules for trials in scales
    ]
    if deep:
        runs.append(("rows", _DEEP_TRIALS, parts.depth // 2))
    values, failures = [], []
    for sectors, (rule, trials, meet) in itertools.product(candidates, runs):
        start = time.perf_counter()
        try:
            values.append(ellipsoid_bound(parts, constants, sectors, rule, trials, meet))
        except ArithmeticError as exc:
            failures.append(str(exc))
        if meet is not None and timings is not None:
            timings["ellipsoid_meet"] = timings.get("ellipsoid_meet", 0.0) + time.perf_counter() - start
    if not values:
        raise ArithmeticError(failures[0])
    return min(values)
