"""The convolutional networks of a CNN sweep: channel profile, geometry checks and sampling.

The width axis is the channel count. A network of `depth` weight layers is all convolutions
(stride 1, the given padding, square kernels) on images (c_0, image, image): c_0 input
channels, `width` channels in every hidden layer and c_L = c_0 output channels, so
min(hidden channels) >= max(c_0, c_L), the analogue of hypothesis (ii). c_0 defaults to the
width itself (every layer square, D_l = width^2 kh kw, as the FCN sweep's square profile);
a fixed c_0 (e.g. 3 for RGB images) makes D_1 and D_L grow only linearly with the width, and
the scaling audit then predicts no slope.
Kernels are sampled by `engine.sample_conv_network`: iid U[-a, a] with
a = K / sqrt(max(c_out, c_in) kh kw), our analogue of hypothesis (iii).
"""

from __future__ import annotations

import numpy as np

from .._validation import validate_integer
from ..engine import ConvNetwork, sample_conv_network
from ..errors import InputError

__all__ = ["CNN_PADDINGS", "CONV_DEFAULTS", "channel_profile", "check_cnn_geometry", "sample_cnn"]

CNN_PADDINGS = ("zeros", "circular")
# the conv settings of a sweep and their defaults (kernel size, image size, c_0 (None: the width), padding)
CONV_DEFAULTS: dict = {"kernel": 3, "image": 8, "in_channels": None, "padding": "zeros"}


def channel_profile(width: int, depth: int, in_channels: "int | None" = None) -> tuple[int, ...]:
    """(c_0, width, ..., width, c_L) with c_L = c_0 = `in_channels` (default: the width)."""
    width = validate_integer(width, "width (channels)", 1)
    depth = validate_integer(depth, "depth (weight layers, one hidden layer at least)", 2)
    c0 = width if in_channels is None else validate_integer(in_channels, "input channels", 1)
    if c0 > width:
        raise InputError(
            f"{c0} input channels exceed the width of {width} channels; hypothesis (ii) needs "
            "the hidden channels to be at least the input and output channels"
        )
    return (c0, *(width,) * (depth - 1), c0)


def check_cnn_geometry(kernel: int, image: int, padding: str) -> None:
    """Square kernels of size 1..image on image x image inputs, zero or circular padding."""
    image = validate_integer(image, "image size", 1)
    kernel = validate_integer(kernel, "kernel size", 1)
    if kernel > image:
        raise InputError(f"a {kernel}x{kernel} kernel is larger than the {image}x{image} image")
    if padding not in CNN_PADDINGS:
        raise InputError(f"unknown padding {padding!r}; use one of {', '.join(CNN_PADDINGS)}")


def sample_cnn(
    width: int,
    depth: int,
    in_channels: "int | None",
    kernel: int,
    image: int,
    padding: str,
    rng: np.random.Generator,
    *,
    scale: float = 1.0,
    activation: str = "relu",
) -> ConvNetwork:
    """One convolutional network of the profile, kernels drawn from `rng`."""
    check_cnn_geometry(kernel, image, padding)
    channels = channel_profile(width, depth, in_channels)
    return sample_conv_network(
        (channels[0], image, image),
        channels[1:],
        rng,
        kernel_size=kernel,
        padding=padding,
        scale=scale,
        activation=activation,
    )
