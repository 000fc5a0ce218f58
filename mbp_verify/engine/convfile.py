"""Network files with layer metadata, and conv networks from PyTorch state dicts.

File format: the dense `.npz` (arrays W1, W2, ... in layer order, conv kernels 4-D) plus one
0-d string array `__mbp_meta__` holding JSON:

    {"format": "mbp_verify.network", "version": 1, "input_shape": [C, H, W],
     "layers": [{"kind": "conv", "stride": 1, "padding": "zeros"}, ..., {"kind": "dense"}],
     "activations": ["relu", ...]}

Files without `__mbp_meta__` are dense networks and load as before (`load_any_network` returns
a `Network` for them). No pickles are read or written.

A torch model is read from its state dict and an architecture description (a dict, JSON text
or a JSON file) naming the weight key of every layer:

    {"input_shape": [3, 32, 32], "activation": "relu",
     "layers": [{"kind": "conv", "weight": "0.weight", "stride": 1, "padding": 1},
                {"kind": "dense", "weight": "3.weight"}]}

`padding` is one of our names ('zeros', 'circular', 'valid') or torch's integer padding:
0 is 'valid', (k - 1) // 2 for an odd square kernel is 'zeros' (or 'circular' with
`"padding_mode": "circular"`). Any other padding, or a non-zero bias, is an InputError: the
networks here are bias-free. torch is imported only when a tensor or a file needs it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError
from .activations import ActivationSpec
from .convnet import ConvNetwork, layer_spec
from .network import META_KEY, Network, read_layer_file

__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "save_conv_network",
    "load_conv_network",
    "load_any_network",
    "conv_network_from_torch",
]

FORMAT_NAME = "mbp_verify.network"
FORMAT_VERSION = 1


def save_conv_network(path: "str | Path", network: ConvNetwork) -> None:
    """Write W1..WL and the metadata (`__mbp_meta__`) to a `.npz`."""
    meta = {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "input_shape": list(network.input_shape),
        "layers": [spec.to_dict() for spec in network.layers],
        "activations": [str(a) for a in network.activations],
    }
    arrays = {f"W{i + 1}": w for i, w in enumerate(network.weights)}
    np.savez(Path(path), **arrays, **{META_KEY: np.array(json.dumps(meta))})


def _parse_meta(text: str, where: str) -> dict:
    try:
        meta = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{where}: the layer metadata is not valid JSON ({exc})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT_NAME:
        raise InputError(f"{where}: the layer metadata is not an {FORMAT_NAME} description")
    if meta.get("version") != FORMAT_VERSION:
        raise InputError(f"{where}: metadata version {meta.get('version')!r} is not supported (need {FORMAT_VERSION})")
    for key in ("input_shape", "layers", "activations"):
        if not isinstance(meta.get(key), list):
            raise InputError(f"{where}: the layer metadata has no list {key!r}")
    return meta


def load_conv_network(path: "str | Path", activation: "str | ActivationSpec | None" = None) -> ConvNetwork:
    """Read a network file with metadata; `activation` overrides the stored hidden activations."""
    arrays, text = read_layer_file(path, "network")
    if text is None:
        raise InputError(
            f"{str(path)!r} has no layer metadata ({META_KEY}); it is a dense network "
            "(load_network or load_any_network read it)"
        )
    meta = _parse_meta(text, repr(str(path)))
    return ConvNetwork(
        arrays, meta["layers"], meta["input_shape"], meta["activations"] if activation is None else activation
    )


def load_any_network(path: "str | Path", activation: "str | ActivationSpec | None" = None) -> "Network | ConvNetwork":
    """A `ConvNetwork` for files with metadata, a dense `Network` (default ReLU) for the others."""
    arrays, text = read_layer_file(path, "network")
    if text is None:
        return Network(arrays, "relu" if activation is None else activation)
    return load_conv_network(path, activation)


def _import_torch(reason: str) -> Any:
    try:
        import torch
    except ImportError:
        raise InputError(f"{reason} needs PyTorch, which is not installed") from None
    return torch


def _as_array(value: Any, key: str) -> np.ndarray:
    if isinstance(value, np.ndarray):
        return value.astype(np.float64)
    if type(value).__module__.startswith("torch"):
        torch = _import_torch("reading a torch tensor")
        if isinstance(value, torch.Tensor):
            return value.detach().to("cpu", torch.float64).numpy()
    raise InputError(f"state dict entry {key!r} is not a tensor or array (got {type(value).__name__})")


def _read_state_dict(state: "Mapping | str | Path") -> Mapping:
    if isinstance(state, Mapping):
        return state
    file = Path(state)
    if not file.is_file():
        raise InputError(f"state dict file {str(file)!r} does not exist")
    torch = _import_torch("reading a PyTorch file")
    try:
        loaded = torch.load(file, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for corrupt or pickled-object files
        raise InputError(f"cannot read {str(file)!r} as a PyTorch state dict: {exc}") from None
    if not isinstance(loaded, Mapping):
        raise InputError(f"{str(file)!r} holds a {type(loaded).__name__}, not a state dict")
    return loaded


def _read_architecture(architecture: "Mapping | str | Path") -> Mapping:
    if isinstance(architecture, Mapping):
        return architecture
    text = str(architecture)
    if not text.lstrip().startswith("{"):
        file = Path(text)
        if not file.is_file():
            raise InputError(f"architecture {text!r} is neither JSON text nor an existing file")
        text = file.read_text()
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"the architecture description is not valid JSON ({exc})") from None
    if not isinstance(value, Mapping):
        raise InputError("the architecture description must be a JSON object")
    return value


def _torch_padding(entry: Mapping, kernel: np.ndarray, index: int) -> str:
    padding = entry.get("padding", "zeros")
    mode = entry.get("padding_mode", "zeros")
    if isinstance(padding, str):
        return padding
    kh, kw = kernel.shape[2:]
    if padding == 0:
        return "valid"
    if padding == (kh - 1) // 2 and kh == kw and kh % 2 == 1:
        if mode not in ("zeros", "circular"):
            raise InputError(f"layer {index + 1}: padding_mode {mode!r} is not supported (zeros or circular)")
        return mode
    raise InputError(
        f"layer {index + 1}: torch padding {padding!r} with a {kh}x{kw} kernel is not supported "
        "(use 0, or (k-1)//2 for an odd square kernel)"
    )


def conv_network_from_torch(state_dict: "Mapping | str | Path", architecture: "Mapping | str | Path") -> ConvNetwork:
    """A ConvNetwork from a torch state dict (or a file of one) and an architecture description."""
    state = _read_state_dict(state_dict)
    arch = _read_architecture(architecture)
    entries = arch.get("layers")
    if not isinstance(entries, list) or not entries:
        raise InputError("the architecture description needs a non-empty list 'layers'")
    weights, specs = [], []
    for i, entry in enumerate(entries):
        if not isinstance(entry, Mapping) or "weight" not in entry:
            raise InputError(f"layer {i + 1} of the architecture must be an object with a 'weight' key")
        key = entry["weight"]
        if key not in state:
            raise InputError(f"layer {i + 1}: weight {key!r} is not in the state dict")
        weight = _as_array(state[key], key)
        bias_key = key[: -len("weight")] + "bias" if key.endswith("weight") else None
        if bias_key in state and np.any(_as_array(state[bias_key], bias_key) != 0):
            raise InputError(f"layer {i + 1}: {bias_key!r} is non-zero; networks here have no biases")
        fields = {"kind": entry.get("kind")}
        if fields["kind"] == "conv" and weight.ndim == 4:
            fields.update(stride=entry.get("stride", 1), padding=_torch_padding(entry, weight, i))
        specs.append(layer_spec(fields))
        weights.append(weight)
    return ConvNetwork(weights, specs, arch.get("input_shape", ()), arch.get("activation", "relu"))
