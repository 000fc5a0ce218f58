"""Already-pruned weights (exact zeros) are flagged by hypothesis (iii)'s uniformity test.

Pinned counterexample: a 256 x 256 iid uniform matrix pruned by Theorem 1's own count
floor(D^(1-alpha)) at alpha = 0.5 (256 zeros, 0.4 %) or 0.7 (27 zeros) passed every test of
(iii) ("consistent", all Holm-adjusted p-values 1): the KS distance of 0.4 % of zeros is below
the critical value. A continuous uniform gives an exact zero with probability 0 (a generator's
grid: at most 2^-22 per entry), so more zeros than that allows are now a rejection.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import stats

from mbp_verify.audit import WeightFile, audit_layer, audit_weights
from mbp_verify.audit.marginal import GENERATOR_ZERO_RATE, ZERO_LEVEL, uniform_magnitudes_test
from mbp_verify.audit.rounding import magnitude_cells


def _mbp_pruned(shape: tuple[int, int], alpha: float, seed: int) -> np.ndarray:
    w = np.random.default_rng(seed).uniform(-1, 1, shape) / np.sqrt(max(shape))
    count = int(np.floor(w.size ** (1 - alpha)))
    flat = w.ravel().copy()
    flat[np.argsort(np.abs(flat), kind="stable")[:count]] = 0.0
    return flat.reshape(shape)


@pytest.mark.parametrize("alpha, zeros", [(0.5, 64), (0.7, 12)])
def test_mbp_pruned_uniform_layer_is_rejected(alpha, zeros):
    pruned = _mbp_pruned((64, 64), alpha, 5)
    assert int((pruned == 0).sum()) == zeros
    audit = audit_layer(pruned, seed=1)
    assert audit.status == "rejected" and "uniform_magnitudes" in audit.rejected_tests
    assert audit.test("uniform_magnitudes").pvalue == ZERO_LEVEL
    assert audit.test("uniform_magnitudes").effect["zeros"] == zeros


def test_pruned_file_is_rejected_end_to_end():
    weights = WeightFile.from_arrays({"W1": _mbp_pruned((64, 32), 0.5, 6), "W2": _mbp_pruned((16, 64), 0.5, 7)})
    report = audit_weights(weights, alpha=None, seed=2)
    assert report.rejected("iii") and all(layer.status == "rejected" for layer in report.layers)


def test_zero_threshold_is_the_binomial_tail_bound():
    for n in (16_384, 4_000_000):
        w = np.full(n, 0.5)
        w[:: n // 7] = 0.25  # not constant; no zeros
        threshold = uniform_magnitudes_test(w.reshape(1, -1)).effect["zeros_rejected_from"]
        rate = GENERATOR_ZERO_RATE
        assert stats.binom.sf(threshold - 1, n, rate) <= ZERO_LEVEL < stats.binom.sf(threshold - 2, n, rate)


def test_float16_weights_rounded_to_zero_are_not_taken_for_pruning():
    """Small float16 weights round to 0 legitimately (its zero cell is 2^-25 wide): allowed for."""
    u = np.random.default_rng(8).uniform(-1e-3, 1e-3, (512, 512))
    stored = torch.from_numpy(u).half().double().numpy()
    result = uniform_magnitudes_test(stored, magnitude_cells(stored, "float16"))
    assert result.effect["zeros"] > 0  # some entries really are stored as 0
    assert result.effect["zeros"] < result.effect["zeros_rejected_from"]
    assert result.pvalue > 0.01
    assert uniform_magnitudes_test(stored).pvalue == ZERO_LEVEL  # read as exact float64: wrongly rejected


def test_a_few_generator_zeros_in_a_large_layer_are_allowed():
    w = np.random.default_rng(9).uniform(-1, 1, (2048, 1024)).astype(np.float32).astype(np.float64)
    w.ravel()[[5, 77]] = 0.0  # torch's 24-bit uniform_ gives about 2^-24 * n = 0.12 zeros here
    result = uniform_magnitudes_test(w)
    assert result.effect["zeros"] == 2 < result.effect["zeros_rejected_from"]
    assert result.pvalue > ZERO_LEVEL
