"""The NNI adapter runs the real LevelPruner and declares its documented rules (run in the
venv of scripts/install_nni_venv.sh; skipped where NNI is absent)."""

from __future__ import annotations

import numpy as np
import pytest

from mbp_verify.conformance import PrunerUnderTest, observe_rules

from ._properties import run_property

pytest.importorskip("nni")
pytestmark = pytest.mark.nni

from mbp_verify.adapters.nni import LevelPruner  # noqa: E402


def _pruned(mask) -> int:
    return int(np.size(mask) - np.count_nonzero(mask))


def test_level_pruner_floors_the_float_product():
    adapter = LevelPruner()
    assert _pruned(adapter.prune_fraction(np.arange(1, 101, dtype=np.float32), 0.29)) == 28
    assert adapter.rules.expected_from_fraction(100, 0.29) == 28


def test_a_naive_fraction_prunes_one_too_few_but_the_adapter_prunes_exactly_n():
    adapter = LevelPruner()
    weights = np.arange(1, 101, dtype=np.float32)
    assert _pruned(adapter.prune_fraction(weights, 29 / 100)) == 28  # naive n / D
    for n in range(101):
        assert _pruned(adapter.prune(weights, n)) == n


def test_declared_rules_hold_and_findings_agree():
    pruner = PrunerUnderTest(LevelPruner(), spec="nni")
    for module, name in [
        ("test_declared_rules", "test_count_rule"),
        ("test_mask_basics", "test_exact_count"),
        ("test_magnitude", "test_magnitude_order"),
    ]:
        assert run_property(module, name, pruner) is None, name
    assert all(r.agrees is not False for r in observe_rules(pruner).rows)
