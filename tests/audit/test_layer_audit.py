"""Hypothesis (iii) on one layer: each planted violation is caught by the test built for it, and
the same matrix without the plant is consistent (the negative control of each case).

Every case is one seeded draw, so its outcome is a fixed function of the code; the error rates
of the verdict itself are the properties in properties/audit.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from mbp_verify.audit import FAMILY, audit_layer, default_draws
from mbp_verify.errors import InputError
from mbp_verify.seeding import rng_for


def _uniform(shape, trial=0):
    return rng_for(5, "tests.audit.layer", trial).uniform(-0.2, 0.2, shape)


def _row_scales(w):
    return w * np.where(np.arange(w.shape[0]) % 2 == 0, 0.4, 1.6)[:, None]


def _spike(w):
    """A rank-one direction with zero mean (random sign vectors): shuffling destroys it, a constant would not."""
    signs = rng_for(5, "tests.audit.spike")
    u = signs.choice([-1.0, 1.0], w.shape[0]) / np.sqrt(w.shape[0])
    v = signs.choice([-1.0, 1.0], w.shape[1]) / np.sqrt(w.shape[1])
    return w + 1.5 * np.linalg.norm(w, 2) * np.outer(u, v)


def _shift(w):
    return w + 0.15 * np.abs(w).max()


def _duplicate_columns(w):
    out = w.copy()
    out[:, 1::2] = out[:, ::2]
    return out


@pytest.mark.parametrize(
    "plant, caught_by, component",
    [
        (_row_scales, "rows", "iid"),
        (_spike, "top_singular", "iid"),
        (_shift, "sign_balance", "symmetric"),
        (_duplicate_columns, "bulk_spectrum", "iid"),
    ],
)
def test_planted_violation_is_caught_by_its_test(plant, caught_by, component):
    clean = _uniform((64, 96))
    control = audit_layer(clean, name="W", seed=3)
    assert control.status == "consistent", control.to_dict()["pvalues"]
    planted = audit_layer(plant(clean), name="W", seed=3)
    assert planted.status == "rejected" and caught_by in planted.rejected_tests
    assert planted.component_status(component) == "rejected"


def test_duplicated_columns_keep_a_uniform_marginal():
    audit = audit_layer(_duplicate_columns(_uniform((64, 96))), name="W", seed=3)
    assert audit.component_status("uniform") == "consistent" and audit.component_status("iid") == "rejected"


def test_gaussian_weights_fail_uniformity_and_tails_not_independence():
    w = rng_for(5, "tests.audit.gaussian").standard_normal((256, 256))
    audit = audit_layer(w, name="W", seed=3)
    assert {"uniform_magnitudes", "kurtosis"} <= set(audit.rejected_tests)
    assert audit.component_status("iid") == "consistent"  # shuffling conditions on the values
    assert audit.test("kurtosis").effect["kurtosis"] == pytest.approx(3.0, abs=0.1)


def test_family_scale_and_spectrum_numbers():
    w = _uniform((48, 80))
    audit = audit_layer(w, name="fc", seed=1)
    assert tuple(t.name for t in audit.tests) == FAMILY and audit.draws == default_draws() == 199
    assert audit.scale.half_width == pytest.approx(np.abs(w).max() * (w.size + 1) / w.size)
    low, high = audit.scale.implied_K_ci
    assert low <= 0.2 * np.sqrt(80) <= high  # the true K of U[-0.2, 0.2] at max width 80
    assert audit.spectrum.top == pytest.approx(np.linalg.norm(w, 2))
    document = audit.to_dict()
    json.dumps(document, allow_nan=False)
    assert set(document["pvalues"]) == set(FAMILY) and document["status"] == audit.status
    assert document["adjusted_pvalues"] == {name: audit.adjusted_pvalue(name) for name in FAMILY}
    assert audit.spectrum_dict()["iid_prediction"] == audit.test("top_singular").effect["iid_prediction"]


def test_same_seed_same_result_and_other_seeds_change_only_monte_carlo():
    w = _uniform((20, 30))
    first, again, other = (audit_layer(w, name="W", seed=s) for s in (1, 1, 2))
    assert [t.pvalue for t in first.tests] == [t.pvalue for t in again.tests]
    exact = {"uniform_magnitudes", "sign_balance", "sign_magnitude"}
    assert all(first.test(n).pvalue == other.test(n).pvalue for n in exact)
    assert any(first.test(n.name).pvalue != n.pvalue for n in other.tests if n.name not in exact)


def test_one_row_layer_runs_a_reduced_family():
    audit = audit_layer(_uniform((1, 40)), name="head", seed=1)
    assert {t.name for t in audit.tests} == {"uniform_magnitudes", "kurtosis", "sign_balance", "sign_magnitude"}
    assert len(audit.not_run) == 4 and audit.component_status("iid") == "not_applicable"


def test_one_signed_layer_skips_the_sign_magnitude_comparison():
    audit = audit_layer(np.abs(_uniform((16, 16))), name="W", seed=1)
    assert "sign_magnitude" not in {t.name for t in audit.tests} and "sign_balance" in audit.rejected_tests


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"draws": 99}, "too coarse"),
        ({"draws": 199.5}, "integer"),
        ({"level": 1.5}, "level"),
        ({"level": 0.0}, "level"),
        ({"level": None}, "level"),
    ],
)
def test_bad_arguments(kwargs, message):
    with pytest.raises(InputError, match=message):
        audit_layer(_uniform((8, 8)), **kwargs)


def test_degenerate_matrices_are_input_errors():
    with pytest.raises(InputError, match="all zero|every entry is zero"):
        audit_layer(np.zeros((4, 4)))
    with pytest.raises(InputError, match="at least 4 entries"):
        audit_layer(np.ones((1, 3)))


def test_smaller_levels_need_more_draws():
    assert default_draws(0.01) == 799 and default_draws(0.05) == 199
