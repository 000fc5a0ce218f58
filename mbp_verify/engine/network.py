"""Bias-free fully connected networks F(x) = W_L s_{L-1}(... s_1(W_1 x)).

Weights are float64 matrices `W_l` of shape (d_l, d_{l-1}); the last layer is linear.
Inputs are batched as rows: `forward(X)` takes X of shape (n, d_0) and returns (n, d_L).
Networks are saved as `.npz` with arrays `W1, W2, ...` in layer order.
"""

from __future__ import annotations

import os
import re
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from ..errors import InputError
from .activations import ActivationSpec, parse_activation
from .arrayfiles import not_a_file, read_npz

__all__ = [
    "Network",
    "WeightDistribution",
    "masked_weights",
    "uniform_half_width",
    "sample_network",
    "META_KEY",
    "load_layer_arrays",
    "read_layer_file",
    "load_network",
    "save_network",
    "natural_layer_order",
]

WeightDistribution = Literal["uniform", "gaussian", "cauchy"]


def _check_matrix(weight: object, index: int, ndim: int = 2) -> np.ndarray:
    """W_{index+1} as a finite float64 array of `ndim` dimensions (2: a matrix, 4: a conv kernel)."""
    array = np.asarray(weight)
    name = f"W{index + 1}"
    if array.dtype == object or not (np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer)):
        raise InputError(f"{name} has dtype {array.dtype}; need real numbers")
    if array.ndim != ndim:
        expected = "a 2-D matrix (d_l, d_l-1)" if ndim == 2 else "a 4-D conv kernel (c_out, c_in, kh, kw)"
        raise InputError(f"{name} must be {expected}, got shape {array.shape}")
    if array.size == 0:
        raise InputError(f"{name} is empty (shape {array.shape})")
    source = array
    with np.errstate(over="ignore", invalid="ignore"):
        array = source.astype(np.float64)
        if np.issubdtype(source.dtype, np.integer) or source.dtype.itemsize > 8:  # int64 > 2^53, float128
            lossy = (array.astype(source.dtype) != source) & np.isfinite(source)
            if lossy.any():
                raise InputError(
                    f"{name} has {source.dtype} entries that float64 cannot hold exactly (e.g. "
                    f"{source[lossy][0].item()!r}); every result is for float64 weights: convert them first"
                )
    if not np.isfinite(array).all():
        raise InputError(f"{name} contains NaN or infinite entries")
    return array


@dataclass(frozen=True, eq=False)
class Network:
    """A bias-free fully connected network: weights in layer order, hidden activations."""

    weights: tuple[np.ndarray, ...]
    activations: tuple[ActivationSpec, ...]

    def __init__(
        self,
        weights: Sequence[np.ndarray],
        activations: "str | ActivationSpec | Sequence[str | ActivationSpec]" = "relu",
    ):
        if isinstance(weights, np.ndarray) or len(weights) == 0:
            raise InputError("a network needs a non-empty list of weight matrices")
        mats = tuple(_check_matrix(w, i) for i, w in enumerate(weights))
        for i in range(1, len(mats)):
            if mats[i].shape[1] != mats[i - 1].shape[0]:
                raise InputError(
                    f"layer shapes do not chain: W{i} is {mats[i - 1].shape} but W{i + 1} is "
                    f"{mats[i].shape} (needs {mats[i - 1].shape[0]} columns)"
                )
        hidden = len(mats) - 1
        if isinstance(activations, (str, ActivationSpec)):
            specs = tuple(parse_activation(activations) for _ in range(hidden))
        else:
            specs = tuple(parse_activation(a) for a in activations)
            if len(specs) != hidden:
                raise InputError(f"{len(mats)} layers need {hidden} hidden activations, got {len(specs)}")
        for m in mats:
            m.setflags(write=False)
        object.__setattr__(self, "weights", mats)
        object.__setattr__(self, "activations", specs)

    @property
    def depth(self) -> int:
        """Number of weight layers L."""
        return len(self.weights)

    @property
    def widths(self) -> tuple[int, ...]:
        """(d_0, d_1, ..., d_L)."""
        return (self.weights[0].shape[1],) + tuple(w.shape[0] for w in self.weights)

    def with_weights(self, weights: Sequence[np.ndarray]) -> "Network":
        """The same architecture and activations with other weights (e.g. pruned)."""
        return Network(weights, self.activations)

    def masked(self, masks: Sequence[np.ndarray]) -> "Network":
        """The pruned network f with W~_l = M_l o W_l (masks binary: booleans or 0/1 numbers)."""
        return self.with_weights(masked_weights(self.weights, masks))

    def forward(self, inputs: np.ndarray) -> np.ndarray:
        """F(X) for a batch X of shape (n, d_0) (or one input of shape (d_0,)), in float64."""
        x = np.asarray(inputs, dtype=np.float64)
        single = x.ndim == 1
        batch = x[None, :] if single else x
        if batch.ndim != 2 or batch.shape[1] != self.widths[0]:
            raise InputError(f"inputs must have shape (n, {self.widths[0]}), got {x.shape}")
        h = batch
        for layer, w in enumerate(self.weights):
            h = h @ w.T
            if layer < self.depth - 1:
                h = self.activations[layer](h)
        return h[0] if single else h


def masked_weights(weights: Sequence[np.ndarray], masks: Sequence[np.ndarray]) -> list[np.ndarray]:
    """W~_l = M_l o W_l for every layer (any array shapes); masks binary: booleans or 0/1 numbers."""
    if len(masks) != len(weights):
        raise InputError(f"{len(masks)} masks given, the network has {len(weights)} layers (one mask per layer)")
    pruned = []
    for i, (w, m) in enumerate(zip(weights, masks)):
        mask = np.asarray(m)
        if mask.shape != w.shape:
            raise InputError(f"mask {i + 1} has shape {mask.shape}, W{i + 1} has {w.shape}")
        if mask.dtype != bool and not (np.issubdtype(mask.dtype, np.number) and np.isin(mask, (0, 1)).all()):
            raise InputError(f"mask {i + 1} is not binary (entries must be 0/1 or booleans)")
        pruned.append(np.where(mask.astype(bool), w, 0.0))
    return pruned


def uniform_half_width(rows: int, cols: int, scale: float = 1.0) -> float:
    """Hypothesis (iii): entries are U[-a, a] with a = K / sqrt(max(d_l, d_{l-1}))."""
    return scale / np.sqrt(max(rows, cols))


def sample_network(
    widths: Sequence[int],
    seed: "np.random.SeedSequence | np.random.Generator | int",
    *,
    scale: float = 1.0,
    activation: "str | ActivationSpec" = "relu",
    distribution: WeightDistribution = "uniform",
) -> Network:
    """Sample F under hypothesis (iii), or Gaussian weights of the same variance, or Cauchy weights.

    Cauchy weights (a heavy-tailed violation of (iii)) have scale a/2, the median magnitude of
    U[-a, a], so typical entries look alike while the largest ones break the hypothesis.
    """
    dims = [int(d) for d in widths]
    if len(dims) < 2 or any(d < 1 for d in dims):
        raise InputError(f"widths must list at least two positive sizes (d_0, ..., d_L), got {list(widths)}")
    if not (np.isfinite(scale) and scale > 0):
        raise InputError(f"weight scale K must be positive and finite, got {scale}")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    weights = []
    for d_in, d_out in zip(dims[:-1], dims[1:]):
        half = uniform_half_width(d_out, d_in, scale)
        if distribution == "uniform":
            weights.append(rng.uniform(-half, half, size=(d_out, d_in)))
        elif distribution == "gaussian":
            weights.append(rng.normal(0.0, half / np.sqrt(3.0), size=(d_out, d_in)))
        elif distribution == "cauchy":
            weights.append(half / 2.0 * rng.standard_cauchy((d_out, d_in)))
        else:
            raise InputError(f"unknown weight distribution {distribution!r}; use 'uniform', 'gaussian' or 'cauchy'")
    return Network(weights, activation)


_KEY_RE = re.compile(r"(\d+)")


def natural_layer_order(keys: Sequence[str]) -> list[str]:
    """Sort keys so that W2 < W10 (numbers compared as numbers), dotted component by component.

    Per component, so that `fc.weight` < `fc2.weight` < `fc10.weight` (PyTorch names a module `fc`,
    the next `fc2`): compared as whole strings `fc.weight` came after `fc2.weight`, since "fc" < "fc.weight".
    """

    def key(name: str) -> list[list["str | int"]]:
        # re.split with a group alternates text and digits from a text token: same types line up
        return [[int(t) if t.isdigit() else t for t in _KEY_RE.split(part)] for part in name.split(".")]

    return sorted(keys, key=key)


META_KEY = "__mbp_meta__"


def load_layer_arrays(path: "str | Path", what: str = "network") -> list[np.ndarray]:
    """The arrays of a `.npz` file in natural key order (W2 before W10): layers, or masks.

    No pickles are read; a missing, non-zip, corrupt or empty file is an InputError naming `what`.
    The layer metadata of a convolutional network file (`META_KEY`) is not a layer: see
    `read_layer_file`.
    """
    return read_layer_file(path, what)[0]


def read_layer_file(path: "str | Path", what: str = "network") -> tuple[list[np.ndarray], "str | None"]:
    """The layer arrays of a `.npz` file and its metadata string (`META_KEY`), None if absent."""
    file = Path(path)
    reason = not_a_file(file)
    if reason is not None:
        raise InputError(f"{what} file {str(file)!r} {reason}")
    if not os.access(file, os.R_OK):
        raise InputError(f"cannot read {what} file {str(file)!r}: permission denied")
    if not zipfile.is_zipfile(file):
        raise InputError(f"{str(file)!r} is not a .npz {what} (not a zip archive of arrays W1, W2, ...)")
    data = read_npz(file, what)
    keys = natural_layer_order([k for k in data if k != META_KEY])
    for key in keys:  # a layer is 2-D (dense) or 4-D (conv); a vector is most likely a bias
        if np.ndim(data[key]) == 1:
            raise InputError(
                f"{str(file)!r}: member {key!r} is a vector (shape {np.shape(data[key])}), not a layer; "
                f"biases are not supported (the networks are bias-free): give only the {what}'s matrices"
            )
    arrays = [data[k] for k in keys]
    meta = str(data[META_KEY]) if META_KEY in data else None
    if not arrays:
        raise InputError(f"{str(file)!r} holds no arrays")
    return arrays, meta


def load_network(path: "str | Path", activation: "str | ActivationSpec" = "relu") -> Network:
    """Read a network from `.npz` (arrays in natural key order are the layers)."""
    arrays, meta = read_layer_file(path, "network")
    if meta is not None:
        raise InputError(
            f"{str(path)!r} holds a network with layer metadata (conv layers); "
            "read it with mbp_verify.engine.load_conv_network"
        )
    return Network(arrays, activation)


def save_network(path: "str | Path", network: Network) -> None:
    """Write a network as `.npz` with arrays W1..WL."""
    np.savez(Path(path), **{f"W{i + 1}": w for i, w in enumerate(network.weights)})
