"""The declared rules themselves, conformance to the declared count rule (fraction -> count),
count base on re-pruning, and the reported kept fraction gamma (docs/design.md section 3)."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mbp_verify.conformance.checks import describe_indices, keep_mask, pruned_count
from mbp_verify.strategies import prune_cases, tie_free_weight_arrays
from mbp_verify.suite import CodeUnderTestError, mbp_property

# Half-way cases (p*D ends in .5) and float artefacts (the float product lands on the other
# side of .5 or of an integer: 0.7 * 45 = 31.499999999999996, 0.14 * 75 = 10.500000000000002,
# 0.29 * 100 = 28.999999999999996).
PINNED_FRACTIONS = (
    (10, 0.25),
    (10, 0.35),
    (10, 0.15),
    (4, 0.5),
    (6, 0.25),
    (45, 0.7),
    (75, 0.14),
    (90, 0.35),
    (100, 0.545),
    (110, 0.55),
    (100, 0.29),
    (50, 0.58),
    (10, 0.3),
    (1, 0.5),
    (3, 0.5),
    (7, 1.0),
    (7, 0.0),
    (10, 0.95),
    (10, 0.99),
    (20, 0.975),
    (10, 0.05),
    (2, 0.75),
)


def _distinct(size: int) -> np.ndarray:
    rng = np.random.default_rng(size)
    return rng.permutation(np.arange(1, size + 1, dtype=np.float64)) * rng.choice([-1.0, 1.0], size)


MAX_MIN_KEPT = 1  # TF-MOT and JaxPruner keep one entry; no library keeps more


@mbp_property(
    id="pruner.declared_rules_within_spec",
    statement="the declared rules are variations the spec allows: magnitude ranking, a minimum of at most 1 kept entry",
    source="docs/design.md section 3 (adapters declare count, tie, NaN, scope and minimum-kept rules; the spec of a "
    "correct magnitude pruner)",
)
def test_declared_rules_within_spec(pruner_under_test, mbp_evidence):
    """The rules come from the code under test (its `rules` or `mbp_rules`): a declaration that waives
    the spec would let any pruner pass (ranking=random skips every magnitude property; min_kept=10**9
    makes "prunes exactly min(n, D - min_kept)" mean "prunes nothing")."""
    rules = pruner_under_test.rules
    mbp_evidence["ranking"] = rules.ranking
    mbp_evidence["min_kept"] = rules.min_kept
    assert rules.ranking == "magnitude", (
        f"the pruner declares ranking={rules.ranking}: not a magnitude pruner, so the magnitude properties "
        "(order, permutation, sign and scale) do not apply and cannot pass it"
    )
    assert rules.min_kept <= MAX_MIN_KEPT, (
        f"the pruner declares min_kept={rules.min_kept}: on arrays of up to {rules.min_kept} entries the count "
        f"properties would expect it to prune nothing; libraries keep at most {MAX_MIN_KEPT}"
    )


@mbp_property(
    id="pruner.count_rule",
    statement="a fraction becomes the declared count (rounding of the pruned or kept count, exact or in float, cap, "
    "min_kept) and refused fractions raise; pinned by half-way and float-artefact cases",
    source="docs/design.md section 3 (torch rounds n*amount half-to-even, TF-MOT rounds the kept count and refuses "
    "1.0, torch.ao caps at D-1, NNI floors)",
)
@given(size=st.integers(1, 300), thousandths=st.integers(0, 1000))
def test_count_rule(pruner_under_test, counterexample, mbp_evidence, size, thousandths):
    if not pruner_under_test.has("prune_fraction"):
        pytest.skip("the pruner takes absolute counts only (no prune_fraction hook): no fraction rule to check")
    rules = pruner_under_test.rules
    cases = list(PINNED_FRACTIONS) + [(size, thousandths / 1000)]
    for d, fraction in cases:
        weights = _distinct(d)
        with counterexample.case(kind="fraction", weights=weights, fraction=fraction):
            if rules.refuses(fraction):
                _assert_refused(pruner_under_test, weights, fraction)
                continue
            expected = rules.expected_from_fraction(d, fraction)
            keep = keep_mask(pruner_under_test.prune_fraction(weights, fraction), weights)
            got = pruned_count(keep)
            assert got == expected, (
                f"fraction {fraction!r} of D={d}: pruned {got}, the declared rule "
                f"({rules.count_rule_text()}) gives {expected}"
            )
    mbp_evidence["pinned_cases"] = len(PINNED_FRACTIONS)


def _assert_refused(pruner, weights, fraction) -> None:
    try:
        pruner.prune_fraction(weights, fraction)
    except CodeUnderTestError:
        return
    raise AssertionError(
        f"fraction {fraction!r} is declared refused (refuse={'|'.join(f'{f:g}' for f in pruner.rules.refuse)}), "
        "but the pruner returned a mask"
    )


@mbp_property(
    id="pruner.count_base",
    statement="re-pruning counts from the declared base: 'remaining' prunes n2 more, 'total' makes n2 the new total; "
    "earlier pruned entries stay pruned unless revival=allowed",
    source="docs/design.md section 3 (count base on re-pruning; torch.ao recomputes the mask and revives)",
)
@given(weights=tie_free_weight_arrays(), data=st.data())
def test_count_base(pruner_under_test, counterexample, weights, data):
    if not pruner_under_test.has("reprune"):
        pytest.skip("the pruner is stateless (no reprune hook): no count base to check")
    rules = pruner_under_test.rules
    size = weights.size
    first = data.draw(st.integers(0, size), label="first")
    if rules.count_base == "remaining":
        second = data.draw(st.integers(0, size - first), label="second")
        expected = first + second
    else:
        second = data.draw(st.integers(0, size), label="second")
        expected = second if rules.revival == "allowed" else max(first, second)
    expected = rules.expected_pruned(expected, size)
    with counterexample.case(kind="reprune", weights=weights, first=first, second=second):
        once = keep_mask(pruner_under_test.prune(weights, first), weights)
        twice = keep_mask(pruner_under_test.reprune(weights, first, second), weights)
        assert pruned_count(twice) == expected, (
            f"pruning {first} then {second} (count_base={rules.count_base}) "
            f"pruned {pruned_count(twice)} in total, expected {expected}"
        )
        revived = np.flatnonzero((~once & twice).ravel())
        if rules.revival == "never":
            assert revived.size == 0, (
                f"entries {describe_indices(revived)} pruned first are kept after re-pruning (revival=never declared)"
            )


@mbp_property(
    id="pruner.gamma_reported",
    statement="the kept fraction gamma the pruner reports equals kept entries / D of the mask it returns (integer "
    "count)",
    source="docs/design.md section 2 (gamma_l = ||vec(W~_l)||_0 / D_l); section 3 (a float16 mask.sum() overflows)",
)
@given(case=prune_cases())
def test_gamma_reported(pruner_under_test, counterexample, case):
    _needs_gamma(pruner_under_test)
    _check_gamma(pruner_under_test, counterexample, *case)


@mbp_property(
    id="pruner.gamma_reported",
    statement="the kept fraction gamma the pruner reports equals kept entries / D of the mask it returns (integer "
    "count)",
    source="docs/design.md section 2 (gamma_l = ||vec(W~_l)||_0 / D_l); section 3 (a float16 mask.sum() overflows)",
)
def test_gamma_reported_float16_beyond_65504(pruner_under_test, counterexample):
    _needs_gamma(pruner_under_test)
    _check_gamma(pruner_under_test, counterexample, (np.arange(70_000) % 1000 + 1).astype(np.float16), 3_000)


def _needs_gamma(pruner) -> None:
    if not pruner.has("prune_with_gamma"):
        pytest.skip("the pruner reports no kept fraction (no prune_with_gamma hook)")


def _check_gamma(pruner_under_test, counterexample, weights, n):
    with counterexample.case(weights=weights, n_prune=n):
        mask, gamma = pruner_under_test.prune_with_gamma(weights, n)
        keep = keep_mask(mask, weights)
        truth = Fraction(int(np.count_nonzero(keep)), keep.size)
        try:
            reported = Fraction(float(gamma))
        except (TypeError, ValueError, OverflowError):
            raise AssertionError(f"reported gamma {gamma!r} is not a finite number; the mask keeps {truth}") from None
        assert abs(reported - truth) <= Fraction(1, 10**12), (
            f"reported gamma {float(gamma)!r} but the returned mask keeps {truth.numerator}/{truth.denominator} = "
            f"{float(truth)!r}"
        )


@mbp_property(
    id="pruner.baseline_unchanged",
    statement="the masks on the seeded baseline corpus equal the recorded baseline (check-pruner --baseline FILE)",
    source="docs/design.md section 1 (regression-testing other libraries against a recorded baseline)",
)
def test_baseline_unchanged(pruner_under_test, request, mbp_evidence):
    from mbp_verify.conformance.baseline import compare_baseline, load_baseline

    try:
        path = request.config.getoption("mbp_baseline")
    except ValueError:
        path = None
    if not path:
        pytest.skip("no baseline given (check-pruner --baseline FILE, or pytest --mbp-baseline FILE)")
    diff = compare_baseline(pruner_under_test, load_baseline(path))
    mbp_evidence["cases"] = diff.cases
    mbp_evidence["changed"] = len(diff.changes)
    mbp_evidence["no_mask"] = len(diff.problems)
    if any(p.status == "error" for p in diff.problems):  # unchanged crashes are still crashes
        raise CodeUnderTestError(diff.to_text())
    assert diff.passed, diff.to_text()
