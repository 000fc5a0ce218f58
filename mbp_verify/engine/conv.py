"""2-D convolution layers: geometry, forward pass and adjoint, in float64.

A layer applies a kernel of shape (c_out, c_in, kh, kw) as a cross-correlation, like
`torch.nn.functional.conv2d`, without bias:

    y[o, i, j] = sum_{c, a, b} K[o, c, a, b] * xp[c, s*i + a, s*j + b]

where xp is the input padded per axis (size n, kernel size k, stride s) by

- ``"zeros"``: ``(k - 1) // 2`` zeros before and ``k - 1 - (k - 1) // 2`` after ('same'
  padding; for odd k this is torch's ``padding=(k - 1) // 2``); output size ``ceil(n / s)``;
- ``"circular"``: the same amounts, wrapped around (index taken modulo n, so kernels larger
  than the input wrap several times); output size ``ceil(n / s)``;
- ``"valid"``: no padding; output size ``(n - k) // s + 1`` (needs n >= k).

Every layer is a linear operator from R^(c_in*H*W) to R^(c_out*Ho*Wo) (C-order flattening, as
torch's Flatten); `conv2d_adjoint` applies its transpose. `unfold_conv` builds the dense matrix
from the basis: a reference for tests only (it is (c_out*Ho*Wo) x (c_in*H*W)).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .._validation import validate_integer
from ..errors import InputError

__all__ = ["Padding", "PADDINGS", "ConvGeometry", "conv_geometry", "conv2d", "conv2d_adjoint", "unfold_conv"]

Padding = Literal["zeros", "circular", "valid"]
PADDINGS: tuple[str, ...] = ("zeros", "circular", "valid")


def _pads(size: int, kernel: int, padding: str) -> tuple[int, int]:
    if padding == "valid":
        return 0, 0
    before = (kernel - 1) // 2
    return before, kernel - 1 - before


@dataclass(frozen=True)
class ConvGeometry:
    """Shapes of one conv layer: kernel (c_out, c_in, kh, kw), input (c_in, H, W), stride, padding."""

    kernel_shape: tuple[int, int, int, int]
    input_shape: tuple[int, int, int]
    stride: int
    padding: str

    @property
    def pads(self) -> tuple[tuple[int, int], tuple[int, int]]:
        """((top, bottom), (left, right)) padding amounts."""
        _, _, kh, kw = self.kernel_shape
        _, h, w = self.input_shape
        return _pads(h, kh, self.padding), _pads(w, kw, self.padding)

    @property
    def output_shape(self) -> tuple[int, int, int]:
        """(c_out, Ho, Wo) by the rule in the module docstring."""
        c_out, _, kh, kw = self.kernel_shape
        (top, bottom), (left, right) = self.pads
        _, h, w = self.input_shape
        return c_out, (h + top + bottom - kh) // self.stride + 1, (w + left + right - kw) // self.stride + 1

    @property
    def in_size(self) -> int:
        return int(np.prod(self.input_shape))

    @property
    def out_size(self) -> int:
        return int(np.prod(self.output_shape))

    def source_indices(self, axis: int) -> np.ndarray:
        """For each padded coordinate along axis 0 (rows) or 1 (columns): the input index it
        reads, or n (the input size) for a zero."""
        n = self.input_shape[1 + axis]
        before, after = self.pads[axis]
        index = np.arange(-before, n + after)
        if self.padding == "circular":
            return index % n
        return np.where((index >= 0) & (index < n), index, n)

    def to_dict(self) -> dict:
        return {
            "kernel_shape": list(self.kernel_shape),
            "input_shape": list(self.input_shape),
            "stride": self.stride,
            "padding": self.padding,
            "output_shape": list(self.output_shape),
        }


def conv_geometry(
    kernel_shape: "tuple[int, ...]", input_shape: "tuple[int, ...]", stride: int = 1, padding: str = "zeros"
) -> ConvGeometry:
    """Validated geometry; InputError names a bad shape, stride or padding."""
    kernel = tuple(int(v) for v in kernel_shape)
    image = tuple(int(v) for v in input_shape)
    if len(kernel) != 4 or min(kernel) < 1:
        raise InputError(
            f"a conv kernel has shape (c_out, c_in, kh, kw) with positive sizes, got {tuple(kernel_shape)}"
        )
    if len(image) != 3 or min(image) < 1:
        raise InputError(f"a conv input has shape (C, H, W) with positive sizes, got {tuple(input_shape)}")
    if kernel[1] != image[0]:
        raise InputError(f"kernel {kernel} expects {kernel[1]} input channels, the input has {image[0]}")
    step = validate_integer(stride, "stride", 1)
    if padding not in PADDINGS:
        raise InputError(f"unknown padding {padding!r}; use one of {', '.join(PADDINGS)}")
    if padding == "valid" and (image[1] < kernel[2] or image[2] < kernel[3]):
        raise InputError(f"'valid' padding needs an input at least as large as the kernel: {image[1:]} < {kernel[2:]}")
    return ConvGeometry(kernel, image, step, padding)  # type: ignore[arg-type]


def _batch(x: np.ndarray, shape: tuple[int, ...], what: str) -> tuple[np.ndarray, bool]:
    array = np.asarray(x, dtype=np.float64)
    if array.shape == shape:
        return array[None], True
    if array.ndim != len(shape) + 1 or array.shape[1:] != shape:
        raise InputError(f"{what} must have shape (n, {', '.join(map(str, shape))}) or {shape}, got {array.shape}")
    return array, False


def _check_kernel(kernel: np.ndarray) -> np.ndarray:
    array = np.asarray(kernel, dtype=np.float64)
    if array.ndim != 4:
        raise InputError(f"a conv kernel is 4-D (c_out, c_in, kh, kw), got shape {array.shape}")
    return array


def conv2d(x: np.ndarray, kernel: np.ndarray, stride: int = 1, padding: str = "zeros") -> np.ndarray:
    """The layer applied to a batch (n, c_in, H, W) (or one image (c_in, H, W)), in float64."""
    k = _check_kernel(kernel)
    array = np.asarray(x)
    if array.ndim not in (3, 4):
        raise InputError(f"conv inputs have shape (n, C, H, W) or (C, H, W), got {array.shape}")
    geometry = conv_geometry(k.shape, array.shape[-3:], stride, padding)
    batch, single = _batch(array, geometry.input_shape, "conv input")
    n, c, h, w = batch.shape
    extended = np.zeros((n, c, h + 1, w + 1))  # the extra row/column is the zero that padding reads
    extended[:, :, :h, :w] = batch
    padded = extended[:, :, geometry.source_indices(0)][:, :, :, geometry.source_indices(1)]
    _, kh, kw = k.shape[1:]
    windows = sliding_window_view(padded, (kh, kw), axis=(2, 3))[:, :, :: geometry.stride, :: geometry.stride]
    out = np.tensordot(windows, k, axes=([1, 4, 5], [1, 2, 3])).transpose(0, 3, 1, 2)
    out = np.ascontiguousarray(out)
    return out[0] if single else out


def _fold_matrix(indices: np.ndarray, size: int) -> np.ndarray:
    """(size, padded) 0/1 matrix summing padded coordinates into the input index they read."""
    fold = np.zeros((size + 1, indices.size))
    fold[indices, np.arange(indices.size)] = 1.0
    return fold[:size]


def conv2d_adjoint(
    y: np.ndarray, kernel: np.ndarray, input_shape: "tuple[int, int, int]", stride: int = 1, padding: str = "zeros"
) -> np.ndarray:
    """The transpose of the layer applied to a batch (n, c_out, Ho, Wo) (or one (c_out, Ho, Wo))."""
    k = _check_kernel(kernel)
    geometry = conv_geometry(k.shape, input_shape, stride, padding)
    batch, single = _batch(y, geometry.output_shape, "adjoint input")
    n, _, ho, wo = batch.shape
    _, c, kh, kw = k.shape
    s = geometry.stride
    rows, cols = geometry.source_indices(0), geometry.source_indices(1)
    patches = np.tensordot(batch, k, axes=([1], [0]))  # (n, Ho, Wo, c_in, kh, kw)
    padded = np.zeros((n, c, rows.size, cols.size))
    for a in range(kh):
        for b in range(kw):
            padded[:, :, a : a + s * (ho - 1) + 1 : s, b : b + s * (wo - 1) + 1 : s] += patches[
                :, :, :, :, a, b
            ].transpose(0, 3, 1, 2)
    _, h, w = geometry.input_shape
    out = _fold_matrix(rows, h) @ padded @ _fold_matrix(cols, w).T
    return out[0] if single else out


def unfold_conv(
    kernel: np.ndarray, input_shape: "tuple[int, int, int]", stride: int = 1, padding: str = "zeros"
) -> np.ndarray:
    """The dense (out_size, in_size) matrix of the layer, column j = layer(e_j).

    A reference for tests and small examples: memory is out_size * in_size floats.
    """
    k = _check_kernel(kernel)
    geometry = conv_geometry(k.shape, input_shape, stride, padding)
    basis = np.eye(geometry.in_size).reshape((geometry.in_size,) + geometry.input_shape)
    return conv2d(basis, k, stride, padding).reshape(geometry.in_size, -1).T.copy()
