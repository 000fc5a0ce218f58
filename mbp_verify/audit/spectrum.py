"""What an iid matrix's spectrum looks like: the Marchenko–Pastur law and the top singular value.

For W (d_l x d_l-1) with iid entries of variance v, y = d_min / d_max and the eigenvalues of
W W^T normalised to mean one, lambda_i = sigma_i^2 d_min / ||W||_F^2, the empirical distribution
tends to Marchenko–Pastur with ratio y and mean 1, supported on [(1 - sqrt y)^2, (1 + sqrt y)^2],
and sigma_1 -> sqrt(v) (sqrt(d_max) + sqrt(d_min)). Under (iii), v = K^2 / (3 d_max), so
sigma_1 -> (K / sqrt 3)(1 + sqrt(d_min / d_max)). The law depends on the variance only
(universality), so these comparisons separate dependence from the shape of the marginal.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

from ..errors import InputError

__all__ = [
    "mp_edges",
    "mp_density",
    "mp_cdf",
    "normalized_eigenvalues",
    "ks_distance",
    "ks_distance_to_mp",
    "iid_top_singular",
    "SpectrumSummary",
    "spectrum_summary",
]

_GRID = 4097


def _ratio(y: float) -> float:
    if not 0.0 < y <= 1.0:
        raise InputError(f"the aspect ratio d_min / d_max must lie in (0, 1], got {y}")
    return float(y)


def mp_edges(y: float) -> tuple[float, float]:
    """Support [(1 - sqrt y)^2, (1 + sqrt y)^2] of Marchenko–Pastur with ratio y and mean 1."""
    root = math.sqrt(_ratio(y))
    return ((1.0 - root) ** 2, (1.0 + root) ** 2)


def mp_density(x: np.ndarray, y: float) -> np.ndarray:
    """sqrt((b - x)(x - a)) / (2 pi y x) on [a, b], zero elsewhere."""
    a, b = mp_edges(y)
    x = np.asarray(x, dtype=np.float64)
    inside = (x > a) & (x < b) & (x > 0)
    out = np.zeros_like(x)
    out[inside] = np.sqrt((b - x[inside]) * (x[inside] - a)) / (2.0 * math.pi * y * x[inside])
    return out


@functools.lru_cache(maxsize=64)
def _cdf_table(y: float) -> tuple[np.ndarray, np.ndarray]:
    """CDF on a grid, integrated in theta with x = a + (b - a) sin^2(theta): the edge singularities vanish."""
    a, b = mp_edges(y)
    theta = np.linspace(0.0, math.pi / 2, _GRID)
    x = a + (b - a) * np.sin(theta) ** 2
    with np.errstate(divide="ignore", invalid="ignore"):
        integrand = (b - a) ** 2 * (np.sin(theta) * np.cos(theta)) ** 2 / (math.pi * y * x)
    if a == 0.0:  # y = 1: the integrand tends to b cos^2(theta) / pi at theta = 0
        integrand[0] = b / math.pi
    steps = np.diff(theta) * (integrand[1:] + integrand[:-1]) / 2.0
    cdf = np.concatenate([[0.0], np.cumsum(steps)])
    return x, cdf / cdf[-1]


def mp_cdf(x: np.ndarray, y: float) -> np.ndarray:
    """The Marchenko–Pastur distribution function (ratio y, mean 1), accurate to about 1e-7."""
    grid, cdf = _cdf_table(_ratio(y))
    return np.interp(np.asarray(x, dtype=np.float64), grid, cdf, left=0.0, right=1.0)


def normalized_eigenvalues(singular_values: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """lambda_i = sigma_i^2 d_min / sum(sigma^2), sorted ascending (mean exactly 1); row-wise for 2-D input."""
    s = np.sort(np.asarray(singular_values, dtype=np.float64) ** 2, axis=-1)
    total = s.sum(axis=-1, keepdims=True)
    if not (total > 0).all():
        raise InputError("a zero matrix has no spectrum to compare")
    return s * (min(shape) / total)


def ks_distance(cdf_values: np.ndarray) -> "float | np.ndarray":
    """Kolmogorov–Smirnov distance sup |F_empirical - F| from F at the sorted sample (ascending
    along the last axis): max over i of i/n - F_i and F_i - (i-1)/n. One value per row for 2-D input."""
    f = np.asarray(cdf_values, dtype=np.float64)
    if f.ndim not in (1, 2) or f.shape[-1] == 0:
        raise InputError(f"need a non-empty 1-D or 2-D array of distribution-function values, got shape {f.shape}")
    n = f.shape[-1]
    ranks = np.arange(1, n + 1) / n
    distance = np.maximum(np.max(ranks - f, axis=-1), np.max(f - (ranks - 1.0 / n), axis=-1))
    return float(distance) if f.ndim == 1 else distance


def ks_distance_to_mp(eigenvalues: np.ndarray, y: float) -> "float | np.ndarray":
    """sup |F_empirical - F_MP| of normalised eigenvalues (one value per row for 2-D input)."""
    lam = np.sort(np.asarray(eigenvalues, dtype=np.float64), axis=-1)
    return ks_distance(mp_cdf(lam, y))


def iid_top_singular(K: float, shape: tuple[int, int]) -> float:
    """(K / sqrt 3)(1 + sqrt(d_min / d_max)): sigma_1 of an iid U[-K/sqrt(d_max), K/sqrt(d_max)] matrix."""
    if not (math.isfinite(K) and K > 0):
        raise InputError(f"the weight scale K must be positive and finite, got {K!r}")
    if len(shape) != 2 or min(shape) < 1:
        raise InputError(f"need the shape (d_l, d_l-1) of a non-empty matrix, got {tuple(shape)}")
    return K / math.sqrt(3.0) * (1.0 + math.sqrt(min(shape) / max(shape)))


@dataclass(frozen=True, eq=False)
class SpectrumSummary:
    """The full singular spectrum of one matrix against the iid predictions (for tables and plots)."""

    singular_values: np.ndarray  # descending, of W * 2**-shift (the normalised spectrum is scale-free)
    shape: tuple[int, int]
    shift: int = 0  # W's singular values are singular_values * 2**shift

    @property
    def ratio(self) -> float:
        return min(self.shape) / max(self.shape)

    @property
    def eigenvalues(self) -> np.ndarray:
        return normalized_eigenvalues(self.singular_values, self.shape)

    @property
    def top(self) -> float:
        with np.errstate(over="ignore", under="ignore"):
            return float(np.ldexp(self.singular_values[0], self.shift))

    def rescaled(self, shift: int) -> "SpectrumSummary":
        """The spectrum of the matrix times 2**shift (exact: only the exponent is recorded)."""
        return SpectrumSummary(self.singular_values, self.shape, self.shift + shift)

    def predicted_top(self, K: float) -> float:
        return iid_top_singular(K, self.shape)

    @property
    def mp_ks_distance(self) -> float:
        return ks_distance_to_mp(self.eigenvalues, self.ratio)

    @property
    def fraction_above_edge(self) -> float:
        """Share of normalised eigenvalues beyond the Marchenko–Pastur upper edge."""
        return float(np.mean(self.eigenvalues > mp_edges(self.ratio)[1]))


def spectrum_summary(matrix: np.ndarray) -> SpectrumSummary:
    """All singular values (LAPACK gesdd, no vectors): O(d_min^2 d_max) time."""
    w = np.asarray(matrix, dtype=np.float64)
    if w.ndim != 2:
        raise InputError(f"need a 2-D matrix, got shape {w.shape}")
    values = np.sort(np.linalg.svd(w, compute_uv=False))[::-1]
    values.setflags(write=False)
    return SpectrumSummary(values, (int(w.shape[0]), int(w.shape[1])))
