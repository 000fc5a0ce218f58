"""Holm's procedure: known values, invariances, and FWER control under the null."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mbp_verify.errors import InputError
from mbp_verify.seeding import rng_for
from mbp_verify.statistics import holm


def test_known_adjustment():
    result = holm([0.01, 0.04, 0.03, 0.005], alpha=0.05)
    assert result.adjusted == pytest.approx((0.03, 0.06, 0.06, 0.02))
    assert result.rejected == (True, False, False, True)


@given(st.lists(st.floats(0, 1), min_size=1, max_size=20))
def test_adjusted_at_least_raw_and_at_most_bonferroni(pvalues):
    result = holm(pvalues, 0.05)
    m = len(pvalues)
    for raw, adj in zip(pvalues, result.adjusted):
        assert raw <= adj + 1e-15
        assert adj <= min(1.0, m * raw) + 1e-15


def test_controls_familywise_error_under_the_null():
    rng = rng_for(1979, "tests.statistics.holm.null")
    families = [rng.uniform(size=10) for _ in range(4000)]
    rejections = sum(holm(p, 0.05).any_rejected for p in families)
    # FWER <= 0.05; with 4000 draws the one-sided 1e-4 upper fluctuation is below 0.065.
    assert rejections / 4000 <= 0.065
    # Negative control: unadjusted p-values (reject each p <= 0.05) have FWER 1 - 0.95^10 = 0.40.
    assert sum(bool((p <= 0.05).any()) for p in families) / 4000 > 0.065


@pytest.mark.parametrize("bad", [[], [0.5, float("nan")], [1.2], [-0.1]])
def test_bad_pvalues(bad):
    with pytest.raises(InputError):
        holm(bad)


@pytest.mark.parametrize("alpha", [1.5, 0.0, "x", None])
def test_bad_alpha(alpha):
    with pytest.raises(InputError):
        holm([0.1], alpha=alpha)
