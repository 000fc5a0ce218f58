"""Declared rules, loading MODULE:ATTR, guarded calls, counterexample files and baselines."""

from __future__ import annotations

import time

import numpy as np
import pytest
from hypothesis import given, settings

from mbp_verify.conformance import (
    PrunerUnderTest,
    count_from_fraction,
    load_counterexample,
    load_pruner,
    parse_rules,
    reference_pruner,
    replay,
)
from mbp_verify.conformance.baseline import baseline_corpus, compare_baseline, load_baseline, record_baseline
from mbp_verify.conformance.counterexamples import Recorder, save_counterexample
from mbp_verify.conformance.rules import coerce_rules
from mbp_verify.errors import InputError
from mbp_verify.strategies import as_view, layer_lists, tie_free_weight_arrays, weight_arrays
from mbp_verify.suite import CodeUnderTestError


def test_parse_rules_and_expected_counts():
    rules = parse_rules("tie=index, nan=largest, min_kept=1")
    assert (rules.tie, rules.nan, rules.min_kept) == ("index", "largest", 1)
    assert rules.expected_pruned(5, 5) == 4 and rules.expected_pruned(2, 5) == 2
    for bad in ("tie=sometimes", "min_kept=-1", "colour=red", "tie"):
        with pytest.raises(InputError):
            parse_rules(bad)


@pytest.mark.parametrize(
    "text, words",
    [
        ("tie=index,tie=any", "rule tie is given twice"),  # was: the last one, silently
        ("tie=index,,nan=largest", "got '' in"),  # was: the empty entry dropped
        ("tie=index,", "got '' in"),
        ("min_kept=\u0663", "rule min_kept must be an integer"),  # an Arabic-Indic 3 was read as 3
        ("min_kept=1.5", "rule min_kept must be an integer"),
    ],
)
def test_rules_text_is_never_read_loosely(text, words):
    with pytest.raises(InputError, match=words):
        parse_rules(text)


@pytest.mark.parametrize("value", [1.5, True, "1.0"])
def test_a_declared_min_kept_that_is_not_an_integer_is_refused(value):
    with pytest.raises(InputError, match="rule min_kept must be an integer"):  # 1.5 and True were read as 1
        coerce_rules({"min_kept": value})


@pytest.mark.parametrize(
    "rule, size, fraction, expected",
    [
        ("half_even", 45, 0.7, 32),
        ("float:half_even", 45, 0.7, 31),
        ("half_even", 75, 0.14, 10),
        ("float:half_even", 75, 0.14, 11),
        ("floor", 100, 0.29, 29),
        ("float:floor", 100, 0.29, 28),
        ("half_even", 10, 0.25, 2),
        ("half_up", 10, 0.25, 3),
        ("ceil", 10, 0.21, 3),
        ("float:half_down", 10, 0.25, 2),
    ],
)
def test_count_from_fraction_exact_versus_float(rule, size, fraction, expected):
    assert count_from_fraction(rule, size, fraction) == expected


def test_loader_reads_declared_rules_and_overrides():
    pruner = load_pruner("tests.conformance.correct_pruners:full_sort")
    assert pruner.rules.tie == "index" and pruner.rules.nan == "largest"
    assert load_pruner("tests.conformance.correct_pruners:full_sort", rules="nan=raise").rules.nan == "raise"
    adapter = load_pruner("tests.conformance.buggy_pruners:TotalBasePruner")  # a class: instantiated
    assert adapter.rules.count_base == "remaining" and callable(adapter.reprune)
    assert load_pruner("tests.conformance.correct_pruners:lexsort_global").rules.scope == "global"
    with pytest.raises(InputError, match="no prune_global"):
        load_pruner("tests.conformance.buggy_pruners:TotalBasePruner", global_scope=True)


def _crash(w, n):
    raise ZeroDivisionError("boom")


def _sleepy(w, n):
    time.sleep(5)


def test_guarded_calls_turn_crashes_and_timeouts_into_code_under_test_errors():
    crashing = PrunerUnderTest(load_pruner("tests.conformance.test_rules_and_loader:_crash"), spec="crash")
    with pytest.raises(CodeUnderTestError, match="ZeroDivisionError: boom"):
        crashing.prune(np.ones(3), 1)
    slow = PrunerUnderTest(load_pruner("tests.conformance.test_rules_and_loader:_sleepy"), spec="slow", timeout_s=0.2)
    started = time.monotonic()
    with pytest.raises(CodeUnderTestError, match="timed out"):
        slow.prune(np.ones(3), 1)
    assert time.monotonic() - started < 3


def test_recorder_saves_the_failing_input_and_replay_reproduces_it(tmp_path):
    pruner = PrunerUnderTest(load_pruner("tests.conformance.buggy_pruners:off_by_one"), spec="off")
    recorder = Recorder(tmp_path, "pruner.exact_count", "test_exact_count", "off")
    weights = np.array([[3.0, -1.0], [0.5, 2.0]], dtype=np.float16).T  # a transposed view
    with pytest.raises(AssertionError) as info, recorder.case(weights=weights, n_prune=2):
        raise AssertionError("demo failure")
    assert info.value.__notes__[0].startswith("input of the failing check: weights=np.array(")
    assert "minimal example saved to" in info.value.__notes__[1]
    example = load_counterexample(recorder.path)
    assert example.property_id == "pruner.exact_count" and example.values == {"n_prune": 2}
    assert example.weights.dtype == np.float16 and np.array_equal(example.weights, weights)
    result = replay(example, pruner)
    assert result.reproduced and "pruned 1 entries, expected exactly 2" in result.to_text()
    assert not replay(example, PrunerUnderTest(reference_pruner())).reproduced


def test_counterexample_files_round_trip_global_inputs(tmp_path):
    layers = [np.ones(3), np.arange(4.0).reshape(2, 2)]
    path = save_counterexample(
        tmp_path / "g.npz", property_id="pruner.global_count", kind="global", layers=layers, total=2
    )
    example = load_counterexample(path)
    assert [a.shape for a in example.layers] == [(3,), (2, 2)] and example.values["total"] == 2
    with pytest.raises(InputError):
        load_counterexample(tmp_path / "missing.npz")


def test_baseline_round_trip_and_readable_diff(tmp_path):
    reference = PrunerUnderTest(reference_pruner(), spec="reference")
    document = record_baseline(reference, tmp_path / "b.json", seed=5)
    names = {case["name"] for case in document["cases"]}
    assert {"ties_n2", "nan_n2", "float16_conv", "transposed_view", "global_three_layers"} <= names
    nan_case = next(c for c in document["cases"] if c["name"] == "nan_n2")
    assert nan_case == {**nan_case, "outcome": "raised", "error": "InputError"}
    assert not compare_baseline(reference, load_baseline(tmp_path / "b.json")).changed
    other = PrunerUnderTest(load_pruner("tests.conformance.buggy_pruners:off_by_one"), spec="off")
    diff = compare_baseline(other, load_baseline(tmp_path / "b.json"))
    assert diff.changed and any("ties_n2 (float32[10], n_prune=2): pruned 2 -> 1" in c for c in diff.changes)
    (tmp_path / "bad.json").write_text("{}")
    with pytest.raises(InputError, match="not an mbp-verify pruner baseline"):
        load_baseline(tmp_path / "bad.json")


def test_baseline_corpus_is_seeded():
    first, again = baseline_corpus(3), baseline_corpus(3)
    assert all(np.array_equal(a[1][0], b[1][0], equal_nan=True) for a, b in zip(first, again))


@settings(max_examples=150, database=None, derandomize=True)
@given(weight_arrays(allow_nan=True, allow_inf=True, min_nan=1))
def test_weight_arrays_cover_dtypes_views_and_specials(weights):
    assert weights.dtype in (np.float16, np.float32, np.float64) and 1 <= weights.ndim <= 4
    assert np.isnan(weights).any()


@settings(max_examples=150, database=None, derandomize=True)
@given(tie_free_weight_arrays(allow_inf=True))
def test_tie_free_arrays_have_distinct_magnitudes(weights):
    mags = np.abs(weights.astype(np.float64)).ravel()
    assert np.unique(mags).size == mags.size


@settings(max_examples=50, database=None, derandomize=True)
@given(layer_lists(tie_free=True))
def test_layer_lists_are_distinct_across_layers(layers):
    mags = np.concatenate([np.abs(a.astype(np.float64)).ravel() for a in layers])
    assert np.unique(mags).size == mags.size


def test_views_keep_the_logical_array():
    base = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    for kind in ("c", "fortran", "transposed", "strided", "reversed"):
        view = as_view(base, kind)
        assert np.array_equal(view, base) and view.shape == base.shape
    assert not as_view(base, "strided").flags.c_contiguous and as_view(base, "fortran").flags.f_contiguous


def test_failure_notes_work_without_add_note_as_on_python_310():
    """Python 3.10 exceptions have no add_note: the notes must still reach __notes__ (where the
    plugin reads them) instead of an AttributeError replacing the failure."""
    from mbp_verify.conformance.counterexamples import _add_note

    class NoAddNote(AssertionError):
        def __getattribute__(self, name):
            if name == "add_note":
                raise AttributeError(name)
            return super().__getattribute__(name)

    exc = NoAddNote("mask wrong")
    _add_note(exc, "input of the failing check: w")
    _add_note(exc, "minimal example saved to x.npz")
    assert exc.__notes__ == ["input of the failing check: w", "minimal example saved to x.npz"]
    plain = AssertionError("x")
    _add_note(plain, "n")
    assert plain.__notes__ == ["n"]
