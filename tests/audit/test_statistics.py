"""The statistical building blocks of the audit: Monte Carlo p-values, the scale estimate, Hogg's
common-scale test, the Marchenko–Pastur law, and the other tests' bookkeeping."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate, stats

from mbp_verify.audit import (
    common_scale_test,
    estimate_scale,
    iid_top_singular,
    mp_cdf,
    mp_density,
    mp_edges,
    spectrum_summary,
)
from mbp_verify.audit.arrangement import arrangement_tests, kurtosis, kurtosis_test
from mbp_verify.audit.marginal import sign_balance_test, sign_magnitude_test, uniform_magnitudes_test
from mbp_verify.audit.spectrum import ks_distance, ks_distance_to_mp, normalized_eigenvalues
from mbp_verify.errors import InputError
from mbp_verify.seeding import rng_for
from mbp_verify.statistics.montecarlo import minimum_draws, monte_carlo_test


def test_monte_carlo_pvalue_counts_ties_as_exceedances():
    greater = monte_carlo_test(5.0, [1.0, 5.0, 7.0])
    assert greater.pvalue == pytest.approx(3 / 4) and greater.exceedances == 2
    assert monte_carlo_test(5.0, [1.0, 5.0, 7.0], "less").pvalue == pytest.approx(3 / 4)
    assert (
        monte_carlo_test(9.0, [1.0, 5.0, 7.0]).pvalue
        == pytest.approx(1 / 4)
        == monte_carlo_test(9.0, [1, 5, 7]).smallest_pvalue
    )
    assert monte_carlo_test(1.0, [1.0, 1.0]).standardized is None


def test_monte_carlo_pvalue_is_exactly_uniform_on_its_grid():
    rng = rng_for(1, "tests.audit.montecarlo")
    tests = [monte_carlo_test(rng.standard_normal(), rng.standard_normal(19)) for _ in range(4000)]
    # P(p <= 1/20) = 1/20 exactly for continuous statistics; the 1e-4 two-sided band for 4000 draws is about +-0.016.
    assert abs(np.mean([t.pvalue <= 0.05 for t in tests]) - 0.05) < 0.016
    # Negative control: without the observed statistic's own "+ 1", p = #{T_b >= T} / (B + 1) is 1/10 at 1/20.
    assert abs(np.mean([t.exceedances / (t.draws + 1) <= 0.05 for t in tests]) - 0.05) >= 0.016


@pytest.mark.parametrize(
    "args, message",
    [((1.0, []), "non-empty"), ((math.nan, [1.0]), "finite"), ((1.0, [1.0], "two-sided"), "alternative")],
)
def test_monte_carlo_bad_input(args, message):
    with pytest.raises(InputError, match=message):
        monte_carlo_test(*args)


def test_minimum_draws():
    assert minimum_draws(0.05, 8) == 159 and 1 / (159 + 1) <= 0.05 / 8 < 1 / 159
    assert minimum_draws(0.05) == 19
    with pytest.raises(InputError):
        minimum_draws(0.0)
    with pytest.raises(InputError):
        minimum_draws(0.05, 0)


def test_scale_estimate_is_unbiased_maximum_with_exact_interval():
    w = np.array([[0.5, -1.0], [0.25, 0.75]])
    scale = estimate_scale(w, confidence=0.9)
    assert scale.half_width == pytest.approx(1.0 * 5 / 4)
    assert scale.half_width_ci == pytest.approx((1.0 / 0.95**0.25, 1.0 / 0.05**0.25))
    assert scale.implied_K == pytest.approx(scale.half_width * math.sqrt(2))
    assert scale.implied_K_rms == pytest.approx(math.sqrt(3 * np.mean(w * w)) * math.sqrt(2))


def test_common_scale_test_accepts_equal_K_and_rejects_a_ten_percent_difference():
    rng = rng_for(2, "tests.audit.common")
    same = [rng.uniform(-1, 1, (64, 64)) / 8, rng.uniform(-1, 1, (32, 64)) / 8]  # K = 1 for both
    assert common_scale_test(same).pvalue > 0.01
    differ = [same[0], same[1] * 1.1]
    assert common_scale_test(differ).pvalue < 1e-10
    assert common_scale_test(differ).effect["df"] == 2
    with pytest.raises(InputError, match="two layers"):
        common_scale_test(same[:1])
    with pytest.raises(InputError, match="every entry is zero"):
        common_scale_test([same[0], np.zeros((4, 4))])
    assert common_scale_test([same[0].tolist(), same[1]]).pvalue == common_scale_test(same).pvalue  # nested lists too


def test_sign_tests_count_zeros_apart():
    w = np.array([[0.0, 1.0, -2.0, 3.0], [0.0, -1.0, 2.0, -3.0]])
    balance = sign_balance_test(w)
    assert balance.effect["zeros"] == 2 and balance.statistic == 0.5 and balance.pvalue == 1.0
    assert sign_magnitude_test(w).statistic == 0.0


def test_uniform_magnitudes_is_ks_of_the_non_maximal_ratios():
    w = rng_for(4, "tests.audit.ratios").uniform(-3, 3, (5, 7))
    magnitudes = np.abs(w).ravel()
    ratios = np.delete(magnitudes, magnitudes.argmax()) / magnitudes.max()
    assert ratios.size == 34
    reference = stats.kstest(ratios, "uniform", method="exact")
    result = uniform_magnitudes_test(w)
    assert result.statistic == pytest.approx(reference.statistic) and result.pvalue == pytest.approx(reference.pvalue)


@pytest.mark.parametrize("y", [1.0, 0.5, 0.125, 1 / 64])
def test_marchenko_pastur_cdf_against_quadrature(y):
    low, high = mp_edges(y)
    points = np.linspace(low, high, 9)[1:-1]
    reference = [integrate.quad(lambda x: mp_density(np.array([x]), y)[0], low, p, limit=200)[0] for p in points]
    np.testing.assert_allclose(mp_cdf(points, y), reference, atol=1e-6)
    assert mp_cdf(np.array([low - 1, high + 1]), y).tolist() == [0.0, 1.0]


def test_iid_spectrum_matches_its_predictions():
    rng = rng_for(3, "tests.audit.spectrum")
    w = rng.uniform(-1, 1, (400, 800)) / math.sqrt(800)  # K = 1
    sigma = np.linalg.svd(w, compute_uv=False)
    assert sigma[0] == pytest.approx(iid_top_singular(1.0, w.shape), rel=0.03)
    lam = normalized_eigenvalues(sigma, w.shape)
    assert lam.mean() == pytest.approx(1.0) and ks_distance_to_mp(lam, 0.5) < 0.03
    stacked = ks_distance_to_mp(np.vstack([lam, lam[::-1]]), 0.5)
    assert stacked.shape == (2,) and stacked[0] == stacked[1] == ks_distance_to_mp(lam, 0.5)
    # Negative control: a matrix of rank 200 (each column twice) is far from both predictions.
    doubled = np.repeat(w[:, :400], 2, axis=1)
    sigma = np.linalg.svd(doubled, compute_uv=False)
    assert sigma[0] > 1.1 * iid_top_singular(1.0, w.shape)
    assert ks_distance_to_mp(normalized_eigenvalues(sigma, w.shape), 0.5) > 0.1


def test_ks_distance_is_scipys_statistic():
    values = np.sort(rng_for(6, "tests.audit.ks").uniform(0, 1, 25))
    assert ks_distance(values) == pytest.approx(stats.kstest(values, "uniform").statistic, rel=1e-12)
    assert ks_distance(np.vstack([values, values**2])).tolist() == [ks_distance(values), ks_distance(values**2)]
    with pytest.raises(InputError, match="non-empty"):
        ks_distance(np.array([]))


def test_spectrum_inputs_validated():
    with pytest.raises(InputError):
        mp_edges(1.5)
    with pytest.raises(InputError):
        normalized_eigenvalues(np.zeros(3), (3, 3))
    with pytest.raises(InputError, match="2-D"):
        spectrum_summary(np.ones(3))
    with pytest.raises(InputError, match="positive and finite"):
        iid_top_singular(-1.0, (3, 3))
    with pytest.raises(InputError, match="non-empty matrix"):
        iid_top_singular(1.0, (0, 3))


_SIGNED = np.array([[0.5, -1.0, 0.25], [0.75, -0.1, 0.3]])


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: estimate_scale(_SIGNED, confidence=1.0), "confidence"),
        (lambda: estimate_scale(_SIGNED, confidence="high"), "confidence"),
        (lambda: estimate_scale(np.ones(4)), "2-D"),
        (lambda: uniform_magnitudes_test(np.zeros((2, 2))), "every entry is zero"),
        (lambda: sign_balance_test(np.array([[1.0, np.nan]])), "NaN"),
        (lambda: sign_magnitude_test(np.abs(_SIGNED)), "one sign"),
        (lambda: kurtosis(np.ones(5)), "constant"),
        (lambda: kurtosis_test(_SIGNED, rng_for(1, "tests.audit.bad"), 0), "at least one Monte Carlo draw"),
        (
            lambda: arrangement_tests(
                _SIGNED, rng_for(1, "tests.audit.bad"), 0, spectrum=spectrum_summary(_SIGNED), implied_K_rms=1.0
            ),
            "at least one Monte Carlo draw",
        ),
    ],
)
def test_marginal_and_arrangement_bad_input(call, message):
    with pytest.raises(InputError, match=message):
        call()
