"""The rule vocabulary for documented library semantics: each declared rule is checked exactly,
a pruner that deviates from its declaration fails, and the findings print the observed rule."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from mbp_verify.conformance import PrunerAdapter, PrunerRules, PrunerUnderTest, observe_rules, parse_rules
from mbp_verify.conformance.baseline import CORPUS_VERSION, compare_baseline, load_baseline, record_baseline
from mbp_verify.conformance.checks import expected_count
from mbp_verify.conformance.rules import count_from_fraction, fraction_for_count
from mbp_verify.errors import InputError
from tests.adapters._properties import run_property


def _keep(w, n):
    keep = np.ones(np.size(w), dtype=bool)
    keep[np.argsort(np.abs(np.asarray(w, dtype=np.float64)).ravel(), kind="stable")[:n]] = False
    return keep.reshape(np.shape(w))


def _round_half_even(x: Fraction) -> int:
    floor = x.numerator // x.denominator
    rest = x - floor
    return floor + (rest > Fraction(1, 2) or (rest == Fraction(1, 2) and floor % 2 == 1))


@pytest.mark.parametrize("size", [1, 7, 10, 45, 75, 100, 255])
@pytest.mark.parametrize("thousandths", [0, 50, 140, 250, 290, 350, 500, 700, 950, 975, 1000])
def test_kept_float32_rule_matches_an_independent_float32_computation(size, thousandths):
    p = thousandths / 1000
    kept = Fraction(float(np.float32(size) * (np.float32(1) - np.float32(p))))  # TF-MOT's arithmetic
    assert count_from_fraction("kept:float32:half_even", size, p) == size - _round_half_even(kept)
    assert count_from_fraction("float:floor", size, p) == int(p * size)  # NNI: int(D * ratio)
    assert count_from_fraction("float:half_even", size, p) == round(p * size)  # torch: round(amount * n)


def test_documented_library_counts():
    assert count_from_fraction("kept:float32:half_even", 45, 0.7) == 31  # TF-MOT
    assert count_from_fraction("kept:float32:half_even", 10, 0.35) == 4
    assert (
        PrunerRules(count="float:half_even", cap="d_minus_1_below_1").expected_from_fraction(10, 0.95) == 9
    )  # torch.ao
    assert count_from_fraction("float:floor", 100, 0.29) == 28  # NNI


@pytest.mark.parametrize(
    "rules",
    [
        PrunerRules(count="float:floor"),
        PrunerRules(count="kept:float32:half_even", min_kept=1, refuse=(1.0,), tie="keep_all_at_threshold"),
        PrunerRules(count="float:half_even", cap="d_minus_1_below_1"),
        PrunerRules(count="half_up"),
    ],
)
@pytest.mark.parametrize("size", [1, 3, 10, 49, 100, 257])
def test_fraction_for_count_reaches_every_count_under_the_rules_own_arithmetic(rules, size):
    for n in range(size + 1):
        fraction = fraction_for_count(rules, size, n)
        assert not rules.refuses(fraction)
        assert rules.expected_from_fraction(size, fraction) == rules.expected_pruned(n, size)


def test_fraction_for_count_says_why_it_cannot():
    with pytest.raises(InputError, match="no fraction"):
        fraction_for_count(PrunerRules(count="float:floor", refuse=(1.0,)), 10, 10)


def test_rules_round_trip_through_text():
    rules = PrunerRules(
        tie="keep_all_at_threshold",
        count="kept:float32:half_even",
        cap="d_minus_1_below_1",
        count_base="total",
        revival="allowed",
        min_kept=1,
        refuse=(0.0, 1.0),
    )
    assert parse_rules(rules.to_text()) == rules
    for bad in ("refuse=2.0", "refuse=abc", "cap=sometimes", "revival=maybe", "count=kept:float16:floor"):
        with pytest.raises(InputError):
            parse_rules(bad)


def test_keep_all_at_threshold_expects_exactly_the_tied_shortfall():
    rules = PrunerRules(tie="keep_all_at_threshold")
    weights = np.array([1, 1, 1, 1, 2, 3, 4, 5, 6, 7], dtype=np.float32)
    assert [expected_count(rules, weights, n) for n in range(11)] == [0, 0, 0, 0, 4, 5, 6, 7, 8, 9, 10]
    rng = np.random.default_rng(5)
    for _ in range(200):  # brute force: prune |w| < the smallest of the D - n largest
        w = rng.integers(0, 4, size=rng.integers(1, 9)).astype(np.float64)
        n = int(rng.integers(0, w.size + 1))
        smallest_kept = np.sort(np.abs(w))[::-1][: w.size - n].min() if n < w.size else np.inf
        assert expected_count(rules, w, n) == int(np.sum(np.abs(w) < smallest_kept))


class _Adapter(PrunerAdapter):
    def __init__(self, rules, prune, **hooks):
        self.rules, self._prune = rules, prune
        for name, fn in hooks.items():
            setattr(self, name, fn)

    def prune(self, weights, n_prune):
        return self._prune(weights, n_prune)


def _keep_all(w, n):
    a = np.abs(np.asarray(w, dtype=np.float64))
    return (
        np.ones(a.shape, bool)
        if n == 0
        else a >= np.sort(a.ravel())[min(n, a.size - 1)]
        if n < a.size
        else np.zeros(a.shape, bool)
    )


def test_declared_tie_rules_pass_and_fail_exactly():
    honest = PrunerUnderTest(_Adapter(PrunerRules(tie="keep_all_at_threshold"), _keep_all), spec="keep all")
    assert run_property("test_mask_basics", "test_exact_count", honest) is None
    undeclared = PrunerUnderTest(_Adapter(PrunerRules(tie="any"), _keep_all), spec="keep all, undeclared")
    assert isinstance(run_property("test_mask_basics", "test_exact_count", undeclared), AssertionError)
    exact = PrunerUnderTest(_Adapter(PrunerRules(tie="keep_all_at_threshold"), _keep), spec="exact count")
    assert isinstance(run_property("test_mask_basics", "test_exact_count", exact), AssertionError)


def _fraction_adapter(rules, count):
    return _Adapter(rules, _keep, prune_fraction=lambda w, p: _keep(w, count(np.size(w), p)))


def test_refused_fractions_and_caps_are_held_to_the_declaration():
    def refusing(size, p):
        if p == 1.0:
            raise ValueError("sparsity must be in [0, 1)")
        return round(p * size)

    ok = PrunerUnderTest(_fraction_adapter(PrunerRules(count="float:half_even", refuse=(1.0,)), refusing), spec="ok")
    assert run_property("test_declared_rules", "test_count_rule", ok) is None
    silent = PrunerUnderTest(
        _fraction_adapter(PrunerRules(count="float:half_even", refuse=(1.0,)), lambda d, p: round(p * d)),
        spec="does not refuse",
    )
    assert "declared refused" in str(run_property("test_declared_rules", "test_count_rule", silent))
    uncapped = PrunerUnderTest(
        _fraction_adapter(PrunerRules(count="float:half_even", cap="d_minus_1_below_1"), lambda d, p: round(p * d)),
        spec="no cap",
    )
    assert isinstance(run_property("test_declared_rules", "test_count_rule", uncapped), AssertionError)


def test_revival_is_held_to_the_declaration():
    def recompute(w, first, second):
        return _keep(w, second)  # a new total, recomputed from the weights: revives when lowered

    for revival, fails in (("allowed", False), ("never", True)):
        adapter = _Adapter(PrunerRules(tie="index", count_base="total", revival=revival), _keep, reprune=recompute)
        outcome = run_property("test_declared_rules", "test_count_base", PrunerUnderTest(adapter, spec=revival))
        assert isinstance(outcome, AssertionError) == fails, (revival, outcome)


def test_count_rule_finding_prints_the_observed_rule_and_marks_a_mismatch():
    adapter = _fraction_adapter(PrunerRules(count="float:half_even"), lambda d, p: int(p * d))  # floors
    row = next(
        r for r in observe_rules(PrunerUnderTest(adapter, spec="floors")).rows if r.aspect.startswith("count rule")
    )
    assert row.agrees is False and row.observed.startswith("float:floor")
    assert "(!)" in observe_rules(PrunerUnderTest(adapter, spec="floors")).to_text()


def test_a_new_corpus_version_says_so_instead_of_reporting_changes(tmp_path):
    from mbp_verify.conformance import reference_pruner

    pruner = PrunerUnderTest(reference_pruner(), spec="mbp_verify.conformance.reference:ReferencePruner")
    path = tmp_path / "base.json"
    document = record_baseline(pruner, path, seed=3)
    assert "mbp-verify" in document["libraries"]
    assert not compare_baseline(pruner, load_baseline(path)).changed
    document["corpus_version"] = CORPUS_VERSION - 1
    diff = compare_baseline(pruner, document)
    assert diff.changed and not diff.comparable and diff.changes == ()
    assert f"corpus version {CORPUS_VERSION - 1}" in diff.to_text() and "record the baseline again" in diff.to_text()
