"""Matrix products with a certified bound of their rounding error.

A `Tracked` matrix is a computed float64 array `value` with `error` >= ||value - exact||_2,
where `exact` is the product of the exact (stored) weight matrices it stands for. Each
product adds the rounding of one matrix multiplication (`rounding.matmul_error_up`) and
propagates the incoming error through the exact left factor (bounded by its certified norm).
Bounds computed from `value` are then widened by `error` to hold for `exact`.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import scipy.sparse

from .rounding import UNIT_ROUNDOFF, add_up, frobenius_up, matmul_error_up, mul_up

__all__ = ["Tracked", "exact", "left_multiply", "combine"]


@dataclass(frozen=True, eq=False)
class Tracked:
    """A computed matrix and a bound of its spectral-norm distance to the exact one."""

    value: "np.ndarray | scipy.sparse.csr_array"
    error: float

    @property
    def shape(self) -> tuple[int, int]:
        return self.value.shape  # type: ignore[return-value]

    @functools.cached_property
    def frobenius(self) -> float:
        """An upper bound of ||value||_F (computed once)."""
        return frobenius_up(self.value.data if scipy.sparse.issparse(self.value) else self.value)


def exact(matrix: "np.ndarray | scipy.sparse.csr_array") -> Tracked:
    """A stored matrix, dense or sparse (no rounding yet; negation is exact)."""
    if scipy.sparse.issparse(matrix):
        return Tracked(matrix, 0.0)
    return Tracked(np.asarray(matrix, dtype=np.float64), 0.0)


def left_multiply(
    left: "np.ndarray | scipy.sparse.csr_array", left_norm: float, right: Tracked, left_frobenius: float
) -> Tracked:
    """left @ right.value, with ||left||_2 <= left_norm and ||left||_F <= left_frobenius (right may be
    any object with `value`, `error` and `frobenius`, e.g. a layer read when needed)."""
    product = left @ right.value
    value = np.asarray(product.toarray() if scipy.sparse.issparse(product) else product, dtype=np.float64)
    rounding = matmul_error_up(left.shape[1], value.size, left_frobenius, right.frobenius)
    return Tracked(value, add_up(mul_up(left_norm, right.error), rounding))


def combine(first: Tracked, second: Tracked, sign: float = 1.0) -> Tracked:
    """first + sign * second (sign = +-1), one rounding per entry: u ||result||_F / (1 - u)."""
    value = first.value + second.value if sign > 0 else first.value - second.value
    rounding = mul_up(frobenius_up(value), UNIT_ROUNDOFF / (1.0 - UNIT_ROUNDOFF))
    return Tracked(value, add_up(first.error, second.error, rounding))
