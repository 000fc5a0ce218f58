"""Negative controls: the checks of the bounds properties catch unsound bounds and margins.

Power iteration gives a *lower* estimate of ||A||_2. Plugged into the propagation formula as
if it were an upper bound, it undercuts the true supremum on adversarial matrices, and the
check the soundness properties use (`certified_grid_value <= upper`) must flag it, while the
certified bounds pass the same check on the same networks. Likewise the 50-digit references
of the certificate properties flag an uncertified norm and a replay without rounding margin.
"""

import mpmath
import numpy as np
import pytest

from mbp_verify.bounds import bracket_sup_error, certified_spectral_norm, layer_constants, replay_error, segments
from mbp_verify.bounds.averaged import averaged_bound
from mbp_verify.bounds.grid import certified_grid_value
from mbp_verify.bounds.parts import pair_parts
from mbp_verify.engine import Network, apply_masks, prune_network, sample_network
from mbp_verify.symbolic import propagation_bound


def power_iteration_norm(matrix: np.ndarray, steps: int = 3) -> float:
    """Uncertified: ||A v|| after a few power steps from the fixed start 1 / sqrt(n) (a lower estimate)."""
    v = np.full(matrix.shape[1], matrix.shape[1] ** -0.5)
    for _ in range(steps):
        w = matrix.T @ (matrix @ v)
        if not w.any():
            return 0.0
        v = w / np.linalg.norm(w)
    return float(np.linalg.norm(matrix @ v))


def unsound_layerwise(pair) -> float:
    norm = power_iteration_norm
    K = [c.lipschitz for c in layer_constants(pair.original)]
    return propagation_bound(pair.original.depth).evaluate(
        [norm(w) for w in pair.original.weights],
        [norm(w) for w in pair.pruned.weights],
        [norm(e) for e in pair.error_matrices()],
        K,
    )


def test_adversarial_matrix_is_caught():
    # E = [[0.15, -0.15], [0.05, 0.05]]: (1, 1) / sqrt(2) is the right singular vector of its
    # smaller singular value, so power iteration from there stays and reports 0.0707 < ||E|| = 0.212.
    net = Network([np.array([[0.15, -0.15], [0.05, 0.05]])], [])
    pair = apply_masks(net, [np.zeros((2, 2), bool)])  # everything pruned: f - F = -W x
    unsound = unsound_layerwise(pair)
    assert unsound == pytest.approx(0.05 * np.sqrt(2))
    assert certified_grid_value(pair) > unsound  # caught
    certified = bracket_sup_error(pair, effort="fast")
    assert certified_grid_value(pair) <= certified.upper


def uncertified_gram(gram, delta, *, slack=1e-5, rng=None, overwrite=False):
    """Stand-in for `spectral.certify_gram` without the Cholesky proof: two power steps on G."""
    v = np.full(gram.shape[0], gram.shape[0] ** -0.5)
    for _ in range(2):
        w = gram @ v
        v = w / np.linalg.norm(w) if w.any() else v
    estimate = float(np.sqrt(max(v @ gram @ v, 0.0)))
    return estimate, estimate, v, 1


def test_averaged_bound_with_uncertified_norms_is_caught(monkeypatch):
    # With the identity activation the averaged bound is exact (||W~_3 W~_2 W~_1 - W_3 W_2 W_1||),
    # so any underestimated segment norm shows against the grid.
    pairs = [prune_network(sample_network([2, 6, 6, 2], seed, activation="identity"), 0.4) for seed in range(10)]

    def averaged(pair):
        rng = np.random.default_rng(0)
        return averaged_bound(pair_parts(pair, rng), layer_constants(pair.original), rng).value

    assert all(certified_grid_value(pair) <= averaged(pair) for pair in pairs)
    monkeypatch.setattr(segments, "certify_gram", uncertified_gram)
    caught = sum(certified_grid_value(pair) > averaged(pair) for pair in pairs)
    assert caught >= 8


def test_check_flags_any_bound_below_the_supremum():
    pair = prune_network(sample_network([2, 8, 8, 2], 1), 0.3)
    result = bracket_sup_error(pair, effort="fast")
    assert certified_grid_value(pair) > result.lower * 0.99  # a 'bound' just below the witness is caught


def _exact_norm(matrix: np.ndarray) -> mpmath.mpf:
    with mpmath.workdps(50):
        return max(mpmath.svd_r(mpmath.matrix(matrix.tolist()), compute_uv=False))


def test_spectral_reference_catches_power_iteration():
    # The 50-digit check behind bounds.spectral_certified flags an uncertified norm (a few power
    # steps) on ordinary matrices, and passes the certified one on the same matrices.
    matrices = [np.random.default_rng(seed).standard_normal((6, 5)) for seed in range(10)]
    exact = [_exact_norm(a) for a in matrices]
    assert all(mpmath.mpf(certified_spectral_norm(a).upper) >= e for a, e in zip(matrices, exact))
    caught = sum(mpmath.mpf(power_iteration_norm(a)) < e for a, e in zip(matrices, exact))
    assert caught >= 8


def _exact_tanh_output(network, x) -> list:
    with mpmath.workdps(50):
        h = [mpmath.mpf(float(v)) for v in x]
        for layer, w in enumerate(network.weights):
            h = [mpmath.fsum(mpmath.mpf(float(w[r, c])) * h[c] for c in range(w.shape[1])) for r in range(w.shape[0])]
            if layer < network.depth - 1:
                h = [mpmath.tanh(v) for v in h]
        return h


def test_replay_reference_catches_a_missing_margin():
    # The 50-digit check behind bounds.replay_margin has teeth: the float64 replay is off the
    # exact value, so a margin of 0 fails where the stated margin passes.
    caught = 0
    for seed in range(10):
        pair = prune_network(sample_network([4, 6, 6, 3], seed, scale=3.0, activation="tanh"), 0.5)
        x = np.random.default_rng(seed).standard_normal(4)
        x /= np.linalg.norm(x) * (1 + 1e-12)
        replay = replay_error(pair, x, [c.lipschitz for c in layer_constants(pair.original)])
        with mpmath.workdps(50):
            f, F = _exact_tanh_output(pair.pruned, x), _exact_tanh_output(pair.original, x)
            gap = abs(mpmath.mpf(replay.value) - mpmath.sqrt(mpmath.fsum((a - b) ** 2 for a, b in zip(f, F))))
        assert gap <= mpmath.mpf(replay.margin)
        caught += gap > 0
    assert caught >= 8
