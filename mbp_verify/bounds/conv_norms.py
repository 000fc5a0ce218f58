"""Certified operator norms of conv layers, without building the dense operator.

Circular padding, stride 1 (Sedghi, Gupta & Long, ICLR 2019): the 2-D DFT block-diagonalises
the layer; its singular values are the union over frequencies (u, v) of the grid (n1, n2) of
the singular values of the c_out x c_in complex matrices

    P(u, v) = sum_{a, b} K[:, :, a, b] w1^(u a) w2^(v b),    w_i = exp(2 pi i / n_i)

(the padding offset multiplies P(u, v) by a unit scalar and the DFT is unitary up to a
common factor, so neither changes singular values). Hence ||A||_2 = max_{u,v} ||P(u, v)||_2.

Other paddings and strides are bounded by such a circular operator:

- zero padding ('same', offsets p before, q after) is a restriction of the circular layer on
  the enlarged grid n + max(p, q): the input embeds isometrically with zeros, every wrapped
  index lands in the zero band, and the output keeps the first n coordinates;
- 'valid' is the restriction of the circular layer on the input grid itself (no index wraps);
- a stride s keeps every s-th output row and column of the stride-1 layer.

A restriction never increases a norm, so these bounds are sound. On small images the enlarged
grid's wrap-around dominates, and ||A||_F (computed from the kernel and tap counts) is the
smaller bound; the result is the smaller of the two. The power-iteration lower estimate
(`engine.conv` forward and adjoint) makes the remaining gap visible.

Certification. The matrices are computed by a direct DFT (not an FFT) so that the rounding is
elementary: per-axis twiddles come from mpmath at 40 digits (each component within 2u of the
true value, u = 2^-53), a tap's twiddle w1^(ua) w2^(vb) is one float complex product (within
eps_tw = 8u of the exact one: 4u from the inputs, and sqrt(2) (2u + u^2)(1 + 2u)^2 <= 3.1u
from the product), and Re P, Im P are real matrix products of length T = kh*kw. With
Higham's inner-product bound (gamma_T) and the Minkowski inequality, every entry satisfies

    |P~ - P| <= (eps_tw + gamma_T (1 + eps_tw)) S + 3 T eta,    S[o, c] = sum_t |K[o, c, t]|,

(eta = 2^-1074 covers underflow in the products and in the exact power-of-two prescaling of
K), and ||S||_F <= sqrt(T) ||K||_F. So ||P(u, v)||_2 <= ||P~(u, v)||_2 + Delta with Delta the
Frobenius norm of that bound. Each ||P~(u, v)||_2 is certified by `certified_spectral_norm`
on the real 2c_out x 2c_in embedding [[Re, -Im], [Im, Re]] (same singular values, each
twice); P(-u, -v) is the conjugate of P(u, v) for a real kernel, so half the frequencies
suffice.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import mpmath
import numpy as np

from ..engine.conv import ConvGeometry, conv2d, conv2d_adjoint, conv_geometry
from ..errors import InputError
from .rounding import UNDERFLOW_UNIT, UNIT_ROUNDOFF, add_up, frobenius_up, gamma, ldexp_up, mul_up, sqrt_up, up
from .spectral import certified_spectral_norm

__all__ = [
    "ConvNormBound",
    "circular_grid",
    "frequency_matrices",
    "frequency_error_bound",
    "circular_singular_values",
    "certified_circular_norm",
    "frobenius_norm_bound",
    "power_iteration_norm",
    "certified_conv_norm",
]

TWIDDLE_ERROR = 8.0 * UNIT_ROUNDOFF  # |fl twiddle - exact| for one tap (module docstring)


@functools.lru_cache(maxsize=64)
def _unit_roots(n: int) -> tuple[np.ndarray, np.ndarray]:
    """cos and sin of 2 pi k / n, k = 0..n-1, from 40-digit mpmath values rounded to float64."""
    with mpmath.workdps(40):
        cos = np.array([float(mpmath.cospi(mpmath.mpf(2 * k) / n)) for k in range(n)])
        sin = np.array([float(mpmath.sinpi(mpmath.mpf(2 * k) / n)) for k in range(n)])
    cos.setflags(write=False)
    sin.setflags(write=False)
    return cos, sin


def _check_kernel(kernel: np.ndarray) -> np.ndarray:
    array = np.asarray(kernel, dtype=np.float64)
    if array.ndim != 4 or array.size == 0:
        raise InputError(f"a conv kernel is a non-empty 4-D array (c_out, c_in, kh, kw), got shape {array.shape}")
    if not np.isfinite(array).all():
        raise InputError("the conv kernel contains NaN or infinite entries")
    return array


def _check_grid(grid: "tuple[int, int]") -> tuple[int, int]:
    n1, n2 = (int(v) for v in grid)
    if n1 < 1 or n2 < 1:
        raise InputError(f"a frequency grid has positive sizes, got {tuple(grid)}")
    return n1, n2


def circular_grid(geometry: ConvGeometry) -> tuple[int, int]:
    """The grid of the circular stride-1 layer that the layer is a restriction of (docstring)."""
    _, h, w = geometry.input_shape
    if geometry.padding == "zeros":
        (top, bottom), (left, right) = geometry.pads
        return h + max(top, bottom), w + max(left, right)
    return h, w


def frequency_matrices(kernel: np.ndarray, grid: "tuple[int, int]") -> tuple[np.ndarray, np.ndarray]:
    """(Re P~, Im P~), each of shape (n1, n2, c_out, c_in): the computed P(u, v) by direct DFT."""
    k = _check_kernel(kernel)
    n1, n2 = _check_grid(grid)
    c_out, c_in, kh, kw = k.shape
    c1, s1 = _unit_roots(n1)
    c2, s2 = _unit_roots(n2)
    i1 = np.outer(np.arange(kh), np.arange(n1)) % n1  # (kh, n1): index of w1^(u a)
    i2 = np.outer(np.arange(kw), np.arange(n2)) % n2
    a_cos, a_sin = c1[i1][:, None, :, None], s1[i1][:, None, :, None]  # (kh, 1, n1, 1)
    b_cos, b_sin = c2[i2][None, :, None, :], s2[i2][None, :, None, :]  # (1, kw, 1, n2)
    real = (a_cos * b_cos - a_sin * b_sin).reshape(kh * kw, n1 * n2)
    imag = (a_cos * b_sin + a_sin * b_cos).reshape(kh * kw, n1 * n2)
    flat = k.reshape(c_out * c_in, kh * kw)
    shape = (c_out, c_in, n1, n2)
    return ((flat @ real).reshape(shape).transpose(2, 3, 0, 1), (flat @ imag).reshape(shape).transpose(2, 3, 0, 1))


def frequency_error_bound(kernel: np.ndarray) -> float:
    """Delta >= ||P~(u, v) - P(u, v)||_2 for every frequency (module docstring)."""
    k = _check_kernel(kernel)
    c_out, c_in, kh, kw = k.shape
    taps = kh * kw
    beta = add_up(TWIDDLE_ERROR, mul_up(gamma(taps), up(1.0 + TWIDDLE_ERROR)))
    s_frobenius = mul_up(sqrt_up(float(taps)), frobenius_up(k))
    underflow = mul_up(3.0 * taps, sqrt_up(float(c_out * c_in)), UNDERFLOW_UNIT)
    return add_up(mul_up(beta, s_frobenius), underflow)


def _representatives(n1: int, n2: int) -> np.ndarray:
    """Flat indices u*n2 + v holding one of each conjugate pair {(u, v), (-u, -v)}."""
    u, v = np.divmod(np.arange(n1 * n2), n2)
    partner = ((-u) % n1) * n2 + (-v) % n2
    return np.flatnonzero(np.arange(n1 * n2) <= partner)


def circular_singular_values(kernel: np.ndarray, grid: "tuple[int, int]") -> np.ndarray:
    """All singular values of the circular stride-1 layer on `grid`, descending (computed, not
    certified): the union over frequencies of those of P~(u, v)."""
    real, imag = frequency_matrices(kernel, grid)
    values = np.linalg.svd(real + 1j * imag, compute_uv=False)
    return np.sort(values.ravel())[::-1]


def certified_circular_norm(
    kernel: np.ndarray, grid: "tuple[int, int]", *, slack: float = 1e-5
) -> tuple[float, float, float]:
    """(certified upper, computed estimate, Delta) for the circular stride-1 layer on `grid`."""
    k = _check_kernel(kernel)
    largest = float(np.max(np.abs(k)))
    if largest == 0.0:
        return 0.0, 0.0, 0.0
    exponent = math.frexp(largest)[1]
    scaled = np.ldexp(k, -exponent)  # max |entry| in [1/2, 1); subnormal losses are in Delta's eta term
    real, imag = frequency_matrices(scaled, grid)
    n1, n2 = _check_grid(grid)
    c_out, c_in = k.shape[:2]
    real = real.reshape(n1 * n2, c_out, c_in)
    imag = imag.reshape(n1 * n2, c_out, c_in)
    upper, estimate = 0.0, 0.0
    for f in _representatives(n1, n2):
        embedding = np.block([[real[f], -imag[f]], [imag[f], real[f]]])
        bound = certified_spectral_norm(embedding, slack=slack)
        upper, estimate = max(upper, bound.upper), max(estimate, bound.estimate)
    delta = frequency_error_bound(scaled)
    scaled_estimate = math.ldexp(estimate, exponent) if math.frexp(estimate)[1] + exponent <= 1024 else math.inf
    return ldexp_up(add_up(upper, delta), exponent), scaled_estimate, ldexp_up(delta, exponent)


def power_iteration_norm(
    kernel: np.ndarray,
    input_shape: "tuple[int, int, int]",
    stride: int = 1,
    padding: str = "zeros",
    *,
    iterations: int = 50,
    rng: "np.random.Generator | None" = None,
) -> float:
    """||A v|| / ||v|| after `iterations` steps of v <- A^T A v: a lower estimate of ||A||_2
    (exact arithmetic would make it a lower bound; it is not certified)."""
    k = _check_kernel(kernel)
    geometry = conv_geometry(k.shape, input_shape, stride, padding)
    generator = rng if rng is not None else np.random.default_rng(0)
    v = generator.standard_normal(geometry.input_shape)
    value = 0.0
    for _ in range(max(int(iterations), 1)):
        v /= np.linalg.norm(v)
        image = conv2d(v, k, geometry.stride, geometry.padding)
        value = float(np.linalg.norm(image))
        if value == 0.0:
            return 0.0
        v = conv2d_adjoint(image, k, geometry.input_shape, geometry.stride, geometry.padding)
    return value


def frobenius_norm_bound(kernel: np.ndarray, geometry: ConvGeometry) -> float:
    """An upper bound of ||A||_F >= ||A||_2, tight on small images where the circular bound is not.

    Unless circular taps alias (kernel larger than the image), every entry of A is one kernel
    entry, so ||A||_F^2 = sum_{a,b} count(a, b) ||K[:, :, a, b]||_F^2 with count(a, b) the number
    of outputs whose tap (a, b) reads inside the (padded) image. +inf when taps alias.
    """
    k = _check_kernel(kernel)
    _, _, kh, kw = geometry.kernel_shape
    _, h, w = geometry.input_shape
    if geometry.padding == "circular" and (kh > h or kw > w):
        return math.inf
    counts = []
    for size, n, outs, (before, _) in (
        (kh, h, geometry.output_shape[1], geometry.pads[0]),
        (kw, w, geometry.output_shape[2], geometry.pads[1]),
    ):
        index = geometry.stride * np.arange(outs)[None, :] + np.arange(size)[:, None] - before
        inside = np.ones(index.shape, bool) if geometry.padding == "circular" else (index >= 0) & (index < n)
        counts.append(inside.sum(axis=1))
    terms = [
        mul_up(float(counts[0][a] * counts[1][b]), *(2 * [frobenius_up(k[:, :, a, b])]))
        for a in range(kh)
        for b in range(kw)
    ]
    return sqrt_up(add_up(*terms))


@dataclass(frozen=True)
class ConvNormBound:
    """Certified ||A||_2 <= upper for one conv layer A, with a lower estimate and the grid used.

    `upper` is the smaller of the circular bound (`circular`, on `grid`) and `frobenius`."""

    upper: float
    lower: float
    estimate: float
    frequency_error: float
    grid: tuple[int, int]
    exact: bool
    geometry: ConvGeometry
    circular: float
    frobenius: float

    @property
    def gap(self) -> float:
        """upper / lower (1 up to rounding when `exact`; nan without a lower estimate)."""
        return self.upper / self.lower if self.lower > 0 else math.nan

    def to_dict(self) -> dict:
        return {
            "upper": self.upper,
            "lower": self.lower,
            "estimate": self.estimate,
            "frequency_error": self.frequency_error,
            "grid": list(self.grid),
            "exact": self.exact,
            "circular": self.circular,
            "frobenius": self.frobenius,
            "gap": self.gap,
            **self.geometry.to_dict(),
        }


def certified_conv_norm(
    kernel: np.ndarray,
    input_shape: "tuple[int, int, int]",
    stride: int = 1,
    padding: str = "zeros",
    *,
    lower_iterations: int = 50,
    slack: float = 1e-5,
    rng: "np.random.Generator | None" = None,
) -> ConvNormBound:
    """A certified upper bound of the layer's operator norm (exact for circular stride 1; otherwise
    the smaller of the circular and Frobenius bounds), plus a power-iteration lower estimate
    (`lower_iterations=0` skips it: lower is then nan)."""
    k = _check_kernel(kernel)
    geometry = conv_geometry(k.shape, input_shape, stride, padding)
    grid = circular_grid(geometry)
    circular, estimate, delta = certified_circular_norm(k, grid, slack=slack)
    frobenius = frobenius_norm_bound(k, geometry)
    lower = (
        power_iteration_norm(
            k, geometry.input_shape, geometry.stride, geometry.padding, iterations=lower_iterations, rng=rng
        )
        if lower_iterations > 0
        else math.nan
    )
    exact = geometry.padding == "circular" and geometry.stride == 1
    upper = circular if exact else min(circular, frobenius)
    return ConvNormBound(upper, lower, estimate, delta, grid, exact, geometry, circular, frobenius)
