"""Bias-free convolutional networks: conv layers, one flatten, then dense layers.

F(x) = W_L s_{L-1}(... s_1(W_1 x)) where the first layers are convolutions (`engine.conv`)
acting on images (C, H, W), the output of the last conv layer is flattened in C order (as
torch's `nn.Flatten`), and the remaining layers are dense matrices. As in `Network`, the
last layer is linear and every hidden layer has an activation. Each layer is a linear
operator between flattened feature spaces, so `widths` are flattened sizes and `to_dense()`
gives the equivalent fully connected `Network` (dense reference for small nets only).

Weights at the theorem's scale (`sample_conv_network`): conv kernels have iid entries
U[-a, a] with a = K / sqrt(max(c_out, c_in) * kh * kw), the analogue of hypothesis (iii)'s
max(d_l, d_{l-1}) with torch's fan_out = c_out*kh*kw and fan_in = c_in*kh*kw; dense layers
use `uniform_half_width` as in `sample_network`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from .._validation import validate_integer
from ..errors import InputError
from .activations import ActivationSpec, parse_activation
from .conv import PADDINGS, ConvGeometry, conv2d, conv_geometry, unfold_conv
from .network import Network, _check_matrix, masked_weights, uniform_half_width

__all__ = ["LayerSpec", "layer_spec", "ConvNetwork", "conv_half_width", "sample_conv_network"]


@dataclass(frozen=True)
class LayerSpec:
    """Kind of a layer ('conv' or 'dense') and, for conv, its stride and padding."""

    kind: Literal["conv", "dense"]
    stride: int = 1
    padding: str = "zeros"

    def to_dict(self) -> dict:
        if self.kind == "dense":
            return {"kind": "dense"}
        return {"kind": "conv", "stride": self.stride, "padding": self.padding}


def layer_spec(value: "LayerSpec | Mapping | str") -> LayerSpec:
    """A LayerSpec from itself, 'conv'/'dense', or a dict {'kind', 'stride', 'padding'}."""
    if isinstance(value, LayerSpec):
        return value
    fields = {"kind": value} if isinstance(value, str) else dict(value) if isinstance(value, Mapping) else None
    if fields is None:
        raise InputError(f"a layer is described by 'conv', 'dense' or a dict, got {value!r}")
    kind = fields.get("kind")
    if kind == "dense":
        extra = set(fields) - {"kind"}
        if extra:
            raise InputError(f"a dense layer takes no {', '.join(sorted(extra))}")
        return LayerSpec("dense")
    if kind != "conv":
        raise InputError(f"layer kind must be 'conv' or 'dense', got {kind!r}")
    extra = set(fields) - {"kind", "stride", "padding"}
    if extra:
        raise InputError(f"unknown conv layer fields: {', '.join(sorted(extra))}")
    padding = fields.get("padding", "zeros")
    if padding not in PADDINGS:
        raise InputError(f"unknown padding {padding!r}; use one of {', '.join(PADDINGS)}")
    return LayerSpec("conv", validate_integer(fields.get("stride", 1), "stride", 1), padding)


@dataclass(frozen=True, eq=False)
class ConvNetwork:
    """Conv layers, an implicit flatten, dense layers; no biases; hidden activations."""

    weights: tuple[np.ndarray, ...]
    layers: tuple[LayerSpec, ...]
    input_shape: tuple[int, int, int]
    activations: tuple[ActivationSpec, ...]
    geometries: tuple["ConvGeometry | None", ...]

    def __init__(
        self,
        weights: Sequence[np.ndarray],
        layers: Sequence["LayerSpec | Mapping | str"],
        input_shape: Sequence[int],
        activations: "str | ActivationSpec | Sequence[str | ActivationSpec]" = "relu",
    ):
        if isinstance(weights, np.ndarray) or len(weights) == 0:
            raise InputError("a network needs a non-empty list of weight arrays")
        specs = tuple(layer_spec(v) for v in layers)
        if len(specs) != len(weights):
            raise InputError(f"{len(weights)} weight arrays but {len(specs)} layer descriptions")
        shape = tuple(int(v) for v in input_shape)
        if len(shape) != 3 or min(shape) < 1:
            raise InputError(f"input_shape must be (C, H, W) with positive sizes, got {tuple(input_shape)}")
        arrays, geometries = [], []
        current: tuple[int, ...] = shape
        for i, (w, spec) in enumerate(zip(weights, specs)):
            if spec.kind == "conv":
                if len(current) != 3:
                    raise InputError(f"layer {i + 1} is a conv layer after a dense layer; conv layers come first")
                kernel = _check_matrix(w, i, ndim=4)
                geometry = conv_geometry(kernel.shape, current, spec.stride, spec.padding)
                current = geometry.output_shape
            else:
                kernel = _check_matrix(w, i)
                size = int(np.prod(current))
                if kernel.shape[1] != size:
                    raise InputError(f"W{i + 1} has {kernel.shape[1]} columns, its input has {size} features {current}")
                geometry = None
                current = (kernel.shape[0],)
            kernel.setflags(write=False)
            arrays.append(kernel)
            geometries.append(geometry)
        hidden = len(arrays) - 1
        if isinstance(activations, (str, ActivationSpec)):
            acts = tuple(parse_activation(activations) for _ in range(hidden))
        else:
            acts = tuple(parse_activation(a) for a in activations)
            if len(acts) != hidden:
                raise InputError(f"{len(arrays)} layers need {hidden} hidden activations, got {len(acts)}")
        object.__setattr__(self, "weights", tuple(arrays))
        object.__setattr__(self, "layers", specs)
        object.__setattr__(self, "input_shape", shape)
        object.__setattr__(self, "activations", acts)
        object.__setattr__(self, "geometries", tuple(geometries))

    @property
    def depth(self) -> int:
        return len(self.weights)

    @property
    def feature_shapes(self) -> tuple[tuple[int, ...], ...]:
        """Input shape (C, H, W), then each layer's output shape ((C, H, W) or (d,))."""
        shapes: list[tuple[int, ...]] = [self.input_shape]
        for w, g in zip(self.weights, self.geometries):
            shapes.append(g.output_shape if g is not None else (w.shape[0],))
        return tuple(shapes)

    @property
    def widths(self) -> tuple[int, ...]:
        """Flattened sizes (d_0, ..., d_L) of the layers' input and outputs."""
        return tuple(int(np.prod(s)) for s in self.feature_shapes)

    def with_weights(self, weights: Sequence[np.ndarray]) -> "ConvNetwork":
        """The same architecture with other weights (e.g. pruned)."""
        return ConvNetwork(weights, self.layers, self.input_shape, self.activations)

    def masked(self, masks: Sequence[np.ndarray]) -> "ConvNetwork":
        """The pruned network with W~_l = M_l o W_l (masks over kernels and matrices)."""
        return self.with_weights(masked_weights(self.weights, masks))

    def forward(self, inputs: np.ndarray) -> np.ndarray:
        """F(X) for images X of shape (n, C, H, W) (or one (C, H, W)); returns (n, d_L) (or (d_L,))."""
        x = np.asarray(inputs, dtype=np.float64)
        single = x.shape == self.input_shape
        h = x[None] if single else x
        if h.ndim != 4 or h.shape[1:] != self.input_shape:
            raise InputError(f"inputs must have shape (n, {', '.join(map(str, self.input_shape))}), got {x.shape}")
        for layer, (w, spec) in enumerate(zip(self.weights, self.layers)):
            if spec.kind == "conv":
                h = conv2d(h, w, spec.stride, spec.padding)
            else:
                h = h.reshape(h.shape[0], -1) @ w.T
            if layer < self.depth - 1:
                h = self.activations[layer](h)
        h = h.reshape(h.shape[0], -1)
        return h[0] if single else h

    def to_dense(self) -> Network:
        """The equivalent fully connected network (conv layers unfolded): a reference for small nets."""
        mats = [
            w if g is None else unfold_conv(w, g.input_shape, g.stride, g.padding)
            for w, g in zip(self.weights, self.geometries)
        ]
        return Network(mats, self.activations)


def conv_half_width(kernel_shape: Sequence[int], scale: float = 1.0) -> float:
    """a = K / sqrt(max(c_out, c_in) * kh * kw) for a kernel (c_out, c_in, kh, kw)."""
    c_out, c_in, kh, kw = (int(v) for v in kernel_shape)
    return scale / np.sqrt(max(c_out, c_in) * kh * kw)


def _per_layer(value: "int | str | Sequence", count: int, what: str) -> list:
    if isinstance(value, (int, str, np.integer)):
        return [value] * count
    values = list(value)
    if len(values) != count:
        raise InputError(f"{what}: give one value or one per conv layer ({count}), got {len(values)}")
    return values


def sample_conv_network(
    input_shape: Sequence[int],
    channels: Sequence[int],
    seed: "np.random.SeedSequence | np.random.Generator | int",
    *,
    kernel_size: "int | Sequence[int]" = 3,
    stride: "int | Sequence[int]" = 1,
    padding: "str | Sequence[str]" = "zeros",
    dense: Sequence[int] = (),
    scale: float = 1.0,
    activation: "str | ActivationSpec" = "relu",
) -> ConvNetwork:
    """Sample conv layers with `channels[i]` output channels, then dense layers of widths `dense`,
    all weights iid uniform at the theorem's scale (module docstring)."""
    if not (np.isfinite(scale) and scale > 0):
        raise InputError(f"weight scale K must be positive and finite, got {scale}")
    outs = [validate_integer(c, "channels", 1) for c in channels]
    if not outs:
        raise InputError("a conv network needs at least one conv layer (channels is empty)")
    sizes = [validate_integer(k, "kernel size", 1) for k in _per_layer(kernel_size, len(outs), "kernel_size")]
    steps = _per_layer(stride, len(outs), "stride")
    pads = _per_layer(padding, len(outs), "padding")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    weights: list[np.ndarray] = []
    layers: list[LayerSpec] = []
    current: tuple[int, ...] = tuple(int(v) for v in input_shape)
    for c_out, k, s, p in zip(outs, sizes, steps, pads):
        spec = layer_spec({"kind": "conv", "stride": s, "padding": p})
        if len(current) != 3:
            raise InputError(f"input_shape must be (C, H, W), got {tuple(input_shape)}")
        shape = (c_out, current[0], k, k)
        current = conv_geometry(shape, current, spec.stride, spec.padding).output_shape
        half = conv_half_width(shape, scale)
        weights.append(rng.uniform(-half, half, size=shape))
        layers.append(spec)
    d_in = int(np.prod(current))
    for d_out in (validate_integer(d, "dense width", 1) for d in dense):
        half = uniform_half_width(d_out, d_in, scale)
        weights.append(rng.uniform(-half, half, size=(d_out, d_in)))
        layers.append(LayerSpec("dense"))
        d_in = d_out
    return ConvNetwork(weights, layers, input_shape, activation)
