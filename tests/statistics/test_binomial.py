"""Clopper–Pearson bounds and the guarantee / refutation tests: known values, duality, coverage."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

from mbp_verify._validation import validate_integer
from mbp_verify.errors import InputError
from mbp_verify.statistics import (
    clopper_pearson_lower,
    clopper_pearson_upper,
    guarantee_test,
    refutation_test,
    tail_pvalue,
)


def test_zero_events_upper_bound_is_the_rule_of_three_exactly():
    # k = 0: U solves (1 - U)^n = 1 - confidence.
    assert clopper_pearson_upper(0, 100, 0.95) == pytest.approx(1 - 0.05 ** (1 / 100), rel=1e-12)
    assert clopper_pearson_lower(0, 100, 0.95) == 0.0
    assert clopper_pearson_upper(7, 7, 0.9) == 1.0
    assert clopper_pearson_lower(10, 10, 0.95) == pytest.approx(0.05 ** (1 / 10), rel=1e-12)


@given(
    n=st.integers(1, 300),
    data=st.data(),
    confidence=st.sampled_from([0.9, 0.95, 0.999, 1 - 1e-5]),
    delta=st.floats(0.01, 0.99),
)
def test_bound_and_pvalue_decide_identically(n, data, confidence, delta):
    k = data.draw(st.integers(0, n))
    g = guarantee_test(k, n, delta, confidence)
    r = refutation_test(k, n, delta, confidence)
    margin = 1e-9
    if abs(g.bound - delta) > margin:
        assert g.rejected == (g.bound < delta)
    if abs(r.bound - delta) > margin:
        assert r.rejected == (r.bound > delta)
    assert g.decision in ("pass", "inconclusive") and r.decision in ("fail", "inconclusive")
    assert not (g.rejected and r.rejected and confidence >= 0.5)


def test_verdict_states_its_evidence():
    verdict = guarantee_test(0, 60, 0.1, 0.99)
    record = verdict.to_dict()
    assert record["decision"] == "pass" and record["n"] == 60 and record["k"] == 0
    assert record["confidence"] == 0.99 and "Clopper-Pearson" in record["method"]
    assert "upper bound" in verdict.statement() and "n=60" in verdict.statement()
    refuted = refutation_test(30, 60, 0.1, 0.99)
    assert refuted.decision == "fail" and refuted.bound > 0.1
    assert refutation_test(6, 60, 0.1, 0.99).decision == "inconclusive"


def test_one_sided_coverage_is_at_least_the_confidence():
    # Exact coverage by enumeration: P_p(U(K) >= p) >= confidence for every p.
    n, confidence = 40, 0.9
    uppers = np.array([clopper_pearson_upper(k, n, confidence) for k in range(n + 1)])
    lowers = np.array([clopper_pearson_lower(k, n, confidence) for k in range(n + 1)])
    # Negative control: the one-sided Wald bound p_hat + z sqrt(p_hat (1 - p_hat) / n) undercovers.
    p_hat = np.arange(n + 1) / n
    walds = p_hat + stats.norm.ppf(confidence) * np.sqrt(p_hat * (1 - p_hat) / n)
    wald_covered = []
    for p in np.linspace(0.001, 0.999, 199):
        pmf = stats.binom.pmf(np.arange(n + 1), n, p)
        assert pmf[uppers >= p].sum() >= confidence - 1e-12
        assert pmf[lowers <= p].sum() >= confidence - 1e-12
        wald_covered.append(pmf[walds >= p].sum() >= confidence - 1e-12)
    assert not all(wald_covered)


@pytest.mark.parametrize("args", [(-1, 10), (11, 10), (0, 0), (1.5, 10), (True, 3), ("x", 10), (1, None)])
def test_bad_counts(args):
    with pytest.raises(InputError):
        clopper_pearson_upper(*args, 0.95)


@pytest.mark.parametrize("bad", [0.0, 1.0, -0.2, float("nan"), "x"])
def test_bad_probabilities(bad):
    with pytest.raises(InputError):
        guarantee_test(0, 10, bad, 0.95)
    with pytest.raises(InputError):
        refutation_test(0, 10, 0.1, bad)


@pytest.mark.parametrize("p", [-0.1, 1.5, float("nan"), "x", None])
def test_tail_pvalue_rejects_a_bad_event_probability(p):
    with pytest.raises(InputError, match="event probability"):
        tail_pvalue(1, 10, p, "lower")
    assert tail_pvalue(0, 10, 0.0, "lower") == 1.0 and tail_pvalue(10, 10, 1.0, "upper") == 1.0


@pytest.mark.parametrize("bad", [1.5, "3", None, True, float("nan"), float("inf"), -1])
def test_validate_integer(bad):
    with pytest.raises(InputError, match="must be an integer >= 0"):
        validate_integer(bad, "count")
    assert validate_integer(3.0, "count") == 3 and validate_integer(np.int64(4), "count", 4) == 4
