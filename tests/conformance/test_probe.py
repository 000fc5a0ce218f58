"""The findings probe survives any answer a pruner gives: answers that are not masks, hooks that
return nonsense, a prune that raises where a hook does not. Each is a finding, never a crash of
the checker (these crashed `check-pruner` with an internal error, exit 3)."""

from __future__ import annotations

import numpy as np
import pytest

from mbp_verify.conformance import PrunerAdapter, PrunerUnderTest, load_pruner
from mbp_verify.conformance.probe import observe_rules


def _correct(weights, n_prune):  # not imported from tests.cli.hostile.calls: the checker must never import it
    keep = np.ones(weights.size, dtype=bool)
    keep[np.argsort(np.abs(np.asarray(weights, dtype=np.float64)).ravel(), kind="stable")[:n_prune]] = False
    return keep.reshape(weights.shape)


def _rows(adapter) -> dict[str, tuple[str, "bool | None"]]:
    findings = observe_rules(PrunerUnderTest(adapter, spec=type(adapter).__name__))
    return {row.aspect: (row.observed, row.agrees) for row in findings.rows}


class StructuredFraction(PrunerAdapter):
    def prune(self, weights, n_prune):
        return _correct(weights, n_prune)

    def prune_fraction(self, weights, fraction):
        return np.zeros(weights.shape, dtype=[("kept", np.int64)])


class EffectiveNone(PrunerAdapter):
    def prune(self, weights, n_prune):
        return _correct(weights, n_prune)

    def effective_weights(self, weights, n_prune):
        return None


class RepruneButNotFour(PrunerAdapter):
    """reprune works, prune(w, 4) raises: the revival probe needs both."""

    def prune(self, weights, n_prune):
        if n_prune == 4:
            raise ValueError("no four")
        return _correct(weights, n_prune)

    def reprune(self, weights, first, second):
        return _correct(weights, first + second)


def test_a_structured_array_is_no_mask_in_every_probe():
    pruner = PrunerUnderTest(load_pruner("tests.cli.hostile.calls:structured_mask"), spec="structured")
    rows = {row.aspect: (row.observed, row.agrees) for row in observe_rules(pruner).rows}
    for aspect in ("tie rule", "minimum kept", "non-contiguous weights"):
        observed, agrees = rows[aspect]
        assert "returned no valid answer (mask dtype" in observed and agrees is False, (aspect, observed)
    assert rows["NaN rule"][0].startswith("raises (returned no valid answer")


@pytest.mark.parametrize(
    "adapter, aspect, words, agrees",
    [
        (StructuredFraction(), "count rule (fraction -> count)", "returned no valid answer (mask dtype", False),
        (
            EffectiveNone(),
            "pruned NaN/inf entries",
            "returned no valid answer (effective weights of dtype object and shape ()",
            None,
        ),
        (
            RepruneButNotFour(),
            "count base on re-pruning",
            "revival not observed (4 then 1: prune(weights, n_prune) raised",
            True,
        ),
    ],
)
def test_a_hook_that_returns_nonsense_is_a_finding(adapter, aspect, words, agrees):
    observed, found = _rows(adapter)[aspect]
    assert words in observed and found is agrees, observed
