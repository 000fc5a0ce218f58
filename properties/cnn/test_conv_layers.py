"""Conv layers and conv networks: the forward pass against torch, the adjoint against the unfolded
operator, networks against their dense unfolding, and Theorem 1's count over kernels.

References are independent: torch's conv2d on an explicitly padded input, the dense matrix built
column by column from the basis, and the count's defining integer inequality. Deterministic
properties (false-failure rate 0).
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from mbp_verify.engine import conv2d, conv2d_adjoint, conv_geometry, prune_network, sample_conv_network, unfold_conv
from mbp_verify.seeding import rng_for
from mbp_verify.suite import mbp_property

from .strategies import conv_cases, conv_kernel


def _torch_reference(x: np.ndarray, kernel: np.ndarray, stride: int, padding: str) -> np.ndarray:
    torch = pytest.importorskip("torch")
    g = conv_geometry(kernel.shape, x.shape[1:], stride, padding)
    (top, bottom), (left, right) = g.pads
    padded = np.pad(
        x, ((0, 0), (0, 0), (top, bottom), (left, right)), mode="wrap" if padding == "circular" else "constant"
    )
    return torch.nn.functional.conv2d(torch.from_numpy(padded), torch.from_numpy(kernel), stride=stride).numpy()


@pytest.mark.torch
def _sampled(spec: dict, rng, **options):
    """The conv network a drawn spec describes."""
    return sample_conv_network(
        spec["input_shape"],
        spec["channels"],
        rng,
        kernel_size=spec["kernel_size"],
        stride=spec["stride"],
        padding=spec["padding"],
        dense=spec["dense"],
        **options,
    )


@mbp_property(
    id="cnn.conv_forward_matches_torch",
    statement="conv2d equals torch's conv2d on the explicitly zero- or wrap-padded input (output size ceil(n/s), or "
    "(n-k)//s+1 for 'valid')",
    source="docs/cnn.md (conv layers); torch.nn.functional.conv2d",
)
@given(case=conv_cases())
@example(
    case={
        "kernel_shape": (2, 1, 5, 5),
        "input_shape": (1, 2, 3),
        "stride": 2,
        "padding": "circular",
        "kind": "gaussian",
        "trial": 0,
    }
)  # kernel larger than the image: indices wrap twice
def test_forward_matches_torch(case, mbp_root_seed):
    rng = rng_for(mbp_root_seed, "cnn.conv_forward_matches_torch", case["trial"])
    kernel = conv_kernel(case, rng)
    x = rng.standard_normal((2,) + case["input_shape"])
    got = conv2d(x, kernel, case["stride"], case["padding"])
    expected = _torch_reference(x, kernel, case["stride"], case["padding"])
    _, h, w = case["input_shape"]
    kh, kw, s = case["kernel_shape"][2], case["kernel_shape"][3], case["stride"]
    size = ((h - kh) // s + 1, (w - kw) // s + 1) if case["padding"] == "valid" else (-(-h // s), -(-w // s))
    assert got.shape == expected.shape == (2, case["kernel_shape"][0]) + size
    scale = np.abs(kernel).sum() * np.abs(x).max() + 1e-300
    assert np.abs(got - expected).max() <= 1e-13 * scale


@mbp_property(
    id="cnn.conv_adjoint_is_transpose",
    statement="conv2d_adjoint applies the transpose of the unfolded conv operator",
    source="docs/cnn.md (power iteration on the true operator needs its adjoint)",
)
@given(case=conv_cases())
def test_adjoint_is_transpose(case, mbp_root_seed):
    rng = rng_for(mbp_root_seed, "cnn.conv_adjoint_is_transpose", case["trial"])
    kernel = conv_kernel(case, rng)
    matrix = unfold_conv(kernel, case["input_shape"], case["stride"], case["padding"])
    shape = conv_geometry(kernel.shape, case["input_shape"], case["stride"], case["padding"]).output_shape
    y = rng.standard_normal((2,) + shape)
    got = conv2d_adjoint(y, kernel, case["input_shape"], case["stride"], case["padding"]).reshape(2, -1)
    scale = np.abs(kernel).sum() * np.abs(y).max() + 1e-300
    assert np.abs(got - y.reshape(2, -1) @ matrix).max() <= 1e-13 * scale


@st.composite
def conv_nets(draw: st.DrawFn) -> dict:
    depth = draw(st.integers(1, 3))
    return {
        "input_shape": (draw(st.integers(1, 3)), draw(st.integers(3, 8)), draw(st.integers(3, 8))),
        "channels": draw(st.lists(st.integers(1, 8), min_size=depth, max_size=depth)),
        "kernel_size": draw(st.lists(st.integers(1, 3), min_size=depth, max_size=depth)),
        "stride": draw(st.lists(st.integers(1, 2), min_size=depth, max_size=depth)),
        "padding": draw(st.lists(st.sampled_from(["zeros", "circular"]), min_size=depth, max_size=depth)),
        "dense": draw(st.lists(st.integers(1, 6), max_size=2)),
        "activation": draw(st.sampled_from(["relu", "tanh", "leaky_relu(a=0.2)"])),
        "alpha": draw(st.integers(5, 95)),
        "trial": draw(st.integers(0, 10**6)),
    }


@mbp_property(
    id="cnn.network_matches_unfolding",
    statement="a conv network's forward pass equals its dense unfolding's (conv layers as matrices, C-order flatten)",
    source="docs/cnn.md (a CNN is a fully connected network with structured matrices)",
)
@given(spec=conv_nets())
def test_network_matches_unfolding(spec, mbp_root_seed):
    rng = rng_for(mbp_root_seed, "cnn.network_matches_unfolding", spec["trial"])
    net = _sampled(spec, rng, activation=spec["activation"])
    x = rng.standard_normal((3,) + net.input_shape)
    dense = net.to_dense()
    assert dense.widths == net.widths
    got, expected = net.forward(x), dense.forward(x.reshape(3, -1))
    assert np.abs(got - expected).max() <= 1e-12 * max(1.0, np.abs(expected).max())


def _floor_power(size: int, alpha: Fraction) -> int:
    """floor(D^(1-alpha)) from its definition m^q <= D^(q-p) < (m+1)^q, by bisection on integers."""
    p, q = alpha.numerator, alpha.denominator
    target = size ** (q - p)
    low, high = 0, size
    while low < high:
        mid = (low + high + 1) // 2
        low, high = (mid, high) if mid**q <= target else (low, mid - 1)
    return low


@mbp_property(
    id="cnn.conv_count_exact",
    statement="MBP on a conv network prunes exactly floor(D_l^(1-alpha)) smallest |w| per layer, D_l = "
    "c_out*c_in*kh*kw; random pruning the same count",
    source="Theorem 1's count rule applied per kernel (docs/cnn.md)",
)
@given(spec=conv_nets())
def test_conv_count_exact(spec, mbp_root_seed):
    rng = rng_for(mbp_root_seed, "cnn.conv_count_exact", spec["trial"])
    net = _sampled(spec, rng)
    alpha = Fraction(spec["alpha"], 100)
    pair = prune_network(net, alpha)
    random_pair = prune_network(net, alpha, method="random", rng=rng)
    for w, mask, random_mask, count in zip(net.weights, pair.masks, random_pair.masks, pair.counts):
        size = int(np.prod(w.shape))  # c_out*c_in*kh*kw for a kernel
        assert count == _floor_power(size, alpha)
        assert int(mask.size - np.count_nonzero(mask)) == count
        assert int(random_mask.size - np.count_nonzero(random_mask)) == count
        if 0 < count < size:
            assert np.abs(w[~mask]).max() <= np.abs(w[mask]).min()
    for w, m, pruned in zip(net.weights, pair.masks, pair.pruned.weights):
        assert np.array_equal(pruned, np.where(m, w, 0.0))
