"""The layers of a `ConvNetwork` as linear operators on batches: forward, adjoint, certified norms.

Every layer of a conv network maps a batch of feature arrays to a batch: a conv layer (n, C, H, W)
-> (n, C', H', W') through `engine.conv.conv2d`, a dense layer flattens its input (C order, as the
network's implicit flatten) and multiplies by W^T. The adjoint undoes the shapes, so the search
(`conv_ascent`) can backpropagate through conv layers without the dense operator, and the
replay (`conv_replay`) can evaluate |W| |h| with the same code as W h.

`certified_layer_norm` bounds ||A||_2 of one layer's operator for any kernel or matrix: certified
conv norms (`conv_norms`) for conv layers, certified spectral norms for dense ones, each an upper
bound in exact rational form.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np

from ..engine import ConvNetwork
from ..engine.conv import ConvGeometry, conv2d, conv2d_adjoint
from ..errors import InputError
from .conv_norms import certified_conv_norm
from .spectral import certified_spectral_norm

__all__ = [
    "check_conv_pair",
    "network_layers",
    "layer_forward",
    "layer_adjoint",
    "inner_length",
    "certified_layer_norm",
]


def check_conv_pair(original: ConvNetwork, pruned: ConvNetwork) -> None:
    """InputError unless F and f are ConvNetworks of the same architecture and activations."""
    if not (isinstance(original, ConvNetwork) and isinstance(pruned, ConvNetwork)):
        raise InputError(f"need two ConvNetworks, got {type(original).__name__} and {type(pruned).__name__}")
    if original.layers != pruned.layers or original.input_shape != pruned.input_shape:
        raise InputError("F and f must have the same architecture (layers, strides, paddings, input shape)")
    if original.widths != pruned.widths or tuple(w.shape for w in original.weights) != tuple(
        w.shape for w in pruned.weights
    ):
        raise InputError(f"F and f have different shapes: {original.widths} vs {pruned.widths}")
    if original.activations != pruned.activations:
        raise InputError("F and f must use the same activations")


def layer_forward(weight: np.ndarray, geometry: "ConvGeometry | None", batch: np.ndarray) -> np.ndarray:
    """The layer applied to a batch: conv (n, C, H, W) -> (n, C', H', W'); dense (n, ...) -> (n, d_l)."""
    if geometry is not None:
        return conv2d(batch, weight, geometry.stride, geometry.padding)
    return batch.reshape(batch.shape[0], -1) @ weight.T


def layer_adjoint(
    weight: np.ndarray, geometry: "ConvGeometry | None", batch: np.ndarray, input_shape: "tuple[int, ...]"
) -> np.ndarray:
    """The layer's transpose applied to a batch of its outputs, shaped (n, *input_shape)."""
    if geometry is not None:
        return conv2d_adjoint(batch, weight, geometry.input_shape, geometry.stride, geometry.padding)
    return (batch.reshape(batch.shape[0], -1) @ weight).reshape((batch.shape[0],) + tuple(input_shape))


def inner_length(weight: np.ndarray, geometry: "ConvGeometry | None") -> int:
    """Products summed per output entry: c_in*kh*kw for a conv layer (padding taps included), d_{l-1}
    for a dense one; Higham's gamma_n for the layer's float64 evaluation takes this n."""
    if geometry is not None:
        return int(np.prod(weight.shape[1:]))
    return int(weight.shape[1])


def certified_layer_norm(weight: np.ndarray, geometry: "ConvGeometry | None") -> Fraction:
    """An exact rational >= ||A||_2 of the layer's operator (float64-sound; +inf not representable,
    so an overflowing bound raises OverflowError)."""
    if geometry is not None:
        bound = certified_conv_norm(
            weight, geometry.input_shape, geometry.stride, geometry.padding, lower_iterations=0
        ).upper
        if not math.isfinite(bound):
            raise OverflowError("the conv norm bound exceeds the float64 range")
        return Fraction(bound)
    return certified_spectral_norm(weight).exact_upper


def network_layers(network: ConvNetwork) -> list[tuple[np.ndarray, "ConvGeometry | None", tuple[int, ...]]]:
    """(weight, geometry or None, input feature shape) for every layer, in order."""
    shapes = network.feature_shapes
    return [(w, g, shapes[i]) for i, (w, g) in enumerate(zip(network.weights, network.geometries))]
