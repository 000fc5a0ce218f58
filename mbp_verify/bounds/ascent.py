"""Lower-bound search: batched projected gradient ascent of ||f(x) - F(x)||^2.

Every restart is a row of one input matrix, so a step is a handful of matrix-matrix products
(forward through F and f, backward through both), in float32 when the weights survive the cast
(about twice as fast): the kept points are then re-evaluated in float64, and if the best one's value
disagrees by more than a relative 1e-3 the search reruns in float64. With a positively homogeneous activation the
supremum over the ball sits on the unit sphere, and the iterates stay on it (tangent step, then
renormalise); otherwise they move in the ball (step, then project). Each restart keeps its own step
length (halved when the objective falls, grown a little when it rises) and a momentum (0.9, on
normalised gradients; dropped when the objective falls). The search stops early once the best value
has not grown by a relative 1e-9 for 25 steps (`iterations` in the result counts the steps taken).

With `race=True` (the bracket's search) the restarts race: all of them take 10 steps, the best
quarter continue to step 40, then only the best one, and a step that rose grows by 1.3 instead of
1.1. Later steps raise the witness more than more restarts do (at 1024 x 3-5 a restart's value
still grows by 2-4 % between steps 100 and 300, while the runners-up end within a few % of the
best), and a lone restart costs about a fifth of sixteen (`bench_bounds.py --table search`: 16 x
200 raced steps against 16 x 100 plain ones). Rows that stop racing keep their last point and value.
The values found here are search values only; a witness counts after `replay.replay_error`."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from ..engine import NetworkPair
from ..errors import InputError
from ..symbolic.derivative import activation_derivative
from .parts import check_pair

__all__ = ["AscentResult", "ascend", "maximise_error"]

_INITIAL_STEP = 0.3
_MIN_STEP = 1e-4
_GROWTH = 1.1
_RACE_GROWTH = 1.3
_RACE = ((10, 4), (40, 0))  # after step s keep ceil(n / k) restarts (k = 0: only the best one)
_MOMENTUM = 0.9
_PATIENCE = 25  # stop once the best value has not grown by a factor 1 + _STALL_GAIN for this many steps
_STALL_GAIN = 1e-9


@dataclass(frozen=True, eq=False)
class AscentResult:
    """The best input found, its search value, and per-restart final values."""

    best_input: np.ndarray
    best_value: float
    values: np.ndarray
    iterations: int

    @property
    def restarts(self) -> int:
        return int(self.values.size)


_SINGLE_AGREEMENT = 1e-3  # float32 search values accepted within this relative distance of float64


def _forward(weights: Sequence[np.ndarray], activations, inputs: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
    """Output and the pre-activations of every hidden layer (rows are restarts), in the inputs' precision."""
    pre: list[np.ndarray] = []
    h = inputs
    for layer, w in enumerate(weights):
        z = h @ w.T
        if layer < len(weights) - 1:
            pre.append(z)
            h = np.asarray(activations[layer](z), dtype=z.dtype)
        else:
            h = z
    return h, pre


def _backward(
    weights: Sequence[np.ndarray], derivatives: Sequence[Callable], pre: list[np.ndarray], upstream: np.ndarray
) -> np.ndarray:
    """Vector-Jacobian product: rows of upstream @ d(output)/d(input)."""
    g = upstream
    for layer in range(len(weights) - 1, -1, -1):
        g = g @ weights[layer]
        if layer > 0:
            g = g * np.asarray(derivatives[layer - 1](pre[layer - 1]), dtype=g.dtype)
    return g


def _row_norms(x: np.ndarray) -> np.ndarray:
    """Euclidean norms of the rows (1 for zero rows, which stay zero when divided)."""
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return np.where(norms > 0, norms, 1.0)


def _project(x: np.ndarray, on_sphere: bool) -> np.ndarray:
    norms = _row_norms(x)
    return x / norms if on_sphere else x / np.maximum(norms, 1.0)


def maximise_error(
    pair: NetworkPair, starts: np.ndarray, *, iterations: int, on_sphere: bool, race: bool = False
) -> AscentResult:
    """Run `iterations` ascent steps from every row of `starts` (racing them if `race`); return the
    best point seen."""
    pair = check_pair(pair)
    d0 = pair.original.widths[0]
    try:
        x = np.array(starts, dtype=np.float64, ndmin=2)
    except (TypeError, ValueError):
        raise InputError(f"starting points must be an array of real numbers, got {type(starts).__name__}") from None
    if x.ndim != 2 or x.shape[1] != d0 or x.shape[0] == 0:
        raise InputError(f"starting points must have shape (n, {d0}), got {np.shape(starts)}")
    if not np.isfinite(x).all():
        raise InputError("starting points contain NaN or infinite entries")
    if iterations < 0:
        raise InputError(f"iterations must be >= 0, got {iterations}")
    layers = (pair.original.weights, pair.pruned.weights)
    acts = pair.original.activations
    derivs = [activation_derivative(a) for a in acts]
    x = _project(x, on_sphere)
    with np.errstate(over="ignore", invalid="ignore"):  # float32 overflow only sends the search to float64
        single = _single_precision(layers)
        if single is not None:
            kept_x, values, done = _ascend(single, acts, derivs, x.astype(np.float32), iterations, on_sphere, race)
    if single is not None:
        kept_x = _project(kept_x.astype(np.float64), on_sphere)
        checked = _values(layers, acts, kept_x)
        top = _top(checked)
        if np.isfinite(checked[top]) and abs(float(values[top]) - checked[top]) <= _SINGLE_AGREEMENT * checked[top]:
            return AscentResult(kept_x[top].copy(), float(checked[top]), checked, done)
    # The float64 search reads every layer at every step: a pair whose layers are computed when
    # read (the bracket's scaled pair) is stored for it.
    layers = (tuple(layers[0]), tuple(layers[1]))
    kept_x, values, done = _ascend(layers, acts, derivs, x, iterations, on_sphere, race)
    top = _top(values)
    if not np.isfinite(values[top]):
        raise InputError("the lower-bound search met non-finite values (weights too large for float64?)")
    return AscentResult(kept_x[top].copy(), float(values[top]), values, done)


def _single_precision(layers: tuple[Sequence[np.ndarray], Sequence[np.ndarray]]) -> "tuple[list, list] | None":
    """F's and f's weights in float32 when the cast keeps every entry finite and non-zero, else None."""
    cast = tuple([w.astype(np.float32) for w in weights] for weights in layers)
    for originals, singles in zip(layers, cast):
        for original, single in zip(originals, singles):
            if not np.isfinite(single).all() or np.count_nonzero(single) != np.count_nonzero(original):
                return None
    return cast  # type: ignore[return-value]


def _values(layers: tuple[Sequence[np.ndarray], Sequence[np.ndarray]], activations, x: np.ndarray) -> np.ndarray:
    """||f(x) - F(x)|| per row."""
    full, pruned = layers
    return np.linalg.norm(_forward(pruned, activations, x)[0] - _forward(full, activations, x)[0], axis=1)


def _top(values: np.ndarray) -> int:
    """The best restart (non-finite values, e.g. overflowed restarts, lose)."""
    return int(np.argmax(np.where(np.isfinite(values), values, -np.inf)))


def _cut(step: int, count: int) -> "int | None":
    """How many restarts race on after `step` (None: no cut there)."""
    for after, divisor in _RACE:
        if step == after:
            return 1 if divisor == 0 else -(-count // divisor)
    return None


def ascend(
    value_and_gradient: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]],
    x: np.ndarray,
    iterations: int,
    on_sphere: bool,
    *,
    race: bool = False,
) -> tuple[np.ndarray, np.ndarray, int]:
    """Batched projected gradient ascent from the rows of `x` (n, d), in x's precision: the kept
    points, their values and the steps taken. `value_and_gradient` gives ||f - F|| per row and the
    gradient of ||f - F||^2 / 2; dense and conv pairs share this loop. With `race` the restarts are
    cut to the best ones after the steps of _RACE (the others keep their last point and value)."""
    growth = _RACE_GROWTH if race else _GROWTH
    rows = np.arange(x.shape[0])  # the racing restarts, in their original order
    final_x, final_values = x.copy(), np.full(x.shape[0], -np.inf, dtype=x.dtype)
    step = np.full((x.shape[0], 1), _INITIAL_STEP, dtype=x.dtype)
    velocity = np.zeros_like(x)
    kept_x, kept_values, kept_grad = x, np.full(x.shape[0], -np.inf, dtype=x.dtype), np.zeros_like(x)
    best, stalled, done = -np.inf, 0, 0
    for done in range(iterations + 1):  # noqa: B007 (the steps taken are reported after the loop)
        values, grad = value_and_gradient(x)
        # A restart whose objective fell goes back to its last point, drops its momentum and
        # halves its step; one that rose lengthens its step a little.
        fell = ~(values >= kept_values)
        x = np.where(fell[:, None], kept_x, x)
        values = np.where(fell, kept_values, values)
        grad = np.where(fell[:, None], kept_grad, grad)
        velocity = np.where(fell[:, None], 0.0, velocity)
        step = np.where(fell[:, None], np.maximum(step * 0.5, _MIN_STEP), np.minimum(step * growth, 1.0))
        kept_x, kept_values, kept_grad = x, values, grad
        top_value = float(np.max(np.where(np.isfinite(values), values, -np.inf)))
        stalled = stalled + 1 if not top_value > best * (1.0 + _STALL_GAIN) else 0
        best = max(best, top_value)
        if stalled >= _PATIENCE:
            break
        keep = _cut(done, rows.size) if race else None
        if keep is not None and keep < rows.size:
            final_x[rows], final_values[rows] = kept_x, kept_values
            ranked = np.argsort(np.where(np.isfinite(values), -values, np.inf), kind="stable")
            chosen = np.sort(ranked[:keep])
            rows = rows[chosen]
            x, grad, velocity, step = x[chosen], grad[chosen], velocity[chosen], step[chosen]
            kept_x, kept_values, kept_grad = kept_x[chosen], kept_values[chosen], kept_grad[chosen]
        if on_sphere:
            grad = grad - np.sum(grad * x, axis=1, keepdims=True) * x
        velocity = _MOMENTUM * velocity + grad / _row_norms(grad)
        x = _project(x + step * velocity / _row_norms(velocity), on_sphere)
    final_x[rows], final_values[rows] = kept_x, kept_values
    return final_x, final_values, done


def _ascend(
    layers: tuple[Sequence[np.ndarray], Sequence[np.ndarray]],
    acts,
    derivs,
    x: np.ndarray,
    iterations: int,
    on_sphere: bool,
    race: bool = False,
) -> tuple[np.ndarray, np.ndarray, int]:
    """The ascent for a dense pair, in the weights' precision."""
    full, pruned = layers

    def value_and_gradient(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        out_f, pre_f = _forward(pruned, acts, points)
        out_full, pre_full = _forward(full, acts, points)
        diff = out_f - out_full
        grad = _backward(pruned, derivs, pre_f, diff) - _backward(full, derivs, pre_full, diff)
        return np.linalg.norm(diff, axis=1), grad

    return ascend(value_and_gradient, x, iterations, on_sphere, race=race)
