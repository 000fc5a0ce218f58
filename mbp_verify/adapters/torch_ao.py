"""Adapter for `torch.ao.pruning.WeightNormSparsifier` with 1x1 blocks (optional extra `torch`).

Every call builds a bias-free `nn.Linear` holding the weights, prepares the sparsifier on it
with `sparse_block_shape=(1, 1)` and `zeros_per_block=1` (unstructured magnitude pruning),
calls `step()` and reads back the parametrization's mask. The sparsifier only knows a
`sparsity_level`, and works on 2-D tensors: weights of another rank are viewed as
(shape[0], rest) (a vector as (1, D)); with 1x1 blocks the view does not change which
entries are pruned.

Declared rules (read from its source and documentation): count `float:half_even` (Python
`round(sparsity_level * num_blocks)`) capped at D-1 for any level below 1 (`cap=
d_minus_1_below_1`; a level of 1 zeroes everything), ties `any` (torch.topk), NaN `largest`
(topk ranks NaN above every number), re-pruning with a new level sets a new total and
recomputes the mask from ones, so lowering the level revives entries (`count_base=total`,
`revival=allowed`). `prune(weights, n)` asks for the level `fraction_for_count` finds, so
that the library's own rule prunes exactly n.

The default norm is L2 (`T * T`, computed in the weights' dtype); `WeightNormSparsifierL1`
uses `norm=1` (`|T|`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..conformance.protocol import PrunerAdapter
from ..conformance.rules import PrunerRules, fraction_for_count
from .torch_prune import import_torch

__all__ = ["TORCH_AO_RULES", "WeightNormSparsifier", "WeightNormSparsifierL1"]

TORCH_AO_RULES = PrunerRules(
    ranking="magnitude",
    tie="any",
    nan="largest",
    count="float:half_even",
    cap="d_minus_1_below_1",
    count_base="total",
    revival="allowed",
    scope="layer",
    collapse="allowed",
    min_kept=0,
)


def _as_2d(weights: np.ndarray) -> np.ndarray:
    array = np.ascontiguousarray(weights)
    return array.reshape(1, -1) if array.ndim < 2 else array.reshape(array.shape[0], -1)


class WeightNormSparsifier(PrunerAdapter):
    """`torch.ao.pruning.WeightNormSparsifier(sparse_block_shape=(1, 1), zeros_per_block=1)`, L2 norm."""

    name = "torch.ao.pruning.WeightNormSparsifier (1x1 blocks, L2 norm)"
    rules = TORCH_AO_RULES
    norm: "int | None" = None  # the library's default (L2)
    libraries = ("torch",)

    def _model(self, weights: np.ndarray) -> tuple[Any, Any]:
        torch = import_torch()
        from torch.ao.pruning import WeightNormSparsifier as Sparsifier

        matrix = torch.tensor(_as_2d(weights))
        layer = torch.nn.Linear(matrix.shape[1], matrix.shape[0], bias=False, dtype=matrix.dtype)
        with torch.no_grad():
            layer.weight.copy_(matrix)
        model = torch.nn.Sequential(layer)
        sparsifier = Sparsifier(sparsity_level=0.0, sparse_block_shape=(1, 1), zeros_per_block=1, norm=self.norm)
        sparsifier.prepare(model, config=[{"tensor_fqn": "0.weight"}])
        return model, sparsifier

    @staticmethod
    def _step(model: Any, sparsifier: Any, level: float, shape: tuple[int, ...]) -> np.ndarray:
        for group in sparsifier.groups:
            group["sparsity_level"] = float(level)
        sparsifier.step()
        mask = model[0].parametrizations.weight[0].mask
        return mask.detach().cpu().numpy().astype(bool).reshape(shape)

    def prune_fraction(self, weights: np.ndarray, fraction: float) -> np.ndarray:
        model, sparsifier = self._model(weights)
        return self._step(model, sparsifier, fraction, np.shape(weights))

    def prune(self, weights: np.ndarray, n_prune: int) -> np.ndarray:
        size = int(np.size(weights))
        return self.prune_fraction(weights, fraction_for_count(self.rules, size, int(n_prune)) if size else 0.0)

    def reprune(self, weights: np.ndarray, first: int, second: int) -> np.ndarray:
        size = int(np.size(weights))
        model, sparsifier = self._model(weights)
        self._step(model, sparsifier, fraction_for_count(self.rules, size, first), np.shape(weights))
        return self._step(model, sparsifier, fraction_for_count(self.rules, size, second), np.shape(weights))

    def effective_weights(self, weights: np.ndarray, n_prune: int) -> np.ndarray:
        size = int(np.size(weights))
        model, sparsifier = self._model(weights)
        self._step(model, sparsifier, fraction_for_count(self.rules, size, int(n_prune)), np.shape(weights))
        return model[0].weight.detach().cpu().numpy().reshape(np.shape(weights))


class WeightNormSparsifierL1(WeightNormSparsifier):
    """The same sparsifier with `norm=1` (|T|): no squaring, so float16 keeps its order."""

    name = "torch.ao.pruning.WeightNormSparsifier (1x1 blocks, L1 norm)"
    norm = 1
