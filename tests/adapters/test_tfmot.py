"""The TF-MOT adapter runs the real prune_low_magnitude and declares its documented rules
(run in the venv of scripts/install_tfmot_venv.sh; skipped where TF-MOT is absent)."""

from __future__ import annotations

import numpy as np
import pytest

from mbp_verify.conformance import PrunerUnderTest, observe_rules

from ._properties import run_property

pytest.importorskip("tensorflow_model_optimization")
pytestmark = pytest.mark.tfmot

from mbp_verify.adapters.tfmot import PruneLowMagnitude  # noqa: E402


@pytest.fixture(scope="module")
def adapter():
    return PruneLowMagnitude()


def _pruned(mask) -> int:
    return int(np.size(mask) - np.count_nonzero(mask))


@pytest.mark.parametrize("size,fraction,expected", [(45, 0.7, 31), (10, 0.35, 4), (10, 0.95, 9), (7, 0.99, 6)])
def test_kept_count_is_rounded_in_float32_and_one_is_always_kept(adapter, size, fraction, expected):
    assert _pruned(adapter.prune_fraction(np.arange(1, size + 1, dtype=np.float32), fraction)) == expected
    assert adapter.rules.expected_from_fraction(size, fraction) == expected


def test_sparsity_one_is_refused_and_n_equal_d_keeps_one(adapter):
    with pytest.raises(ValueError):
        adapter.prune_fraction(np.arange(1, 5, dtype=np.float32), 1.0)
    assert _pruned(adapter.prune(np.arange(1, 5, dtype=np.float32), 4)) == 3


def test_every_count_below_d_is_reached_exactly(adapter):
    weights = np.random.default_rng(3).permutation(12).astype(np.float32).reshape(3, 4) + 1
    for n in range(12):
        mask = adapter.prune(weights, n)
        assert set(np.flatnonzero(~mask.ravel())) == set(np.argsort(weights.ravel())[:n])


def test_entries_tied_at_the_threshold_are_all_kept(adapter):
    weights = np.array([1, 1, 1, 1, 2, 3, 4, 5, 6, 7], dtype=np.float32)
    assert _pruned(adapter.prune(weights, 2)) == 0 and _pruned(adapter.prune(weights, 4)) == 4


def test_declared_rules_hold_and_findings_agree(adapter):
    pruner = PrunerUnderTest(adapter, spec="tfmot")
    for module, name in [
        ("test_declared_rules", "test_count_rule"),
        ("test_magnitude", "test_magnitude_order"),
        ("test_magnitude", "test_nesting"),
    ]:
        assert run_property(module, name, pruner) is None, name
    rows = {r.aspect: r for r in observe_rules(pruner).rows}
    assert rows["count rule (fraction -> count)"].agrees is True
    assert rows["tie rule"].agrees is True and rows["minimum kept"].agrees is True


def test_genuine_deviations_float32_subnormals_and_nan(adapter):
    """TensorFlow flushes float32 subnormals to zero, so 1e-45 ties with 0 and is kept with it;
    a NaN weight is pruned even at sparsity 0 (|NaN| >= threshold is false)."""
    subnormal = np.array([0, 0, 0, 1e-45], dtype=np.float32)
    assert _pruned(adapter.prune(subnormal, 3)) == 0  # the spec prunes the three zeros
    assert not adapter.prune(np.array([np.nan, 0, 0, 0], dtype=np.float16), 0)[0]
