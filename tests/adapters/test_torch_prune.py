"""The torch adapter runs the real torch.nn.utils.prune and states torch's real rules."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from mbp_verify.conformance import PrunerUnderTest, count_from_fraction, observe_rules

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.torch

from mbp_verify.adapters import torch_prune as tp  # noqa: E402


def test_importing_mbp_verify_does_not_import_torch():
    code = (
        "import sys, mbp_verify, mbp_verify.adapters, mbp_verify.conformance, mbp_verify.cli; "
        "mbp_verify.cli.build_parser(); print('torch' in sys.modules)"
    )
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "False"


def test_l1_unstructured_integer_amount_is_an_exact_magnitude_mask():
    weights = np.array([[0.5, -3.0, 2.0], [-0.1, 4.0, 1.0]], dtype=np.float32)
    mask = tp.L1Unstructured().prune(weights, 3)
    assert mask.shape == weights.shape
    assert np.array_equal(mask.astype(bool), np.array([[False, True, True], [False, True, False]]))


@pytest.mark.parametrize("size, fraction", [(45, 0.7), (75, 0.14), (10, 0.25), (10, 0.35), (100, 0.29)])
def test_fraction_count_is_round_half_even_of_the_float_product(size, fraction):
    mask = tp.L1Unstructured().prune_fraction(np.arange(1, size + 1, dtype=np.float64), fraction)
    pruned = int(size - np.count_nonzero(mask))
    assert pruned == round(fraction * size) == count_from_fraction("float:half_even", size, fraction)


def test_fraction_count_differs_from_the_exact_decimal_rule_on_float_artefacts():
    mask = tp.L1Unstructured().prune_fraction(np.arange(1, 46, dtype=np.float64), 0.7)
    assert int(45 - np.count_nonzero(mask)) == 31  # 0.7 * 45 = 31.499999999999996 in floats
    assert count_from_fraction("half_even", 45, 0.7) == 32  # 31.5 exactly, half to even


def test_repruning_goes_through_the_pruning_container_and_counts_the_remaining():
    weights = np.arange(1, 11, dtype=np.float32)
    mask = tp.L1Unstructured().reprune(weights, 2, 3)
    assert np.array_equal(np.flatnonzero(mask == 0), np.arange(5))


def test_global_unstructured_uses_one_threshold_across_layers():
    layers = [np.array([5.0, 0.1, 3.0]), np.array([[0.2, 4.0], [0.3, 6.0]])]
    masks = tp.GlobalL1Unstructured().prune_global(layers, 3)
    assert [m.astype(bool).tolist() for m in masks] == [[True, False, True], [[False, True], [False, True]]]


def test_random_unstructured_is_seeded_and_exact():
    pruner = tp.RandomUnstructured(seed=3)
    weights = np.arange(1, 101, dtype=np.float64)
    first, second = pruner.prune(weights, 37), pruner.prune(weights, 37)
    assert np.array_equal(first, second) and int(100 - np.count_nonzero(first)) == 37


def test_findings_state_torch_rules_side_by_side():
    findings = observe_rules(PrunerUnderTest(tp.L1Unstructured(), spec="torch"))
    rows = {r.aspect: r for r in findings.rows}
    assert rows["count rule (fraction -> count)"].observed.startswith("float:half_even")
    assert rows["count rule (fraction -> count)"].theorem.startswith("floor(D^(1-a))")
    assert rows["NaN rule"].observed == "ranks NaN largest"
    assert rows["tie rule"].observed.startswith("not lower-index-first")
    assert rows["nesting under ties"].observed.startswith("NOT nested")
    assert "nan" in rows["pruned NaN/inf entries"].observed and rows["pruned NaN/inf entries"].agrees is False
    assert rows["count base on re-pruning"].observed.startswith("remaining")
    text = findings.to_text()
    assert "float:half_even" in text and "ranks NaN largest" in text


def test_native_layout_shows_torch_failing_on_non_contiguous_weights():
    findings = observe_rules(PrunerUnderTest(tp.L1UnstructuredNativeLayout(), spec="torch-native"))
    row = next(r for r in findings.rows if r.aspect == "non-contiguous weights")
    assert row.observed.startswith("raises on a transposed view") and row.agrees is False
