"""Weights stored rounded (float16, bfloat16, float32): the audit's exact tests stay exact.

Counterexamples pinned here: iid uniform weights stored as bfloat16 were rejected by the
uniformity test (the KS distance of the rounding grid, about 2^-9, exceeds the critical value
once n is about 10^6; p < 1e-3 at 512 x 512), and two iid uniform layers with one K stored as
bfloat16 or float16 were rejected by Hogg's common-K test (2 n log of the rounded maxima'
ratio; p < 1e-6 at 32 768 entries). The references are torch's own float conversions (what
rounding a real number gives) and the real, unrounded values the files were made from.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import stats

from mbp_verify.audit import audit_weights, common_scale_test, estimate_scale
from mbp_verify.audit.marginal import ZERO_LEVEL, uniform_magnitudes_test
from mbp_verify.audit.rounding import dequantise, magnitude_cells, top_cell
from mbp_verify.audit.spectrum import ks_distance
from mbp_verify.errors import InputError

from .files import write_safetensors

_TORCH = {"bfloat16": torch.bfloat16, "float16": torch.float16, "float32": torch.float32}


def _rounded(u: np.ndarray, dtype: str) -> np.ndarray:
    """round-to-nearest of real (float64) values into `dtype`, by torch, back as float64."""
    return torch.from_numpy(np.asarray(u, dtype=np.float64)).to(_TORCH[dtype]).double().numpy()


@pytest.mark.parametrize("dtype", ["bfloat16", "float16", "float32"])
def test_cells_are_exactly_the_reals_that_round_to_each_value(dtype):
    rng = np.random.default_rng(1)
    stored = _rounded(np.concatenate([rng.uniform(-1, 1, 500) * 0.05, [0.0, 1e-30, -2.0]]), dtype)
    lo, hi = magnitude_cells(stored, dtype)
    magnitudes = np.abs(stored)
    assert (lo <= magnitudes).all() and (magnitudes <= hi).all() and (lo < hi).all()
    inside = lo + (hi - lo) * rng.uniform(0.01, 0.99, lo.size)
    assert np.array_equal(_rounded(inside, dtype), magnitudes)  # the interior rounds to the stored value
    width = hi - lo
    assert not (_rounded(lo - 0.01 * width, dtype) == magnitudes)[magnitudes > 0].any()  # below the cell: not
    assert not (_rounded(hi + 0.01 * width, dtype) == magnitudes).any()  # above it: not


def test_cells_refuse_values_the_stored_dtype_cannot_hold_and_float64_is_exact():
    assert magnitude_cells(np.array([0.1, 0.2]), "float64") is None
    assert top_cell(np.array([[0.1, -0.3]]), "float64") == (0.3, 0.3)
    with pytest.raises(InputError, match="not all representable in their stored dtype bfloat16"):
        magnitude_cells(np.array([0.1]), "bfloat16")


def test_uniformity_test_with_cells_reduces_to_the_exact_test_for_exact_values():
    w = np.random.default_rng(2).uniform(-1, 1, (40, 30))
    plain = uniform_magnitudes_test(w)
    with_cells = uniform_magnitudes_test(w, (np.abs(w).ravel(), np.abs(w).ravel()))
    assert with_cells.statistic == pytest.approx(plain.statistic, rel=1e-12)
    assert with_cells.pvalue == pytest.approx(plain.pvalue, rel=1e-9)


@pytest.mark.parametrize("seed", range(4))
def test_distance_at_cell_boundaries_never_exceeds_the_real_datas(seed):
    """The validity argument: below the top cell the stored data's distance is at most the one of
    the real values (whose conditional null is exactly kstwo), so the p-value is conservative."""
    u = np.random.default_rng([3, seed]).uniform(-0.04, 0.04, 20_000)
    stored = _rounded(u, "bfloat16")
    cells = magnitude_cells(stored, "bfloat16")
    result = uniform_magnitudes_test(stored.reshape(100, 200), cells)
    top = np.abs(stored).max()
    floor = cells[0][np.argmax(np.abs(stored))]
    real_rest = np.sort(np.abs(u)[np.abs(stored) < top]) / floor
    assert result.statistic <= ks_distance(real_rest) + 1e-12


def test_bfloat16_uniform_weights_are_not_rejected_for_their_rounding():
    pvalues_cells, pvalues_grid = [], []
    for seed in range(3):
        stored = _rounded(np.random.default_rng([4, seed]).uniform(-1, 1, (512, 512)) * 0.037, "bfloat16")
        pvalues_grid.append(uniform_magnitudes_test(stored).pvalue)
        pvalues_cells.append(uniform_magnitudes_test(stored, magnitude_cells(stored, "bfloat16")).pvalue)
    assert max(pvalues_grid) < 1e-3  # the grid read as continuous data: rejected every time
    assert min(pvalues_cells) > 0.01  # exact under (iii): these fixed seeds give p > 0.01


def test_scale_interval_covers_the_real_half_width_of_rounded_weights():
    covered_cells = covered_grid = 0
    for seed in range(20):
        stored = _rounded(np.random.default_rng([5, seed]).uniform(-1, 1, (128, 256)) * 0.0625, "bfloat16")
        with_cells = estimate_scale(stored, 0.95, top_cell(stored, "bfloat16"))
        covered_cells += with_cells.half_width_ci[0] <= 0.0625 <= with_cells.half_width_ci[1]
        grid = estimate_scale(stored, 0.95)
        covered_grid += grid.half_width_ci[0] <= 0.0625 <= grid.half_width_ci[1]
    assert covered_cells == 20  # a 95% interval, widened by the rounding cell: never missed here
    assert covered_grid <= 10  # the rounded maximum read as exact: the interval misses most times


def _two_layers(seed: int, dtype: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Real and stored W1 (128, 64), W2 (256, 128) with one K = 0.9 (a = K/sqrt(max(d_l, d_l-1)))."""
    rng = np.random.default_rng([6, seed])
    u1, u2 = rng.uniform(-0.9, 0.9, (128, 64)) / math.sqrt(128), rng.uniform(-0.9, 0.9, (256, 128)) / 16
    return u1, u2, _rounded(u1, dtype), _rounded(u2, dtype)


@pytest.mark.parametrize("dtype, grid_rejects", [("bfloat16", True), ("float16", False)])
def test_common_k_with_rounded_maxima_is_a_lower_bound_and_not_rejected(dtype, grid_rejects):
    smallest_grid = 1.0
    for seed in range(10):
        u1, u2, w1, w2 = _two_layers(seed, dtype)
        result = common_scale_test([w1, w2], [top_cell(w1, dtype), top_cell(w2, dtype)])
        real = common_scale_test([u1, u2])
        assert result.statistic <= real.statistic + 1e-9  # never above the real maxima's statistic
        assert result.pvalue >= real.pvalue - 1e-12
        assert result.pvalue > 0.05  # fixed seeds, one K: not rejected
        smallest_grid = min(smallest_grid, common_scale_test([w1, w2]).pvalue)
    if grid_rejects:  # the rounded maxima read as exact: rejected outright
        assert smallest_grid < 1e-6


def test_bfloat16_file_with_one_k_passes_common_k_end_to_end(tmp_path):
    rng = np.random.default_rng(10)
    w1 = _rounded(rng.uniform(-0.9, 0.9, (64, 32)) / 8, "bfloat16")
    w2 = _rounded(rng.uniform(-0.9, 0.9, (128, 64)) / math.sqrt(128), "bfloat16")
    path = write_safetensors(tmp_path / "init.safetensors", {"fc1.weight": ("BF16", w1), "fc2.weight": ("BF16", w2)})
    report = audit_weights(path, alpha=None, seed=1)
    assert report.common_K is not None and report.common_K_status == "consistent"
    assert report.common_K.pvalue > 0.05
    assert "rounded" in report.common_K.method
    assert any("rounding cells" in note for note in report.notes)
    assert all(layer.test("uniform_magnitudes").method.startswith("exact conditional") for layer in report.layers)


def test_dequantised_values_are_continuous_uniform_again():
    """The kurtosis test runs on values redrawn within their cells: iid U[-a, a] again (the
    rounded grid is not: KS rejects it at 2^20 values, p < 0.01)."""
    u = np.random.default_rng(7).uniform(-1, 1, 1 << 20)
    stored = _rounded(u, "bfloat16")
    redrawn = dequantise(stored, "bfloat16", np.random.default_rng(8))
    lo, hi = magnitude_cells(stored, "bfloat16")
    assert ((lo <= np.abs(redrawn)) & (np.abs(redrawn) <= hi)).all()  # every value stays in its cell
    assert np.array_equal(np.sign(redrawn), np.sign(stored))
    uniform = stats.uniform(-1, 2).cdf
    assert stats.kstest(stored, uniform).pvalue < 0.01
    assert stats.kstest(redrawn, uniform).pvalue > 0.1  # fixed seeds; exact U[-1, 1] but for the top cells
    assert np.array_equal(dequantise(u, "float64", np.random.default_rng(8)), u)
    assert np.array_equal(dequantise(stored, "float32", np.random.default_rng(8)), stored)


def test_rounded_magnitudes_all_in_the_top_cell_get_the_bound_on_that_event():
    w = np.array([[0.5, -0.5], [0.5, -0.5]])
    result = uniform_magnitudes_test(w, magnitude_cells(w, "bfloat16"))
    lo, hi = top_cell(w, "bfloat16")
    assert result.pvalue == pytest.approx(((hi - lo) / hi) ** 3 + ZERO_LEVEL)
    assert stats.kstwo.sf(result.statistic, 3) == pytest.approx(0.0, abs=1e-6)
