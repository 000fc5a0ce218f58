"""Branch-and-bound over the input: sound against an exact-sup reference, and its negative control.

Reference (d0 = 2, bias-free ReLU): on every arc of the unit circle where the activation
patterns of F and f are constant, f - F = A x, and ||A (cos t, sin t)||^2 = a + b cos 2t +
c sin 2t with a = (p + q) / 2, b = (p - q) / 2, c = r for A^T A = [[p, r], [r, q]]; its maximum
over the arc is at an end or at the stationary angle atan2(c, b) / 2 (+ k pi / 2). The arcs come
from an angle grid whose cells with a pattern change are bisected down to 1e-12 rad.
"""

import math

import numpy as np
import pytest

from mbp_verify.bounds import bracket_sup_error, branch
from mbp_verify.engine import prune_network, sample_network


def _patterns_and_maps(network, points):
    """Activation patterns (one row per point) and the linear map x -> F(x) on each point's region."""
    h, masks = points, []
    for w in network.weights[:-1]:
        z = h @ w.T
        masks.append(z > 0)
        h = np.maximum(z, 0.0)
    pattern = np.concatenate(masks, axis=1)
    maps = []
    for index in range(points.shape[0]):
        m = np.eye(points.shape[1])
        for layer, w in enumerate(network.weights[:-1]):
            m = (w @ m) * masks[layer][index][:, None]
        maps.append(network.weights[-1] @ m)
    return pattern, maps


def _state(pair, t):
    point = np.array([[math.cos(t), math.sin(t)]])
    pat_f, maps_f = _patterns_and_maps(pair.pruned, point)
    pat_full, maps_full = _patterns_and_maps(pair.original, point)
    return np.concatenate([pat_f[0], pat_full[0]]), maps_f[0] - maps_full[0]


def _arc_max(a_matrix, lo, hi):
    g = a_matrix.T @ a_matrix
    a, b, c = (g[0, 0] + g[1, 1]) / 2, (g[0, 0] - g[1, 1]) / 2, g[0, 1]
    star = math.atan2(c, b) / 2
    candidates = [lo, hi] + [t for k in range(-4, 8) for t in [star + k * np.pi / 2] if lo <= t <= hi]
    return max(a + b * math.cos(2 * t) + c * math.sin(2 * t) for t in candidates)


def exact_circle_sup(pair, grid: int = 2000) -> float:
    """max over the circle of ||f - F||, arcs with changing patterns bisected down to 1e-12 rad."""
    angles = np.linspace(0.0, 2 * np.pi, grid + 1)
    states = [_state(pair, t) for t in angles]

    def arc(lo, hi, left, right):
        if np.array_equal(left[0], right[0]):
            return _arc_max(left[1], lo, hi)
        if hi - lo < 1e-12:
            return max(_arc_max(left[1], lo, lo), _arc_max(right[1], hi, hi))
        mid = (lo + hi) / 2
        middle = _state(pair, mid)
        return max(arc(lo, mid, left, middle), arc(mid, hi, middle, right))

    return math.sqrt(max(arc(angles[i], angles[i + 1], states[i], states[i + 1]) for i in range(grid)))


@pytest.mark.parametrize("seed, depth", [(0, 2), (1, 3), (2, 4)])
def test_branch_and_bound_brackets_the_exact_sup(seed, depth):
    pair = prune_network(sample_network([2] + [12] * (depth - 1) + [3], seed), 0.3)
    exact = exact_circle_sup(pair)
    result = bracket_sup_error(pair, rng=seed, effort="fast", target_ratio=1.01, time_limit=30)
    assert result.upper_method == "branch_and_bound"
    assert result.lower - result.lower_margin <= exact * (1 + 1e-12) and exact <= result.upper * (1 + 1e-12)
    assert result.upper <= 1.01 * result.lower and result.lower >= 0.99 * exact


def test_negative_control_box_radius_is_needed(monkeypatch):
    # Dropping the boxes' radii bounds only the centres: the upper bound then falls below the
    # exact sup, which the reference detects.
    pair = prune_network(sample_network([2, 12, 12, 3], 1), 0.3)
    exact = exact_circle_sup(pair)
    original = branch._box_norms
    monkeypatch.setattr(branch, "_box_norms", lambda p, c, mid, rad: original(p, c, mid, 0 * rad))
    monkeypatch.setattr(branch, "meets_domain", lambda centres, half, sphere: np.ones(len(centres), dtype=bool))
    result = bracket_sup_error(pair, rng=1, effort="fast", target_ratio=1.0, time_limit=0.05)
    assert result.upper < exact


def test_branch_is_off_for_large_inputs_unless_forced():
    pair = prune_network(sample_network([6, 8, 2], 3), 0.3)
    result = bracket_sup_error(pair, rng=0, effort="fast", target_ratio=1.5, time_limit=1)
    assert "branch_and_bound" in result.unavailable and "branch_and_bound" not in result.upper_bounds
    forced = bracket_sup_error(pair, rng=0, effort="fast", target_ratio=1.5, time_limit=1, branch=True)
    assert "branch_and_bound" in forced.upper_bounds and forced.upper >= forced.lower


@pytest.mark.parametrize("activation", ["tanh", "gelu", "sigmoid"])
def test_branch_and_bound_covers_a_dense_grid_of_the_ball(activation):
    # smooth activations: the sup may be inside the ball; the upper bound must cover a dense
    # polar grid (40,000 points), and the lower bound must not exceed its best point by more
    # than the search could find between grid points
    pair = prune_network(sample_network([2, 10, 10, 2], 6, activation=activation), 0.3)
    result = bracket_sup_error(pair, rng=0, effort="fast", target_ratio=1.05, time_limit=2)
    radius, angle = np.meshgrid(np.linspace(0, 1, 100), np.linspace(0, 2 * np.pi, 400, endpoint=False))
    points = np.stack([(radius * np.cos(angle)).ravel(), (radius * np.sin(angle)).ravel()], axis=1)
    grid = float(np.max(np.linalg.norm(pair.pruned.forward(points) - pair.original.forward(points), axis=1)))
    assert grid <= result.upper * (1 + 1e-12)
    assert result.upper_method == "branch_and_bound" and result.lower >= 0.999 * grid
