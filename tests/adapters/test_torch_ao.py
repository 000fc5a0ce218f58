"""The torch.ao adapter runs the real WeightNormSparsifier and declares its documented rules;
the suite's magnitude_order property finds its float16 L2-norm bug by name, at the quick
profile, from the pinned examples alone."""

from __future__ import annotations

import numpy as np
import pytest

from mbp_verify.conformance import PrunerUnderTest, load_pruner, observe_rules
from mbp_verify.conformance.rules import count_from_fraction

from ._properties import run_property

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.torch

from mbp_verify.adapters.torch_ao import WeightNormSparsifier, WeightNormSparsifierL1  # noqa: E402


def _pruned(mask) -> int:
    return int(np.size(mask) - np.count_nonzero(mask))


@pytest.mark.parametrize(
    "size,fraction,expected",
    [(10, 0.95, 9), (10, 0.35, 4), (45, 0.7, 31), (20, 0.975, 19), (10, 1.0, 10), (10, 0.0, 0), (10, 0.04, 0)],
)
def test_count_rule_is_rounding_of_the_float_product_capped_below_one(size, fraction, expected):
    mask = WeightNormSparsifier().prune_fraction(np.arange(1, size + 1, dtype=np.float32), fraction)
    assert _pruned(mask) == expected
    assert WeightNormSparsifier.rules.expected_from_fraction(size, fraction) == expected
    assert count_from_fraction("float:half_even", 10, 0.95) == 10  # the cap, not the rounding, gives 9


@pytest.mark.parametrize("shape", [(7,), (10,), (4, 4), (3, 5), (2, 3, 3, 3)])
def test_every_absolute_count_is_reached_through_the_fraction_api(shape):
    size = int(np.prod(shape))
    weights = np.random.default_rng(size).permutation(size).astype(np.float32).reshape(shape) + 1
    adapter = WeightNormSparsifierL1()
    for n in range(size + 1):
        mask = adapter.prune(weights, n)
        assert mask.shape == shape
        assert set(np.flatnonzero(~mask.ravel())) == set(np.argsort(weights.ravel())[:n])


def test_lowering_the_level_revives_pruned_entries_as_declared():
    weights = np.arange(1, 11, dtype=np.float32)
    adapter = WeightNormSparsifier()
    first = adapter.prune(weights, 4)
    after = adapter.reprune(weights, 4, 1)
    assert _pruned(after) == 1 and np.any(~first & after)  # revived
    assert adapter.rules.count_base == "total" and adapter.rules.revival == "allowed"


def test_real_l2_norm_fails_magnitude_order_on_float16_and_l1_passes():
    l2 = PrunerUnderTest(WeightNormSparsifier(), spec="torch.ao L2")
    failure = run_property("test_magnitude", "test_magnitude_order", l2, explicit_only=True)
    assert isinstance(failure, AssertionError), failure
    assert "magnitude order violated" in str(failure)
    l1 = PrunerUnderTest(WeightNormSparsifierL1(), spec="torch.ao L1")
    assert run_property("test_magnitude", "test_magnitude_order", l1, explicit_only=True) is None
    # the reported case: [0, 256, ..., 261], n = 2 prunes 260 and keeps 256 under L2
    weights = np.array([0, 256, 257, 258, 259, 260, 261], dtype=np.float16)
    assert not WeightNormSparsifier().prune(weights, 2)[5] and WeightNormSparsifier().prune(weights, 2)[1]


def test_declared_rules_hold_so_only_genuine_deviations_fail():
    pruner = PrunerUnderTest(load_pruner("mbp_verify.adapters.torch_ao:WeightNormSparsifierL1"), spec="torch.ao L1")
    for module, name in [
        ("test_declared_rules", "test_count_rule"),
        ("test_declared_rules", "test_count_base"),
        ("test_mask_basics", "test_exact_count"),
        ("test_mask_basics", "test_boundaries"),
    ]:
        assert run_property(module, name, pruner) is None, name
    rows = {r.aspect: r for r in observe_rules(pruner).rows}
    assert rows["count rule (fraction -> count)"].agrees is True
    assert rows["count rule (fraction -> count)"].observed.startswith("float:half_even, cap D-1 below 1")
    assert rows["count base on re-pruning"].agrees is True


def test_global_unstructured_with_global_scope_passes_the_global_properties():
    pruner = PrunerUnderTest(
        load_pruner("mbp_verify.adapters.torch_prune:GlobalL1Unstructured", global_scope=True), spec="torch global"
    )
    for name in ("test_global_count", "test_global_threshold", "test_global_collapse"):
        assert run_property("test_global", name, pruner) is None, name


def test_recording_l2_then_comparing_l1_reports_the_float16_cases(tmp_path):
    from mbp_verify.conformance.baseline import compare_baseline, load_baseline, record_baseline

    l2 = PrunerUnderTest(WeightNormSparsifier(), spec="mbp_verify.adapters.torch_ao:WeightNormSparsifier")
    l1 = PrunerUnderTest(WeightNormSparsifierL1(), spec="mbp_verify.adapters.torch_ao:WeightNormSparsifierL1")
    record_baseline(l2, tmp_path / "l2.json", seed=20210701)
    diff = compare_baseline(l1, load_baseline(tmp_path / "l2.json"))
    assert diff.changed
    text = diff.to_text()
    assert "float16_squares_overflow (float16[7], n_prune=2)" in text and "float16_squares_underflow" in text
    assert "torch " in text and "mbp-verify" in text  # the versions of the libraries involved
    assert not compare_baseline(l2, load_baseline(tmp_path / "l2.json")).changed
