"""Global scope: one threshold across layers, the total count, layer collapse as declared
(docs/design.md section 3; NNI's global mode prunes 0 of 4 tied entries)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from mbp_verify.conformance.checks import (
    assert_magnitude_order,
    keep_mask,
    magnitudes64,
    pruned_count,
    tie_adjusted_count,
)
from mbp_verify.strategies import layer_lists
from mbp_verify.suite import mbp_property

SOURCE = "docs/design.md section 3 (global pruner: a list of arrays and a total count)"


def _global_cases():
    """(layers, total) with 0 <= total <= the number of entries."""
    return layer_lists().flatmap(lambda layers: st.tuples(st.just(layers), st.integers(0, sum(a.size for a in layers))))


# Pinned bug classes (see test_magnitude.PINNED_ORDER_CASES): float16 squares that overflow or
# underflow next to a float32 layer, a square matrix whose mask must not be transposed, and layers
# of one shape whose masks must not change places.
_F16 = np.array([261, 260, 259, 258, 257, 256, 0], dtype=np.float16)
PINNED_GLOBAL_CASES = (
    ([_F16, np.array([1.0, 2.0], np.float32)], 3),
    ([np.array([2.0e-4, 1.0e-4, 6.0e-8], np.float16), np.array([1.0, 3.0], np.float32)], 1),
    ([(np.arange(1, 10, dtype=np.float32).reshape(3, 3)), np.array([100.0, 200.0])], 3),
    # layers of one shape (stacked blocks), each in its own decade: a mask handed to another layer of
    # that shape (layers grouped or sorted by shape) prunes the wrong layer
    ([(np.arange(1, 7, dtype=np.float32).reshape(2, 3) * 10.0**e) for e in (3, 0, 2, 1)], 6),
)


def _pinned(test):
    for layers, total in reversed(PINNED_GLOBAL_CASES):
        test = example(case=(layers, total))(test)
    return test


def _needs_global(pruner) -> None:
    if not pruner.has("prune_global"):
        pytest.skip("layerwise pruner: global scope does not apply")


def _expected_total(pruner, layers, total: int) -> int:
    rules = pruner.rules
    protected = len(layers) if rules.collapse == "prevented" else 0
    target = max(0, min(total, sum(a.size for a in layers) - max(protected, rules.min_kept)))
    return tie_adjusted_count(rules, np.concatenate([magnitudes64(a) for a in layers]), target)


def _global_masks(pruner, layers, total):
    masks = pruner.prune_global(layers, total)
    assert len(masks) == len(layers), f"{len(masks)} masks returned for {len(layers)} layers"
    return [keep_mask(m, w) for m, w in zip(masks, layers)]


@mbp_property(
    id="pruner.global_count",
    statement="global pruning prunes exactly the total count over all layers (ties and zeros included)",
    source=SOURCE,
)
@given(case=_global_cases())
def test_global_count(pruner_under_test, counterexample, case):
    _needs_global(pruner_under_test)
    layers, total = case
    with counterexample.case(kind="global", layers=layers, total=total):
        keeps = _global_masks(pruner_under_test, layers, total)
        got = sum(pruned_count(k) for k in keeps)
        expected = _expected_total(pruner_under_test, layers, total)
        assert got == expected, f"pruned {got} entries over {len(layers)} layers, expected exactly {expected}"


@mbp_property(
    id="pruner.global_threshold",
    statement="one threshold across layers: every pruned |w| in any layer <= every kept |w| in any layer",
    source=SOURCE,
)
@given(case=_global_cases())
@_pinned
def test_global_threshold(pruner_under_test, counterexample, case):
    _needs_global(pruner_under_test)
    if pruner_under_test.rules.ranking != "magnitude":
        pytest.skip("the pruner declares random ranking: no threshold")
    layers, total = case
    with counterexample.case(kind="global", layers=layers, total=total):
        keeps = _global_masks(pruner_under_test, layers, total)
        if pruner_under_test.rules.collapse == "prevented":  # a layer's one protected entry is exempt
            pairs = [(w, k) for w, k in zip(layers, keeps) if np.count_nonzero(k) > 1]
        else:
            pairs = list(zip(layers, keeps))
        if pairs:
            flat_w = np.concatenate([w.astype(np.float64).ravel() for w, _ in pairs])
            flat_k = np.concatenate([k.ravel() for _, k in pairs])
            assert_magnitude_order(flat_w, flat_k)


@mbp_property(
    id="pruner.global_collapse",
    statement="a layer whose entries are all below the global threshold is pruned whole iff collapse=allowed (else "
    "keeps one)",
    source=SOURCE,
)
@given(
    small=st.integers(1, 12),
    large=st.integers(1, 12),
    extra=st.integers(0, 3),
    dtype=st.sampled_from([np.float16, np.float32, np.float64]),
)
def test_global_collapse(pruner_under_test, counterexample, small, large, extra, dtype):
    _needs_global(pruner_under_test)
    if pruner_under_test.rules.ranking != "magnitude":
        pytest.skip("the pruner declares random ranking: no threshold")
    tiny = (np.arange(1, small + 1, dtype=np.float64) / 64).astype(dtype)
    big = (np.arange(1, large + 1, dtype=np.float64) + 10).astype(dtype)
    layers = [big, tiny.reshape(1, -1)]
    total = small + min(extra, large - 1)
    with counterexample.case(kind="global", layers=layers, total=total):
        keeps = _global_masks(pruner_under_test, layers, total)
        kept_tiny = int(np.count_nonzero(keeps[1]))
        if pruner_under_test.rules.collapse == "allowed":
            assert kept_tiny == 0, (
                f"the all-small layer keeps {kept_tiny} entries; one global threshold prunes it whole"
            )
        else:
            assert kept_tiny >= 1, "collapse=prevented declared, but a layer was pruned whole"
