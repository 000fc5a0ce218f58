"""Hypothesis strategies for small conv layers (input up to 3x8x8 features, channels 1-8)."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from mbp_verify.engine import PADDINGS

__all__ = ["conv_cases", "conv_kernel"]

_MAX_FEATURES = 3 * 8 * 8


@st.composite
def conv_cases(draw: st.DrawFn, paddings: "tuple[str, ...]" = PADDINGS, strides: "tuple[int, ...]" = (1, 2)) -> dict:
    """Shapes, stride, padding and a kernel recipe: kernel sizes 1-5, strides 1-2, channels 1-8,
    c_in * H * W <= 192; the kernel's random entries come from `conv_kernel` with rng_for."""
    padding = draw(st.sampled_from(paddings))
    kh, kw = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    low_h, low_w = (kh, kw) if padding == "valid" else (1, 1)
    h, w = draw(st.integers(low_h, 8)), draw(st.integers(low_w, 8))
    c_in = draw(st.integers(1, min(8, _MAX_FEATURES // (h * w))))
    return {
        "kernel_shape": (draw(st.integers(1, 8)), c_in, kh, kw),
        "input_shape": (c_in, h, w),
        "stride": draw(st.sampled_from(strides)),
        "padding": padding,
        "kind": draw(st.sampled_from(["gaussian", "uniform", "integers", "rank_one", "positive"])),
        "trial": draw(st.integers(0, 10**6)),
    }


def conv_kernel(case: dict, rng: np.random.Generator) -> np.ndarray:
    """A kernel of the case's shape: Gaussian, uniform, small integers (ties, cancellations),
    rank one across channels, all positive (the largest singular value at frequency 0), or the
    explicit `values` of a pinned example."""
    shape, kind = case["kernel_shape"], case["kind"]
    if kind == "values":
        return np.array(case["values"], dtype=float).reshape(shape)
    if kind == "gaussian":
        return rng.standard_normal(shape)
    if kind == "uniform":
        return rng.uniform(-1, 1, shape)
    if kind == "integers":
        return rng.integers(-2, 3, shape).astype(float)
    if kind == "rank_one":
        return np.einsum(
            "o,c,ab->ocab", rng.standard_normal(shape[0]), rng.standard_normal(shape[1]), rng.standard_normal(shape[2:])
        )
    return rng.uniform(0, 1, shape)
