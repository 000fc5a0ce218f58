"""Tied weights (one tensor under two names, e.g. a language model's embedding and output head).

Pinned counterexample: `torch.save` of a model with `head.weight = emb.weight` stores one tensor
under both names, and the audit counted it twice in Hogg's common-K test, whose chi-square law
needs independent layers (measured: with one of two iid layers listed three times, 6.45 % of
2 000 seeded pairs rejected at nominal 5 %, against 5.4 % for the pair). Now identical layers
are named in a note and counted once.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from mbp_verify.audit import WeightFile, audit_weights, common_scale_test


def test_tied_tensors_are_noted_and_counted_once_in_common_k(tmp_path):
    rng = np.random.default_rng(11)
    first = torch.tensor(rng.uniform(-1, 1, (48, 32)) / math.sqrt(48), dtype=torch.float64)
    tied = torch.tensor(rng.uniform(-1, 1, (32, 48)) / math.sqrt(48), dtype=torch.float64)
    state = {"fc1.weight": first, "fc2.weight": tied, "fc3.weight": tied}  # fc3 shares fc2's storage
    torch.save(state, tmp_path / "tied.pt")
    report = audit_weights(tmp_path / "tied.pt", alpha=None, layout="out-in", seed=3)
    assert [layer.name for layer in report.layers] == ["fc1.weight", "fc2.weight", "fc3.weight"]
    assert any("fc3.weight holds the same values as fc2.weight (tied weights)" in note for note in report.notes)
    independent = common_scale_test([first.numpy(), tied.numpy()])
    assert report.common_K is not None
    assert report.common_K.pvalue == independent.pvalue
    assert report.common_K.pvalue != common_scale_test([first.numpy(), tied.numpy(), tied.numpy()]).pvalue
    assert len(report.common_K.effect["implied_K"]) == 2


def test_equal_shapes_with_different_values_are_not_tied():
    rng = np.random.default_rng(12)
    weights = WeightFile.from_arrays({"a": rng.uniform(-1, 1, (16, 16)), "b": rng.uniform(-1, 1, (16, 16))})
    report = audit_weights(weights, alpha=None, seed=3)
    assert not any("tied" in note for note in report.notes)
    assert len(report.common_K.effect["implied_K"]) == 2
