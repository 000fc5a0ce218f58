"""NaN policy as declared, effective weights exactly zero where pruned, layout independence
(docs/design.md section 3: NaN never gives a silent wrong count; torch leaves pruned NaN/inf
non-zero via w * mask; torch fails on non-contiguous weights)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mbp_verify.conformance.checks import (
    assert_count,
    assert_magnitude_order,
    describe_indices,
    keep_mask,
    magnitudes64,
)
from mbp_verify.conformance.harness import PrunerTimeout
from mbp_verify.strategies import VIEW_KINDS, as_view, prune_cases, prune_counts, tie_free_weight_arrays, weight_arrays
from mbp_verify.suite import CodeUnderTestError, mbp_property

SPEC = "docs/design.md section 3 (spec of a correct magnitude pruner)"


def _call_allowing_raise(pruner, weights, n):
    """(mask, None) or (None, exception text); a timeout or crash is the pruner's error, not a policy."""
    try:
        return pruner.raw_prune(weights, n), None
    except PrunerTimeout as exc:
        raise CodeUnderTestError(f"prune did not return: {exc}") from None
    except Exception as exc:
        return None, f"{type(exc).__name__}: {exc}"


@mbp_property(
    id="pruner.nan_policy",
    statement="NaN weights follow the declared policy (raise, or rank largest/smallest with an exact count): never a "
    "silent wrong count",
    source="docs/design.md section 3 (NaN/inf weights: a clear, documented policy)",
)
@given(weights=weight_arrays(allow_nan=True, allow_inf=True, min_nan=1), data=st.data())
def test_nan_policy(pruner_under_test, counterexample, mbp_evidence, weights, data):
    rules = pruner_under_test.rules
    n = data.draw(prune_counts(weights.size), label="n_prune")
    with counterexample.case(weights=weights, n_prune=n):
        mask, raised = _call_allowing_raise(pruner_under_test, weights, n)
        if rules.nan == "raise":
            assert raised is not None, "declared nan=raise, but the pruner returned a mask for weights containing NaN"
            return
        if raised is not None:
            assert rules.nan == "raise_or_largest", f"declared nan={rules.nan}, but the pruner raised {raised}"
            return
        keep = keep_mask(mask, weights).ravel()
        assert_count(keep.reshape(weights.shape), weights, n, rules)
        if rules.ranking != "magnitude":
            return
        nan = np.isnan(magnitudes64(weights))
        if rules.nan in ("largest", "raise_or_largest"):
            assert not (np.any(nan & ~keep) and np.any(~nan & keep)), (
                f"NaN must rank largest: NaN entries {describe_indices(np.flatnonzero(nan & ~keep))} are pruned while "
                f"numbers {describe_indices(np.flatnonzero(~nan & keep))} are kept"
            )
        else:  # smallest
            assert not (np.any(nan & keep) and np.any(~nan & ~keep)), (
                f"NaN must rank smallest: NaN entries {describe_indices(np.flatnonzero(nan & keep))} are kept while "
                f"numbers {describe_indices(np.flatnonzero(~nan & ~keep))} are pruned"
            )
        assert_magnitude_order(weights, keep.reshape(weights.shape))


def _needs_effective(pruner) -> None:
    if not pruner.has("effective_weights"):
        pytest.skip("the pruner returns only a mask (no effective_weights hook): the caller applies it")


@mbp_property(
    id="pruner.effective_zero",
    statement="the effective weights are exactly 0 where pruned and unchanged where kept (finite weights)",
    source="docs/design.md section 2 (W~_l = M_l o W_l)",
)
@given(case=prune_cases())
def test_effective_zero(pruner_under_test, counterexample, case):
    _needs_effective(pruner_under_test)
    weights, n = case
    with counterexample.case(weights=weights, n_prune=n):
        keep = keep_mask(pruner_under_test.prune(weights, n), weights)
        effective = np.asarray(pruner_under_test.effective_weights(weights, n))
        assert effective.shape == weights.shape, f"effective weights shape {effective.shape} != {weights.shape}"
        nonzero = np.flatnonzero((~keep & (effective != 0)).ravel())
        assert nonzero.size == 0, f"pruned entries {describe_indices(nonzero)} are not exactly zero"
        changed = np.flatnonzero((keep & (effective != weights)).ravel())
        assert changed.size == 0, f"kept entries {describe_indices(changed)} changed value"


@mbp_property(
    id="pruner.effective_zero_nonfinite",
    statement="pruned NaN/inf entries are exactly 0 in the effective weights (w * mask leaves NaN)",
    source="docs/design.md section 3 (torch leaves pruned NaN/inf non-zero)",
    tier="advisory",
)
@given(weights=weight_arrays(allow_nan=True, allow_inf=True, min_nan=1))
def test_effective_zero_nonfinite(pruner_under_test, counterexample, weights):
    _needs_effective(pruner_under_test)
    n = weights.size  # prune everything, the non-finite entries included
    with counterexample.case(weights=weights, n_prune=n):
        if _call_allowing_raise(pruner_under_test, weights, n)[1] is not None:
            return  # the pruner rejects NaN (checked by pruner.nan_policy)
        keep = keep_mask(pruner_under_test.prune(weights, n), weights)
        effective = np.asarray(pruner_under_test.effective_weights(weights, n))
        bad = np.flatnonzero((~keep & ~(effective == 0)).ravel())
        assert bad.size == 0, (
            f"pruned entries {describe_indices(bad)} are {effective.ravel()[bad[:3]].tolist()} "
            "in the effective weights, not 0"
        )


@mbp_property(
    id="pruner.layout_independence",
    statement="Fortran, transposed, strided, reversed and read-only arrays give the mask of the C-contiguous copy",
    source="docs/design.md section 3 (weights may be any array; torch fails on channels_last)",
)
@given(data=st.data(), kind=st.sampled_from(VIEW_KINDS[1:]))
def test_layout_independence(pruner_under_test, counterexample, data, kind):
    exact_ties = pruner_under_test.rules.ties_deterministic or pruner_under_test.rules.ranking != "magnitude"
    fixed = (np.arange(24, dtype=np.float64).reshape(2, 3, 4) * 7 % 24 - 11.5).astype(np.float32)  # distinct |w|
    _check_layout(pruner_under_test, counterexample, fixed, 9, kind)
    _check_layout(pruner_under_test, counterexample, fixed, 9, "read-only")  # np.frombuffer, safetensors, mmap
    make = weight_arrays if exact_ties else tie_free_weight_arrays
    weights = data.draw(make(views=False, min_dims=2), label="weights")
    n = data.draw(prune_counts(weights.size), label="n_prune")
    _check_layout(pruner_under_test, counterexample, weights, n, kind)


def _check_layout(pruner_under_test, counterexample, weights, n, kind):
    view = _read_only(weights) if kind == "read-only" else as_view(weights, kind)
    with counterexample.case(weights=view, n_prune=n):
        keep = keep_mask(pruner_under_test.prune(weights, n), weights)
        keep_view = keep_mask(pruner_under_test.prune(view, n), view)
        wrong = np.flatnonzero((keep != keep_view).ravel())
        assert wrong.size == 0, f"the {kind} view gives another mask at flat indices {describe_indices(wrong)}"


def _read_only(weights: np.ndarray) -> np.ndarray:
    copy = np.array(weights, copy=True)
    copy.flags.writeable = False
    return copy
