"""Group-sequential exact binomial tests: exact error rates, early stopping, valid p-values."""

import numpy as np
import pytest
from scipy import stats

from mbp_verify.errors import InputError
from mbp_verify.seeding import rng_for
from mbp_verify.statistics import equally_spaced_looks, group_sequential_design


def _brute_force_crossing(design, p):
    """P(cross at some look) by enumerating every path of increments (small designs only)."""
    looks, previous, paths = design.looks, 0, {0: 1.0}
    crossed = 0.0
    for j, n in enumerate(looks):
        step = n - previous
        pmf = stats.binom.pmf(np.arange(step + 1), step, p)
        new = {}
        for k, weight in paths.items():
            for inc, q in enumerate(pmf):
                new[k + inc] = new.get(k + inc, 0.0) + weight * q
        paths = {}
        for k, weight in new.items():
            if design.crosses(j, k):
                crossed += weight
            else:
                paths[k] = weight
        previous = n
    return crossed


@pytest.mark.parametrize("direction", ["below", "above"])
@pytest.mark.parametrize("looks,delta,level", [((10, 20, 30), 0.3, 0.05), ((25, 50), 0.1, 0.01), ((40,), 0.2, 1e-3)])
def test_exact_error_rate_is_at_most_the_level_and_matches_enumeration(direction, looks, delta, level):
    design = group_sequential_design(looks, delta, level, direction)
    assert design.error_rate() <= level
    for p in (0.0, delta / 3, delta, min(0.99, 3 * delta)):
        assert design.crossing_probability(p) == pytest.approx(_brute_force_crossing(design, p), abs=1e-12)


class _Uncalibrated:
    """The fixed-n test at `level` repeated at every look of `design` (no sequential calibration)."""

    def __init__(self, design, level):
        self.design, self.looks, self.level = design, design.looks, level

    def crosses(self, look, k):
        return self.design.nominal_pvalue(look, k) <= self.level


@pytest.mark.parametrize("direction", ["below", "above"])
def test_negative_control_repeated_fixed_n_tests_exceed_the_level(direction):
    design = group_sequential_design((10, 20, 30), 0.3, 0.05, direction)
    assert design.error_rate() <= 0.05
    assert _brute_force_crossing(_Uncalibrated(design, 0.05), 0.3) > 0.05


def test_calibration_is_tight_and_beats_bonferroni_over_looks():
    looks = equally_spaced_looks(300, 3)
    design = group_sequential_design(looks, 0.1, 0.01, "below")
    bonferroni = group_sequential_design((looks[-1],), 0.1, 0.01 / 3, "below")
    assert design.nominal >= 0.01 / 3  # a single nominal level, calibrated on the exact rate
    assert design.error_rate() > 0.5 * 0.01
    assert design.boundaries[-1] >= bonferroni.boundaries[0]


def test_stopping_early_saves_trials_when_the_guarantee_clearly_holds():
    design = group_sequential_design(equally_spaced_looks(150, 3), 0.2, 1e-4, "below")
    assert design.crosses(0, 0)  # k = 0 at the first look already passes
    assert design.expected_trials(0.0) == 50
    assert design.expected_trials(0.01) < 0.5 * 150
    assert design.crossing_probability(0.02) > 0.999  # power far from delta


def test_sequential_pvalue_is_valid_and_agrees_with_the_boundary():
    design = group_sequential_design((20, 40, 60), 0.25, 0.05, "above")
    rng = rng_for(7, "tests.statistics.sequential.pvalue")
    pvalues, naive = [], []
    for _ in range(3000):  # under the worst-case null p = delta
        counts = np.cumsum(rng.binomial([20, 20, 20], 0.25)).tolist()
        pvalues.append(design.pvalue(counts))
        naive.append(min(design.nominal_pvalue(j, k) for j, k in enumerate(counts)))
    pvalues, naive = np.array(pvalues), np.array(naive)

    def too_many(values, u):  # P(p <= u) <= u; the 1e-4 binomial fluctuation allowance is 4 sd.
        return np.mean(values <= u) > u + 4 * np.sqrt(u * (1 - u) / values.size)

    for u in (0.01, 0.05, 0.2):
        assert not too_many(pvalues, u)
    # Negative control: the smallest fixed-n p-value over the looks (no sequential correction) is flagged.
    assert any(too_many(naive, u) for u in (0.01, 0.05, 0.2))
    for k in range(0, 36):
        assert (design.pvalue([5, k + 5]) <= 0.05) == (design.crosses(0, 5) or design.crosses(1, k + 5))


def test_a_design_with_too_few_trials_cannot_reject():
    design = group_sequential_design((5,), 0.1, 1e-4, "below")
    assert not design.can_reject and design.error_rate() == 0.0
    assert design.to_dict()["nominal_level"] == 0.0


@pytest.mark.parametrize("looks", [(), (10, 10), (0, 5), (20, 10), (10.5,), ("a",), (5, None)])
def test_bad_looks(looks):
    with pytest.raises(InputError):
        group_sequential_design(looks, 0.1, 0.05, "below")


def test_bad_counts_and_direction():
    design = group_sequential_design((10, 20), 0.1, 0.05, "below")
    with pytest.raises(InputError):
        design.pvalue([3, 2])
    with pytest.raises(InputError):
        design.pvalue([1, 2, 3])
    with pytest.raises(InputError):
        group_sequential_design((10,), 0.1, 0.05, "sideways")
    assert equally_spaced_looks(10, 3) == (4, 7, 10)


@pytest.mark.parametrize("args", [("a", 2), (10, 0), (10.5, 2), (10, None)])
def test_bad_look_schedules(args):
    with pytest.raises(InputError):
        equally_spaced_looks(*args)


@pytest.mark.parametrize("p", [-0.1, 1.5, "x", float("nan")])
def test_bad_event_probabilities(p):
    design = group_sequential_design((10, 20), 0.1, 0.05, "below")
    with pytest.raises(InputError, match="event probability"):
        design.crossing_probability(p)
    with pytest.raises(InputError, match="event probability"):
        design.expected_trials(p)
