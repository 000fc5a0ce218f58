"""Rounding cells of weights stored in a reduced-precision float format, for exact audit tests.

A weight file stores round(u), not the real number u the hypothesis is about. Under
round-to-nearest (IEEE's default; what `astype(float16)`, `Tensor.to(torch.bfloat16)` and the
safetensors converters do) u lies in the *rounding cell* of its stored value v: between the
midpoints to v's neighbours in the stored format. The audit's exact tests must not treat the
stored grid as continuous data: a bfloat16 magnitude grid has relative spacing 2^-8, so the
Kolmogorov–Smirnov distance of perfectly iid uniform bfloat16 weights from the continuous
uniform is about 2^-9, and is rejected once n exceeds about 10^6 entries; Hogg's common-K
statistic, 2 n log(max ratio), turns a rounding of the maxima by 2^-9 into a rejection at a
few thousand entries. The cells make those tests exact again (`marginal`):

- the KS distance is taken only at cell boundaries, where the empirical distribution of the
  stored values equals that of the real values: a sup over fewer points, so the
  continuous-data null distribution is conservative;
- the maximum of the real values lies in the cell of the stored maximum (rounding is monotone),
  which bounds the scale interval and the smallest Hogg statistic consistent with the data;
- the kurtosis is computed on values redrawn uniformly within their cells (seeded), which
  undoes the rounding except in the top cell.

float64 values are taken as exact (cells of width 0): their rounding is beyond the resolution
of any test at a feasible size. float32 cells matter only for the scale interval and Hogg's
test of layers with more than about 10^7 entries.
"""

from __future__ import annotations

import numpy as np

from ..errors import InputError

__all__ = ["ROUNDED_DTYPES", "DEQUANTISED_DTYPES", "magnitude_cells", "top_cell", "dequantise"]

ROUNDED_DTYPES = ("float16", "bfloat16", "float32")
DEQUANTISED_DTYPES = ("float16", "bfloat16")


def _bfloat16_neighbours(magnitudes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    bits = (magnitudes.astype(np.float32).view(np.uint32) >> 16).astype(np.uint32)
    widen = lambda b: (b.astype(np.uint32) << 16).view(np.float32).astype(np.float64)  # noqa: E731
    below = widen(np.maximum(bits, 1) - 1)
    return np.where(bits == 0, 0.0, below), widen(bits + 1)


def _neighbours(magnitudes: np.ndarray, stored_dtype: str) -> tuple[np.ndarray, np.ndarray]:
    """The representable magnitudes just below (0 below 0) and just above each magnitude."""
    if stored_dtype == "bfloat16":
        return _bfloat16_neighbours(magnitudes)
    kind = np.dtype(stored_dtype).type
    stored = magnitudes.astype(kind)
    below = np.nextafter(stored, kind(0)).astype(np.float64)
    with np.errstate(over="ignore"):
        above = np.nextafter(stored, kind(np.inf)).astype(np.float64)
    return below, above


def magnitude_cells(values: np.ndarray, stored_dtype: str) -> "tuple[np.ndarray, np.ndarray] | None":
    """(lo, hi) per entry, in float64: |u| in [lo, hi] for the real u that rounds to each stored value.

    None for float64 (and any dtype not in ROUNDED_DTYPES): the values are taken as exact."""
    if stored_dtype not in ROUNDED_DTYPES:
        return None
    magnitudes = np.abs(np.asarray(values, dtype=np.float64)).ravel()
    if not np.isfinite(magnitudes).all():
        raise InputError("rounding cells need finite values")
    kind = np.float32 if stored_dtype == "bfloat16" else np.dtype(stored_dtype).type
    represented = magnitudes.astype(kind).astype(np.float64)
    if stored_dtype == "bfloat16":
        represented = np.where((represented.astype(np.float32).view(np.uint32) & 0xFFFF) == 0, represented, np.nan)
    if not np.array_equal(represented, magnitudes):
        raise InputError(f"the values are not all representable in their stored dtype {stored_dtype}")
    below, above = _neighbours(magnitudes, stored_dtype)
    above = np.where(np.isfinite(above), above, 2.0 * magnitudes - below)  # past the largest finite value
    lo = np.where(magnitudes > 0, 0.5 * (below + magnitudes), 0.0)
    return lo, 0.5 * (magnitudes + above)


def top_cell(values: np.ndarray, stored_dtype: str) -> tuple[float, float]:
    """The interval holding the largest real |u|: the rounding cell of the largest stored |w|."""
    top = float(np.max(np.abs(np.asarray(values, dtype=np.float64))))
    cells = magnitude_cells(np.array([top]), stored_dtype)
    return (top, top) if cells is None else (float(cells[0][0]), float(cells[1][0]))


def dequantise(values: np.ndarray, stored_dtype: str, rng: np.random.Generator) -> np.ndarray:
    """Values redrawn uniformly within their rounding cells (16-bit formats; others as they are).

    If the real values are iid U[-a, a], so are the redrawn ones, except those in the cells
    that contain +-a (a fraction about 2^-9 of them in bfloat16, 2^-12 in float16)."""
    w = np.asarray(values, dtype=np.float64)
    if stored_dtype not in DEQUANTISED_DTYPES:
        return w
    cells = magnitude_cells(w, stored_dtype)
    assert cells is not None
    lo, hi = cells
    magnitudes = lo + (hi - lo) * rng.random(lo.size)
    signs = np.where(w.ravel() < 0, -1.0, np.where(w.ravel() > 0, 1.0, rng.choice((-1.0, 1.0), lo.size)))
    return (signs * magnitudes).reshape(w.shape)
