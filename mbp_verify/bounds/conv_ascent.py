"""Lower-bound search for conv networks: batched projected gradient ascent of ||f(x) - F(x)||^2.

The same search as `ascent.maximise_error` for dense pairs (restarts are the rows of one batch;
on the unit sphere for positively homogeneous activations, in the ball otherwise; per-restart
step lengths, halved when the objective falls and grown by 10% when it rises; momentum 0.9 on
normalised gradients; early stop after 25 steps without a relative gain of 1e-9), with the
layers applied as conv forward passes and the gradient taken through their adjoints
(`conv_ops`), so no dense operator is built. The input is the flattened C*H*W image with
||x||_2 <= 1. Values found here are search values only; a witness counts after
`conv_replay.replay_conv_error`.

`search_starts` gives the starts: a power-iteration estimate of the top right singular vector
of the first layer's error operator E_1 = W_1 - W~_1 (`top_error_direction`, both signs), and
the best of `SCREENING` times as many random unit inputs as there are other restarts (forward
passes only; where the gradient is nearly zero, e.g. saturated tanh, the ascent cannot move and
the screening is what finds a large error).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from ..engine import ConvNetwork
from ..errors import InputError
from ..symbolic.derivative import activation_derivative
from .ascent import AscentResult, ascend
from .conv_ops import check_conv_pair, layer_adjoint, layer_forward, network_layers

__all__ = ["maximise_conv_error", "top_error_direction", "search_starts", "SCREENING"]

_POWER_STEPS = 30
SCREENING = 8  # random candidates per random restart
_CHUNK = 64  # candidates per forward batch


def _forward(network: ConvNetwork, batch: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
    """Flattened outputs (n, d_L) and every hidden layer's pre-activations."""
    pre: list[np.ndarray] = []
    h = batch
    for layer, (w, g, _) in enumerate(network_layers(network)):
        z = layer_forward(w, g, h)
        if layer < network.depth - 1:
            pre.append(z)
            h = network.activations[layer](z)
        else:
            h = z
    return h.reshape(h.shape[0], -1), pre


def _backward(
    network: ConvNetwork, derivatives: Sequence[Callable], pre: list[np.ndarray], upstream: np.ndarray
) -> np.ndarray:
    """upstream (n, d_L) times the Jacobian of the output at each row's input: (n, C, H, W)."""
    layers = network_layers(network)
    g = upstream.reshape((upstream.shape[0],) + network.feature_shapes[-1])
    for layer in range(network.depth - 1, -1, -1):
        w, geometry, shape = layers[layer]
        g = layer_adjoint(w, geometry, g, shape)
        if layer > 0:
            g = g * derivatives[layer - 1](pre[layer - 1])
    return g


def _norms(x: np.ndarray) -> np.ndarray:
    """Per-row Euclidean norms broadcastable against x (1 for zero rows)."""
    norms = np.sqrt(np.sum(x * x, axis=tuple(range(1, x.ndim)), keepdims=True))
    return np.where(norms > 0, norms, 1.0)


def _project(x: np.ndarray, on_sphere: bool) -> np.ndarray:
    norms = _norms(x)
    return x / norms if on_sphere else x / np.maximum(norms, 1.0)


def maximise_conv_error(
    original: ConvNetwork, pruned: ConvNetwork, starts: np.ndarray, *, iterations: int, on_sphere: bool
) -> AscentResult:
    """Run `iterations` ascent steps from every start (n, C, H, W); the best input is returned
    flattened (C*H*W,), as dense witnesses are."""
    check_conv_pair(original, pruned)
    shape = original.input_shape
    try:
        x = np.array(starts, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError(f"starting points must be an array of real numbers, got {type(starts).__name__}") from None
    if x.ndim == 2 and x.shape[1] == int(np.prod(shape)):
        x = x.reshape((x.shape[0],) + shape)
    if x.ndim != 4 or x.shape[1:] != shape or x.shape[0] == 0:
        raise InputError(f"starting points must have shape (n, {', '.join(map(str, shape))}), got {np.shape(starts)}")
    if not np.isfinite(x).all():
        raise InputError("starting points contain NaN or infinite entries")
    if iterations < 0:
        raise InputError(f"iterations must be >= 0, got {iterations}")
    derivatives = [activation_derivative(a) for a in original.activations]

    def value_and_gradient(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        images = rows.reshape((rows.shape[0],) + shape)
        out_f, pre_f = _forward(pruned, images)
        out_full, pre_full = _forward(original, images)
        diff = out_f - out_full
        grad = _backward(pruned, derivatives, pre_f, diff) - _backward(original, derivatives, pre_full, diff)
        return np.linalg.norm(diff, axis=1), grad.reshape(rows.shape)

    rows = _project(x, on_sphere).reshape(x.shape[0], -1)
    with np.errstate(over="ignore", invalid="ignore"):
        kept_x, kept_values, done = ascend(value_and_gradient, rows, iterations, on_sphere)
    finite = np.where(np.isfinite(kept_values), kept_values, -np.inf)
    top = int(np.argmax(finite))
    best_value = float(kept_values[top])
    if not np.isfinite(best_value):
        raise InputError("the lower-bound search met non-finite values (weights too large for float64?)")
    return AscentResult(kept_x[top].copy(), best_value, kept_values, done)


def top_error_direction(original: ConvNetwork, pruned: ConvNetwork, rng: np.random.Generator) -> np.ndarray:
    """A unit input (C, H, W) close to the top right singular vector of the first layer's error
    operator (power iteration; a random unit input when E_1 = 0)."""
    check_conv_pair(original, pruned)
    (w, geometry, shape), p = network_layers(original)[0], pruned.weights[0]
    error = w - p
    v = rng.standard_normal((1,) + shape)
    v /= np.linalg.norm(v)
    if not np.any(error):
        return v[0]
    for _ in range(_POWER_STEPS):
        with np.errstate(over="ignore", invalid="ignore"):
            u = layer_adjoint(error, geometry, layer_forward(error, geometry, v), shape)
            size = float(np.linalg.norm(u))
        if not np.isfinite(size) or size == 0.0:
            break
        v = u / size
    return v[0]


def search_starts(original: ConvNetwork, pruned: ConvNetwork, count: int, rng: np.random.Generator) -> np.ndarray:
    """`count` starts (n, C, H, W): +-`top_error_direction`, then the random unit inputs with the
    largest ||f(x) - F(x)|| among SCREENING times as many."""
    direction = top_error_direction(original, pruned, rng)
    extra = max(count - 2, 0)
    candidates = rng.standard_normal((SCREENING * extra,) + original.input_shape)
    candidates /= _norms(candidates)
    values = np.empty(candidates.shape[0])
    with np.errstate(over="ignore", invalid="ignore"):
        for first in range(0, candidates.shape[0], _CHUNK):
            batch = candidates[first : first + _CHUNK]
            difference = _forward(pruned, batch)[0] - _forward(original, batch)[0]
            values[first : first + _CHUNK] = np.linalg.norm(difference, axis=1)
    order = np.argsort(-np.where(np.isfinite(values), values, -np.inf), kind="stable")[:extra]
    return np.concatenate([direction[None], -direction[None], candidates[order]])[:count]
