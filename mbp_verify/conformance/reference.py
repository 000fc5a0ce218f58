"""The reference engine seen as a pruner adapter: what `mbp-verify run` checks by default.

`magnitude_mask` declares the tie rule `index` (smaller flat C-order index pruned first)
and NaN policy `raise`; `global_magnitude_masks` gives the global scope with one threshold
(layer collapse allowed). The fraction API uses the engine's exact half-to-even rule.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction

import numpy as np

from ..engine.counts import prune_count_from_pruned_fraction
from ..engine.masks import global_magnitude_masks, kept_fraction, magnitude_mask
from .protocol import PrunerAdapter
from .rules import PrunerRules

__all__ = ["ReferencePruner", "REFERENCE_RULES", "reference_pruner"]

REFERENCE_RULES = PrunerRules(
    ranking="magnitude",
    tie="index",
    nan="raise",
    count="half_even",
    count_base="remaining",
    scope="layer",
    collapse="allowed",
    min_kept=0,
)


class ReferencePruner(PrunerAdapter):
    """`mbp_verify.engine.magnitude_mask` with every optional hook implemented."""

    name = "reference engine (mbp_verify.engine.magnitude_mask)"
    rules = REFERENCE_RULES

    def prune(self, weights: np.ndarray, n_prune: int) -> np.ndarray:
        return magnitude_mask(weights, n_prune)

    def prune_global(self, layers: Sequence[np.ndarray], total: int) -> list[np.ndarray]:
        return global_magnitude_masks(list(layers), total)

    def prune_fraction(self, weights: np.ndarray, fraction: "float | Fraction") -> np.ndarray:
        size = int(np.asarray(weights).size)
        return magnitude_mask(weights, prune_count_from_pruned_fraction(size, fraction, "half_even"))

    def reprune(self, weights: np.ndarray, first: int, second: int) -> np.ndarray:
        keep = magnitude_mask(weights, first)
        return magnitude_mask(weights, first + second) & keep

    def effective_weights(self, weights: np.ndarray, n_prune: int) -> np.ndarray:
        keep = magnitude_mask(weights, n_prune)
        return np.where(keep, weights, np.zeros((), dtype=np.asarray(weights).dtype))

    def prune_with_gamma(self, weights: np.ndarray, n_prune: int) -> tuple[np.ndarray, float]:
        keep = magnitude_mask(weights, n_prune)
        return keep, kept_fraction(keep)


def reference_pruner() -> ReferencePruner:
    return ReferencePruner()
