"""Certified conv norms against the unfolded dense operator (numpy SVD, 30-digit mpmath SVD) and an
exact DFT of the kernel at 40 digits."""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest

from mbp_verify.bounds.conv_norms import (
    certified_circular_norm,
    certified_conv_norm,
    circular_grid,
    circular_singular_values,
    frequency_error_bound,
    frequency_matrices,
    frobenius_norm_bound,
    power_iteration_norm,
)
from mbp_verify.engine import conv_geometry, unfold_conv
from mbp_verify.errors import InputError


def _dense_norm(kernel, shape, stride, padding) -> float:
    return float(np.linalg.svd(unfold_conv(kernel, shape, stride, padding), compute_uv=False)[0])


def test_frequency_matrices_within_the_stated_error_of_the_exact_dft():
    rng = np.random.default_rng(0)
    kernel = rng.standard_normal((2, 3, 3, 2)) * np.array([1.0, 1e-8, 1e5])[None, :, None, None]
    n1, n2 = 5, 4
    real, imag = frequency_matrices(kernel, (n1, n2))
    delta = frequency_error_bound(kernel)
    worst = 0.0
    with mpmath.workdps(40):
        for u in range(n1):
            for v in range(n2):
                error = mpmath.matrix(2, 3)
                for o in range(2):
                    for c in range(3):
                        exact = mpmath.fsum(
                            mpmath.mpf(float(kernel[o, c, a, b]))
                            * mpmath.expjpi(mpmath.mpf(2 * u * a) / n1 + mpmath.mpf(2 * v * b) / n2)
                            for a in range(3)
                            for b in range(2)
                        )
                        error[o, c] = mpmath.mpc(real[u, v, o, c], imag[u, v, o, c]) - exact
                worst = max(worst, float(mpmath.mnorm(error, "F")))
    assert 0 < worst <= delta, (worst, delta)
    assert delta < 1e-13 * np.linalg.norm(kernel)  # a rounding bound, not a placeholder


@pytest.mark.parametrize("shape,grid", [((2, 3, 3, 3), (8, 8)), ((4, 2, 5, 1), (3, 7)), ((1, 1, 2, 2), (1, 1))])
def test_circular_spectrum_is_the_dense_spectrum(shape, grid):
    kernel = np.random.default_rng(1).standard_normal(shape)
    dense = np.linalg.svd(unfold_conv(kernel, (shape[1],) + grid, 1, "circular"), compute_uv=False)
    values = circular_singular_values(kernel, grid)
    assert values.size == dense.size
    np.testing.assert_allclose(values, dense, rtol=0, atol=1e-12 * dense[0])


@pytest.mark.parametrize("padding", ["zeros", "circular", "valid"])
@pytest.mark.parametrize("stride", [1, 2])
def test_certified_norm_brackets_the_dense_norm(padding, stride):
    rng = np.random.default_rng(stride)
    for shape, image in [((3, 2, 3, 3), (2, 6, 6)), ((2, 3, 5, 2), (3, 5, 7)), ((4, 1, 1, 1), (1, 3, 3))]:
        kernel = rng.standard_normal(shape)
        exact = _dense_norm(kernel, image, stride, padding)
        bound = certified_conv_norm(kernel, image, stride, padding, slack=1e-12)
        assert bound.lower <= exact * (1 + 1e-12) and exact <= bound.upper
        if padding == "circular" and stride == 1:
            assert bound.exact and bound.upper <= exact * (1 + 1e-12)
        else:
            assert not bound.exact


def test_zero_padding_gap_is_real():
    """On a small image the enlarged circular grid over-estimates a zero-padded layer; the Frobenius
    bound is then smaller, and the lower estimate shows the remaining gap."""
    kernel = np.ones((1, 1, 3, 3))
    bound = certified_conv_norm(kernel, (1, 3, 3), 1, "zeros", lower_iterations=200)
    exact = _dense_norm(kernel, (1, 3, 3), 1, "zeros")
    assert bound.grid == (4, 4) and bound.circular >= 9.0 > exact  # DC frequency of the enlarged grid
    assert bound.frobenius == pytest.approx(7.0, rel=1e-15) and bound.upper == bound.frobenius  # taps hit 2, 3, 2 rows
    assert abs(bound.lower - exact) <= 1e-9 * exact and bound.gap > 1.1
    large = certified_conv_norm(kernel, (1, 16, 16), 1, "zeros", lower_iterations=0)
    assert large.upper == large.circular < large.frobenius  # on larger images the circular bound wins


@pytest.mark.parametrize("padding", ["zeros", "circular", "valid"])
@pytest.mark.parametrize("stride", [1, 2])
def test_frobenius_bound_is_the_dense_frobenius_norm(padding, stride):
    rng = np.random.default_rng(11)
    for shape, image in [((3, 2, 3, 3), (2, 6, 6)), ((2, 3, 5, 2), (3, 5, 7)), ((2, 2, 2, 4), (2, 4, 4))]:
        kernel = rng.standard_normal(shape)
        bound = frobenius_norm_bound(kernel, conv_geometry(shape, image, stride, padding))
        exact = float(np.linalg.norm(unfold_conv(kernel, image, stride, padding)))
        assert exact <= bound <= exact * (1 + 1e-13)


def test_frobenius_bound_refuses_aliased_circular_taps():
    """A circular kernel larger than the image adds several taps into one entry: the tap-count
    formula would not bound ||A||_F, so the bound is +inf (and the circular bound is used)."""
    kernel = np.ones((1, 1, 5, 1))
    geometry = conv_geometry(kernel.shape, (1, 3, 3), 2, "circular")
    assert frobenius_norm_bound(kernel, geometry) == math.inf
    assert np.linalg.norm(unfold_conv(kernel, (1, 3, 3), 2, "circular")) > np.sqrt(5 * 2 * 2)  # what the formula gives


def test_mpmath_reference_on_small_operators():
    rng = np.random.default_rng(3)
    for kernel, image, padding in [
        (rng.standard_normal((2, 1, 2, 2)), (1, 3, 3), "zeros"),
        (rng.standard_normal((1, 2, 3, 1)), (2, 3, 2), "circular"),
    ]:
        dense = unfold_conv(kernel, image, 1, padding)
        with mpmath.workdps(30):
            exact = max(mpmath.svd_r(mpmath.matrix(dense.tolist()), compute_uv=False))
        bound = certified_conv_norm(kernel, image, 1, padding, slack=1e-12)
        assert mpmath.mpf(bound.upper) >= exact


@pytest.mark.parametrize("exponent", [-1070, -1062, -1040, -600, 0, 600, 1000])
def test_extreme_scales_stay_sound(exponent):
    """Kernels scaled by a power of two, down to subnormal entries: the bound stays above the norm of
    the stored kernel (30-digit SVD of its exactly rescaled copy), and scales like the norm."""
    rng = np.random.default_rng(4)
    for _ in range(12 if exponent < -1022 else 2):
        kernel = np.ldexp(rng.standard_normal((2, 1, 3, 3)), exponent)
        rescaled = np.ldexp(kernel, -exponent)  # exact: the stored kernel times 2^-exponent
        upper, _, _ = certified_circular_norm(kernel, (3, 3))
        with mpmath.workdps(30):
            dense = mpmath.matrix(unfold_conv(rescaled, (1, 3, 3), 1, "circular").tolist())
            exact = mpmath.ldexp(max(mpmath.svd_r(dense, compute_uv=False)), exponent)
        assert exact <= mpmath.mpf(upper)
        if exponent > -1000:
            assert mpmath.mpf(upper) <= exact * (1 + 1e-4)


def test_zero_kernel_and_bad_input():
    assert certified_conv_norm(np.zeros((2, 2, 3, 3)), (2, 4, 4)).upper == 0.0
    assert power_iteration_norm(np.zeros((2, 2, 3, 3)), (2, 4, 4)) == 0.0
    with pytest.raises(InputError, match="NaN"):
        certified_conv_norm(np.full((1, 1, 3, 3), np.inf), (1, 4, 4))
    with pytest.raises(InputError, match="4-D"):
        certified_conv_norm(np.ones((3, 3)), (1, 4, 4))
    with pytest.raises(InputError, match="input channels"):
        certified_conv_norm(np.ones((1, 2, 3, 3)), (1, 4, 4))


def test_grid_rule():
    assert circular_grid(conv_geometry((1, 1, 3, 3), (1, 8, 8), 1, "zeros")) == (9, 9)
    assert circular_grid(conv_geometry((1, 1, 4, 2), (1, 8, 8), 2, "zeros")) == (10, 9)
    assert circular_grid(conv_geometry((1, 1, 3, 3), (1, 8, 6), 2, "valid")) == (8, 6)
    assert circular_grid(conv_geometry((1, 1, 3, 3), (1, 8, 6), 2, "circular")) == (8, 6)
