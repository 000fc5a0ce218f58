"""Lower-bound search, numeric derivatives and the plane grids."""

import numpy as np
import pytest

from mbp_verify.bounds import maximise_error
from mbp_verify.bounds.grid import disc_grid, grid_sup
from mbp_verify.engine import activation_names, parse_activation, prune_network, sample_network
from mbp_verify.errors import InputError
from mbp_verify.symbolic.derivative import activation_derivative


@pytest.mark.parametrize("name", activation_names())
def test_derivative_matches_central_differences_away_from_kinks(name):
    x = np.linspace(-4.9, 4.9, 99) + 0.0123
    h = 1e-6
    numeric = (parse_activation(name)(x + h) - parse_activation(name)(x - h)) / (2 * h)
    assert np.allclose(activation_derivative(name)(x), numeric, atol=1e-5)


def test_derivative_of_a_custom_parameter_and_bad_names():
    assert np.allclose(activation_derivative("leaky_relu(a=0.2)")(np.array([-1.0, 0.0, 2.0])), [0.2, 1.0, 1.0])
    assert activation_derivative("identity")(np.zeros((2, 3))).shape == (2, 3)
    with pytest.raises(InputError, match="unknown activation"):
        activation_derivative("swishy")
    with pytest.raises(InputError, match="activation"):
        activation_derivative(3)


def test_ascent_stays_on_the_sphere_or_in_the_ball():
    pair = prune_network(sample_network([6, 10, 10, 3], 0), 0.3)
    starts = np.random.default_rng(1).standard_normal((5, 6)) * 3
    sphere = maximise_error(pair, starts, iterations=30, on_sphere=True)
    assert np.linalg.norm(sphere.best_input) == pytest.approx(1.0)
    ball = maximise_error(pair, starts, iterations=30, on_sphere=False)
    assert np.linalg.norm(ball.best_input) <= 1 + 1e-12
    assert sphere.restarts == 5 and sphere.values.shape == (5,)


def test_ascent_improves_on_its_starts():
    pair = prune_network(sample_network([8, 16, 16, 4], 2), 0.3)
    starts = np.random.default_rng(3).standard_normal((4, 8))
    starts /= np.linalg.norm(starts, axis=1, keepdims=True)
    initial = np.linalg.norm(pair.pruned.forward(starts) - pair.original.forward(starts), axis=1).max()
    assert maximise_error(pair, starts, iterations=40, on_sphere=True).best_value > initial


def test_ascent_rejects_bad_starts():
    pair = prune_network(sample_network([3, 4, 2], 0), 0.3)
    with pytest.raises(InputError, match="shape"):
        maximise_error(pair, np.zeros((2, 4)), iterations=3, on_sphere=True)
    with pytest.raises(InputError, match="iterations"):
        maximise_error(pair, np.ones((2, 3)), iterations=-1, on_sphere=True)
    with pytest.raises(InputError, match="shape"):
        maximise_error(pair, np.ones((2, 3, 3)), iterations=3, on_sphere=True)
    with pytest.raises(InputError, match="NaN"):
        maximise_error(pair, np.array([[1.0, np.nan, 0.0]]), iterations=3, on_sphere=True)
    with pytest.raises(InputError, match="real numbers"):
        maximise_error(pair, "abc", iterations=3, on_sphere=True)


def test_grids():
    circle, spacing = disc_grid(100)
    assert circle.shape == (100, 2) and np.allclose(np.linalg.norm(circle, axis=1), 1.0)
    disc, _ = disc_grid(50, radii=4)
    assert disc.shape == (201, 2) and np.linalg.norm(disc, axis=1).max() <= 1.0 and not disc[-1].any()
    assert spacing == pytest.approx(2 * np.sin(np.pi / 100))
    with pytest.raises(InputError, match="input dimension 2"):
        grid_sup(prune_network(sample_network([3, 2], 0), 0.3))
    with pytest.raises(InputError, match="angles"):
        disc_grid(2)


def test_search_stops_once_it_stalls():
    from mbp_verify.engine import apply_masks

    network = sample_network([3, 5, 2], 0)
    same = apply_masks(network, [np.ones(w.shape, dtype=bool) for w in network.weights])  # f = F: nothing to gain
    result = maximise_error(same, np.eye(3), iterations=200, on_sphere=True)
    assert result.best_value == 0.0 and result.iterations == 25
    moving = maximise_error(prune_network(network, 0.3), np.eye(3), iterations=10, on_sphere=True)
    assert moving.iterations == 10


def _record_precisions(monkeypatch) -> list:
    from mbp_verify.bounds import ascent

    calls = []
    original = ascent._ascend

    def recording(layers, acts, derivs, x, *args):
        calls.append(x.dtype)
        return original(layers, acts, derivs, x, *args)

    monkeypatch.setattr(ascent, "_ascend", recording)
    return calls


def _float64_value(pair, x: np.ndarray) -> float:
    return float(np.linalg.norm(pair.pruned.forward(x[None, :]) - pair.original.forward(x[None, :])))


def test_single_precision_search_reports_float64_values(monkeypatch):
    calls = _record_precisions(monkeypatch)
    pair = prune_network(sample_network([8, 16, 16, 4], 2), 0.3)
    starts = np.random.default_rng(3).standard_normal((4, 8))
    result = maximise_error(pair, starts, iterations=40, on_sphere=True)
    assert calls == [np.float32]
    assert result.best_input.dtype == np.float64 and result.best_value == pytest.approx(
        _float64_value(pair, result.best_input), rel=1e-12
    )
    ball = maximise_error(pair, starts, iterations=40, on_sphere=False)
    assert np.linalg.norm(ball.best_input) <= 1 + 1e-12  # projected again in float64


def test_search_falls_back_to_float64_when_the_cast_or_the_cancellation_loses(monkeypatch):
    calls = _record_precisions(monkeypatch)
    network = sample_network([6, 10, 10, 3], 0)
    tiny = prune_network(network.__class__([w * 1e-50 for w in network.weights], network.activations), 0.3)
    result = maximise_error(tiny, np.eye(6), iterations=20, on_sphere=True)
    assert calls == [np.float64]  # 1e-50 underflows in float32: no single-precision search
    assert result.best_value > 0 and result.best_value == pytest.approx(
        _float64_value(tiny, result.best_input), rel=1e-12
    )
    calls.clear()
    # The pruned entries are 1e-9 of the rest: f - F cancels below float32's resolution.
    weights = [w.copy() for w in network.weights]
    masks = [np.ones(w.shape, dtype=bool) for w in weights]
    weights[1][0, :3] *= 1e-9
    masks[1][0, :3] = False
    from mbp_verify.engine import apply_masks

    close = apply_masks(network.__class__(weights, network.activations), masks)
    result = maximise_error(close, np.eye(6), iterations=20, on_sphere=True)
    assert calls == [np.float32, np.float64]
    assert result.best_value > 0 and result.best_value == pytest.approx(
        _float64_value(close, result.best_input), rel=1e-12
    )


@pytest.mark.parametrize("restarts", [1, 5, 16, 32])
@pytest.mark.parametrize("on_sphere", [True, False])
def test_racing_cuts_the_restarts_and_loses_no_point(restarts, on_sphere):
    """race=True evaluates all restarts for steps 0-10, ceil(n / 4) for steps 11-40, then one; every
    row comes back with a point and its own value (stopped rows included), and the best value
    returned is the best value ever evaluated (a cut never drops the leader)."""
    from mbp_verify.bounds.ascent import ascend

    rng = np.random.default_rng(restarts)
    a = rng.standard_normal((7, 6)) * rng.uniform(0.2, 2.0, 6)  # distinct singular values: many local climbs
    sizes, seen = [], []

    def value_and_gradient(x):
        sizes.append(x.shape[0])
        y = x @ a.T + np.sin(3 * x) @ a.T  # not homogeneous: restarts end at different values
        values = np.linalg.norm(y, axis=1)
        seen.extend(values.tolist())
        jacobian_t = a.T[None, :, :] + (3 * np.cos(3 * x))[:, :, None] * a.T[None, :, :]
        return values, np.einsum("nij,nj->ni", jacobian_t, y)

    x = rng.standard_normal((restarts, 6))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    kept, values, done = ascend(value_and_gradient, x, 80, on_sphere, race=True)
    expected = [restarts] * 11 + [-(-restarts // 4)] * 30 + [1] * 40
    assert sizes == expected[: len(sizes)] and len(sizes) == done + 1
    assert kept.shape == x.shape and values.shape == (restarts,)
    again = np.linalg.norm(kept @ a.T + np.sin(3 * kept) @ a.T, axis=1)
    assert np.allclose(again, values, rtol=1e-12, atol=0)
    assert values.max() == max(seen)
    plain_sizes = []
    sizes = plain_sizes
    ascend(value_and_gradient, x, 20, on_sphere)
    assert set(plain_sizes) == {restarts}  # without race every restart takes every step
