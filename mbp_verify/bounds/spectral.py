"""Certified upper bounds of spectral norms ||A||_2 in float64.

Power iteration and Lanczos give *lower* estimates of ||A||_2; they pick a candidate, and a
floating-point Cholesky factorisation proves it. With G = fl(A^T A) (the smaller Gram matrix,
inner dimension m) and a float tau:

0. A is first scaled by a power of two so that max |a_ij| lies in [1/2, 1): the Gram matrix
   cannot overflow, and the bound is scaled back exactly at the end (`exact_upper`, a rational;
   `upper` is its float64 rounded upwards, +inf beyond the float64 range). The scaling is exact
   unless entries fall below 2^-1074; those move by <= 2^-1075 each, and sqrt(changed) 2^-1074
   is added to the scaled bound.
1. Gram rounding: |G - A^T A| <= gamma_m |A|^T |A| + m eta entrywise (underflowed products
   lose at most eta each), so ||G - A^T A||_2 <= delta := gamma_{m+1} ||A||_F^2 + n (m + 1) eta
   (Higham 2002, section 3.5).
2. C = fl(tau I - G) changes only the diagonal: |C - (tau I - G)| <= u |C_ii| / (1 - u).
3. If the float Cholesky of C runs to completion, R^T R = C + dC with |dC| <= gamma_{n+1}
   |R|^T |R| (Higham 2002, Theorem 10.3, any inner-product order, so also blocked LAPACK),
   and ||R||_F^2 <= tr(C) / (1 - gamma_{n+1}); hence
   lambda_min(C) >= -rho, rho = gamma_{n+1} tr(C) / (1 - gamma_{n+1}) + 4 n (2(n+1) + max C_ii) eta
   (the same constant as Rump, "Verification of positive definiteness", BIT 46 (2006),
   including his underflow term with eta = 2^-1074).

Together lambda_max(A^T A) <= tau + rho + u max|C_ii| / (1 - u) + delta =: T, and
||A||_2 <= sqrt(T), every step rounded upwards. The margin is relative ~ (n + m) u times
||A||_F^2 / ||A||_2^2, i.e. below 1e-9 for the matrices of this project; the candidate tau is
the Lanczos estimate times (1 + slack), so the bound is within ~slack/2 of ||A||_2 (1e-5 by
default: tighter costs Lanczos steps and buys nothing at the scale of the bracket's ratio).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import scipy.linalg
import scipy.linalg.lapack
import scipy.sparse
import scipy.sparse.linalg

from ..errors import InputError
from .rounding import (
    UNDERFLOW_UNIT,
    UNIT_ROUNDOFF,
    add_up,
    cholesky_error_up,
    frobenius_up,
    gram_error_up,
    ldexp_up,
    mul_up,
    sqrt_up,
    up,
)

__all__ = [
    "SpectralBound",
    "certified_spectral_norm",
    "certified_norm_from_gram",
    "certify_gram",
    "gram_matrix",
    "in_safe_range",
]

_DENSE_EIGEN_LIMIT = 160  # below this size a full symmetric eigensolve is cheaper than Lanczos
_MAX_ATTEMPTS = 12
_DEFAULT_SLACK = 1e-5
# Entries in this range keep every Gram entry's underflow (<= n eta) far below its gamma term.
_SAFE_RANGE = (2.0**-300, 2.0**300)


@dataclass(frozen=True, eq=False)
class SpectralBound:
    """A certified ||A||_2 <= upper, with the estimate it was proved from and its direction."""

    upper: float
    estimate: float
    right_vector: np.ndarray  # approximately the top right singular vector of A (unit norm)
    attempts: int
    mantissa: "float | None" = None  # ||A||_2 <= mantissa * 2^exponent exactly (None: upper itself)
    exponent: int = 0

    @property
    def exact_upper(self) -> Fraction:
        """The certified bound as an exact rational (also beyond the float64 range)."""
        return Fraction(self.upper if self.mantissa is None else self.mantissa) * Fraction(2) ** self.exponent

    def to_dict(self) -> dict[str, float]:
        return {"upper": self.upper, "estimate": self.estimate, "attempts": self.attempts}


def _as_matrix(matrix: "np.ndarray | scipy.sparse.spmatrix") -> "np.ndarray | scipy.sparse.csr_array":
    if scipy.sparse.issparse(matrix):
        sparse = scipy.sparse.csr_array(matrix, dtype=np.float64)
        values = sparse.data
        if sparse.ndim != 2:
            raise InputError(f"need a 2-D matrix, got shape {sparse.shape}")
    else:
        sparse = np.asarray(matrix, dtype=np.float64)
        values = sparse
        if sparse.ndim != 2:
            raise InputError(f"need a 2-D matrix, got shape {sparse.shape}")
    if not np.isfinite(values).all():
        raise InputError("the matrix contains NaN or infinite entries")
    return sparse


def gram_matrix(matrix: "np.ndarray | scipy.sparse.spmatrix") -> tuple[np.ndarray, bool]:
    """The smaller Gram matrix as a dense array, and whether it is A^T A (True) or A A^T."""
    rows, cols = matrix.shape
    right = rows >= cols
    if scipy.sparse.issparse(matrix):
        dense = matrix.toarray()  # sparse x dense costs nnz * n, and the Gram is dense anyway
        product = (matrix.T @ dense) if right else (matrix @ dense.T)
        return np.asarray(product, dtype=np.float64), right
    return (matrix.T @ matrix) if right else (matrix @ matrix.T), right


def _top_eigenpair(gram: np.ndarray, rng: np.random.Generator, slack: float) -> tuple[float, np.ndarray]:
    n = gram.shape[0]
    if n <= _DENSE_EIGEN_LIMIT:
        values, vectors = np.linalg.eigh(gram)
        return float(values[-1]), vectors[:, -1]
    start = rng.standard_normal(n)
    values, vectors = scipy.sparse.linalg.eigsh(gram, k=1, which="LA", tol=slack / 4, v0=start, ncv=min(n, 24))
    return float(values[0]), vectors[:, 0]


_BLOCK = 64  # columns per step when the working triangle is refilled (bounds the temporaries)


def _work_buffer(gram: np.ndarray, overwrite: bool) -> np.ndarray:
    """An F-ordered n x n buffer A (`gram`'s own memory when `overwrite` allows it) whose strict
    upper triangle holds G's strict lower one: A[j, i] = G[i, j] for i > j. Cholesky then works in
    A's lower triangle, which `_refill` sets from the upper one before every attempt."""
    if overwrite and gram.flags.c_contiguous:
        return gram.T  # A[j, i] = G[i, j] already: no copy at all
    buffer = gram if overwrite and gram.flags.f_contiguous else np.array(gram, order="F")
    n = buffer.shape[0]
    for start in range(0, n, _BLOCK):
        stop = min(n, start + _BLOCK)
        block = buffer[start:stop, start:stop]
        upper = np.triu_indices(stop - start, 1)
        block[upper] = block.T[upper]
        buffer[start:stop, stop:] = buffer[stop:, start:stop].T
    return buffer


def _refill(work: np.ndarray, diagonal: np.ndarray) -> None:
    """work's lower triangle := -(strict upper).T, its diagonal := `diagonal` (exact negations)."""
    n = work.shape[0]
    for start in range(0, n, _BLOCK):
        stop = min(n, start + _BLOCK)
        np.negative(work[start:stop, stop:].T, out=work[stop:, start:stop])
        block = work[start:stop, start:stop]
        lower = np.tril_indices(stop - start, -1)
        block[lower] = -block.T[lower]
    work[np.diag_indices(n)] = diagonal


def _certify(work: np.ndarray, gram_diagonal: np.ndarray, tau: float) -> "float | None":
    """T >= lambda_max of the Gram problem G stands for, if Cholesky of fl(tau I - G) succeeds.
    `work` is the buffer of `_work_buffer` (potrf reads and overwrites its lower triangle only)."""
    n = work.shape[0]
    diagonal = tau - gram_diagonal
    _refill(work, diagonal)
    _, info = scipy.linalg.lapack.dpotrf(work, lower=1, clean=0, overwrite_a=1)
    if info != 0:
        if info < 0:
            raise ArithmeticError(f"LAPACK dpotrf rejected argument {-info}")
        return None
    largest = float(np.max(np.abs(diagonal)))
    rho = cholesky_error_up(n, diagonal)
    diagonal_rounding = up(mul_up(UNIT_ROUNDOFF, largest) / (1.0 - UNIT_ROUNDOFF))
    return add_up(tau, rho, diagonal_rounding)


def _ldexp(value: float, exponent: int) -> float:
    """value * 2^exponent (rounded to nearest below 2^-1022, +inf on overflow): for estimates only."""
    try:
        return math.ldexp(value, exponent)
    except OverflowError:
        return math.inf


def in_safe_range(matrix: "np.ndarray | scipy.sparse.csr_array") -> bool:
    """Whether the largest |entry| lies in [2^-300, 2^300] (or the matrix is zero): then Gram
    products neither overflow nor lose more to underflow than their gamma term covers."""
    values = matrix.data if scipy.sparse.issparse(matrix) else np.asarray(matrix)
    if values.size == 0 or not values.any():
        return True
    largest = float(np.max(np.abs(values)))
    return _SAFE_RANGE[0] <= largest <= _SAFE_RANGE[1]


def certified_norm_from_gram(
    matrix: "np.ndarray | scipy.sparse.csr_array",
    gram: np.ndarray,
    right: bool,
    *,
    rng: "np.random.Generator | None" = None,
    overwrite: bool = False,
) -> SpectralBound:
    """Like `certified_spectral_norm` for an A (dense or sparse) whose Gram (A^T A if `right`, else
    A A^T) was computed by one float64 product (inner products in any order); falls back to it
    (prescaled) when the Gram is not finite, A's entries leave the safe range, or A = 0. With
    `overwrite` the certificate works in the Gram's own memory (`certify_gram`)."""
    values = matrix.data if scipy.sparse.issparse(matrix) else matrix
    if not (np.isfinite(gram).all() and in_safe_range(matrix)) or not values.any():
        return certified_spectral_norm(matrix, rng=rng)
    return _from_gram(matrix, gram, right, slack=_DEFAULT_SLACK, rng=rng, overwrite=overwrite)


def _from_gram(
    a: "np.ndarray | scipy.sparse.csr_array",
    gram: np.ndarray,
    right: bool,
    *,
    slack: float,
    rng: "np.random.Generator | None",
    overwrite: bool = False,
) -> SpectralBound:
    """The certificate of a non-zero A from its computed Gram matrix (A^T A if `right`, else A A^T)."""
    rows, cols = a.shape
    fro = frobenius_up(a.data if scipy.sparse.issparse(a) else a)
    delta = gram_error_up(gram.shape[0], (rows if right else cols) + 1, fro, fro)
    upper, estimate, vector, attempts = certify_gram(gram, delta, slack=slack, rng=rng, overwrite=overwrite)
    if not right:  # the top right singular vector is A^T u / ||A^T u||
        vector = np.asarray(a.T @ vector).ravel()
    norm = float(np.linalg.norm(vector))
    direction = vector / norm if norm > 0 else np.eye(cols, 1).ravel()
    return SpectralBound(upper, estimate, direction, attempts)


def certify_gram(
    gram: np.ndarray,
    delta: float,
    *,
    slack: float = _DEFAULT_SLACK,
    rng: "np.random.Generator | None" = None,
    overwrite: bool = False,
) -> tuple[float, float, np.ndarray, int]:
    """For a computed Gram G with ||G - A^T A||_2 <= delta: (upper of ||A||_2, estimate, top
    eigenvector of G, attempts). Only the lower triangle of G is read by the certificate. With
    `overwrite` the Cholesky attempts work in G's own memory (G is garbage afterwards), else in
    one copy of it."""
    generator = rng if rng is not None else np.random.default_rng(0)
    estimate, vector = _top_eigenpair(gram, generator, slack)
    gram_diagonal = np.diag(gram).copy()
    scale = max(estimate, float(np.max(gram_diagonal)), np.finfo(float).tiny)
    tau = up(max(estimate, 0.0) * (1.0 + slack) + slack * scale * 1e-3)
    work = _work_buffer(gram, overwrite)
    for attempt in range(1, _MAX_ATTEMPTS + 1):
        bound = _certify(work, gram_diagonal, tau)
        if bound is not None:
            return sqrt_up(add_up(bound, delta)), float(np.sqrt(max(estimate, 0.0))), vector, attempt
        tau = up(tau + scale * slack * 8.0**attempt)
    raise ArithmeticError("the spectral-norm certificate did not succeed; the matrix is numerically degenerate")


def certified_spectral_norm(
    matrix: "np.ndarray | scipy.sparse.spmatrix",
    *,
    slack: float = _DEFAULT_SLACK,
    rng: "np.random.Generator | None" = None,
) -> SpectralBound:
    """A float64-sound upper bound of ||A||_2 (dense or scipy.sparse), within ~`slack` of it."""
    if not (0 < slack < 1):
        raise InputError(f"slack must lie in (0, 1), got {slack}")
    a = _as_matrix(matrix)
    cols = a.shape[1]
    values = a.data if scipy.sparse.issparse(a) else a
    largest = float(np.max(np.abs(values))) if values.size else 0.0
    if largest == 0.0:
        return SpectralBound(0.0, 0.0, np.eye(cols, 1).ravel() if cols else np.zeros(0), 0)
    # Scaling by a power of two keeps the Gram matrix far from overflow: the bound is certified
    # for 2^-e A (plus what underflowed entries lost), then multiplied back exactly.
    exponent = math.frexp(largest)[1]
    original = a.data if scipy.sparse.issparse(a) else a
    if scipy.sparse.issparse(a):
        a = a.copy()
        a.data = np.ldexp(a.data, -exponent)
        scaled = a.data
    else:
        a = np.ldexp(a, -exponent)
        scaled = a
    changed = int(np.count_nonzero(np.ldexp(scaled, exponent) != original))
    bound = _from_gram(a, *gram_matrix(a), slack=slack, rng=rng, overwrite=True)
    mantissa = add_up(bound.upper, mul_up(sqrt_up(float(changed)), UNDERFLOW_UNIT)) if changed else bound.upper
    return dataclasses.replace(
        bound,
        upper=ldexp_up(mantissa, exponent),
        estimate=_ldexp(bound.estimate, exponent),
        mantissa=mantissa,
        exponent=exponent,
    )
