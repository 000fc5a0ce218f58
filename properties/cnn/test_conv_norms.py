"""Certified conv operator norms against the SVD of the unfolded dense operator.

Every certified norm must be >= the largest singular value of the dense operator; for circular
padding and stride 1 the spectrum from the frequency matrices (Sedghi, Gupta & Long 2019) must
equal the dense spectrum, and the certified norm its maximum, within 1e-12 relative. The
negative control shows that the matrix the audit reshapes a kernel into, (c_out, c_in*kh*kw),
is not the operator (its norm is below the operator's on some layers and above on others), and
that the check used here rejects an estimate that is too small. Deterministic (false-failure
rate 0): numpy's SVD of these <= 512 x 192 matrices errs by ~1e-15 relative, and the checks
allow 1e-12.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import example, given, settings

from mbp_verify.bounds.conv_norms import certified_conv_norm, circular_singular_values
from mbp_verify.engine import unfold_conv
from mbp_verify.seeding import rng_for
from mbp_verify.suite import mbp_property

from .strategies import conv_cases, conv_kernel

_TOLERANCE = 1e-12  # relative: numpy's SVD of the reference is accurate to ~1e-15
_SLACK = 1e-13  # certificate slack asked of certified_spectral_norm (its default 1e-5 is for speed)


def check_upper(upper: float, dense_norm: float) -> None:
    """The soundness check of this module: a claimed upper bound must not be below the dense norm
    (beyond the reference's own rounding)."""
    assert upper >= dense_norm * (1 - _TOLERANCE), f"claimed upper {upper!r} < dense operator norm {dense_norm!r}"


def _dense_spectrum(kernel: np.ndarray, case: dict) -> np.ndarray:
    return np.linalg.svd(unfold_conv(kernel, case["input_shape"], case["stride"], case["padding"]), compute_uv=False)


@mbp_property(
    id="cnn.circular_norm_exact",
    statement="circular padding, stride 1: the frequency-matrix spectrum equals the unfolded operator's, and the "
    "certified norm is >= and within 1e-12 of its largest value",
    source="Sedghi, Gupta & Long, The singular values of convolutional layers, ICLR 2019 (docs/cnn.md)",
)
@given(case=conv_cases(paddings=("circular",), strides=(1,)))
@example(
    case={
        "kernel_shape": (3, 1, 5, 4),
        "input_shape": (1, 2, 3),
        "stride": 1,
        "padding": "circular",
        "kind": "positive",
        "trial": 1,
    }
)  # kernel larger than the image: aliased taps
def test_circular_norm_exact(case, mbp_root_seed, mbp_evidence):
    kernel = conv_kernel(case, rng_for(mbp_root_seed, "cnn.circular_norm_exact", case["trial"]))
    dense = _dense_spectrum(kernel, case)
    values = circular_singular_values(kernel, case["input_shape"][1:])
    assert values.shape == dense.shape
    assert np.abs(values - dense).max() <= _TOLERANCE * dense[0]
    bound = certified_conv_norm(kernel, case["input_shape"], 1, "circular", slack=_SLACK, lower_iterations=0)
    assert bound.exact
    check_upper(bound.upper, dense[0])
    assert bound.upper <= dense[0] * (1 + _TOLERANCE) + 1e-300
    mbp_evidence["worst_upper_over_dense"] = max(
        mbp_evidence.get("worst_upper_over_dense", 1.0), bound.upper / max(dense[0], 1e-300)
    )


@mbp_property(
    id="cnn.zero_padding_norm_sound",
    statement="for every padding (zeros, circular, valid) and stride 1-2 the certified conv norm is >= the unfolded "
    "operator's largest singular value >= the power-iteration lower estimate",
    source="docs/cnn.md: restriction of a circular operator on an enlarged grid; strided rows are a subset",
)
@given(case=conv_cases())
@example(
    case={
        "kernel_shape": (1, 1, 3, 3),
        "input_shape": (1, 1, 1),
        "stride": 1,
        "padding": "zeros",
        "kind": "positive",
        "trial": 2,
    }
)  # only the centre tap acts on a 1x1 image
@example(
    case={
        "kernel_shape": (1, 1, 1, 2),
        "input_shape": (1, 1, 1),
        "stride": 1,
        "padding": "zeros",
        "kind": "values",
        "values": [-2, 2],
        "trial": 0,
    }
)  # circular on the image's own grid: norm 0 < 2
@example(
    case={
        "kernel_shape": (1, 1, 4, 4),
        "input_shape": (1, 5, 5),
        "stride": 1,
        "padding": "zeros",
        "kind": "values",
        "values": [-2, 0, -2, 1, 1, 1, 0, -1, -1, 0, 0, 1, 2, -1, 2, -2],
        "trial": 0,
    }
)  # same grid: 1.19x too small
@example(
    case={
        "kernel_shape": (1, 1, 2, 2),
        "input_shape": (1, 5, 5),
        "stride": 1,
        "padding": "zeros",
        "kind": "values",
        "values": [2, 0, 0, -1],
        "trial": 0,
    }
)  # grid n + min(p, q): 1.01x too small
def test_zero_padding_norm_sound(case, mbp_root_seed, mbp_evidence):
    rng = rng_for(mbp_root_seed, "cnn.zero_padding_norm_sound", case["trial"])
    kernel = conv_kernel(case, rng)
    dense = _dense_spectrum(kernel, case)[0]
    bound = certified_conv_norm(
        kernel, case["input_shape"], case["stride"], case["padding"], lower_iterations=30, rng=rng
    )
    check_upper(bound.upper, dense)
    assert bound.lower <= dense * (1 + _TOLERANCE) + 1e-300
    if dense > 0:
        mbp_evidence["worst_upper_over_dense"] = max(
            mbp_evidence.get("worst_upper_over_dense", 1.0), bound.upper / dense
        )


def _reshape_norm(kernel: np.ndarray) -> float:
    return float(np.linalg.norm(kernel.reshape(kernel.shape[0], -1), 2))


@mbp_property(
    id="cnn.reshape_norm_not_a_bound",
    statement="negative control: the (c_out, c_in*kh*kw) reshape's norm is below the operator norm on some layers "
    "and above it on others, and the check rejects it and any too-small estimate",
    source="docs/cnn.md (the audit's reshaped kernel matrix is not the operator)",
)
def test_reshape_norm_not_a_bound():
    ones = np.ones((1, 1, 3, 3))  # circular on 4x4: the operator norm is |sum K| = 9, the reshape's is 3
    operator = _dense_spectrum(ones, {"input_shape": (1, 4, 4), "stride": 1, "padding": "circular"})[0]
    assert abs(operator - 9.0) < 1e-12 and abs(_reshape_norm(ones) - 3.0) < 1e-12
    with pytest.raises(AssertionError, match="claimed upper"):
        check_upper(_reshape_norm(ones), operator)
    # A 1x1 image with zero padding sees only the centre tap: the reshape's norm is 3 times too large.
    tiny = _dense_spectrum(ones, {"input_shape": (1, 1, 1), "stride": 1, "padding": "zeros"})[0]
    assert abs(tiny - 1.0) < 1e-12 and _reshape_norm(ones) > 2.9 * tiny
    # The check also rejects a certified-looking value a hair too small.
    bound = certified_conv_norm(ones, (1, 4, 4), 1, "circular", lower_iterations=0)
    check_upper(bound.upper, operator)
    with pytest.raises(AssertionError, match="claimed upper"):
        check_upper(operator * (1 - 1e-9), operator)


@pytest.mark.slow
@mbp_property(
    id="cnn.conv_norms_sound_thorough",
    statement="certified conv norms >= the dense norm over 2000 fuzzed layers (all paddings, strides 1-2, kernels "
    "1-5, channels 1-8)",
    source="docs/cnn.md (certified norms against the dense reference)",
)
@settings(max_examples=2000)
@given(case=conv_cases())
def test_conv_norms_sound_thorough(case, mbp_root_seed):
    rng = rng_for(mbp_root_seed, "cnn.conv_norms_sound_thorough", case["trial"])
    kernel = conv_kernel(case, rng) * 2.0 ** int(rng.integers(-60, 60))
    dense = _dense_spectrum(kernel, case)[0]
    bound = certified_conv_norm(kernel, case["input_shape"], case["stride"], case["padding"], lower_iterations=0)
    check_upper(bound.upper, dense)
    if bound.exact:
        assert bound.upper <= dense * (1 + 1e-4) + 1e-300
